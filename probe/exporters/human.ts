/**
 * Human renderings of a probe summary: the end-of-run table and the one-line live status.
 * Pure functions (string in, string out); the CLI decides where they go.
 */
import type { ProbeSummary } from '../stats/summary.js';
import type { LatencyMs } from '../stats/latency.js';
import { DEFAULT_REFLECTOR_RATE_PPS } from '../reflector.js';

const f = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

function alignRows(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
}

function latencyRow(l: LatencyMs): string {
  return `min ${f(l.min)}  p50 ${f(l.p50)}  p90 ${f(l.p90)}  p99 ${f(l.p99)}  p99.9 ${f(l.p999)}  max ${f(l.max)}  mean ${f(l.mean)}  sd ${f(l.stddev)} ms`;
}

export function formatSummary(s: ProbeSummary): string {
  const rows: [string, string][] = [
    ['probes', `${s.sent} sent, ${s.received} received, ${s.lost} lost (${pct(s.lossRatio)}), ${s.late} late, ${s.duplicates} duplicate, ${s.inFlight} in flight`],
    ['sender', `${s.missed} missed slots${s.missedMaxLatenessMs !== null ? ` (worst ${f(s.missedMaxLatenessMs)} ms late)` : ''}, send lateness mean ${f(s.sendLatenessMs.mean)} / p99 ${f(s.sendLatenessMs.p99)} ms, timer ${s.timer}`],
    ['rtt', latencyRow(s.rttMs)],
    ['rtt (from intended send)', latencyRow(s.rttFromIntendedMs)],
    ['jitter (RFC 3550)', `${f(s.jitterMs)} ms`],
    ['ipdv |by seq|', `mean ${f(s.ipdvMs.meanAbs)}  p50 ${f(s.ipdvMs.p50Abs)}  p99 ${f(s.ipdvMs.p99Abs)}  max ${f(s.ipdvMs.maxAbs)} ms (${s.ipdvMs.count} pairs)`],
    ['pdv (vs min)', `p50 ${f(s.pdvMs.p50)}  p99 ${f(s.pdvMs.p99)}  p99.9 ${f(s.pdvMs.p999)} ms`],
    ['reordering (RFC 4737)', `${s.reordered} reordered (${pct(s.reordering.ratio)}), extent mean ${f(s.reordering.meanExtent, 2)} max ${s.reordering.maxExtent}, window ${s.reordering.windowSize}`],
  ];
  if (s.direction) rows.push(['loss by direction', `forward ${s.direction.forwardLost}, reverse ${s.direction.reverseLost}, unknown ${s.direction.unknownLost}`]);
  if (s.rcvbufErrors !== null) rows.push(['local rcvbuf drops', `${s.rcvbufErrors} (kernel UDP RcvbufErrors in this netns, not network loss)`]);
  rows.push(['outages', `${s.outageCount} (>= ${s.outageMinLost} consecutive lost), total ${f(s.outageTotalMs)} ms`]);
  const hint = rateLimitHint(s);
  if (hint) rows.push(['hint', hint]);
  const lines = [`${s.kind.toUpperCase()} probe to ${s.target}: ${f(s.elapsedMs / 1000, 1)} s at ${s.intervalMs} ms intervals${s.sizeBytes ? `, ${s.sizeBytes} B` : ''}`, alignRows(rows)];
  for (const w of s.outages.slice(0, 20)) {
    lines.push(`    ${new Date(w.startMs).toISOString()}  ${f(w.durationMs)} ms ± ${f(w.boundMs)} ms  (${w.lost} lost${w.missed ? `, ${w.missed} missed slots` : ''}, seq ${w.firstLostSeq}..${w.lastLostSeq}${w.direction ? `, ${w.direction}` : ''}${w.openStart ? ', open start' : ''}${w.openEnd ? ', open end' : ''})`);
  }
  if (s.outageCount > 20) lines.push(`    ... ${s.outageCount - 20} more (see --json)`);
  return lines.join('\n') + '\n';
}

/**
 * A STAMP probe faster than a reflector's default per-source limit loses the excess at the
 * reflector (counted there as dropped{reason="rate-limited"}), which looks like forward loss here.
 * The sender cannot tell it from network loss, so with loss at such a rate it says so.
 */
export function rateLimitHint(s: ProbeSummary): string | null {
  const pps = 1000 / s.intervalMs;
  if (s.kind !== 'stamp' || s.lost === 0 || pps <= DEFAULT_REFLECTOR_RATE_PPS) return null;
  return `probing at ${Math.round(pps)} pps exceeds a default reflector's per-source limit (${DEFAULT_REFLECTOR_RATE_PPS} pps): ` +
    'its excess is dropped there (see `backhaul reflect` stats: dropped rate-limited) and shows here as loss; run the reflector with --rate 0 or a higher --rate';
}

/** One status line, rewritten in place every second on a terminal. */
export function formatLiveLine(s: ProbeSummary): string {
  return `${f(s.elapsedMs / 1000, 0)}s sent ${s.sent} recv ${s.received} lost ${s.lost} (${pct(s.lossRatio)}) rtt p50 ${f(s.rttMs.p50)} p99 ${f(s.rttMs.p99)} ms jitter ${f(s.jitterMs)} ms missed ${s.missed} outages ${s.outageCount}`;
}
