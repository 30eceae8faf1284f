/**
 * Cross-field rules of one direction's impairment: netem's own (it refuses these combinations, or
 * silently ignores a field) plus ours. Checked on the base and on every phase *after* merging with
 * the base, since a phase may remove a field another one depends on.
 */
import type { Impairment } from './profile.js';
import { formatDuration } from './units.js';

export interface RuleProblem {
  /** YAML path below the direction block, e.g. 'jitter', 'reorder.gap', 'slot.max'. */
  field: string;
  message: string;
  /** The YAML fields the rule reads besides `field` (a rule is moot when one of them is invalid). */
  needs: string[];
}

/** Every rule the impairment breaks (empty when it is consistent). Pure. */
export function checkImpairmentRules(imp: Impairment): RuleProblem[] {
  const out: RuleProblem[] = [];
  const add = (field: string, message: string, needs: string[] = []): void => {
    out.push({ field, message, needs });
  };
  const hasDelay = imp.delayMs !== undefined;
  const jitter = imp.jitterMs ?? 0;

  if (imp.jitterMs !== undefined && !hasDelay) {
    add('jitter', 'needs delay (jitter varies the delay; write delay: 0ms to jitter around zero)', ['delay']);
  }
  if (imp.delayCorrelationPct !== undefined && !(jitter > 0)) {
    add('correlation', 'needs a jitter above 0 (the delay correlation only shapes the jitter)', ['jitter']);
  }
  if (imp.distribution !== undefined && !(hasDelay && jitter > 0)) {
    add('distribution', 'needs delay and a jitter above 0 (netem: "distribution specified but no latency and jitter values")', ['delay', 'jitter']);
  }
  if (imp.reorderPct !== undefined && !((imp.delayMs ?? 0) > 0)) {
    add('reorder', 'needs a delay above 0 (netem: "reordering not possible without specifying some delay")', ['delay']);
  }
  if (imp.keepOrder === true && (imp.reorderPct ?? 0) > 0) {
    add('order', 'keep contradicts reorder (reorder sends packets ahead of the ones queued before them): remove reorder, or write order: any', ['reorder']);
  }
  if (imp.reorderGap !== undefined && !((imp.reorderPct ?? 0) > 0)) {
    add('reorder.gap', 'needs reorder.pct above 0% (netem: "gap specified without reorder probability")', ['reorder']);
  }
  if (imp.reorderCorrelationPct !== undefined && !((imp.reorderPct ?? 0) > 0)) {
    add('reorder.correlation', 'needs reorder.pct above 0%', ['reorder']);
  }
  if (imp.duplicateCorrelationPct !== undefined && !((imp.duplicatePct ?? 0) > 0)) {
    add('duplicate.correlation', 'needs duplicate.pct above 0%', ['duplicate']);
  }
  if (imp.corruptCorrelationPct !== undefined && !((imp.corruptPct ?? 0) > 0)) {
    add('corrupt.correlation', 'needs corrupt.pct above 0%', ['corrupt']);
  }
  if (imp.ecn === true && imp.loss === undefined) {
    add('ecn', 'needs a loss model (ECN marks the packets the loss model would drop; netem: "ecn requested without loss model")', ['loss']);
  }
  if (imp.loss?.model === 'random' && imp.loss.correlationPct !== undefined && imp.loss.pct === 0) {
    add('loss.correlation', 'needs loss.pct above 0%');
  }
  if (imp.loss?.model === '4-state') {
    const l = imp.loss;
    const out1 = l.p13Pct + (l.p14Pct ?? 0);
    if (out1 > 100) add('loss', `p13 + p14 must be at most 100% (got ${out1}%)`);
    const out3 = (l.p31Pct ?? 100 - l.p13Pct) + (l.p32Pct ?? 0);
    if (out3 > 100) add('loss', `p31 + p32 must be at most 100% (got ${out3}%)`);
  }
  for (const [key, field] of [
    ['packetOverheadBytes', 'overhead'],
    ['cellSizeBytes', 'cell-size'],
    ['cellOverheadBytes', 'cell-overhead'],
  ] as const) {
    if (imp[key] !== undefined && imp.rateKbit === undefined) add(field, 'needs rate (it adjusts how rate counts each packet)', ['rate']);
  }
  if (imp.cellOverheadBytes !== undefined && imp.cellSizeBytes === undefined) {
    add('cell-overhead', 'needs cell-size', ['cell-size']);
  }
  if (imp.slot?.maxDelayMs !== undefined && imp.slot.maxDelayMs < imp.slot.minDelayMs) {
    add(
      'slot.max',
      `must be at least slot.min (got max ${formatDuration(imp.slot.maxDelayMs)} < min ${formatDuration(imp.slot.minDelayMs)})`,
    );
  }
  return out;
}
