/**
 * Agent hooks: commands the agent's config file declares by name, run on request
 * (POST /v1/hooks/:name/run). Nothing else can be run remotely: unknown names are 404, a request
 * cannot change the argv, only add BACKHAUL_* environment values. Each run is bounded by the
 * hook's own timeout (SIGTERM, then SIGKILL 2 s later) and the reply waits for it (bounded wait).
 * At most one run per hook at a time (a second is 409). Runs are audited by the server.
 */
import { BackhaulError } from '../core/errors.js';
import { runHook } from '../campaign/hooks.js';
import type { HookResult } from '../campaign/result.js';

export interface AgentHookConfig {
  /** argv, run without a shell. */
  run: string[];
  timeoutMs: number;
  /** A JUnit XML file the command writes (relative to cwd). */
  junit?: string;
  cwd?: string;
}

export interface HookRunRequest {
  campaign?: string;
  step?: string;
  stepEndMs?: number;
}

export class HookService {
  private readonly running = new Set<string>();

  constructor(private readonly hooks: Map<string, AgentHookConfig>) {}

  names(): { name: string; timeoutMs: number; junit: boolean }[] {
    return [...this.hooks.entries()].map(([name, h]) => ({ name, timeoutMs: h.timeoutMs, junit: Boolean(h.junit) }));
  }

  async run(name: string, req: HookRunRequest, signal?: AbortSignal): Promise<HookResult> {
    const h = this.hooks.get(name);
    if (!h) throw new BackhaulError('ERR_NOT_FOUND', `no hook named ${JSON.stringify(name.slice(0, 64))} in this agent's config`, { known: [...this.hooks.keys()] });
    if (this.running.has(name)) throw new BackhaulError('ERR_LEASE_CONFLICT', `hook ${name} is already running`);
    this.running.add(name);
    try {
      return await runHook(
        { name, on: 'controller', run: h.run, atMs: 0, timeoutMs: h.timeoutMs, ...(h.junit ? { junit: h.junit } : {}) },
        { campaign: req.campaign ?? '', step: req.step ?? '', stepEndMs: req.stepEndMs ?? 0, cwd: h.cwd ?? process.cwd(), ...(signal ? { signal } : {}) },
      );
    } finally {
      this.running.delete(name);
    }
  }
}
