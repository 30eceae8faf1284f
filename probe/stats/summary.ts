/**
 * The summary of a probe session: the `--json` document and what the library's `snapshot()`
 * returns. Times in ms (6 decimals = ns), wall times as Unix epoch ms. Schema: docs/probe.md.
 */
import type { LatencyMs } from './latency.js';
import type { OutageWindow } from './outage.js';
import { HDR_SIGNIFICANT_DIGITS } from './latency.js';
import type { ProbeStats } from './engine.js';
import type { OneWayMs } from './one-way.js';

export const SUMMARY_SCHEMA_VERSION = 1;

export interface ProbeSummary {
  schemaVersion: number;
  id: string;
  probe: string;
  kind: 'stamp' | 'tcp' | 'http';
  target: string;
  startedAtMs: number;
  elapsedMs: number;
  intervalMs: number;
  timeoutMs: number;
  sizeBytes: number | null;
  timer: string;
  done: boolean;
  sent: number;
  received: number;
  /** Round-trip lost (includes `late`). */
  lost: number;
  lossRatio: number;
  late: number;
  duplicates: number;
  reordered: number;
  missed: number;
  stray: number;
  inFlight: number;
  /** Kernel UDP receive-buffer drops during the run (Udp RcvbufErrors delta in this network namespace); null if unknown. */
  rcvbufErrors: number | null;
  rttMs: LatencyMs;
  rttFromIntendedMs: LatencyMs;
  sendLatenessMs: LatencyMs;
  missedMaxLatenessMs: number | null;
  jitterMs: number;
  ipdvMs: { count: number; meanAbs: number | null; p50Abs: number | null; p99Abs: number | null; maxAbs: number | null; min: number | null; max: number | null };
  pdvMs: { p50: number | null; p99: number | null; p999: number | null };
  /**
   * windowSize: the effective window of the extent computation, min(--window, 65536) (extents
   * beyond it are counted lower bounds); sequenceWindow: the declared --window (duplicates, late),
   * always set by buildSummary (optional in the type: summaries stored by earlier versions lack it).
   */
  reordering: { ratio: number; meanExtent: number; maxExtent: number; extentBeyondWindow: number; windowSize: number; sequenceWindow?: number };
  direction: { forwardLost: number; reverseLost: number; unknownLost: number } | null;
  /** One-way delays: only with --clock-synced and a reflector whose S bit is set; else null. */
  oneWayMs: OneWayMs | null;
  outages: OutageWindow[];
  outageCount: number;
  /** Consecutive lost probes right now (an outage in progress once it reaches outageMinLost). */
  currentLossRun: number;
  outageTotalMs: number;
  outageMinLost: number;
  precision: { rttSignificantDigits: number; rttRelativeError: number };
  histogram?: { encoding: 'HdrHistogram-V2-deflate-base64'; unit: 'ns'; rtt: string; rttFromIntended: string };
}

/** What the session knows about itself (copied into the summary as is), and its one-way delays. */
export interface SummaryMeta extends Pick<ProbeSummary,
  'id' | 'probe' | 'kind' | 'target' | 'startedAtMs' | 'elapsedMs' | 'intervalMs' | 'timeoutMs' | 'sizeBytes' | 'timer' | 'done' | 'rcvbufErrors'> {
  oneWay?: OneWayMs | null;
}

export function buildSummary(s: ProbeStats, meta: SummaryMeta, withHistogram = false): ProbeSummary {
  const { oneWay, ...rest } = meta;
  const c = s.counts();
  const resolved = c.received + c.lost;
  const out: ProbeSummary = {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    ...rest,
    sent: c.sent,
    received: c.received,
    lost: c.lost,
    lossRatio: resolved === 0 ? 0 : c.lost / resolved,
    late: c.late,
    duplicates: c.duplicates,
    reordered: c.reordered,
    missed: c.missed,
    stray: c.stray,
    inFlight: c.inFlight,
    rttMs: s.rtt.toMs(),
    rttFromIntendedMs: s.rttIntended.toMs(),
    sendLatenessMs: s.sendLateness.toMs(),
    missedMaxLatenessMs: c.missed === 0 ? null : Math.round(s.missedMaxLatenessNs) / 1e6,
    jitterMs: Math.round(s.jitter.jitterNs) / 1e6,
    ipdvMs: s.ipdvMs(),
    pdvMs: s.pdvMs(),
    reordering: {
      ratio: s.reorder.ratio,
      meanExtent: s.reorder.meanExtent,
      maxExtent: s.reorder.maxExtent,
      extentBeyondWindow: s.reorder.extentBeyondWindow,
      windowSize: s.reorder.windowSize,
      sequenceWindow: s.cfg.windowSize,
    },
    direction: s.cfg.directional
      ? { forwardLost: s.outages.forwardLost, reverseLost: s.outages.reverseLost, unknownLost: s.unknownDirectionLost + s.outages.openRunLost }
      : null,
    oneWayMs: oneWay ?? null,
    outages: [...s.outages.windows],
    outageCount: s.outages.count,
    currentLossRun: s.outages.openRunLost,
    outageTotalMs: Math.round(s.outages.totalDurationMs * 1000) / 1000,
    outageMinLost: s.cfg.outageMinLost,
    precision: { rttSignificantDigits: HDR_SIGNIFICANT_DIGITS, rttRelativeError: 10 ** -HDR_SIGNIFICANT_DIGITS },
  };
  if (withHistogram) {
    out.histogram = { encoding: 'HdrHistogram-V2-deflate-base64', unit: 'ns', rtt: s.rtt.encode(), rttFromIntended: s.rttIntended.encode() };
  }
  return out;
}
