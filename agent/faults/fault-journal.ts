/**
 * The faults journal (`<stateDir>/faults.json`, next to the impairments journal): every fault that
 * may be in effect, with the argv that restores it. Same contract as agent/journal.ts: an entry is
 * written BEFORE the fault starts and removed only AFTER its restore ran, every write atomic (tmp +
 * fsync + rename) and serialised, so a restarted agent (or its guard) can restore what a dead one left.
 */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { WriteChain, writeFileAtomic } from '../atomic-file.js';

export interface FaultJournalEntry {
  id: string;
  kind: string;
  restore: string[];
  createdAtMs: number;
  endsAtMs: number;
}

function writeAtomic(path: string, entries: FaultJournalEntry[]): Promise<void> {
  return writeFileAtomic(path, JSON.stringify({ version: 1, entries }, null, 2) + '\n');
}

export async function readFaultJournal(path: string): Promise<FaultJournalEntry[]> {
  try {
    const j = JSON.parse(await readFile(path, 'utf8')) as { entries?: FaultJournalEntry[] };
    return Array.isArray(j.entries) ? j.entries.filter((e) => Array.isArray(e.restore) && e.restore.every((x) => typeof x === 'string')) : [];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Restore what a previous agent's faults left (run at start-up, after its guard finished); the
 * journal is emptied afterwards. Returns the argv run. Failures are logged, not fatal: a restore of
 * something already restored fails harmlessly.
 */
export async function recoverFaultJournal(path: string, log: (line: string) => void = () => undefined): Promise<string[][]> {
  const entries = await readFaultJournal(path);
  const ran: string[][] = [];
  for (const e of entries) {
    const [file, ...args] = e.restore as [string, ...string[]];
    const r = await execa(file, args, { reject: false, timeout: 10_000 });
    log(`restored fault ${e.id}: ${e.restore.join(' ')} -> ${r.exitCode}`);
    ran.push(e.restore);
  }
  if (entries.length) await writeAtomic(path, []);
  return ran;
}

export class FaultJournal {
  private entries: FaultJournalEntry[] = [];
  private readonly writes = new WriteChain();

  constructor(readonly path: string) {}

  put(e: FaultJournalEntry): Promise<void> {
    this.entries = [...this.entries.filter((x) => x.id !== e.id), e];
    return this.persist();
  }

  remove(id: string): Promise<void> {
    this.entries = this.entries.filter((x) => x.id !== id);
    return this.persist();
  }

  /** Resolves once every write issued so far has landed (or failed). */
  idle(): Promise<void> {
    return this.writes.idle();
  }

  private persist(): Promise<void> {
    const snapshot = this.entries;
    return this.writes.run(() => writeAtomic(this.path, snapshot));
  }
}
