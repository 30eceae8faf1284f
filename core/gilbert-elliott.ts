/**
 * Loss-model arithmetic: mean loss and mean burst length of netem's loss models, and the inverse
 * for Gilbert-Elliott (average loss + mean burst -> p, r).
 *
 * netem's Gilbert-Elliott (sch_netem.c loss_gilb_ell), per packet: in Good the packet is lost with
 * probability 1-k, in Bad with 1-h; then the state moves Good->Bad with p, Bad->Good with r.
 * Stationary P(Bad) = p/(p+r), so
 *   mean loss  L = p/(p+r) * (1-h) + r/(p+r) * (1-k)
 *   mean burst   = L / P(packet lost and the next one not)      (exact for any parameters)
 *                = 1/r when 1-h = 100% and 1-k = 0% (a burst is exactly a stay in Bad).
 * netem's 4-state model (loss_4state) loses the packet on entering state 3 or 4; same method.
 * All inputs and outputs in percent, bursts in packets.
 */
import type { FourStateLoss, GilbertElliottLoss, Loss } from './profile.js';

type Chain = { T: number[][]; lossProb: number[]; start: number };

/**
 * Stationary distribution of a small chain: solve pi (T - I) = 0 with sum(pi) = 1 by Gaussian
 * elimination; when that system is singular (a chain with several closed classes), iterate from
 * `start` instead (netem's chains start in state 0).
 */
function stationary(c: Chain): number[] {
  const n = c.T.length;
  // rows: equations; A[j][i] = T[i][j] - (i === j), last equation replaced by sum(pi) = 1
  const A: number[][] = Array.from({ length: n }, (_, j) => [
    ...Array.from({ length: n }, (_, i) => (j === n - 1 ? 1 : (c.T[i]?.[j] as number) - (i === j ? 1 : 0))),
    j === n - 1 ? 1 : 0,
  ]);
  let singular = false;
  for (let col = 0; col < n && !singular; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(A[r]?.[col] as number) > Math.abs(A[piv]?.[col] as number)) piv = r;
    if (Math.abs(A[piv]?.[col] as number) < 1e-12) {
      singular = true;
      break;
    }
    [A[col], A[piv]] = [A[piv] as number[], A[col] as number[]];
    const rowC = A[col] as number[];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = A[r] as number[];
      const f = (row[col] as number) / (rowC[col] as number);
      for (let k = col; k <= n; k++) row[k] = (row[k] as number) - f * (rowC[k] as number);
    }
  }
  if (!singular) {
    const pi = A.map((row, i) => (row[n] as number) / (row[i] as number));
    if (pi.every((x) => Number.isFinite(x) && x > -1e-12)) return pi.map((x) => Math.max(0, x));
  }
  let pi: number[] = Array.from({ length: n }, (_, i) => (i === c.start ? 1 : 0));
  for (let iter = 0; iter < 100_000; iter++) {
    const next = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) next[j] = (next[j] as number) + (pi[i] as number) * (c.T[i]?.[j] as number);
    const mixed = next.map((x, i) => 0.5 * x + 0.5 * (pi[i] as number)); // lazy step: converges for periodic chains too
    const delta = mixed.reduce((a, x, i) => a + Math.abs(x - (pi[i] as number)), 0);
    pi = mixed;
    if (delta < 1e-15) break;
  }
  return pi;
}

function chainStats(c: Chain, pi: number[] = stationary(c)): { meanLoss: number; meanBurst: number } {
  const n = pi.length;
  let loss = 0;
  let ends = 0;
  for (let s = 0; s < n; s++) {
    const ls = (pi[s] as number) * (c.lossProb[s] as number);
    loss += ls;
    let notNext = 0;
    for (let t = 0; t < n; t++) notNext += (c.T[s]?.[t] as number) * (1 - (c.lossProb[t] as number));
    ends += ls * notNext;
  }
  return { meanLoss: loss, meanBurst: ends > 0 ? loss / ends : loss > 0 ? Infinity : 0 };
}

/** netem's defaults filled in: r = 100 - p, 1-h = 100, 1-k = 0 (as tc fills them). */
export function geWithDefaults(ge: GilbertElliottLoss): Required<Omit<GilbertElliottLoss, 'model'>> {
  return { pPct: ge.pPct, rPct: ge.rPct, oneMinusHPct: ge.oneMinusHPct ?? 100, oneMinusKPct: ge.oneMinusKPct ?? 0 };
}

function geChain(ge: GilbertElliottLoss): Chain {
  const g = geWithDefaults(ge);
  const p = g.pPct / 100;
  const r = g.rPct / 100;
  // states: 0 = Good, 1 = Bad; the chain starts in Good (netem's initial state)
  return { T: [[1 - p, p], [r, 1 - r]], lossProb: [g.oneMinusKPct / 100, g.oneMinusHPct / 100], start: 0 };
}

/** Mean loss (%) of a Gilbert-Elliott model: p/(p+r)(1-h) + r/(p+r)(1-k); with p = r = 0, 1-k. */
export function geMeanLossPct(ge: GilbertElliottLoss): number {
  const g = geWithDefaults(ge);
  const p = g.pPct / 100;
  const r = g.rPct / 100;
  if (p + r === 0) return g.oneMinusKPct;
  return 100 * ((p / (p + r)) * (g.oneMinusHPct / 100) + (r / (p + r)) * (g.oneMinusKPct / 100));
}

/** Mean number of consecutive lost packets (a "burst") of a Gilbert-Elliott model. */
export function geMeanBurstPackets(ge: GilbertElliottLoss): number {
  const p = ge.pPct / 100;
  const r = ge.rPct / 100;
  const pi = p + r === 0 ? [1, 0] : [r / (p + r), p / (p + r)];
  return chainStats(geChain(ge), pi).meanBurst;
}

/** Mean stay in the Bad state, in packets (1/r). */
export function geMeanBadRunPackets(ge: GilbertElliottLoss): number {
  return ge.rPct > 0 ? 100 / ge.rPct : Infinity;
}

/**
 * The Gilbert model (1-h = 100%, 1-k = 0%) with the given mean loss and mean burst length:
 * r = 1/burst, p = r*L/(1-L). Throws RangeError when impossible (L >= 100%, burst < 1, p > 100%).
 */
export function geFromLossAndBurst(meanLossPct: number, meanBurstPackets: number): GilbertElliottLoss {
  const L = meanLossPct / 100;
  if (!(L >= 0 && L < 1)) throw new RangeError(`mean loss must be 0..<100% (got ${meanLossPct}%)`);
  if (!(meanBurstPackets >= 1)) throw new RangeError(`mean burst must be at least 1 packet (got ${meanBurstPackets})`);
  const r = 1 / meanBurstPackets;
  const p = (r * L) / (1 - L);
  if (p > 1) throw new RangeError(`${meanLossPct}% in bursts of ${meanBurstPackets} needs p above 100%`);
  return { model: 'gilbert-elliott', pPct: 100 * p, rPct: 100 * r, oneMinusHPct: 100, oneMinusKPct: 0 };
}

function fourStateChain(l: FourStateLoss): Chain {
  const p13 = l.p13Pct / 100;
  const p31 = (l.p31Pct ?? 100 - l.p13Pct) / 100;
  const p32 = (l.p32Pct ?? 0) / 100;
  const p23 = (l.p23Pct ?? 100) / 100;
  const p14 = (l.p14Pct ?? 0) / 100;
  // states 1..4 as indices 0..3; a packet is lost when the chain enters state 3 or 4
  const T = [
    [1 - p13 - p14, 0, p13, p14],
    [0, 1 - p23, p23, 0],
    [p31, p32, 1 - p31 - p32, 0],
    [1, 0, 0, 0],
  ];
  return { T, lossProb: [0, 0, 1, 1], start: 0 };
}

/** Mean loss (%) of any loss model. */
export function meanLossPct(loss: Loss): number {
  switch (loss.model) {
    case 'random':
      return loss.pct;
    case 'gilbert-elliott':
      return geMeanLossPct(loss);
    case '4-state':
      return 100 * chainStats(fourStateChain(loss)).meanLoss;
  }
}

/** Mean burst length (packets) of any loss model; random loss: 1/(1-p). */
export function meanBurstPackets(loss: Loss): number {
  switch (loss.model) {
    case 'random':
      return loss.pct >= 100 ? Infinity : 1 / (1 - loss.pct / 100);
    case 'gilbert-elliott':
      return geMeanBurstPackets(loss);
    case '4-state':
      return chainStats(fourStateChain(loss)).meanBurst;
  }
}
