/**
 * Revert what a previous agent left, from its journal: at agent start, and from
 * `backhaul agent revert-journal` (systemd ExecStopPost). Idempotent.
 *
 * If the previous agent's revert guard is still running (it may be reverting right now, after a
 * SIGKILL), wait for it to exit first, so two reverts never interleave on one interface. Each entry
 * is reverted through its backend (which reads the live state, so a half-done revert is finished
 * correctly) and removed from the journal only once reverted; a failure keeps the entry and is
 * reported, so a later run retries.
 */
import { BackhaulError } from '../../core/errors.js';
import type { AgentBackend } from '../agent-backend.js';
import { targetLabel } from '../agent-backend.js';
import { isGuardProcess, waitForGuardExit } from '../guard/guard-client.js';
import { readJournal, writeJournalAtomic, type JournalEntry } from '../journal.js';

export interface RecoveryResult {
  reverted: JournalEntry[];
  failed: { entry: JournalEntry; error: string }[];
  /** Entries of backends that die with the agent (relay): nothing to revert. */
  skipped: JournalEntry[];
  waitedForGuardPid: number | null;
}

export async function revertJournal(
  path: string,
  backends: Map<'netem' | 'relay', AgentBackend>,
  opts: { guardWaitMs?: number; log?: (line: string) => void } = {},
): Promise<RecoveryResult> {
  const log = opts.log ?? (() => undefined);
  const state = await readJournal(path);
  const result: RecoveryResult = { reverted: [], failed: [], skipped: [], waitedForGuardPid: null };
  if (state.guardPid && state.guardPid !== process.pid && (await isGuardProcess(state.guardPid))) {
    result.waitedForGuardPid = state.guardPid;
    log(`waiting for the previous revert guard (pid ${state.guardPid}) to finish`);
    if (!(await waitForGuardExit(state.guardPid, opts.guardWaitMs ?? 15_000))) {
      throw new BackhaulError('ERR_INTERNAL', `the previous revert guard (pid ${state.guardPid}) is still running`, { pid: state.guardPid, hint: 'it is stuck running a revert step; kill it, then retry' });
    }
  }
  let remaining = [...state.entries];
  for (const entry of [...state.entries].reverse()) {
    const backend = backends.get(entry.backend);
    if (entry.backend === 'relay' || !backend) {
      result.skipped.push(entry);
      remaining = remaining.filter((e) => e !== entry);
      continue;
    }
    try {
      await backend.revert(entry.target);
      result.reverted.push(entry);
      remaining = remaining.filter((e) => e !== entry);
      log(`reverted ${entry.id} (${entry.profileName} on ${targetLabel(entry.target)})`);
    } catch (e) {
      result.failed.push({ entry, error: (e as Error).message });
      log(`could not revert ${entry.id} on ${targetLabel(entry.target)}: ${(e as Error).message}`);
    }
  }
  if (state.entries.length > 0 || state.guardPid) {
    await writeJournalAtomic(path, { version: 1, agentPid: process.pid, guardPid: null, entries: remaining });
  }
  return result;
}
