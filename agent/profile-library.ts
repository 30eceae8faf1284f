/**
 * The profile library: finds, reads and validates profile files (the I/O around core's parser).
 *
 *   name  ──> search dirs in order: --profiles DIR..., $BACKHAUL_PROFILES (colon-separated),
 *             then the bundled profiles/ (a user file shadows a bundled one of the same name)
 *   path  ──> a file ending in .yaml/.yml, read as given (only when `allowPaths` is not false)
 *   file  ──> YAML ──> `extends:` resolved (field by field, recursively, cycles refused)
 *             ──> parseProfile()
 *
 * A name is `[a-z0-9][a-z0-9._-]*`: it cannot contain a slash, so it cannot leave the dirs
 * (`../../etc/passwd` is refused as "not a profile name"). Remote callers (the agent API) pass
 * `allowPaths: false` so only names resolve. Errors: ERR_PROFILE_NOT_FOUND (no such name/file,
 * missing dir), ERR_PROFILE_INVALID (not YAML, fails validation, bad `extends`), with the path.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument } from 'yaml';
import { BackhaulError } from '../core/errors.js';
import type { Profile } from '../core/profile.js';
import { parseProfile, PROFILE_NAME_RE } from '../core/profile-parse.js';

export interface LibraryOptions {
  /** Directories from `--profiles DIR` (searched first, in order). */
  dirs?: string[];
  /** Environment (for BACKHAUL_PROFILES); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Override the bundled directory (tests). */
  bundledDir?: string;
  /** Accept paths to .yaml/.yml files, not only names (default true; false for remote callers). */
  allowPaths?: boolean;
}

export interface ProfileDir {
  dir: string;
  origin: 'user' | 'bundled';
}

export interface ProfileEntry {
  name: string;
  path: string;
  origin: 'user' | 'bundled';
  /** The path of the file this one hides (a user profile named like a bundled one). */
  shadows?: string[];
  profile?: Profile;
  /** Why the file does not load (listing keeps going). */
  error?: BackhaulError;
}

const MAX_FILE_BYTES = 1 << 20;
const MAX_EXTENDS_DEPTH = 16;

let bundledCache: string | undefined;

/** The bundled profiles/ directory: next to the package.json above this module (src or dist). */
export function bundledProfilesDir(): string {
  if (bundledCache) return bundledCache;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'backhaul') {
          bundledCache = join(dir, 'profiles');
          return bundledCache;
        }
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new BackhaulError('ERR_INTERNAL', 'cannot find the backhaul package.json above the profile library');
    dir = up;
  }
}

/** The search path, user dirs first. */
export function profileDirs(opts: LibraryOptions = {}): ProfileDir[] {
  const env = opts.env ?? process.env;
  const fromEnv = (env['BACKHAUL_PROFILES'] ?? '').split(':').filter((d) => d !== '');
  const bundled = opts.bundledDir ?? bundledProfilesDir();
  const seen = new Set<string>([bundled]);
  const user: ProfileDir[] = [];
  for (const d of [...(opts.dirs ?? []), ...fromEnv].map((x) => resolve(x))) {
    if (seen.has(d)) continue; // a dir given twice is searched once
    seen.add(d);
    user.push({ dir: d, origin: 'user' });
  }
  return [...user, { dir: bundled, origin: 'bundled' }];
}

async function checkDirs(dirs: ProfileDir[]): Promise<void> {
  for (const d of dirs) {
    if (d.origin !== 'user') continue;
    const st = await stat(d.dir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new BackhaulError('ERR_PROFILE_NOT_FOUND', `profile directory ${d.dir} does not exist or is not a directory`, {
        path: d.dir,
        hint: 'check --profiles / BACKHAUL_PROFILES',
      });
    }
  }
}

function isPathLike(s: string): boolean {
  return /\.ya?ml$/i.test(s);
}

async function candidates(name: string, dirs: ProfileDir[]): Promise<{ path: string; origin: ProfileDir['origin'] }[]> {
  const out: { path: string; origin: ProfileDir['origin'] }[] = [];
  for (const d of dirs) {
    for (const ext of ['.yaml', '.yml']) {
      const p = join(d.dir, name + ext);
      // defence in depth: the name regex already forbids separators
      if (!p.startsWith(d.dir + sep)) continue;
      const st = await stat(p).catch(() => undefined);
      if (st?.isFile()) out.push({ path: p, origin: d.origin });
    }
  }
  return out;
}

/** Read and YAML-parse a file (no validation). */
export async function readProfileYaml(path: string): Promise<unknown> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new BackhaulError('ERR_PROFILE_NOT_FOUND', `${path}: no such file`, { path });
  if (!st.isFile()) throw new BackhaulError('ERR_PROFILE_NOT_FOUND', `${path}: not a file`, { path });
  if (st.size > MAX_FILE_BYTES) {
    throw new BackhaulError('ERR_PROFILE_INVALID', `${path}: too large for a profile (${st.size} bytes, at most ${MAX_FILE_BYTES})`, {
      path,
      problems: [`${path}: file is ${st.size} bytes (at most ${MAX_FILE_BYTES})`],
    });
  }
  const text = await readFile(path, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return `${path}: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${e.message.split('\n')[0] ?? e.message} (not valid YAML)`;
    });
    throw new BackhaulError('ERR_PROFILE_INVALID', `${path} is not valid YAML`, { path, problems });
  }
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}

/** `delay: none` in a child also drops the parent's fields that only make sense with it. */
const RAW_CASCADE: Record<string, string[]> = {
  delay: ['jitter', 'correlation', 'distribution', 'reorder'],
  jitter: ['correlation', 'distribution'],
  rate: ['overhead', 'cell-size', 'cell-overhead'],
  'cell-size': ['cell-overhead'],
  loss: ['ecn'],
};

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Set an own, enumerable property (also for a key like `__proto__`, so the parser reports it). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Merge a child profile over its parent (raw YAML data), field by field within each direction. */
export function mergeExtends(parent: Record<string, unknown>, child: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...parent };
  delete out['name'];
  delete out['extends'];
  for (const [k, v] of Object.entries(child)) {
    if (k === 'extends') continue;
    if ((k === 'egress' || k === 'ingress') && isMapping(v) && isMapping(parent[k])) {
      const merged: Record<string, unknown> = { ...(parent[k] as Record<string, unknown>) };
      for (const [f, fv] of Object.entries(v)) {
        if (fv === 'none') for (const dep of (Object.hasOwn(RAW_CASCADE, f) ? RAW_CASCADE[f] : undefined) ?? []) if (!Object.hasOwn(v, dep)) delete merged[dep];
        setOwn(merged, f, fv);
      }
      out[k] = merged;
    } else if ((k === 'ingress' || k === 'schedule') && v === 'none') {
      delete out[k];
    } else {
      setOwn(out, k, v);
    }
  }
  return out;
}

async function resolveExtends(raw: unknown, path: string, dirs: ProfileDir[], chain: string[]): Promise<unknown> {
  if (!isMapping(raw) || !('extends' in raw)) return raw;
  const parentName = raw['extends'];
  if (typeof parentName !== 'string' || !PROFILE_NAME_RE.test(parentName)) {
    throw new BackhaulError('ERR_PROFILE_INVALID', `${path}: extends must name a profile`, {
      path,
      problems: [`${path}: extends: must be a profile name such as lte-good (got ${JSON.stringify(parentName)})`],
    });
  }
  if (chain.length >= MAX_EXTENDS_DEPTH) {
    throw new BackhaulError('ERR_PROFILE_INVALID', `${path}: extends chain deeper than ${MAX_EXTENDS_DEPTH}`, {
      path,
      problems: [`${path}: extends: chain deeper than ${MAX_EXTENDS_DEPTH}: ${chain.join(' -> ')}`],
    });
  }
  // A file may extend the profile it shadows (same name): take the next one down the search path.
  const found = (await candidates(parentName, dirs)).filter((c) => resolve(c.path) !== resolve(path));
  const parent = found[0];
  if (!parent) {
    throw new BackhaulError('ERR_PROFILE_INVALID', `${path}: extends ${parentName}, which does not exist`, {
      path,
      problems: [`${path}: extends: no profile named ${JSON.stringify(parentName)} in ${dirs.map((d) => d.dir).join(', ')}`],
    });
  }
  if (chain.includes(resolve(parent.path))) {
    const names = [...chain, resolve(parent.path)].map((p) => basename(p).replace(/\.ya?ml$/i, ''));
    throw new BackhaulError('ERR_PROFILE_INVALID', `${path}: extends cycle: ${names.join(' -> ')}`, {
      path,
      problems: [`${path}: extends: cycle ${names.join(' -> ')}`],
    });
  }
  const parentRaw = await resolveExtends(await readProfileYaml(parent.path), parent.path, dirs, [...chain, resolve(parent.path)]);
  if (!isMapping(parentRaw)) return raw; // parseProfile of the parent would fail; report on the child as is
  return mergeExtends(parentRaw, raw);
}

/** Read, resolve `extends` and validate one profile file. */
export async function loadProfileFile(path: string, opts: LibraryOptions = {}): Promise<Profile> {
  const dirs = profileDirs(opts);
  const raw = await readProfileYaml(path);
  const merged = await resolveExtends(raw, path, dirs, [resolve(path)]);
  const profile = parseProfile(merged, path);
  const fileName = basename(path).replace(/\.ya?ml$/i, '');
  if (profile.name !== fileName) {
    // a profile is known by its file name: `apply X` must not report itself as Y
    throw new BackhaulError('ERR_PROFILE_INVALID', `${path} is not a valid profile (1 problem)`, {
      path,
      problems: [`${path}: name: must match the file name (got ${JSON.stringify(profile.name)}, file ${basename(path)}); rename the file or drop name:`],
    });
  }
  return profile;
}

/** Load a profile by name (searching the dirs) or by a path ending in .yaml/.yml. */
export async function loadProfile(nameOrPath: string, opts: LibraryOptions = {}): Promise<Profile> {
  const dirs = profileDirs(opts);
  await checkDirs(dirs);
  if (isPathLike(nameOrPath) && opts.allowPaths !== false) return loadProfileFile(nameOrPath, opts);
  if (!PROFILE_NAME_RE.test(nameOrPath)) {
    throw new BackhaulError('ERR_PROFILE_NOT_FOUND', `${JSON.stringify(nameOrPath)} is not a profile name${opts.allowPaths === false ? '' : ' or a .yaml file'}`, {
      name: nameOrPath,
      hint: 'names are a-z, 0-9, ".", "_", "-"; run `backhaul profiles list`',
    });
  }
  const found = await candidates(nameOrPath, dirs);
  const first = found[0];
  if (!first) {
    throw new BackhaulError('ERR_PROFILE_NOT_FOUND', `no profile named ${JSON.stringify(nameOrPath)}`, {
      name: nameOrPath,
      searched: dirs.map((d) => d.dir),
      hint: `searched ${dirs.map((d) => d.dir).join(', ')}; run \`backhaul profiles list\``,
    });
  }
  return loadProfileFile(first.path, opts);
}

/** Every profile on the search path, by name (shadowed files noted), each loaded or with its error. */
export async function listProfiles(opts: LibraryOptions = {}): Promise<ProfileEntry[]> {
  const dirs = profileDirs(opts);
  await checkDirs(dirs);
  const byName = new Map<string, ProfileEntry>();
  for (const d of dirs) {
    const files = (await readdir(d.dir).catch(() => [] as string[])).filter((f) => /\.ya?ml$/i.test(f)).sort();
    for (const f of files) {
      const name = f.replace(/\.ya?ml$/i, '');
      const path = join(d.dir, f);
      const prev = byName.get(name);
      if (prev) {
        (prev.shadows ??= []).push(path);
        continue;
      }
      byName.set(name, { name, path, origin: d.origin });
    }
  }
  const entries = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    try {
      e.profile = await loadProfileFile(e.path, opts);
    } catch (err) {
      e.error = err instanceof BackhaulError ? err : new BackhaulError('ERR_PROFILE_INVALID', `${e.path}: ${String(err)}`, { path: e.path });
    }
  }
  return entries;
}
