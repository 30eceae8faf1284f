/**
 * The result of a campaign run: what the runner records and every report renders. Plain data
 * (JSON-serialisable). Times are wall-clock ms on the controller's clock (agent times converted
 * with the estimated offsets); `tMs` fields are relative to the campaign's start.
 */
import type { ConformanceResult } from './conformance.js';
import type { ProbeSummary } from '../probe/stats/summary.js';
import type { FailoverAnalysis } from './failover.js';
import type { LatencyDistribution } from './histogram.js';
import type { InEffectReading } from './sites/site.js';

/** A probe's statistics, exactly as the probe engine reports them (docs/probe.md). */
export type { ProbeSummary } from '../probe/stats/summary.js';

/** One second of a probe's life, for the timeline plot. */
export interface ProbeTick {
  tMs: number;
  sent: number;
  lost: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface ProbeResult {
  step: string;
  name: string;
  from: string;
  to: string;
  kind: 'stamp' | 'tcp' | 'http';
  intervalMs: number;
  summary: ProbeSummary | null;
  /** The RTT histogram (HdrHistogram V2 compressed base64, nanoseconds). */
  histogramNs?: string;
  error?: string;
  latency?: LatencyDistribution;
  ticks: ProbeTick[];
  failover?: FailoverAnalysis;
  conformance: { impairment: string; profile: string; result: ConformanceResult }[];
}

export interface AssertionResult {
  step: string;
  /** 'probe' | 'hook' | 'promql' from the file; 'in-effect' and 'conformance' are automatic. */
  scope: 'probe' | 'hook' | 'promql' | 'in-effect' | 'conformance';
  /** What it is about: the probe, hook, query or impairment name. */
  target: string;
  text: string;
  passed: boolean;
  actual: number | null;
  message: string;
}

export interface HookResult {
  step: string;
  name: string;
  exitCode: number | null;
  signal?: string;
  timedOut: boolean;
  durationMs: number;
  outputTail: string;
  junit?: { tests: number; failures: number; errors: number; skipped: number; cases: { name: string; classname: string; failed: boolean; message?: string }[] };
  error?: string;
}

export interface TimelineSpan {
  kind: 'step' | 'phase' | 'fault' | 'outage';
  label: string;
  startMs: number;
  endMs: number;
  /** The probe (outages) or impairment (phases) it belongs to. */
  owner?: string;
}

export type InEffectGaps = NonNullable<InEffectReading['gaps']>;

export interface StepResult {
  name: string;
  plannedStartMs: number;
  startMs: number;
  endMs: number;
  /** Per agent: how far from the agreed start the agent's switch was (ms, + = late). */
  skewMs: Record<string, number>;
  /** `notInEffect`: the gaps the site saw since the apply (agent reconciliation), when it keeps them. */
  impairments: { name: string; agent: string; profile: string; applied: boolean; inEffect: boolean | null; notInEffect?: InEffectGaps; error?: string }[];
  faults: { name: string; kind: string; agent: string; startMs: number; endMs: number; error?: string }[];
  probes: ProbeResult[];
  hooks: HookResult[];
  assertions: AssertionResult[];
  spans: TimelineSpan[];
  error?: string;
}

export interface AgentReport {
  name: string;
  url: string;
  reachable: boolean;
  authorised: boolean;
  version?: string;
  backends: string[];
  /** Agent clock minus controller clock (ms), and the uncertainty (half the exchange RTT). */
  clockOffsetMs: number | null;
  clockUncertaintyMs: number | null;
  problems: string[];
}

export interface RevertReport {
  agent: string;
  impairment: string;
  ok: boolean;
  error?: string;
}

export interface CampaignResult {
  campaign: string;
  description: string;
  source: string;
  startedAtMs: number;
  endedAtMs: number;
  /** 'passed' = exit 0, 'failed' = exit 1 (assertions), 'error' = exit 2 (could not run). */
  verdict: 'passed' | 'failed' | 'error';
  exitCode: 0 | 1 | 2;
  error?: string;
  agents: AgentReport[];
  steps: StepResult[];
  reverts: RevertReport[];
}

/** Exit code from the assertions and errors: 2 when something could not run, else 1 on any failure. */
export function verdictOf(steps: readonly StepResult[], fatal: string | undefined): Pick<CampaignResult, 'verdict' | 'exitCode'> {
  if (fatal !== undefined || steps.some((s) => s.error !== undefined)) return { verdict: 'error', exitCode: 2 };
  const failed = steps.some((s) => s.assertions.some((a) => !a.passed));
  return failed ? { verdict: 'failed', exitCode: 1 } : { verdict: 'passed', exitCode: 0 };
}
