/**
 * The agent's journal: what it has (or may have) applied, on disk, so that a restarted agent, or
 * `backhaul agent revert-journal` in systemd's ExecStopPost, can revert what a dead agent left.
 *
 * Contract:
 * - An entry is written BEFORE the backend applies anything and removed only AFTER the revert
 *   completed, so a crash at any point leaves an entry for every target that may be impaired.
 * - Every write is atomic: write `<file>.tmp`, fsync, rename over `<file>`, fsync the directory.
 *   A reader sees the old or the new journal, never a torn one. Writes are serialised.
 * - Reverting a journal entry is idempotent (backend.revert of nothing resolves).
 */
import { readFile } from 'node:fs/promises';
import { BackhaulError } from '../core/errors.js';
import type { Target } from './backend.js';
import { WriteChain, writeFileAtomic } from './atomic-file.js';

export interface JournalEntry {
  id: string;
  target: Target;
  backend: 'netem' | 'relay';
  profileName: string;
  controller: string;
  createdAtMs: number;
  expiresAtMs: number;
}

export interface JournalState {
  version: 1;
  /** The agent that wrote it, and its revert guard (a restart waits for that guard to finish). */
  agentPid: number;
  guardPid: number | null;
  entries: JournalEntry[];
}

export function emptyJournal(): JournalState {
  return { version: 1, agentPid: process.pid, guardPid: null, entries: [] };
}

/** Read a journal file; a missing file is an empty journal; a corrupt one is an error naming the file. */
export async function readJournal(path: string): Promise<JournalState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...emptyJournal(), agentPid: 0 };
    throw e;
  }
  try {
    const j = JSON.parse(text) as JournalState;
    if (j.version !== 1 || !Array.isArray(j.entries)) throw new Error('unknown journal version');
    return j;
  } catch (e) {
    throw new BackhaulError('ERR_INTERNAL', `the journal ${path} is unreadable: ${(e as Error).message}`, { path, hint: 'inspect it; revert by hand with `backhaul clear --dev IF`, then delete it' }, { cause: e });
  }
}

/** Write atomically (tmp + fsync + rename + directory fsync). */
export async function writeJournalAtomic(path: string, state: JournalState): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(state, null, 2) + '\n');
}

/** The live journal of a running agent: an in-memory copy, persisted on every change, in order. */
export class Journal {
  private state: JournalState;
  private readonly writes = new WriteChain();

  /** `orphans`: entries a recovery could not revert; kept (and reported) so a later run retries. */
  constructor(readonly path: string, orphans: JournalEntry[] = []) {
    this.state = { ...emptyJournal(), entries: [...orphans] };
  }

  entries(): JournalEntry[] {
    return this.state.entries.map((e) => ({ ...e }));
  }

  setGuardPid(pid: number | null): Promise<void> {
    this.state = { ...this.state, guardPid: pid };
    return this.persist();
  }

  /** Add or replace the entry with this id; resolves once it is on disk. */
  put(entry: JournalEntry): Promise<void> {
    this.state = { ...this.state, entries: [...this.state.entries.filter((e) => e.id !== entry.id), entry] };
    return this.persist();
  }

  remove(id: string): Promise<void> {
    this.state = { ...this.state, entries: this.state.entries.filter((e) => e.id !== id) };
    return this.persist();
  }

  /** Resolves once every write issued so far has landed (or failed); for shutdown and tests. */
  idle(): Promise<void> {
    return this.writes.idle();
  }

  private persist(): Promise<void> {
    const snapshot = this.state;
    return this.writes.run(() => writeJournalAtomic(this.path, snapshot));
  }
}
