/**
 * The faults journal (`<stateDir>/faults.json`, next to the impairments journal): every fault that
 * may be in effect, with the argv that restores it. Same contract as agent/journal.ts: an entry is
 * written BEFORE the fault starts and removed only AFTER its restore ran, every write atomic (tmp +
 * fsync + rename) and serialised, so a restarted agent (or its guard) can restore what a dead one left.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { execa } from 'execa';

export interface FaultJournalEntry {
  id: string;
  kind: string;
  restore: string[];
  createdAtMs: number;
  endsAtMs: number;
}

async function writeAtomic(path: string, entries: FaultJournalEntry[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify({ version: 1, entries }, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
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
  private chain: Promise<void> = Promise.resolve();

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
    return this.chain;
  }

  private persist(): Promise<void> {
    const snapshot = this.entries;
    const next = this.chain.then(() => writeAtomic(this.path, snapshot));
    this.chain = next.catch(() => undefined);
    return next;
  }
}
