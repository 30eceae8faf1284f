/**
 * Traffic measurement for the kernel tier: parse `ping -n` output into per-sequence replies, and
 * derive loss, loss bursts and RTT quantiles, with statistical bounds derived from the sample size.
 * Pure (no I/O): the guest-side runner is in traffic.ts.
 *
 * Conventions: sequence numbers 1..transmitted; a sequence with no reply is lost; a burst is a
 * maximal run of consecutive lost sequences; RTTs in milliseconds. Bounds use z standard
 * deviations (default 4.5: a false failure about once in 150 000 checks).
 */

export interface PingSample {
  transmitted: number;
  /** RTTs (ms) of each answered sequence; more than one when duplicated. */
  replies: Map<number, number[]>;
}

const REPLY = /icmp_seq=(\d+)\b.*?\btime=([\d.]+) ms/;
const SUMMARY = /^(\d+) packets transmitted/m;

/** Parse `ping -n` (iputils) output. Throws when the summary line is missing (ping did not finish). */
export function parsePing(stdout: string): PingSample {
  const m = SUMMARY.exec(stdout);
  if (!m) throw new Error(`ping output has no "N packets transmitted" summary:\n${stdout.slice(-500)}`);
  const replies = new Map<number, number[]>();
  for (const line of stdout.split('\n')) {
    const r = REPLY.exec(line);
    if (!r) continue;
    const seq = Number(r[1]);
    const list = replies.get(seq) ?? [];
    list.push(Number(r[2]));
    replies.set(seq, list);
  }
  return { transmitted: Number(m[1]), replies };
}

/** Sequences 1..transmitted without a reply, ascending. */
export function lostSeqs(s: PingSample): number[] {
  const lost: number[] = [];
  for (let seq = 1; seq <= s.transmitted; seq++) if (!s.replies.has(seq)) lost.push(seq);
  return lost;
}

/** Lengths of maximal runs of consecutive lost sequences. */
export function burstLengths(lost: readonly number[]): number[] {
  const out: number[] = [];
  let run = 0;
  let prev = Number.NaN;
  for (const seq of lost) {
    if (seq === prev + 1) run += 1;
    else {
      if (run > 0) out.push(run);
      run = 1;
    }
    prev = seq;
  }
  if (run > 0) out.push(run);
  return out;
}

/** First RTT of every answered sequence (duplicates ignored), in sequence order. */
export function rtts(s: PingSample): number[] {
  return [...s.replies.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v[0] as number);
}

/**
 * Sequences in the order their first reply arrived: ping prints each reply as it arrives, and
 * parsePing fills `replies` in output order (a Map keeps insertion order).
 */
export function arrivalOrder(s: PingSample): number[] {
  return [...s.replies.keys()];
}

/**
 * Reordered arrivals (RFC 4737's count): those with a sequence below the highest seen before
 * them. 0 for an in-order stream, whatever was lost.
 */
export function reordered(seqs: readonly number[]): number {
  let n = 0;
  let max = Number.NEGATIVE_INFINITY;
  for (const seq of seqs) {
    if (seq < max) n += 1;
    else max = seq;
  }
  return n;
}

/** Number of sequences answered more than once. */
export function duplicated(s: PingSample): number {
  let n = 0;
  for (const v of s.replies.values()) if (v.length > 1) n += 1;
  return n;
}

/** Quantile q (0..1) by linear interpolation on a sorted copy. Throws on an empty sample. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new Error('quantile of an empty sample');
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('mean of an empty sample');
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export interface Interval {
  lo: number;
  hi: number;
}

/** Bounds on the observed fraction of `n` Bernoulli(p) trials: p +/- z*sqrt(p(1-p)/n), clamped. */
export function binomialBounds(n: number, p: number, z = 4.5): Interval {
  const sd = Math.sqrt((p * (1 - p)) / n);
  return { lo: Math.max(0, p - z * sd), hi: Math.min(1, p + z * sd) };
}

/**
 * Gilbert-Elliott (simple Gilbert: loss certain in Bad, none in Good) as netem documents it:
 * p = P(Good->Bad), r = P(Bad->Good), per packet, fractions. Stationary loss pi = p/(p+r); bursts
 * are geometric with mean 1/r. The loss count of a Markov chain varies more than a binomial one:
 * Var = n*pi*(1-pi)*(1+lambda)/(1-lambda), lambda = 1-p-r (the chain's second eigenvalue).
 * Mean burst length over b bursts has sd sqrt(1-r)/r/sqrt(b), with b ~ n*pi*r expected bursts.
 */
export function gilbertBounds(n: number, p: number, r: number, z = 4.5): { loss: Interval; meanBurst: Interval; expectedLoss: number; expectedBurst: number } {
  const pi = p / (p + r);
  const lambda = 1 - p - r;
  const lossSd = Math.sqrt((pi * (1 - pi) * (1 + lambda)) / (1 - lambda) / n);
  const bursts = Math.max(1, n * pi * r);
  const burstSd = Math.sqrt(1 - r) / r / Math.sqrt(bursts);
  return {
    loss: { lo: Math.max(0, pi - z * lossSd), hi: Math.min(1, pi + z * lossSd) },
    meanBurst: { lo: Math.max(1, 1 / r - z * burstSd), hi: 1 / r + z * burstSd },
    expectedLoss: pi,
    expectedBurst: 1 / r,
  };
}

export function within(x: number, i: Interval): boolean {
  return x >= i.lo && x <= i.hi;
}

export function fmtInterval(i: Interval, digits = 3): string {
  return `[${i.lo.toFixed(digits)}, ${i.hi.toFixed(digits)}]`;
}
