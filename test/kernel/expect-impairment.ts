/**
 * Field-by-field comparison of impairments for the kernel tier, with tc's rounding allowed
 * (times to the ns, percentages to netem's 2^-32 steps, rates to bytes/s).
 *
 * `rawNetemDiff` checks a netem qdisc's `tc -j` options against an Impairment with this file's own
 * unit conversions (seconds, fractions, bytes/s), independently of the backend's parser: a shared
 * misunderstanding between planner and parser (an inverted 1-h, ms vs s) cannot hide behind a
 * plan -> parse round trip.
 */
import { effectiveLimitPackets } from '../../core/limit.js';
import { IMPAIRMENT_KEYS, type Impairment } from '../../core/profile.js';

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(1e-4 * Math.abs(b), 1e-6);
}

function deepNear(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return close(a, b);
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!deepNear((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
    return true;
  }
  return a === b;
}

/** Differences between two impairments, one line per field; `skip` names fields not compared. */
export function diffImpairment(expected: Impairment, actual: Impairment | undefined, skip: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const k of IMPAIRMENT_KEYS) {
    if (skip.includes(k)) continue;
    const e = expected[k];
    const a = actual?.[k];
    if (!deepNear(a, e)) out.push(`${k}: expected ${JSON.stringify(e)}, read back ${JSON.stringify(a)}`);
  }
  return out;
}

const pct = (frac: unknown): number | undefined => (typeof frac === 'number' ? frac * 100 : undefined);
const ms = (sec: unknown): number | undefined => (typeof sec === 'number' ? sec * 1000 : undefined);

function get(o: Record<string, unknown> | undefined, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

/**
 * Check the netem fields `tc -j` shows against `imp`: delay, jitter and their correlation; loss of
 * every model (random with its correlation; GE p, r, 1-h, 1-k; 4-state p13, p31, p32, p23, p14);
 * duplicate, corrupt, reorder with their correlations and reorder's gap; slot min/max delay,
 * packets and bytes; ecn; `limit`; the rate when the netem carries it (for `keepOrder`, a netem
 * rate at or above the profile's). A field absent from `imp` must be absent or zero in tc (a netem
 * rate included). Defaults are iproute2's (q_netem.c), stated here rather than taken from the
 * backend: GE 1-h 100 %, 1-k 0 %; 4-state p31 = 100 - p13, p32 0, p23 100, p14 0; a reorder
 * without a gap gets gap 1; slot max = min when omitted; `limit` is effectiveLimitPackets (the
 * profile's `limit`, else the size core/limit.ts derives). Returns one line per mismatch.
 */
export function rawNetemDiff(options: Record<string, unknown> | undefined, imp: Impairment): string[] {
  const out: string[] = [];
  const want = (label: string, got: number | undefined, exp: number | undefined): void => {
    const g = got ?? 0;
    const e = exp ?? 0;
    if (!close(g, e)) out.push(`tc ${label}: expected ${e}, tc shows ${got === undefined ? 'nothing' : g}`);
  };
  // No netem at all: the fields below report what is missing; a limit alone says nothing more.
  if (options !== undefined) want('limit (packets)', get(options, 'limit') as number | undefined, effectiveLimitPackets(imp));
  want('delay (ms)', ms(get(options, 'delay.delay')), imp.delayMs);
  want('jitter (ms)', ms(get(options, 'delay.jitter')), imp.jitterMs);
  want('delay correlation (%)', pct(get(options, 'delay.correlation')), imp.delayCorrelationPct);
  const loss = imp.loss;
  want('random loss (%)', pct(get(options, 'loss-random.loss')), loss?.model === 'random' ? loss.pct : undefined);
  want('random loss correlation (%)', pct(get(options, 'loss-random.correlation')), loss?.model === 'random' ? loss.correlationPct : undefined);
  if (loss?.model === 'gilbert-elliott') {
    want('GE p (%)', pct(get(options, 'loss-gemodel.p')), loss.pPct);
    want('GE r (%)', pct(get(options, 'loss-gemodel.r')), loss.rPct);
    want('GE 1-h (%)', pct(get(options, 'loss-gemodel.1-h')), loss.oneMinusHPct ?? 100);
    want('GE 1-k (%)', pct(get(options, 'loss-gemodel.1-k')), loss.oneMinusKPct ?? 0);
  } else if (get(options, 'loss-gemodel') !== undefined) out.push('tc shows a Gilbert-Elliott loss the profile does not have');
  if (loss?.model === '4-state') {
    want('4-state p13 (%)', pct(get(options, 'loss-state.p13')), loss.p13Pct);
    want('4-state p31 (%)', pct(get(options, 'loss-state.p31')), loss.p31Pct ?? 100 - loss.p13Pct);
    want('4-state p32 (%)', pct(get(options, 'loss-state.p32')), loss.p32Pct ?? 0);
    want('4-state p23 (%)', pct(get(options, 'loss-state.p23')), loss.p23Pct ?? 100);
    want('4-state p14 (%)', pct(get(options, 'loss-state.p14')), loss.p14Pct ?? 0);
  } else if (get(options, 'loss-state') !== undefined) out.push('tc shows a 4-state loss the profile does not have');
  want('duplicate (%)', pct(get(options, 'duplicate.duplicate')), imp.duplicatePct);
  want('duplicate correlation (%)', pct(get(options, 'duplicate.correlation')), imp.duplicateCorrelationPct);
  want('corrupt (%)', pct(get(options, 'corrupt.corrupt')), imp.corruptPct);
  want('corrupt correlation (%)', pct(get(options, 'corrupt.correlation')), imp.corruptCorrelationPct);
  want('reorder (%)', pct(get(options, 'reorder.reorder')), imp.reorderPct);
  want('reorder correlation (%)', pct(get(options, 'reorder.correlation')), imp.reorderCorrelationPct);
  // iproute2 turns `reorder P` without a gap (or gap 0) into gap 1; no reorder, no gap.
  const reordering = (imp.reorderPct ?? 0) > 0;
  want('reorder gap', get(options, 'gap') as number | undefined, reordering ? Math.max(1, imp.reorderGap ?? 1) : undefined);
  want('slot min (ms)', ms(get(options, 'slot.min-delay')), imp.slot?.minDelayMs);
  want('slot max (ms)', ms(get(options, 'slot.max-delay')), imp.slot ? (imp.slot.maxDelayMs ?? imp.slot.minDelayMs) : undefined);
  want('slot packets', get(options, 'slot.packets') as number | undefined, imp.slot?.packets);
  want('slot bytes', get(options, 'slot.bytes') as number | undefined, imp.slot?.bytes);
  if ((get(options, 'ecn') === true) !== (imp.ecn === true)) out.push(`tc ecn: expected ${imp.ecn === true}, tc shows ${String(get(options, 'ecn'))}`);
  const rateBps = get(options, 'rate.rate');
  const netemRateKbit = typeof rateBps === 'number' && rateBps > 0 ? (rateBps * 8) / 1000 : undefined;
  const rateInNetem = imp.rateKbit !== undefined &&
    (imp.packetOverheadBytes !== undefined || imp.cellSizeBytes !== undefined || imp.cellOverheadBytes !== undefined);
  if (rateInNetem) want('netem rate (kbit)', netemRateKbit, imp.rateKbit);
  else if (imp.keepOrder === true) {
    // order: keep works through netem's rate (the last queued packet is the send-time reference);
    // it must not shape below the profile's rate, which htb applies.
    if (netemRateKbit === undefined) out.push('tc shows no netem rate: order: keep needs one (jitter would reorder)');
    else if (netemRateKbit < (imp.rateKbit ?? 0)) out.push(`tc netem rate ${netemRateKbit} kbit is below the profile's ${imp.rateKbit} kbit: netem would shape`);
  } else if (netemRateKbit !== undefined) out.push(`tc shows a netem rate of ${netemRateKbit} kbit the profile does not have (stale?)`);
  return out;
}
