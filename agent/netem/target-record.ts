/**
 * A small per-target record on disk (default /run/backhaul, tmpfs: gone after a reboot, as are the
 * qdiscs): which profile was applied, when, and the offload settings we changed, so `clear`
 * restores them and `status` can name the profile. The live tc state stays the source of truth:
 * status ignores a record whose tree is gone.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-file.js';
import { join } from 'node:path';

export interface OffloadState {
  tso?: boolean;
  gso?: boolean;
  gro?: boolean;
}

export interface TargetRecord {
  profile: string;
  appliedAt: string;
  /** offloads as they were before we first turned them off (restored on clear) */
  offloads?: OffloadState;
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['BACKHAUL_STATE_DIR'] ?? '/run/backhaul';
}

function fileFor(dir: string, dev: string, netns?: string): string {
  return join(dir, `netem-${netns ?? '_'}-${dev}.json`);
}

export async function readRecord(dir: string, dev: string, netns?: string): Promise<TargetRecord | null> {
  try {
    return JSON.parse(await readFile(fileFor(dir, dev, netns), 'utf8')) as TargetRecord;
  } catch {
    return null;
  }
}

export async function writeRecord(dir: string, dev: string, netns: string | undefined, rec: TargetRecord): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  // Atomic: a torn record would read as none, and the offloads it holds would never be restored.
  await writeFileAtomic(fileFor(dir, dev, netns), JSON.stringify(rec, null, 2) + '\n', 0o644);
}

export async function removeRecord(dir: string, dev: string, netns?: string): Promise<void> {
  await rm(fileFor(dir, dev, netns), { force: true });
}

/** `ethtool -k` output -> the three offloads that matter for per-packet impairment fidelity. */
export function parseEthtoolFeatures(text: string): OffloadState {
  const get = (name: string): boolean | undefined => {
    const m = new RegExp(`^${name}:\\s+(on|off)`, 'm').exec(text);
    return m ? m[1] === 'on' : undefined;
  };
  const out: OffloadState = {};
  const tso = get('tcp-segmentation-offload');
  const gso = get('generic-segmentation-offload');
  const gro = get('generic-receive-offload');
  if (tso !== undefined) out.tso = tso;
  if (gso !== undefined) out.gso = gso;
  if (gro !== undefined) out.gro = gro;
  return out;
}

/** `ethtool -K` arguments restoring a recorded state. */
export function restoreOffloadArgs(dev: string, s: OffloadState): string[] {
  const args = ['-K', dev];
  for (const k of ['tso', 'gso', 'gro'] as const) if (s[k] !== undefined) args.push(k, s[k] ? 'on' : 'off');
  return args;
}
