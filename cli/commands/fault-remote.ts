/**
 * `backhaul fault ... --agent URL`: the fault runs on the agent (its guard and journal make it
 * crash-safe there); this process creates it, follows its view until it ends (polling GET
 * /v1/faults/:id every `pollMs`) and prints start and restore. Ctrl-C / SIGTERM stop it on the
 * agent (DELETE, which restores before it answers). If the agent cannot be reached while the
 * fault runs, we keep asking until its planned end plus a grace period: the agent restores on its
 * own either way.
 */
import type { FaultRequest, FaultView } from '../../agent/api/types.js';
import type { FaultInput } from '../../agent/api/validate-faults.js';
import { formatDurationMs } from '../../agent/duration.js';
import { BackhaulError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { emit, table } from '../output.js';
import { clientFor } from './agent-remote.js';
import { describeFault } from './fault-local.js';
import type { FaultFlags } from './fault.js';

const GRACE_MS = 15_000;

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

function result(v: FaultView, agent: string, interrupted: boolean): Record<string, unknown> {
  return { id: v.id, agent, kind: v.kind, request: v.request, startMs: v.startedAtMs, endMs: v.endedAtMs, periodsDone: v.periodsDone, restored: v.state === 'ended' && v.error === null, interrupted, ...(v.error ? { error: v.error } : {}) };
}

export async function faultViaAgent(ctx: CliContext, flags: FaultFlags, input: FaultInput, pollMs = 200): Promise<number> {
  const client = clientFor(ctx, flags);
  const f = input.fault;
  const req: FaultRequest = {
    ...f,
    ...(flags.controller ? { controller: flags.controller } : {}),
    ...(flags.allowManagementInterface ? { allowManagementInterface: true } : {}),
  };
  const say = (line: string): void => {
    if (!flags.json) ctx.io.out(`${line}\n`);
  };
  // Not cancelled by Ctrl-C: an interrupted request could leave a fault we know no id of; once it
  // answers, the loop below sees the signal and stops the fault at once.
  let v = await client.createFault(req);
  say(`${iso(v.startedAtMs)}  started ${describeFault(f)} on ${client.baseUrl} as ${v.id}; ends by ${iso(v.endsAtMs)}`);
  let interrupted = false;
  let lastError: Error | null = null;
  while (v.state !== 'ended') {
    if (ctx.signal.aborted) {
      interrupted = true;
      v = await client.stopFault(v.id);
      break;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pollMs);
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
    if (ctx.signal.aborted) continue;
    try {
      v = await client.getFault(v.id, ctx.signal);
      lastError = null;
    } catch (e) {
      if (ctx.signal.aborted) continue;
      lastError = e as Error;
      if (Date.now() > v.endsAtMs + GRACE_MS) {
        throw new BackhaulError('ERR_UNREACHABLE', `lost the agent while fault ${v.id} ran (${lastError.message}); the agent restores it on its own at ${iso(v.endsAtMs)}`, {
          id: v.id, hint: `check with: backhaul fault list --agent ${client.baseUrl}`,
        });
      }
    }
  }
  const out = result(v, client.baseUrl, interrupted);
  if (v.error) {
    throw new BackhaulError('ERR_REMOTE', `fault ${v.id} ended with an error on the agent: ${v.error}`, { ...out, hint: `see the agent's log; list its faults with: backhaul fault list --agent ${client.baseUrl}` });
  }
  if (!flags.json) say(`${iso(v.endedAtMs)}  restored${interrupted ? ' (interrupted: stopped on the agent)' : ''}`);
  emit(ctx.io, flags, out, () => `${f.kind} ended after ${formatDurationMs((v.endedAtMs ?? v.startedAtMs) - v.startedAtMs)}: restored`);
  return 0;
}

function what(v: FaultView): string {
  const r = v.request;
  const ns = r.netns ? ` (netns ${r.netns})` : '';
  return r.kind === 'blackhole' ? `${r.peer}${ns}` : `${r.dev}${ns}`;
}

export async function listFaultsViaAgent(ctx: CliContext, flags: FaultFlags): Promise<number> {
  const client = clientFor(ctx, flags);
  const list = await client.listFaults();
  emit(ctx.io, flags, { agent: client.baseUrl, faults: list }, () =>
    list.length === 0 ? `no faults on ${client.baseUrl}` : table(['ID', 'KIND', 'TARGET', 'STATE', 'STARTED', 'ENDS/ENDED', 'HOLDER', 'ERROR'],
      list.map((v) => [v.id, v.kind, what(v), v.state, iso(v.startedAtMs), iso(v.endedAtMs ?? v.endsAtMs), v.controller, v.error ?? '-'])));
  return 0;
}

export async function stopFaultViaAgent(ctx: CliContext, flags: FaultFlags, id: string): Promise<number> {
  const client = clientFor(ctx, flags);
  const v = await client.stopFault(id);
  emit(ctx.io, flags, result(v, client.baseUrl, false), () => `${v.id} (${v.kind} of ${what(v)}) ended at ${iso(v.endedAtMs)}: ${v.error ? `restore failed: ${v.error}` : 'restored'}`);
  return v.error ? 4 : 0;
}
