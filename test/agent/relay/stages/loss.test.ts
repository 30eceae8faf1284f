import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../core/random.js';
import { createLossModel } from '../../../../agent/relay/stages/loss.js';
import { chance, correlatedRandom, pctToU32 } from '../../../../agent/relay/stages/crandom.js';

/** |k - np| bound for a binomial count at ~1e-5 two-sided false-failure probability (4.4 sigma). */
function binomialBound(n: number, p: number): number {
  return 4.4 * Math.sqrt(n * p * (1 - p));
}

function runs(xs: boolean[]): number[] {
  const out: number[] = [];
  let r = 0;
  for (const x of xs) {
    if (x) r++;
    else if (r > 0) {
      out.push(r);
      r = 0;
    }
  }
  if (r > 0) out.push(r);
  return out;
}

describe('pctToU32 / correlated random', () => {
  it('scales percentages as tc does', () => {
    expect(pctToU32(0)).toBe(0);
    expect(pctToU32(100)).toBe(0xffffffff);
    expect(pctToU32(50)).toBe(Math.round(0xffffffff / 2));
  });

  it('correlation pulls successive draws together (lag-1 correlation grows with corr)', () => {
    const lag1 = (corr: number): number => {
      const src = correlatedRandom(seededRandom(7), corr);
      const xs = Array.from({ length: 20000 }, () => src.next() / 2 ** 32);
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      let num = 0;
      let den = 0;
      for (let i = 1; i < xs.length; i++) num += (xs[i]! - m) * (xs[i - 1]! - m);
      for (const x of xs) den += (x - m) ** 2;
      return num / den;
    };
    // netem's mix: corr rho -> lag-1 correlation rho (AR(1) with weight rho on the previous value).
    expect(Math.abs(lag1(0))).toBeLessThan(4.4 / Math.sqrt(20000));
    expect(Math.abs(lag1(75) - 0.75)).toBeLessThan(0.03);
  });

  it('chance(0) never fires and chance(100) always does', () => {
    const never = chance(seededRandom(1), 0);
    const always = chance(seededRandom(1), 100);
    for (let i = 0; i < 1000; i++) {
      expect(never()).toBe(false);
      expect(always()).toBe(true);
    }
  });
});

describe('random loss', () => {
  it.each([0.5, 5, 30])('loses %d %% within a binomial bound (n = 200000)', (pct) => {
    const m = createLossModel({ model: 'random', pct }, seededRandom(11));
    const n = 200_000;
    let k = 0;
    for (let i = 0; i < n; i++) if (m.lose()) k++;
    expect(Math.abs(k - (n * pct) / 100)).toBeLessThan(binomialBound(n, pct / 100));
  });

  it('the same seed gives the same loss pattern', () => {
    const a = createLossModel({ model: 'random', pct: 10 }, seededRandom(5));
    const b = createLossModel({ model: 'random', pct: 10 }, seededRandom(5));
    const pa = Array.from({ length: 500 }, () => a.lose());
    const pb = Array.from({ length: 500 }, () => b.lose());
    expect(pa).toEqual(pb);
  });
});

describe('Gilbert-Elliott loss (netem gemodel)', () => {
  // Simple Gilbert: 1-h = 100 %, 1-k = 0: a packet is lost iff it finds the BAD state.
  it.each([
    [1, 30],
    [5, 50],
    [0.5, 10],
  ])('p=%d%% r=%d%%: mean loss p/(p+r) and mean burst 1/r, within burst-adjusted bounds', (pPct, rPct) => {
    const p = pPct / 100;
    const r = rPct / 100;
    const m = createLossModel({ model: 'gilbert-elliott', pPct, rPct, oneMinusHPct: 100, oneMinusKPct: 0 }, seededRandom(3));
    const n = 400_000;
    const xs = Array.from({ length: n }, () => m.lose());
    const k = xs.filter(Boolean).length;
    const pi = p / (p + r);
    // Variance of the number of BAD visits in a 2-state chain: n pi (1-pi) (1+lambda)/(1-lambda),
    // lambda = 1 - p - r (the chain's second eigenvalue).
    const lambda = 1 - p - r;
    const sd = Math.sqrt((n * pi * (1 - pi) * (1 + lambda)) / (1 - lambda));
    expect(Math.abs(k - n * pi)).toBeLessThan(4.4 * sd);
    // Burst lengths are geometric with mean 1/r: the mean of B bursts has sd sqrt(1-r)/r/sqrt(B).
    const bursts = runs(xs);
    const meanBurst = bursts.reduce((a, b) => a + b, 0) / bursts.length;
    expect(Math.abs(meanBurst - 1 / r)).toBeLessThan((4.4 * Math.sqrt(1 - r)) / r / Math.sqrt(bursts.length));
  });

  it('full model: loss (r(1-k) + p(1-h)) / (p+r)', () => {
    const [p, r, oneMinusH, oneMinusK] = [0.02, 0.2, 0.6, 0.01];
    const m = createLossModel(
      { model: 'gilbert-elliott', pPct: p * 100, rPct: r * 100, oneMinusHPct: oneMinusH * 100, oneMinusKPct: oneMinusK * 100 },
      seededRandom(9),
    );
    const n = 400_000;
    let k = 0;
    for (let i = 0; i < n; i++) if (m.lose()) k++;
    const want = (r * oneMinusK + p * oneMinusH) / (p + r);
    // Bound: the state process adds variance (per-state loss differs); bound it by the simple-Gilbert
    // variance scaled by (1-h - (1-k))^2 plus the binomial part.
    const pi = p / (p + r);
    const lambda = 1 - p - r;
    const stateVar = (n * pi * (1 - pi) * (1 + lambda)) / (1 - lambda) * (oneMinusH - oneMinusK) ** 2;
    const sd = Math.sqrt(stateVar + n * want * (1 - want));
    expect(Math.abs(k - n * want)).toBeLessThan(4.4 * sd);
  });
});

describe('4-state loss (netem state)', () => {
  it('p13 alone (tc defaults: p31 = 1 - p13, p23 = 1) is Bernoulli loss at ~p13', () => {
    const m = createLossModel({ model: '4-state', p13Pct: 5 }, seededRandom(21));
    const n = 200_000;
    let k = 0;
    for (let i = 0; i < n; i++) if (m.lose()) k++;
    // State 3 exits with p31 = 0.95 and stays lost with 0.05: stationary loss = p13 / (p13 + p31) = 0.05.
    const pi = 0.05 / (0.05 + 0.95);
    expect(Math.abs(k - n * pi)).toBeLessThan(binomialBound(n, pi) * 1.5);
  });

  it('matches the stationary loss of its Markov chain (batch-means bound)', () => {
    const [p13, p31, p32, p23, p14] = [0.01, 0.3, 0.2, 0.4, 0.005];
    const m = createLossModel({ model: '4-state', p13Pct: 1, p31Pct: 30, p32Pct: 20, p23Pct: 40, p14Pct: 0.5 }, seededRandom(4));
    // Transition matrix over states 1..4 (rows: from) and the loss states 3, 4.
    const P = [
      [1 - p13 - p14, 0, p13, p14],
      [0, 1 - p23, p23, 0],
      [p31, p32, 1 - p31 - p32, 0],
      [1, 0, 0, 0],
    ];
    let pi = [1, 0, 0, 0];
    for (let it = 0; it < 20000; it++) pi = [0, 1, 2, 3].map((j) => pi.reduce((s, v, i) => s + v * P[i]![j]!, 0));
    const want = pi[2]! + pi[3]!;
    const batches = 200;
    const per = 2000;
    const means: number[] = [];
    for (let b = 0; b < batches; b++) {
      let k = 0;
      for (let i = 0; i < per; i++) if (m.lose()) k++;
      means.push(k / per);
    }
    const mean = means.reduce((a, b) => a + b, 0) / batches;
    const sd = Math.sqrt(means.reduce((a, b) => a + (b - mean) ** 2, 0) / (batches - 1) / batches);
    expect(Math.abs(mean - want)).toBeLessThan(5 * sd);
  });
});
