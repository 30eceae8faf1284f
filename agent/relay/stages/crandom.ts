/**
 * netem's correlated random numbers (`get_crandom` in sch_netem.c): each draw is a weighted mix of a
 * fresh uniform u32 and the previous answer, `answer = (value * (2^32 - rho) + last * rho) >> 32`
 * with `rho = corr + 1` (corr as a u32 fraction). With corr 0 it is the plain generator. As the
 * man page says, this "isn't a true statistical correlation": the mix narrows the spread of the
 * values as well as correlating them (a 50 % loss with 90 % correlation loses less than 50 %).
 *
 * Probabilities are u32 fractions as tc sends them: `pctToU32(1)` = 1 % of 2^32 - 1; an event fires
 * when `p && p >= draw`, exactly netem's test.
 */
import type { Random } from '../../../core/random.js';

const TWO32 = 4294967296;

/** A percentage (0..100) as netem's u32 fraction of UINT32_MAX (tc's rounding). */
export function pctToU32(pct: number | undefined): number {
  if (!pct || pct <= 0) return 0;
  if (pct >= 100) return 0xffffffff;
  return Math.round((pct / 100) * 0xffffffff);
}

export interface CorrelatedRandom {
  /** Next u32 (as a non-negative integer number). */
  next(): number;
}

/** A correlated u32 source; the first "last" value is a fresh draw, as netem's init_crandom does. */
export function correlatedRandom(rng: Random, correlationPct: number | undefined): CorrelatedRandom {
  const rho0 = pctToU32(correlationPct);
  if (rho0 === 0) return { next: () => rng.nextU32() };
  const rho = rho0 + 1;
  let last = rng.nextU32();
  return {
    next: () => {
      const value = rng.nextU32();
      // (value * (2^32 - rho) + last * rho) >> 32, in doubles: both products are < 2^64 and the
      // rounding error after the shift is < 1e-6, so the floor is exact except on rare boundaries.
      const answer = Math.floor((value * (TWO32 - rho) + last * rho) / TWO32);
      last = answer;
      return answer;
    },
  };
}

/** A Bernoulli event with netem's semantics (`p && p >= get_crandom()`), e.g. duplicate, corrupt. */
export function chance(rng: Random, pct: number | undefined, correlationPct?: number): () => boolean {
  const p = pctToU32(pct);
  if (p === 0) return () => false;
  const src = correlatedRandom(rng, correlationPct);
  return () => p >= src.next();
}
