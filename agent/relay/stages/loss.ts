/**
 * Loss models, as sch_netem.c decides them per packet (one decision per `lose()` call):
 *
 * - random: `loss && loss >= get_crandom(loss_cor)` (Bernoulli, optionally correlated).
 * - gilbert-elliott (`loss gemodel p r 1-h 1-k`): in GOOD, move to BAD with p, then lose with 1-k;
 *   in BAD, move to GOOD with r, then lose with 1-h. The loss draw uses the probability of the state
 *   the packet found (the switch arm), after the transition draw, exactly as the kernel does.
 *   Stationary loss = (r(1-k) + p(1-h)) / (p + r); mean bad-state sojourn = 1/r packets.
 * - 4-state (`loss state p13 p31 p32 p23 p14`): states 1 = TX in gap, 2 = TX in burst,
 *   3 = lost in burst, 4 = isolated loss in gap, with the upstream "fix probability gaps" form
 *   (cumulative thresholds, no excluded boundary values).
 *
 * Models start in GOOD / state 1, as netem does on every change of the loss parameters.
 */
import type { Loss } from '../../../core/profile.js';
import type { Random } from '../../../core/random.js';
import { correlatedRandom, pctToU32 } from './crandom.js';

export interface LossModel {
  /** true: drop this packet. */
  lose(): boolean;
}

const NO_LOSS: LossModel = { lose: () => false };

export function createLossModel(loss: Loss | undefined, rng: Random): LossModel {
  if (!loss) return NO_LOSS;
  switch (loss.model) {
    case 'random': {
      const p = pctToU32(loss.pct);
      if (p === 0) return NO_LOSS;
      const src = correlatedRandom(rng, loss.correlationPct);
      return { lose: () => p >= src.next() };
    }
    case 'gilbert-elliott': {
      const a1 = pctToU32(loss.pPct);
      const a2 = pctToU32(loss.rPct);
      // The kernel keeps h; tc converts the user's 1-h. Loss in BAD when draw > h.
      const h = 0xffffffff - pctToU32(loss.oneMinusHPct ?? 100);
      const a4 = pctToU32(loss.oneMinusKPct ?? 0);
      let bad = false;
      return {
        lose: () => {
          if (!bad) {
            if (rng.nextU32() < a1) bad = true;
            return rng.nextU32() < a4;
          }
          if (rng.nextU32() < a2) bad = false;
          return rng.nextU32() > h;
        },
      };
    }
    case '4-state': {
      // tc's defaults for the omitted parameters.
      const p13 = pctToU32(loss.p13Pct);
      const p31 = loss.p31Pct === undefined ? 0xffffffff - p13 : pctToU32(loss.p31Pct);
      const p32 = pctToU32(loss.p32Pct ?? 0);
      const p23 = loss.p23Pct === undefined ? 0xffffffff : pctToU32(loss.p23Pct);
      const p14 = pctToU32(loss.p14Pct ?? 0);
      let state: 1 | 2 | 3 | 4 = 1;
      return {
        lose: () => {
          const rnd = rng.nextU32();
          switch (state) {
            case 1:
              if (rnd < p14) {
                state = 4;
                return true;
              }
              if (rnd < p13 + p14) {
                state = 3;
                return true;
              }
              return false;
            case 2:
              if (rnd < p23) {
                state = 3;
                return true;
              }
              return false;
            case 3:
              if (rnd < p32) state = 2;
              else if (rnd < p31 + p32) state = 1;
              else return true;
              return false;
            case 4:
              state = 1;
              return false;
          }
        },
      };
    }
  }
}
