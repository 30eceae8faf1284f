/**
 * netem `slot MIN MAX packets N bytes B` (sch_netem.c `get_slot_next` and the dequeue path):
 * delivery happens in slots; the next slot opens MIN + uniform(MAX - MIN) after the previous one was
 * used up (or after it went idle), and each slot lets through at most N packets / B bytes
 * (unlimited when 0/absent). A crude model of DOCSIS, Wi-Fi or LTE MAC scheduling.
 *
 * The state machine is pure; `now` comes from the caller.
 */
import type { Slot } from '../../../core/profile.js';
import type { Random } from '../../../core/random.js';

export interface SlotState {
  /** Earliest time (ns) the current/next slot lets a packet out. */
  nextNs: number;
  /** Before dequeue: a packet due at `dueNs` found the slot opening before it: start a fresh slot. */
  onPeek(dueNs: number, nowNs: number): void;
  /** A packet of `lenBytes` left in this slot. */
  consume(lenBytes: number, nowNs: number): void;
}

export function createSlot(cfg: Slot, rng: Random, nowNs: number): SlotState {
  const minNs = Math.round(cfg.minDelayMs * 1e6);
  const maxNs = Math.round((cfg.maxDelayMs ?? cfg.minDelayMs) * 1e6);
  const maxPackets = cfg.packets && cfg.packets > 0 ? cfg.packets : Number.MAX_SAFE_INTEGER;
  const maxBytes = cfg.bytes && cfg.bytes > 0 ? cfg.bytes : Number.MAX_SAFE_INTEGER;
  let packetsLeft = maxPackets;
  let bytesLeft = maxBytes;
  const state: SlotState = {
    nextNs: nowNs,
    onPeek(dueNs, now) {
      if (state.nextNs < dueNs) next(now);
    },
    consume(lenBytes, now) {
      packetsLeft -= 1;
      bytesLeft -= lenBytes;
      if (packetsLeft <= 0 || bytesLeft <= 0) next(now);
    },
  };
  function next(now: number): void {
    // get_random_u32() * (max - min) >> 32
    const span = maxNs - minNs;
    const d = minNs + Math.floor((rng.nextU32() * span) / 4294967296);
    state.nextNs = now + d;
    packetsLeft = maxPackets;
    bytesLeft = maxBytes;
  }
  return state;
}
