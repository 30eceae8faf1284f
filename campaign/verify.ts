/**
 * `backhaul verify`: apply a profile, probe across it, compare what was measured with what the
 * profile should produce (conformance.ts), revert. Built as a one-step campaign on the runner, so
 * it gets the same pre-flight, baseline, lease and always-revert behaviour.
 *
 *   --relay          an in-process UDP relay in front of --to (no root): verifies the relay backend
 *   --dev IF         this host's interface through the netem backend (root); the probe runs here
 *   --agent URL      an agent applies it (to --dev IF, or as a relay with --relay) and probes
 */
import { relayListenPort } from './relay-port.js';
import type { Profile } from '../core/profile.js';
import type { ImpairmentBackend } from '../agent/backend.js';
import type { CampaignResult } from './result.js';
import { runCampaign, type ProgressEvent } from './runner.js';
import { AgentSite } from './sites/agent-site.js';
import { InProcessSite } from './sites/in-process.js';
import type { SiteDriver } from './sites/site.js';
import { parseCampaign, type AgentSpec } from './spec.js';

export interface VerifyOptions {
  profile: string;
  resolveProfile(name: string): Promise<Profile>;
  to: string;
  mode: { kind: 'relay'; agent?: AgentSpec } | { kind: 'dev'; dev: string; netns?: string; agent?: AgentSpec; netem?: () => ImpairmentBackend };
  durationMs: number;
  intervalMs: number;
  baselineMs: number;
  signal?: AbortSignal;
  onProgress?(e: ProgressEvent): void;
}

/**
 * The campaign step's name for a profile name or file: a file's base name without .yaml/.yml,
 * made a valid step name (1-63 of letters, digits, _ . -, starting with a letter or digit), so an
 * absolute or ./relative path works too.
 */
export function stepName(profile: string): string {
  const base = (profile.split(/[\\/]/).pop() ?? '').replace(/\.ya?ml$/i, '');
  return base.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 63) || 'profile';
}

export async function runVerify(o: VerifyOptions): Promise<CampaignResult> {
  const agent: AgentSpec = o.mode.agent ?? { name: 'local', url: 'in-process' };
  let impairment: Record<string, unknown>;
  let probeTo = o.to;
  if (o.mode.kind === 'relay') {
    const listen = `127.0.0.1:${await relayListenPort('127.0.0.1')}`;
    impairment = { name: 'verify', agent: agent.name, relay: { listen, upstream: o.to }, profile: o.profile };
    probeTo = listen;
  } else {
    impairment = { name: 'verify', agent: agent.name, dev: o.mode.dev, ...(o.mode.netns ? { netns: o.mode.netns } : {}), profile: o.profile };
  }
  const campaign = parseCampaign(
    {
      name: 'verify',
      description: `verify ${o.profile}`,
      agents: [{ name: agent.name, url: agent.url, ...(agent.tokenEnv ? { tokenEnv: agent.tokenEnv } : {}) }],
      startDelay: '200ms',
      steps: [
        {
          name: stepName(o.profile),
          duration: `${o.durationMs}ms`,
          impairments: [impairment],
          probes: [{ name: 'verify', from: agent.name, to: probeTo, interval: `${o.intervalMs}ms`, timeout: '3s', crosses: ['verify'] }],
        },
      ],
    },
    'verify',
    { env: agent.token && agent.tokenEnv ? { [agent.tokenEnv]: agent.token } : {} },
  );
  const connect = (a: AgentSpec): SiteDriver => {
    if (a.url !== 'in-process') return new AgentSite(a);
    const netem = o.mode.kind === 'dev' ? o.mode.netem?.() : undefined;
    return new InProcessSite(a.name, { timer: 'sleep', ...(netem ? { netem } : {}) });
  };
  const result = await runCampaign(campaign, {
    connect,
    resolveProfile: (ref) => ('name' in ref ? o.resolveProfile(ref.name) : Promise.reject(new Error('verify takes a profile name or file'))),
    baselineMs: o.baselineMs,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  return requireConformance(result);
}

/**
 * A verify that compared nothing did not verify: a campaign with no failed assertion passes even
 * when its probe produced no summary (it failed to start or stop), but verify's 0 means
 * "conformant", so that becomes 2 (could not run) with the probe's reason.
 */
export function requireConformance(result: CampaignResult): CampaignResult {
  if (result.exitCode !== 0) return result;
  const probe = result.steps[0]?.probes[0];
  if (probe && probe.conformance.length > 0) return result;
  const sum = probe?.summary;
  const why = probe?.error ?? (sum ? `the probe got ${sum.received} replies to ${sum.sent} requests` : probe ? 'the probe produced no measurement' : 'no probe ran');
  return { ...result, verdict: 'error', exitCode: 2, error: `nothing was compared with the profile: ${why}` };
}
