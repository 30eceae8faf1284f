/**
 * netem delay-distribution tables, generated with the same construction as iproute2's
 * `netem/normal.c`, `netem/pareto.c` and `netem/paretonormal.c` (NIST Net heritage), so a relay
 * profile with `distribution: normal` draws from the same inverse CDF that `tc ... distribution normal`
 * loads into the kernel (`/usr/lib/x86_64-linux-gnu/tc/normal.dist` on Debian).
 *
 * A table is 4096 signed 16-bit entries: a scaled inverse CDF sampled at evenly spaced
 * probabilities. netem picks `table[rnd % size]` and returns `mu + t * sigma / NETEM_DIST_SCALE`
 * (see `tableDist` in stages/delay.ts). Tables are pure functions of their name; they are built once
 * per process and cached.
 *
 * Constructions (as read in iproute2, re-expressed here):
 * - normal: sweep x from -10 to 10.05 in steps of 0.00005 (accumulated in double precision, as the
 *   C loop does), record x under index rint(16384 * Phi(x)); emit every 4th index, scaled by 8192,
 *   rounded half-to-even and clamped to int16.
 * - pareto (a = 3): for i = 65536, 65520, ..., 16: v = (i/65536)^(-1/a) - 1.5, scaled by
 *   (4/3) * 8192, capped at 32767, rounded half-to-even.
 * - paretonormal: (normal[i] + 3 * pareto'[i]) / 4 with C integer division (truncation), where
 *   pareto'[i] uses 65536 - 4 * i for the i-th normal index, clamped to int16.
 */

/** netem's fixed-point scale for distribution tables (`NETEM_DIST_SCALE` in pkt_sched.h). */
export const NETEM_DIST_SCALE = 8192;

export type TableDistribution = 'normal' | 'pareto' | 'paretonormal';

const TABLESIZE = 16384;

/** C `rint` in the default rounding mode: round half to even. */
export function rint(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; C rint rounds ties to even.
  if (Math.abs(x - Math.trunc(x)) === 0.5) {
    return 2 * Math.round(x / 2);
  }
  return r;
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * The error function, to a few ulp: erf(x) = 2/sqrt(pi) * exp(-x^2) * sum 2^n x^(2n+1) / (2n+1)!!.
 * Every term is positive, so there is no cancellation; |x| >= 6.5 returns +-1 (the true value differs
 * from 1 by < 1e-19).
 */
export function erf(x: number): number {
  if (x === 0) return x;
  const ax = Math.abs(x);
  if (ax >= 6.5) return Math.sign(x);
  const x2 = ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

function clampS16(v: number): number {
  return v < -32768 ? -32768 : v > 32767 ? 32767 : v;
}

/** x for each probability index 0..16384 (the inverse of the standard normal CDF, NIST Net style). */
function normalInverse(): Float64Array {
  const table = new Float64Array(TABLESIZE + 1);
  for (let x = -10.0; x < 10.05; x += 0.00005) {
    const i = rint(TABLESIZE * (0.5 + 0.5 * erf(x / (Math.sqrt(2.0) * 1.0))));
    table[i] = x;
  }
  return table;
}

function generateNormal(): Int16Array {
  const inv = normalInverse();
  const out = new Int16Array(TABLESIZE / 4);
  for (let i = 0, k = 0; i < TABLESIZE; i += 4, k++) {
    out[k] = clampS16(rint((inv[i] ?? 0) * NETEM_DIST_SCALE));
  }
  return out;
}

function paretoValue(i65536: number): number {
  let d = i65536 / 65536;
  d = 1.0 / Math.pow(d, 1.0 / 3.0);
  d -= 1.5;
  d *= (4.0 / 3.0) * NETEM_DIST_SCALE;
  if (d > 32767) d = 32767;
  return rint(d);
}

function generatePareto(): Int16Array {
  const out = new Int16Array(TABLESIZE / 4);
  for (let i = 65536, k = 0; i > 0; i -= 16, k++) out[k] = paretoValue(i);
  return out;
}

function generateParetoNormal(): Int16Array {
  const inv = normalInverse();
  const out = new Int16Array(TABLESIZE / 4);
  for (let i = 0, k = 0; i < TABLESIZE; i += 4, k++) {
    const normValue = rint((inv[i] ?? 0) * NETEM_DIST_SCALE);
    const parValue = paretoValue(65536 - 4 * i);
    out[k] = clampS16(Math.trunc((normValue + 3 * parValue) / 4));
  }
  return out;
}

const cache = new Map<TableDistribution, Int16Array>();

/** The table for a named distribution (built on first use, then cached; callers must not mutate it). */
export function distTable(name: TableDistribution): Int16Array {
  let t = cache.get(name);
  if (!t) {
    t = name === 'normal' ? generateNormal() : name === 'pareto' ? generatePareto() : generateParetoNormal();
    cache.set(name, t);
  }
  return t;
}

/**
 * Parse a tc `.dist` file (whitespace-separated integers, `#` comment lines), as tc's
 * `get_distribution` reads it. Throws on a token that is not an int16.
 */
export function parseDistFile(text: string): Int16Array {
  const values: number[] = [];
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('#')) continue;
    for (const tok of line.split(/\s+/)) {
      if (tok === '') continue;
      const v = Number(tok);
      if (!Number.isInteger(v) || v < -32768 || v > 32767) throw new Error(`not an int16 table entry: ${tok}`);
      values.push(v);
    }
  }
  return Int16Array.from(values);
}
