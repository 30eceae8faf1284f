/**
 * Traffic measurement for the kernel tier: parse `ping -n` output into per-sequence replies, and
 * derive loss, loss bursts and RTT quantiles, with statistical bounds derived from the sample size.
 * Pure (no I/O): the guest-side runner is in traffic.ts.
 *
 * Conventions: sequence numbers 1..transmitted; a sequence with no reply is lost; a burst is a
 * maximal run of consecutive lost sequences; RTTs in milliseconds. Count bounds use z standard
 * deviations (default Z = 5.3, ~1e-7 two-sided for a normal) plus the Cornish-Fisher skew term
 * (z^2 - 1)/6 x kappa3/kappa2 on the heavy side: counts of rare events and of bursts are skewed, and
 * the normal bound alone was crossed far more often than z says (a Gilbert-Elliott check of this
 * tier at z = 4.5: ~1.3e-4 per run, by the exact distribution of the chain's counts). The median
 * band and the jitter-shape cut keep z = 4.5 for the reasons given there.
 */

/** Default z of the count bounds: ~1e-7 two-sided for a normal; with the skew term, <= ~1e-7 here. */
export const Z = 5.3;

/** Cornish-Fisher first-order skew correction of a quantile at z, in units of the count. */
function skewTerm(z: number, kappa3OverKappa2: number): number {
  return ((z * z - 1) / 6) * kappa3OverKappa2;
}

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

/**
 * Bounds on the observed fraction of `n` Bernoulli(p) trials: p +/- z sqrt(p(1-p)/n), widened on
 * the skewed side by (z^2 - 1)/6 x |1 - 2p| / n (the binomial's kappa3/kappa2 = 1 - 2p), clamped.
 * Exact false-failure probability for the nlc case (n = 500, p = 0.19): 5e-8 (z = 4.5 without the
 * skew term: 9e-6).
 */
export function binomialBounds(n: number, p: number, z = Z): Interval {
  const sd = Math.sqrt((p * (1 - p)) / n);
  const skew = skewTerm(z, 1 - 2 * p) / n;
  return { lo: Math.max(0, p - z * sd - Math.max(0, -skew)), hi: Math.min(1, p + z * sd + Math.max(0, skew)) };
}

/**
 * Gilbert-Elliott (simple Gilbert: loss certain in Bad, none in Good) as netem documents it:
 * p = P(Good->Bad), r = P(Bad->Good), per packet, fractions. Stationary loss pi = p/(p+r); bursts
 * are geometric with mean 1/r. The loss count of a Markov chain varies more than a binomial one:
 * Var = n*pi*(1-pi)*(1+lambda)/(1-lambda), lambda = 1-p-r (the chain's second eigenvalue).
 * The count is skewed to the right by the bursts: the high side adds skewTerm(z, f) / n with
 * f = (1+lambda)/(1-lambda) (kappa3/kappa2 of the count is ~1.5 f to 2 f for small p; f keeps the
 * exact tail below 1e-6 across bursts of 2-10 and n of 250-10 000).
 * Mean burst length: `meanBurst` for the expected b ~ n*pi*r bursts; burstMeanBounds for the
 * number of bursts actually seen (the better check: fewer bursts, a wider bound).
 * Exact false-failure probabilities for the traffic case (n = 1500, p = 0.05, r = 0.25, DP over
 * the chain): loss 4e-8, mean burst over the bursts seen 7e-8 (z = 4.5 without skew terms and with
 * the expected burst count: 2e-5 and 1.2e-4).
 */
export function gilbertBounds(n: number, p: number, r: number, z = Z): { loss: Interval; meanBurst: Interval; expectedLoss: number; expectedBurst: number } {
  const pi = p / (p + r);
  const lambda = 1 - p - r;
  const f = (1 + lambda) / (1 - lambda);
  const lossSd = Math.sqrt((pi * (1 - pi) * f) / n);
  return {
    loss: { lo: Math.max(0, pi - z * lossSd), hi: Math.min(1, pi + z * lossSd + skewTerm(z, f) / n) },
    meanBurst: burstMeanBounds(Math.max(1, n * pi * r), r, z),
    expectedLoss: pi,
    expectedBurst: 1 / r,
  };
}

/**
 * Where the mean of `bursts` loss-burst lengths lies for a Gilbert chain with P(Bad->Good) = r:
 * lengths are geometric (mean 1/r, sd sqrt(1-r)/r), so 1/r +/- z sd / sqrt(bursts), the high side
 * widened by skewTerm(z, (2-r)/r) / bursts (a geometric's kappa3/kappa2 = (2-r)/r).
 */
export function burstMeanBounds(bursts: number, r: number, z = Z): Interval {
  const b = Math.max(1, bursts);
  const sd = Math.sqrt(1 - r) / r / Math.sqrt(b);
  return { lo: Math.max(1, 1 / r - z * sd), hi: 1 / r + z * sd + skewTerm(z, (2 - r) / r) / b };
}

export function within(x: number, i: Interval): boolean {
  return x >= i.lo && x <= i.hi;
}

export function fmtInterval(i: Interval, digits = 3): string {
  return `[${i.lo.toFixed(digits)}, ${i.hi.toFixed(digits)}]`;
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 for erf; absolute error < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Upper tail probability of the standard normal at z (4.5 -> 3.4e-6). */
export function normalTail(z: number): number {
  return 1 - normalCdf(z);
}

/**
 * What a netem stage adds to an echo's RTT beyond its configured delay, by mechanism:
 *   - never less: netem's watchdog (an hrtimer) does not fire before a packet's time_to_send;
 *   - at most `lateMs` per stage later (the timer's wake-up under emulation: see traffic.ts);
 *   - at most `serializationMs` more where a rate-limited class is crossed (htb sends at once
 *     while it has tokens; an empty bucket holds the frame for its own transmission time).
 */
export interface DelayModel {
  /** netem delay summed over the directions the echo crosses (ms). */
  addedMs: number;
  /** netem qdiscs that hold the echo (one per delayed direction). */
  netemStages: number;
  /** Allowed lateness of one netem stage's timer (ms). */
  lateMs: number;
  /** Frame transmission time at the profile's rate, summed over the rate-limited directions crossed (ms). */
  serializationMs?: number;
}

/**
 * Where the median RTT of `sample` must lie when the path adds `m` to the unimpaired path whose
 * RTTs are `baseline` (pure). Distribution-free (RTTs under emulation are skewed, sometimes
 * bimodal): the true median of n RTTs lies between the sample quantiles 0.5 -/+ z/(2 sqrt(n))
 * (the binomial(n, 1/2) count below it, normal approximation), and the same for the baseline. So
 * with d_x = z / (2 sqrt(n_x)):
 *
 *   lo = Qb(0.5 - d_b) + added                                     - (Qs(0.5) - Qs(0.5 - d_s))
 *   hi = Qb(0.5 + d_b) + added + serialization + stages * lateMs   + (Qs(0.5 + d_s) - Qs(0.5))
 *
 * each widened by half of ping's printing step (pingResolutionMs: 0.5 ms at 100 ms and above);
 * i.e. the sample's median is in [lo, hi] iff the two confidence intervals, shifted by what the
 * mechanism may add, overlap. The widths are each sample's own spread around its median scaled
 * by the sample size (k = z / (2 sqrt(n)) in quantile units); the only constants are the mechanism's.
 * z = 4.5 here: the check fails only when the two medians' errors together exceed both intervals,
 * i.e. at ~z sqrt(2) = 6.4 standard deviations of their difference for equal sizes (~6 for 150 vs
 * 500), below 1e-8; the delay band's real risk is timing (the lateness allowance), not sampling.
 */
export function medianBand(baseline: readonly number[], sample: readonly number[], m: DelayModel, z = 4.5): Interval {
  if (baseline.length === 0 || sample.length === 0) throw new Error('medianBand needs two non-empty samples');
  const db = Math.min(0.5, z / (2 * Math.sqrt(baseline.length)));
  const ds = Math.min(0.5, z / (2 * Math.sqrt(sample.length)));
  const sMed = quantile(sample, 0.5);
  const lo = quantile(baseline, 0.5 - db) + m.addedMs - (sMed - quantile(sample, 0.5 - ds));
  const hi = quantile(baseline, 0.5 + db) + m.addedMs + (m.serializationMs ?? 0) + m.netemStages * m.lateMs + (quantile(sample, 0.5 + ds) - sMed);
  // ping rounds what it prints (pingResolutionMs): the sample's quantiles are off by up to half a step.
  const half = Math.max(pingResolutionMs(lo), pingResolutionMs(hi)) / 2;
  return { lo: lo - half, hi: hi + half };
}

/**
 * The step iputils ping prints an RTT of `rttMs` with (ping_common.c): rounded to 1 ms from
 * 100 ms, 0.1 ms from 10 ms, 0.01 ms from 1 ms, else 0.001 ms. A 1000.4 ms RTT reads "1000".
 */
export function pingResolutionMs(rttMs: number): number {
  if (rttMs >= 99.95) return 1;
  if (rttMs >= 9.995) return 0.1;
  if (rttMs >= 1) return 0.01;
  return 0.001;
}

/**
 * The cut for "is the jitter uniform or still the old normal table?" (pure). RTTs of one netem
 * stage with delay D and jitter J, measured against the unimpaired RTT x (baseline median p50):
 * RTT - p50 - D = U + e + L, with e = x - p50 the path's own noise and L in [0, lateMs] the timer's
 * lateness. Count the fraction of RTTs outside p50 + D +/- (J + slackMs).
 *
 *   H0, a fresh uniform table (U uniform on [-J, J]): for each baseline RTT x, the chance to land
 *      outside is min(1, max(0, e + lateMs - slack) / 2J) above plus min(1, max(0, -e - slack) / 2J)
 *      below; p0 = their mean over the baseline, plus ln(1/alpha) / n_b for stalls the baseline's
 *      n_b echoes did not show (zero-event bound at alpha = normalTail(z)).
 *   H1, the stale normal table (U normal with sigma = J, noise only widening it):
 *      p1 >= 2 (1 - Phi((J + slack) / J)).
 *
 * cut = p0 + z sqrt(p0 (1 - p0) / n) + skewTerm(z, 1) / n (the count of rare outliers is skewed:
 * without the term, Bin(400, p0) crossed the cut ~4e-5 of the time; with it 1.7e-6 at p0, which
 * is itself an alpha-level upper bound of H0's rate: at H0's likely rate, far below 1e-9).
 * `powerOk`: H1's lower bound p1 - z sqrt(p1 (1 - p1) / n) lies above the cut (the check can tell
 * them apart). z stays 4.5: at 5 the traffic case's 400 echoes could not tell them apart.
 */
export function jitterShapeCut(baseline: readonly number[], o: { jitterMs: number; slackMs: number; lateMs: number; n: number }, z = 4.5): { p0: number; p1: number; cut: number; powerOk: boolean } {
  if (baseline.length === 0 || o.n <= 0 || o.jitterMs <= 0) throw new Error('jitterShapeCut needs a baseline, n > 0 and a jitter');
  const p50 = quantile(baseline, 0.5);
  const w = 2 * o.jitterMs;
  let sum = 0;
  for (const x of baseline) {
    const e = x - p50;
    sum += Math.min(1, Math.max(0, e + o.lateMs - o.slackMs) / w) + Math.min(1, Math.max(0, -e - o.slackMs) / w);
  }
  const p0 = Math.min(1, sum / baseline.length + Math.log(1 / normalTail(z)) / baseline.length);
  const p1 = 2 * (1 - normalCdf((o.jitterMs + o.slackMs) / o.jitterMs));
  const cut = p0 + z * Math.sqrt((p0 * (1 - p0)) / o.n) + skewTerm(z, 1) / o.n;
  const powerOk = p1 - z * Math.sqrt((p1 * (1 - p1)) / o.n) > cut;
  return { p0, p1, cut, powerOk };
}

/** Whether `xs` appears in `ys` in order (gaps allowed). */
export function isSubsequence(xs: readonly string[], ys: readonly string[]): boolean {
  let j = 0;
  for (const x of xs) {
    while (j < ys.length && ys[j] !== x) j++;
    if (j === ys.length) return false;
    j++;
  }
  return true;
}
