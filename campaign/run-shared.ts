/** Types and helpers shared by runner.ts and run-step.ts. */
import { isBackhaulError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Profile } from '../core/profile.js';
import type { queryPrometheus } from './promql.js';
import type { AgentReport, RevertReport, StepResult } from './result.js';
import type { SiteDriver } from './sites/site.js';
import type { AgentSpec, ProfileRef } from './spec.js';

export type ProgressEvent =
  | { type: 'preflight'; agents: AgentReport[] }
  | { type: 'baseline'; probes: number; durationMs: number }
  | { type: 'step-start'; step: string; index: number; total: number; plannedStartMs: number; durationMs: number }
  /** Every apply settled after `applyMs`: the measured window is [startMs, endMs). */
  | { type: 'step-window'; step: string; applyMs: number; startMs: number; endMs: number }
  | { type: 'tick'; step: string; timeLeftMs: number; probes: { name: string; sent: number; p50Ms: number | null; p99Ms: number | null; loss: number }[] }
  | { type: 'step-end'; step: StepResult }
  | { type: 'reverted'; reverts: RevertReport[] };

export interface RunnerDeps {
  connect(agent: AgentSpec): SiteDriver;
  resolveProfile(ref: ProfileRef): Promise<Profile>;
  clock?: Clock;
  signal?: AbortSignal;
  onProgress?(e: ProgressEvent): void;
  /** Working directory for hooks (default: the process's). */
  cwd?: string;
  /** Baseline probing of unimpaired paths before the first step, for conformance (default 2000 ms; 0 = none). */
  baselineMs?: number;
  query?: typeof queryPrometheus;
}

export class SiteLost extends Error {
  constructor(readonly site: string, cause: unknown) {
    super(`agent ${site} was lost: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

const isLost = (e: unknown): boolean => isBackhaulError(e) && (e.code === 'ERR_UNREACHABLE' || e.code === 'ERR_REMOTE');

export async function guard<T>(site: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isLost(e)) throw new SiteLost(site, e);
    throw e;
  }
}

export function baselineKey(from: string, target: string): string {
  return `${from}|${target}`;
}
