/**
 * Injected randomness. Engines take a `Random` so a run can be reproduced (`--seed`) and tests can
 * assert exact outcomes. Backed by pure-rand's xoroshiro128+.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform unsigned 32-bit integer. */
  nextU32(): number;
}

export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed | 0);
  return {
    next: () => uniformFloat64(rng),
    nextU32: () => rng.next() >>> 0,
  };
}

/** A fresh seed from the system (for runs without `--seed`; print it so the run can be repeated). */
export function randomSeed(): number {
  return (Math.random() * 0x7fffffff) | 0;
}
