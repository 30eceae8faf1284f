/**
 * netem `reorder PCT [CORR] gap N` (sch_netem.c): a packet is sent at once (ahead of the delayed
 * ones) when `gap != 0 && counter >= gap - 1 && reorder >= get_crandom(reorder_cor)`; otherwise it is
 * delayed and the counter grows. Sending one at once resets the counter. tc sets gap = 1 when a
 * reorder probability is given without a gap, so every packet is then a candidate; with gap N,
 * N - 1 delayed packets pass between candidates. Reordering needs a delay (tc refuses otherwise):
 * the planner checks that.
 */
import type { Impairment } from '../../../core/profile.js';
import type { Random } from '../../../core/random.js';
import { correlatedRandom, pctToU32 } from './crandom.js';

export interface Reorder {
  /** Decide for the next packet: true = send now (reordered ahead). Resets the counter. */
  sendNow(): boolean;
  /** The packet was delayed normally (counter += 1). */
  delayed(): void;
}

export function createReorder(imp: Impairment, rng: Random): Reorder {
  const p = pctToU32(imp.reorderPct);
  const gap = p === 0 ? 0 : Math.max(imp.reorderGap ?? 1, 1);
  const src = correlatedRandom(rng, imp.reorderCorrelationPct);
  let counter = 0;
  return {
    sendNow: () => {
      if (gap === 0 || counter < gap - 1) return false;
      if (p < src.next()) return false;
      counter = 0;
      return true;
    },
    delayed: () => {
      counter++;
    },
  };
}
