/**
 * State files that survive a crash at any instant (the impairment and fault journals, the netem
 * backend's target records):
 * `writeFileAtomic` writes `<file>.tmp`, fsyncs it, renames it over `<file>` and fsyncs the
 * directory, so a reader sees the old or the new content, never a torn one; `WriteChain` keeps the
 * writes of one file in the order they were issued.
 */
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Write `text` to `path` atomically (file mode `mode`, default 0600); creates the directory. */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    /* some filesystems refuse fsync on a directory; the rename is still atomic */
  }
}

/**
 * Serialised writes of a state file: each write starts after the previous one settled, in the
 * order they were issued, so the file always ends with the last state handed in. A failed write
 * rejects its own promise and does not stop the next.
 */
export class WriteChain {
  private chain: Promise<void> = Promise.resolve();

  /** Queue `write`; resolves once it landed (rejects with its error). */
  run(write: () => Promise<void>): Promise<void> {
    const next = this.chain.then(write);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every write issued so far has landed (or failed); for shutdown and tests. */
  idle(): Promise<void> {
    return this.chain;
  }
}
