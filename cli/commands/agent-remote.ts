/**
 * The `--agent URL` path of apply/clear/status: the same commands, carried out by a remote agent
 * through the typed client (agent/api/client.ts). The token comes from BACKHAUL_TOKEN; a
 * self-signed agent is pinned with --agent-fingerprint (or BACKHAUL_AGENT_FINGERPRINT).
 */
import type { Command } from 'commander';
import { AgentClient } from '../../agent/api/client.js';
import type { ImpairmentView } from '../../agent/api/types.js';
import { formatDurationMs } from '../../agent/duration.js';
import { exitCodeFor } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { emit, table, usageError, type OutputOptions } from '../output.js';
import { impairmentLines } from './netem-common.js';

export interface RemoteFlags extends OutputOptions {
  agent?: string;
  agentFingerprint?: string;
  ttl?: string;
  controller?: string;
  force?: boolean;
  allowManagementInterface?: boolean;
}

/** --agent and friends, shared by apply, clear and status. */
export function addAgentFlags(cmd: Command, opts: { lease?: boolean } = {}): Command {
  cmd
    .option('--agent <url>', 'act through a backhaul agent (http(s)://host:8470) instead of local tc; token from $BACKHAUL_TOKEN')
    .option('--agent-fingerprint <sha256>', 'pin the agent\'s TLS certificate (as printed by `backhaul agent --tls-self-signed`)')
    .option('--controller <name>', 'with --agent: the lease holder\'s name (default: the token\'s name)')
    .option('--force', 'with --agent: take over a target another controller holds');
  if (opts.lease) {
    cmd
      .option('--ttl <duration>', 'with --agent: lease length (e.g. 30s, 10m); the agent reverts when it ends unless renewed')
      .option('--allow-management-interface', 'with --agent: do not exclude the agent API, SSH and this controller from the impairment');
  }
  return cmd;
}

export function clientFor(ctx: CliContext, flags: RemoteFlags): AgentClient {
  const fp = flags.agentFingerprint ?? ctx.env['BACKHAUL_AGENT_FINGERPRINT'];
  return new AgentClient(flags.agent as string, {
    ...(ctx.env['BACKHAUL_TOKEN'] ? { token: ctx.env['BACKHAUL_TOKEN'] } : {}),
    ...(fp ? { fingerprint256: fp } : {}),
  });
}

function where(v: ImpairmentView): string {
  return v.target.kind === 'netem' ? `${v.target.dev}${v.target.netns ? ` (netns ${v.target.netns})` : ''}` : `${v.target.proto} ${v.target.listen}`;
}

function viewLines(v: ImpairmentView): string[] {
  const left = Math.max(0, Math.round((v.expiresAtMs - Date.now()) / 1000));
  const out = [
    `${v.id}  ${v.profileName} on ${where(v)}  [${v.inEffect ? 'in effect' : 'NOT in effect'}]`,
    `  lease     held by ${v.controller}, expires ${new Date(v.expiresAtMs).toISOString()} (in ${formatDurationMs(left * 1000)})`,
  ];
  if (v.phase) out.push(`  phase     ${v.phase.name} since ${new Date(v.phase.sinceMs).toISOString()}`);
  if (v.managementExcluded) out.push('  excluded  the agent API, SSH and the controlling peer (management path)');
  if (v.lastError) out.push(`  error     ${v.lastError}`);
  out.push('  egress', ...impairmentLines(v.phase?.egress ?? v.profile.egress));
  if (v.profile.ingress) out.push('  ingress', ...impairmentLines(v.phase?.ingress ?? v.profile.ingress));
  return out;
}

export interface RemoteApplyInput {
  profile: string | Record<string, unknown>;
  dev: string;
  netns?: string;
  direction: 'egress' | 'ingress' | 'both';
  match: string[];
  exclude: string[];
  disableOffloads?: boolean;
}

export async function applyViaAgent(ctx: CliContext, flags: RemoteFlags, input: RemoteApplyInput): Promise<number> {
  const client = clientFor(ctx, flags);
  const view = await client.createImpairment({
    target: { dev: input.dev, ...(input.netns ? { netns: input.netns } : {}) },
    profile: input.profile,
    direction: input.direction,
    ...(input.match.length ? { match: input.match } : {}),
    ...(input.exclude.length ? { exclude: input.exclude } : {}),
    ...(flags.ttl ? { ttl: flags.ttl } : {}),
    ...(flags.controller ? { controller: flags.controller } : {}),
    ...(flags.force ? { force: true } : {}),
    ...(flags.allowManagementInterface ? { allowManagementInterface: true } : {}),
    ...(input.disableOffloads ? { disableOffloads: true } : {}),
  }, ctx.signal);
  emit(ctx.io, flags, view, () => [`applied through ${client.baseUrl}`, ...viewLines(view)].join('\n'));
  return 0;
}

/**
 * Clear through the agent: every matching impairment is tried; one already gone (its lease ended)
 * counts as cleared; failures (another controller's: 409) are listed at the end and the exit code
 * is the first failure's (5 for a conflict), after the rest were cleared.
 */
export async function clearViaAgent(ctx: CliContext, flags: RemoteFlags & { all?: boolean }, dev: string | undefined, netns: string | undefined): Promise<number> {
  const client = clientFor(ctx, flags);
  const opts = { ...(flags.force ? { force: true } : {}), ...(flags.controller ? { controller: flags.controller } : {}) };
  if (!flags.all && !dev) throw usageError('--dev or --all is required');
  const r = await client.clearEach(flags.all ? 'all' : { dev: dev as string, ...(netns ? { netns } : {}) }, opts);
  const ids = [...r.cleared, ...r.gone];
  emit(ctx.io, flags, { agent: client.baseUrl, cleared: ids, failed: r.failed }, () => [
    ids.length ? `cleared ${ids.length} impairment${ids.length === 1 ? '' : 's'} on ${client.baseUrl}: ${ids.join(', ')}`
      : r.failed.length ? `nothing cleared on ${client.baseUrl}` : `nothing to clear on ${client.baseUrl}`,
    ...(r.gone.length ? [`  (already gone, lease ended: ${r.gone.join(', ')})`] : []),
    ...r.failed.map((f) => `NOT cleared ${f.id}: ${f.message}`),
  ].join('\n'));
  return r.failed.length ? exitCodeFor(r.failed[0]!.code) : 0;
}

export async function statusViaAgent(ctx: CliContext, flags: RemoteFlags, dev: string | undefined, netns: string | undefined): Promise<number> {
  const client = clientFor(ctx, flags);
  const [health, caps, all] = await Promise.all([client.health(), client.capabilities(), client.listImpairments()]);
  const list = all.filter((v) => !dev || (v.target.kind === 'netem' && v.target.dev === dev && (v.target.netns ?? undefined) === (netns ?? undefined)));
  emit(ctx.io, flags, { agent: client.baseUrl, health, capabilities: caps, impairments: list }, () => {
    const head = `agent ${client.baseUrl}: ${caps.hostname}, backhaul ${health.version}, kernel ${caps.kernel.release}, iproute2 ${caps.iproute2Version ?? '?'}, revert guard ${health.guard.alive ? `pid ${health.guard.pid}` : 'NOT RUNNING'}`;
    if (list.length === 0) return `${head}\nno impairments${dev ? ` on ${dev}` : ''}`;
    const summary = table(['ID', 'TARGET', 'PROFILE', 'IN EFFECT', 'PHASE', 'HOLDER', 'EXPIRES'],
      list.map((v) => [v.id, where(v), v.profileName, v.inEffect ? 'yes' : 'NO', v.phase?.name ?? '-', v.controller, new Date(v.expiresAtMs).toISOString()]));
    return [head, summary, '', ...list.flatMap(viewLines)].join('\n');
  });
  return 0;
}
