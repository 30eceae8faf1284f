/**
 * Shared pieces of the tc commands (apply, clear, status): target flags -> a validated
 * NetemTarget, and the human rendering of an Impairment read back from the kernel.
 */
import type { Command } from 'commander';
import type { Impairment } from '../../core/profile.js';
import { formatDuration, formatPct, formatRate } from '../../core/units.js';
import type { DirectionSelector, MatchRule, NetemTarget } from '../../agent/backend.js';
import { parseMatchRule } from '../../agent/netem/match.js';
import { validateNetemTarget } from '../../agent/netem/validate-target.js';
import { usageError } from '../output.js';

export interface TargetFlags {
  dev?: string;
  netns?: string;
  direction?: string;
  match?: string[];
  exclude?: string[];
  disableOffloads?: boolean;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** --dev and --netns (every tc command). */
export function addDevFlags(cmd: Command, devRequired: boolean): Command {
  const dev = '--dev <ifname>';
  const desc = 'interface to act on (1..15 characters; inside --netns if given)';
  (devRequired ? cmd.requiredOption(dev, desc) : cmd.option(dev, desc));
  return cmd.option('--netns <name>', 'network namespace the interface lives in (an `ip netns` name)');
}

/** Selection flags of apply. */
export function addSelectionFlags(cmd: Command): Command {
  return cmd
    .option('--direction <dir>', 'egress (uplink), ingress (downlink, via an IFB device) or both', 'both')
    .option('--match <rule>', 'impair only traffic to/from this peer: peer=CIDR[,port=N][,localPort=N][,proto=tcp|udp] (repeatable; IPv4 or IPv6; port = the peer\'s, localPort = this node\'s)', collect)
    .option('--exclude <rule>', 'never impair this traffic (e.g. your SSH/management peer), same syntax (repeatable)', collect)
    .option('--disable-offloads', 'turn off TSO/GSO/GRO for per-packet fidelity (restored by clear)');
}

export function targetFromFlags(f: TargetFlags): NetemTarget {
  const dir = f.direction ?? 'both';
  if (dir !== 'egress' && dir !== 'ingress' && dir !== 'both') {
    throw usageError(`--direction must be egress, ingress or both (got ${JSON.stringify(dir)})`);
  }
  if (f.dev === undefined) throw usageError('--dev is required');
  const rules = (xs: string[] | undefined): MatchRule[] => (xs ?? []).map(parseMatchRule);
  return validateNetemTarget({
    kind: 'netem',
    dev: f.dev,
    direction: dir as DirectionSelector,
    ...(f.netns !== undefined ? { netns: f.netns } : {}),
    match: rules(f.match),
    exclude: rules(f.exclude),
    ...(f.disableOffloads ? { disableOffloads: true } : {}),
  });
}

/** An impairment, one field per line (for status), as `  name  value`. */
export function impairmentLines(imp: Impairment | undefined, indent = '    '): string[] {
  if (!imp || Object.keys(imp).length === 0) return [`${indent}(no impairment)`];
  const rows: [string, string][] = [];
  const corr = (c?: number): string => (c ? ` (correlation ${formatPct(c)})` : '');
  if (imp.delayMs !== undefined) rows.push(['delay', `${formatDuration(imp.delayMs)}${corr(imp.delayCorrelationPct)}`]);
  if (imp.jitterMs !== undefined) rows.push(['jitter', formatDuration(imp.jitterMs)]);
  if (imp.distribution) rows.push(['distribution', imp.distribution]);
  const l = imp.loss;
  if (l?.model === 'random') rows.push(['loss', `random ${formatPct(l.pct)}${corr(l.correlationPct)}`]);
  if (l?.model === 'gilbert-elliott') {
    rows.push(['loss', `gilbert-elliott p ${formatPct(l.pPct)} r ${formatPct(l.rPct)} 1-h ${formatPct(l.oneMinusHPct ?? 100)} 1-k ${formatPct(l.oneMinusKPct ?? 0)}`]);
  }
  if (l?.model === '4-state') {
    rows.push(['loss', `4-state p13 ${formatPct(l.p13Pct)} p31 ${formatPct(l.p31Pct ?? 0)} p32 ${formatPct(l.p32Pct ?? 0)} p23 ${formatPct(l.p23Pct ?? 0)} p14 ${formatPct(l.p14Pct ?? 0)}`]);
  }
  if (imp.ecn) rows.push(['ecn', 'on (mark instead of drop)']);
  if (imp.duplicatePct !== undefined) rows.push(['duplicate', `${formatPct(imp.duplicatePct)}${corr(imp.duplicateCorrelationPct)}`]);
  if (imp.corruptPct !== undefined) rows.push(['corrupt', `${formatPct(imp.corruptPct)}${corr(imp.corruptCorrelationPct)}`]);
  if (imp.reorderPct !== undefined) rows.push(['reorder', `${formatPct(imp.reorderPct)}${corr(imp.reorderCorrelationPct)}${imp.reorderGap ? ` gap ${imp.reorderGap}` : ''}`]);
  if (imp.keepOrder) rows.push(['order', 'keep (in-order release)']);
  if (imp.rateKbit !== undefined) {
    const extra = [imp.packetOverheadBytes ? `overhead ${imp.packetOverheadBytes} B` : '', imp.cellSizeBytes ? `cell ${imp.cellSizeBytes} B` : '',
      imp.cellOverheadBytes ? `cell overhead ${imp.cellOverheadBytes} B` : ''].filter(Boolean).join(', ');
    rows.push(['rate', `${formatRate(imp.rateKbit)}${extra ? ` (${extra})` : ''}`]);
  }
  if (imp.slot) {
    const s = imp.slot;
    rows.push(['slot', `${formatDuration(s.minDelayMs)}..${formatDuration(s.maxDelayMs ?? s.minDelayMs)}${s.packets ? `, ${s.packets} packets` : ''}${s.bytes ? `, ${s.bytes} bytes` : ''}`]);
  }
  if (imp.limitPackets !== undefined) rows.push(['limit', `${imp.limitPackets} packets`]);
  if (imp.seed !== undefined) rows.push(['seed', String(imp.seed)]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`);
}
