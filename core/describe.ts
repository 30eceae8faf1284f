/**
 * describe(profile): one plain-English paragraph saying what the profile does to traffic, e.g.
 *
 *   "Uplink (egress): adds 90 ms +/- 40 ms delay (paretonormal), bursty loss averaging about 2%
 *    in bursts of ~1.3 packets, rate limited to 750 kbit/s. Downlink (ingress): ... Repeats a
 *    60 s cycle: nominal for 10 s (the base); fading for 10 s: up 450 kbit/s, down 960 kbit/s; ..."
 *
 * Pure; used by `backhaul profiles show`, status output and reports.
 */
import type { Impairment, ImpairmentPatch, Loss, Phase, Profile } from './profile.js';
import { meanBurstPackets, meanLossPct } from './gilbert-elliott.js';
import { cycleBoundsMs } from './schedule.js';
import { formatDuration, formatPct, formatRate, formatSize } from './units.js';

function round1(x: number): string {
  return x >= 10 ? String(Math.round(x)) : String(Number(x.toPrecision(2)));
}

/** "drops 0.5% at random" / "bursty loss averaging about 2% in bursts of ~4 packets". */
export function describeLoss(loss: Loss): string {
  if (loss.model === 'random') {
    if (loss.pct >= 100) return 'drops every packet';
    const corr = loss.correlationPct ? ` (${formatPct(loss.correlationPct)} correlated)` : '';
    return `drops ${formatPct(loss.pct)} of packets at random${corr}`;
  }
  const mean = meanLossPct(loss);
  const burst = meanBurstPackets(loss);
  const model = loss.model === 'gilbert-elliott' ? 'bursty loss' : 'bursty loss (4-state)';
  const burstText = Number.isFinite(burst) ? ` in bursts of ~${round1(burst)} packet${burst < 1.05 ? '' : 's'}` : '';
  return `${model} averaging about ${Number(mean.toPrecision(2))}%${burstText}`;
}

function delayText(imp: Impairment): string | undefined {
  if (imp.delayMs === undefined) return undefined;
  let s = `adds ${formatDuration(imp.delayMs)}`;
  if (imp.jitterMs) s += ` +/- ${formatDuration(imp.jitterMs)}`;
  s += ' delay';
  const extras = [imp.distribution, imp.delayCorrelationPct ? `${formatPct(imp.delayCorrelationPct)} correlated` : undefined].filter(Boolean);
  if (extras.length > 0) s += ` (${extras.join(', ')})`;
  return s;
}

/** The clauses describing one direction (empty when it does nothing). */
export function describeImpairmentParts(imp: Impairment): string[] {
  const parts: string[] = [];
  const d = delayText(imp);
  if (d) parts.push(d);
  if (imp.keepOrder) parts.push('keeps packets in order (a late packet holds back those behind it)');
  if (imp.loss) parts.push(describeLoss(imp.loss) + (imp.ecn ? ' (ECN-marked instead where possible)' : ''));
  if (imp.duplicatePct) parts.push(`duplicates ${formatPct(imp.duplicatePct)}`);
  if (imp.corruptPct) parts.push(`corrupts ${formatPct(imp.corruptPct)} (one bit flipped)`);
  if (imp.reorderPct) {
    parts.push(`sends ${formatPct(imp.reorderPct)} of packets ahead of the delay (reordering${imp.reorderGap ? `, every ${imp.reorderGap}th packet` : ''})`);
  }
  if (imp.rateKbit !== undefined) {
    const oh = imp.packetOverheadBytes ? `, ${imp.packetOverheadBytes} B overhead per packet` : '';
    const cell = imp.cellSizeBytes ? `, ${imp.cellSizeBytes} B cells` : '';
    parts.push(`rate limited to ${formatRate(imp.rateKbit)}${oh}${cell}`);
  }
  if (imp.slot) {
    const s = imp.slot;
    const span = s.maxDelayMs !== undefined && s.maxDelayMs !== s.minDelayMs ? `${formatDuration(s.minDelayMs)}-${formatDuration(s.maxDelayMs)}` : formatDuration(s.minDelayMs);
    const caps = [s.packets ? `${s.packets} packets` : undefined, s.bytes ? formatSize(s.bytes) : undefined].filter(Boolean);
    parts.push(`releases packets in slots every ${span}${caps.length ? ` (at most ${caps.join(' / ')} each)` : ''}`);
  }
  if (imp.limitPackets !== undefined) parts.push(`queue limit ${imp.limitPackets} packets`);
  return parts;
}

function describeImpairment(imp: Impairment): string {
  const parts = describeImpairmentParts(imp);
  return parts.length === 0 ? 'no impairment' : parts.join(', ');
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const REMOVED_NAMES: Partial<Record<keyof Impairment, string>> = {
  delayMs: 'no added delay',
  loss: 'no loss',
  rateKbit: 'no rate limit',
  duplicatePct: 'no duplication',
  corruptPct: 'no corruption',
  reorderPct: 'no reordering',
  keepOrder: 'jitter may reorder',
  slot: 'no slotting',
  limitPackets: 'default queue limit',
};

/** A phase's changes in short: "total loss", "delay 65 ms", "no loss, rate limited to 500 Mbit/s". */
export function describePatch(patch: ImpairmentPatch | undefined): string {
  if (!patch) return '';
  const set: Impairment = {};
  const removed: string[] = [];
  for (const [k, v] of Object.entries(patch) as [keyof Impairment, unknown][]) {
    if (v === null) {
      const name = REMOVED_NAMES[k];
      if (name) removed.push(name);
    } else (set as Record<string, unknown>)[k] = v;
  }
  const parts: string[] = [];
  if (set.loss?.model === 'random' && set.loss.pct >= 100) {
    parts.push('total loss');
    delete set.loss;
  }
  if (set.delayMs === undefined && set.jitterMs !== undefined) parts.push(`jitter ${formatDuration(set.jitterMs)}`);
  parts.push(...describeImpairmentParts(set).map((p) => p.replace(/^adds (.*) delay/, 'delay $1')), ...removed);
  return parts.join(', ');
}

function durationText(p: Phase): string {
  const d = p.durationMs;
  if (typeof d === 'number') return formatDuration(d);
  const a = formatDuration(d.minMs);
  const b = formatDuration(d.maxMs);
  const [an, au] = a.split(' ');
  const [bn, bu] = b.split(' ');
  return au === bu ? `${an}-${bn} ${bu}` : `${a}-${b}`;
}

function describePhase(p: Phase): string {
  const name = p.name ?? 'phase';
  const up = describePatch(p.egress);
  const down = describePatch(p.ingress);
  let what: string;
  if (up === '' && down === '') what = ' (the base)';
  else if (same(p.egress, p.ingress)) what = ` (${up})`;
  else what = ` (${[up ? `up: ${up}` : '', down ? `down: ${down}` : ''].filter(Boolean).join('; ')})`;
  return `${name} for ${durationText(p)}${what}`;
}

/** Consecutive-run-free summary: identical phases are listed once with a count ("x14"). */
function describePhases(phases: Phase[]): string {
  const groups: { text: string; count: number }[] = [];
  for (const p of phases) {
    const text = describePhase(p);
    const g = groups.find((x) => x.text === text);
    if (g) g.count++;
    else groups.push({ text, count: 1 });
  }
  return groups.map((g) => (g.count > 1 ? `${g.text} (x${g.count})` : g.text)).join('; ');
}

/** One plain-English paragraph describing the whole profile. */
export function describe(profile: Profile): string {
  const sentences: string[] = [];
  const up = describeImpairment(profile.egress);
  if (profile.ingress === undefined) {
    sentences.push(`Uplink (egress): ${up}; the downlink is left untouched.`);
  } else if (same(profile.egress, profile.ingress)) {
    sentences.push(`Both directions: ${up}.`);
  } else {
    sentences.push(`Uplink (egress): ${up}.`, `Downlink (ingress): ${describeImpairment(profile.ingress)}.`);
  }
  const s = profile.schedule;
  if (s) {
    const { minMs, maxMs } = cycleBoundsMs(s);
    const cycle = minMs === maxMs ? formatDuration(minMs) : `${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
    const align = s.alignMs !== undefined ? `, starting on wall-clock multiples of ${formatDuration(s.alignMs)}` : '';
    if (s.loop) {
      sentences.push(`Repeats a ${cycle} cycle${align}: ${describePhases(s.phases)}.`);
    } else {
      const tail = s.tail === 'last' ? 'then stays in the last phase' : 'then stays on the base profile';
      sentences.push(`Runs once (${cycle}${align}): ${describePhases(s.phases)}; ${tail}.`);
    }
  }
  return sentences.join(' ');
}
