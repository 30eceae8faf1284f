/**
 * Human units, parsed once at the edge and formatted for people and for tc.
 *
 * Parsers return a number in the unit named by the function (`parseDurationMs` -> ms) or throw a
 * `UnitError` whose message says what was expected; callers (the profile parser) add the path.
 *
 *   duration   '80ms' '1.5s' '500us' '2m' '1h' '250ns' '1d'   -> milliseconds (float)
 *   rate       '20mbit' '1.6mbit' '750kbit' '1gbit' '9600bit'  -> kbit/s (SI: 1 kbit = 1000 bit)
 *   percent    '0.5%' '100%'                                   -> percent (0.5, 100)
 *   size       '1500b' '1500' '64k' '1m' (1 k = 1024 bytes, as tc) -> bytes (integer)
 *
 * Bare numbers are rejected for durations, rates and percentages: tc itself reads a bare time as
 * nanoseconds in current releases and a bare percentage as percent, so a unit is always required.
 * `bps`/`kbps`/`mbps`/`MBps`/`Mb/s` are rejected: tc reads `mbps` as megaBYTES per second (8x the
 * intended rate); write `mbit`.
 */

export class UnitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnitError';
  }
}

const NUM = '([0-9]+(?:\\.[0-9]+)?|\\.[0-9]+)';

const DURATION_FACTORS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_RE = new RegExp(`^${NUM}\\s*(ns|us|µs|ms|s|min|m|h|d)$`);

function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Parse a duration such as '80ms', '1.5s', '500us', '2m' (minutes) into milliseconds. */
export function parseDurationMs(input: unknown): number {
  if (typeof input === 'number') {
    throw new UnitError(`needs a unit, e.g. ${input}ms or ${input}s (got bare number ${input})`);
  }
  if (typeof input !== 'string') throw new UnitError(`expected a duration such as 80ms (got ${shown(input)})`);
  const m = DURATION_RE.exec(input.trim());
  if (!m) throw new UnitError(`expected a duration such as 80ms, 1.5s, 500us or 2m (got ${shown(input)})`);
  return roundSig(Number(m[1]) * (DURATION_FACTORS_MS[m[2] as string] as number));
}

const RATE_FACTORS_KBIT: Record<string, number> = {
  bit: 1e-3,
  kbit: 1,
  mbit: 1e3,
  gbit: 1e6,
  tbit: 1e9,
};
const RATE_RE = new RegExp(`^${NUM}\\s*(bit|kbit|mbit|gbit|tbit)$`, 'i');
const BYTE_RATE_RE = new RegExp(`^${NUM}\\s*([kmgt]?)(bps|b/s|byte/s|bytes/s)$`, 'i');

/** Parse a rate such as '20mbit', '750kbit', '1gbit' into kbit/s (SI prefixes, as tc). */
export function parseRateKbit(input: unknown): number {
  if (typeof input === 'number') {
    throw new UnitError(`needs a unit, e.g. ${input}kbit or ${input}mbit (got bare number ${input})`);
  }
  if (typeof input !== 'string') throw new UnitError(`expected a rate such as 20mbit (got ${shown(input)})`);
  const s = input.trim();
  const m = RATE_RE.exec(s);
  if (m) return roundSig(Number(m[1]) * (RATE_FACTORS_KBIT[(m[2] as string).toLowerCase()] as number));
  const b = BYTE_RATE_RE.exec(s);
  if (b) {
    const prefix = (b[2] as string).toLowerCase();
    const bits = `${b[1]}${prefix}bit`;
    throw new UnitError(
      `${shown(input)} is ambiguous: tc reads "bps" as BYTES per second (8x ${bits}); ` +
        `write bits per second with "bit", e.g. ${bits}`,
    );
  }
  throw new UnitError(`expected a rate such as 20mbit, 750kbit or 1gbit (got ${shown(input)})`);
}

const PCT_RE = new RegExp(`^${NUM}\\s*%$`);

/** Parse a percentage such as '0.5%' into percent (0.5). The '%' sign is required. */
export function parsePct(input: unknown): number {
  if (typeof input === 'number') {
    throw new UnitError(`needs a percent sign, e.g. ${input}% (got bare number ${input})`);
  }
  if (typeof input !== 'string') throw new UnitError(`expected a percentage such as 0.5% (got ${shown(input)})`);
  const m = PCT_RE.exec(input.trim());
  if (!m) throw new UnitError(`expected a percentage such as 0.5% (got ${shown(input)})`);
  return roundSig(Number(m[1]));
}

const SIZE_FACTORS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };
const SIZE_RE = new RegExp(`^${NUM}\\s*(b|k|kb|m|mb|g|gb)?$`, 'i');

/** Parse a size such as '1500b', '64k' (65536, tc's binary k) or a bare integer into bytes. */
export function parseSizeBytes(input: unknown): number {
  if (typeof input === 'number') {
    if (!Number.isInteger(input)) throw new UnitError(`expected a whole number of bytes (got ${input})`);
    return input;
  }
  if (typeof input !== 'string') throw new UnitError(`expected a size such as 1500b or 64k (got ${shown(input)})`);
  const m = SIZE_RE.exec(input.trim());
  if (!m) throw new UnitError(`expected a size such as 1500b or 64k (got ${shown(input)})`);
  const bytes = Number(m[1]) * (SIZE_FACTORS[(m[2] ?? '').toLowerCase()] as number);
  if (!Number.isInteger(bytes)) throw new UnitError(`must be a whole number of bytes (got ${shown(input)})`);
  return bytes;
}

/** Round away binary floating-point noise (0.1 * 3 -> 0.3) keeping 12 significant digits. */
function roundSig(x: number): number {
  return Number(x.toPrecision(12));
}

function trimNum(x: number, digits = 3): string {
  return String(Number(x.toFixed(digits)));
}

/** For people: 80 -> '80 ms', 1500 -> '1.5 s', 0.5 -> '500 us', 120000 -> '2 min'. */
export function formatDuration(ms: number): string {
  const a = Math.abs(ms);
  if (a === 0) return '0 ms';
  if (a < 1) return `${trimNum(ms * 1000)} us`;
  if (a < 1000) return `${trimNum(ms)} ms`;
  if (a < 60_000) return `${trimNum(ms / 1000)} s`;
  if (a < 3_600_000) return `${trimNum(ms / 60_000, 2)} min`;
  return `${trimNum(ms / 3_600_000, 2)} h`;
}

/** For people: 20000 -> '20 Mbit/s', 750 -> '750 kbit/s', 1e6 -> '1 Gbit/s'. */
export function formatRate(kbit: number): string {
  if (kbit >= 1e6) return `${trimNum(kbit / 1e6)} Gbit/s`;
  if (kbit >= 1e3) return `${trimNum(kbit / 1e3)} Mbit/s`;
  if (kbit >= 1) return `${trimNum(kbit)} kbit/s`;
  return `${trimNum(kbit * 1000)} bit/s`;
}

/** For people: 0.5 -> '0.5%', 0.0123 -> '0.0123%'. */
export function formatPct(pct: number): string {
  return `${Number(pct.toPrecision(3))}%`;
}

/** For people: 65536 -> '64 KiB', 1500 -> '1500 B'. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 ** 2 && bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/**
 * For tc's command line: always an explicit unit, never a bare number (tc reads bare times as ns).
 * 80 -> '80ms', 0.5 -> '500us', 0.0005 -> '500ns'. Sub-ns precision is rounded to ns.
 */
export function formatTcTime(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns % 1e6 === 0) return `${ns / 1e6}ms`;
  if (ns % 1e3 === 0) return `${ns / 1e3}us`;
  return `${ns}ns`;
}

/** For tc's command line: kbit -> '20000kbit' (or 'bit' below 1 kbit). Never 'bps' (bytes). */
export function formatTcRate(kbit: number): string {
  const bit = Math.round(kbit * 1000);
  if (bit % 1000 === 0) return `${bit / 1000}kbit`;
  return `${bit}bit`;
}

/** For tc's command line: percent with enough digits, e.g. 0.05 -> '0.05%'. */
export function formatTcPct(pct: number): string {
  return `${Number(pct.toPrecision(10))}%`;
}
