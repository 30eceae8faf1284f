/**
 * Delay + jitter sampling with netem's `tabledist` (sch_netem.c), in nanoseconds:
 *
 *   sigma == 0          -> mu
 *   no table (uniform)  -> (rnd % (2 * sigma)) + mu - sigma
 *   table               -> mu + t * sigma / NETEM_DIST_SCALE, t = table[rnd % size], computed in
 *                          integer steps as the kernel does (remainder part rounded half away from 0)
 *
 * `rnd` is a correlated draw (`delayCorrelationPct`). Samples may be negative (jitter > delay):
 * netem then sends at once, and so does the relay (the caller clamps at "now").
 */
import type { Impairment } from '../../../core/profile.js';
import type { Random } from '../../../core/random.js';
import { distTable, NETEM_DIST_SCALE } from '../dist-tables.js';
import { correlatedRandom, type CorrelatedRandom } from './crandom.js';

/** netem's integer tabledist. All arguments and the result are integers (ns); rnd is a u32. */
export function tableDist(muNs: number, sigmaNs: number, rnd: number, table: Int16Array | null): number {
  if (sigmaNs === 0) return muNs;
  if (!table) return (rnd % (2 * sigmaNs)) + muNs - sigmaNs;
  const t = table[rnd % table.length] ?? 0;
  let x = (sigmaNs % NETEM_DIST_SCALE) * t;
  x += x >= 0 ? NETEM_DIST_SCALE / 2 : -NETEM_DIST_SCALE / 2;
  return Math.trunc(x / NETEM_DIST_SCALE) + Math.trunc(sigmaNs / NETEM_DIST_SCALE) * t + muNs;
}

export interface DelaySampler {
  /** The next packet's delay in ns (may be negative: "send now"). */
  sampleNs(): number;
  /** True when every sample is 0 (no delay configured). */
  readonly zero: boolean;
}

/** Build the sampler for one direction's delay fields. */
export function createDelaySampler(imp: Impairment, rng: Random): DelaySampler {
  const muNs = Math.round((imp.delayMs ?? 0) * 1e6);
  // netem keeps jitter as s32 ns (+-2.147 s); the profile parser bounds it, clamp defensively.
  const sigmaNs = Math.min(Math.round((imp.jitterMs ?? 0) * 1e6), 0x7fffffff);
  const dist = imp.distribution ?? 'uniform';
  const table = dist === 'uniform' ? null : distTable(dist);
  const src: CorrelatedRandom = correlatedRandom(rng, imp.delayCorrelationPct);
  return {
    zero: muNs === 0 && sigmaNs === 0,
    sampleNs: () => (sigmaNs === 0 ? muNs : tableDist(muNs, sigmaNs, src.next(), table)),
  };
}
