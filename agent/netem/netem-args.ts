/**
 * Impairment -> tc arguments for our htb class and its leaf. Pure.
 *
 * Where each field goes:
 *   rateKbit                 -> htb class `rate`/`ceil` (token bucket, works without netem), unless
 *                               packet overhead or cell size is set: then netem `rate R OH CELL COH`
 *                               (htb cannot express arbitrary cells) and the class is unlimited
 *   keepOrder                -> a netem `rate` at or above the class rate (ORDER_RATE_KBIT), whose only
 *                               effect is order: with a rate, netem_enqueue (sch_netem.c) takes the
 *                               last queued packet's send time as the reference (`delay -= last -
 *                               now; delay = max(0, delay); now = last; delay += packet_time`), so
 *                               no packet leaves before one queued ahead of it. Shaping stays in
 *                               htb; a netem that carries the rate (overhead/cells) keeps order anyway
 *   everything else netem has -> the netem leaf, rendered with EVERY field explicit (`loss random 0%
 *                               0%`, `corrupt 0% 0%`, `rate 0bit` ...) so a `change` leaves no stale
 *                               parameter behind (the kernel keeps rate, corrupt, reorder, slot,
 *                               ecn, correlations and the distribution table unless they are sent)
 *   no netem field            -> a `pfifo limit N` leaf (N from effectiveLimitPackets)
 *
 * Fields that cannot be "un-sent" (ecn, a delay distribution table, slot) force a fresh leaf when
 * they go away: see `leafNeedsRecreate`.
 */
import type { Impairment } from '../../core/profile.js';
import { effectiveLimitPackets } from '../../core/limit.js';
import { tcPct, tcRate, tcSize, tcTime } from './tc-format.js';

/** htb rate used for the class when the profile sets no rate: effectively unlimited. */
export const UNLIMITED_RATE_KBIT = 100_000_000; // 100 Gbit/s
/** htb burst: 2 ms worth of bytes at the rate, at least two full-size frames (tcconfig#193). */
export const HTB_BURST_MS = 2;
export const MIN_HTB_BURST_BYTES = 2 * 1514;
/** One class, so quantum only needs to hold a full frame; fixed to avoid "quantum is big/small". */
export const HTB_QUANTUM_BYTES = 65536;

/** True when the rate must be expressed by netem (overhead/cell fields need netem's rate model). */
export function rateInNetem(imp: Impairment): boolean {
  return imp.rateKbit !== undefined &&
    (imp.packetOverheadBytes !== undefined || imp.cellSizeBytes !== undefined || imp.cellOverheadBytes !== undefined);
}

/**
 * The netem rate that keeps order when the rate itself is htb's (or there is none): 100 Gbit/s, or
 * the class rate when that is higher, so netem never shapes below htb. It adds 0.12 us per
 * 1500-byte packet; parse.ts reads a netem rate this high back as `keepOrder` without a rate.
 */
export function orderRateKbit(imp: Impairment): number {
  return Math.max(UNLIMITED_RATE_KBIT, imp.rateKbit ?? 0);
}

/** Whether this impairment has anything only netem can do (a rate alone does not, nor keepOrder). */
export function needsNetem(imp: Impairment): boolean {
  return (
    (imp.delayMs ?? 0) > 0 ||
    (imp.jitterMs ?? 0) > 0 ||
    imp.loss !== undefined ||
    imp.ecn === true ||
    (imp.duplicatePct ?? 0) > 0 ||
    (imp.corruptPct ?? 0) > 0 ||
    (imp.reorderPct ?? 0) > 0 ||
    imp.slot !== undefined ||
    rateInNetem(imp)
  );
}

export interface ClassParams {
  rateKbit: number;
  burstBytes: number;
  limited: boolean;
}

export function classParams(imp: Impairment): ClassParams {
  const limited = imp.rateKbit !== undefined && !rateInNetem(imp);
  const rateKbit = limited ? (imp.rateKbit as number) : UNLIMITED_RATE_KBIT;
  const burstBytes = Math.max(MIN_HTB_BURST_BYTES, Math.ceil((rateKbit * 1000 / 8) * (HTB_BURST_MS / 1000)));
  return { rateKbit, burstBytes, limited };
}

/** `htb rate R ceil R burst B cburst B quantum Q` (after `class replace dev D parent .. classid ..`). */
export function htbClassArgs(imp: Impairment): string[] {
  const c = classParams(imp);
  const r = tcRate(c.rateKbit);
  const b = tcSize(c.burstBytes);
  return ['htb', 'rate', r, 'ceil', r, 'burst', b, 'cburst', b, 'quantum', String(HTB_QUANTUM_BYTES)];
}

export interface NetemRenderOptions {
  /** iproute2 understands `seed` (>= 6.3-ish; probed). Without it a seed is dropped with a warning. */
  seedSupported: boolean;
}

export interface RenderedLeaf {
  kind: 'netem' | 'pfifo';
  args: string[];
  warnings: string[];
}

function lossArgs(imp: Impairment): string[] {
  const l = imp.loss;
  if (!l) return ['loss', 'random', '0%', '0%'];
  switch (l.model) {
    case 'random':
      return ['loss', 'random', tcPct(l.pct), tcPct(l.correlationPct ?? 0)];
    case 'gilbert-elliott':
      // netem's order and meaning: p (good->bad), r (bad->good), 1-h (loss in bad), 1-k (loss in good).
      return ['loss', 'gemodel', tcPct(l.pPct), tcPct(l.rPct), tcPct(l.oneMinusHPct ?? 100), tcPct(l.oneMinusKPct ?? 0)];
    case '4-state':
      // tc's order: p13 p31 p32 p23 p14; defaults as q_netem.c fills them in.
      return [
        'loss', 'state', tcPct(l.p13Pct), tcPct(l.p31Pct ?? 100 - l.p13Pct), tcPct(l.p32Pct ?? 0),
        tcPct(l.p23Pct ?? 100), tcPct(l.p14Pct ?? 0),
      ];
  }
}

/**
 * The leaf for one direction. `forceNetem`: use netem even if this impairment alone needs none
 * (a scheduled profile whose other phases need netem keeps one leaf kind across phases).
 */
export function renderLeaf(imp: Impairment, opts: NetemRenderOptions, forceNetem = false): RenderedLeaf {
  const limit = String(effectiveLimitPackets(imp));
  const warnings: string[] = [];
  if (!forceNetem && !needsNetem(imp)) return { kind: 'pfifo', args: ['pfifo', 'limit', limit], warnings };
  const delay = imp.delayMs ?? 0;
  const jitter = imp.jitterMs ?? 0;
  const args = ['netem', 'limit', limit, 'delay', tcTime(delay), tcTime(jitter), tcPct(imp.delayCorrelationPct ?? 0)];
  if (imp.distribution && imp.distribution !== 'uniform') {
    if (delay > 0 && jitter > 0) args.push('distribution', imp.distribution);
    else warnings.push(`distribution ${imp.distribution} ignored: it needs both a delay and a jitter`);
  }
  args.push(...lossArgs(imp));
  if (imp.ecn) {
    if (imp.loss) args.push('ecn');
    else warnings.push('ecn ignored: it needs a loss model');
  }
  args.push('duplicate', tcPct(imp.duplicatePct ?? 0), tcPct(imp.duplicateCorrelationPct ?? 0));
  args.push('corrupt', tcPct(imp.corruptPct ?? 0), tcPct(imp.corruptCorrelationPct ?? 0));
  const reorder = imp.reorderPct ?? 0;
  if (reorder > 0 && delay > 0) {
    args.push('reorder', tcPct(reorder), tcPct(imp.reorderCorrelationPct ?? 0));
    if (imp.reorderGap !== undefined && imp.reorderGap > 0) args.push('gap', String(imp.reorderGap));
  } else {
    if (reorder > 0) warnings.push('reorder ignored: netem reorders only delayed packets (set a delay)');
    args.push('reorder', '0%', '0%');
  }
  if (rateInNetem(imp)) {
    args.push('rate', tcRate(imp.rateKbit as number), String(imp.packetOverheadBytes ?? 0), String(imp.cellSizeBytes ?? 0),
      String(imp.cellOverheadBytes ?? 0));
  } else if (imp.keepOrder === true) {
    args.push('rate', tcRate(orderRateKbit(imp)));
  } else {
    args.push('rate', '0bit'); // also clears an order-keeping rate left by the previous profile
  }
  if (imp.slot) {
    const s = imp.slot;
    args.push('slot', tcTime(s.minDelayMs), tcTime(s.maxDelayMs ?? s.minDelayMs));
    if (s.packets !== undefined) args.push('packets', String(s.packets));
    if (s.bytes !== undefined) args.push('bytes', String(s.bytes));
  }
  if (imp.seed !== undefined) {
    if (opts.seedSupported) args.push('seed', String(imp.seed));
    else warnings.push(`seed ${imp.seed} ignored: this iproute2's tc does not know netem "seed" (needs iproute2 >= 6.3)`);
  }
  return { kind: 'netem', args, warnings };
}

/** What we know of the live leaf, to decide between `change` and a fresh graft. */
export interface LiveLeaf {
  handle: string;
  kind: string;
  ecn?: boolean;
  slot?: boolean;
  /** The live netem duplicates packets (see leafSwapNeedsGap). */
  duplicate?: boolean;
  /**
   * The delay distribution table loaded in the leaf: `tc -j` never shows it, so it is known only
   * to a caller that applied the previous state itself (the agent's schedule runner passes the
   * phase it applied). undefined = unknown; null = known to have no table (uniform).
   */
  distribution?: string | null;
}

/**
 * A `change` cannot take ecn, a distribution table or a slot away. A table matters only when the
 * new leaf has jitter; if it has jitter, no table of its own, and an old table may be loaded
 * (unknown), graft a fresh leaf. Grafting drops the packets queued in the old leaf, so the schedule
 * runner passes what it applied to keep phase switches lossless where it can.
 */
/**
 * Kernels with "netem: cannot mix duplicating netems with other netems in tree" (ec8e0e3d7ade, in
 * Debian's 6.1.x among other stable series) refuse to create a netem while another netem is on the
 * device if either duplicates: a make-before-break graft of a fresh leaf then fails. Such a swap
 * must delete the old leaf first (the class falls back to its default queue for that instant).
 * Found by the kernel tier (test/kernel/cases/traffic.ts, replace while traffic flows).
 */
export function leafSwapNeedsGap(live: LiveLeaf, next: RenderedLeaf): boolean {
  if (live.kind !== 'netem' || next.kind !== 'netem') return false;
  const i = next.args.indexOf('duplicate');
  const nextDuplicates = i >= 0 && !/^0(\.0*)?%$/.test(next.args[i + 1] ?? '0%');
  return live.duplicate === true || nextDuplicates;
}

export function leafNeedsRecreate(live: LiveLeaf, next: RenderedLeaf): boolean {
  if (live.kind !== next.kind) return true;
  if (next.kind !== 'netem') return false;
  const has = (tok: string): boolean => next.args.includes(tok);
  if (live.ecn && !has('ecn')) return true;
  if (live.slot && !has('slot')) return true;
  const jitterIdx = next.args.indexOf('delay') + 2;
  const jitterNonZero = next.args[jitterIdx] !== '0ms';
  if (jitterNonZero && !has('distribution') && live.distribution !== null) return true;
  return false;
}
