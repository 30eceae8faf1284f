/**
 * Prepare (and cache) what the kernel-tier guest boots: a Debian kernel package with sch_netem,
 * unpacked and depmod'ed, and an initramfs (busybox-static + virtio/9p/overlay modules + /init).
 *
 *   apt-cache depends linux-image-amd64  ->  linux-image-<ver>-amd64      (the package to fetch)
 *   apt-get download <pkg>               ->  <cache>/<pkg>/pkg.deb
 *   dpkg-deb -x pkg.deb root/; depmod -b root <ver>                       (modules.dep for modprobe)
 *   busybox + modules + /init | cpio -H newc | gzip  ->  <cache>/<pkg>/initrd-<hash>.gz
 *
 * Cache: `.cache/kernel/` under the current directory (git-ignored), or $BACKHAUL_KERNEL_CACHE.
 * Every artifact is built in a temporary path and renamed into place, so an interrupted run never
 * leaves a half-built cache behind; a second run reuses it (no network). Override the package with
 * $BACKHAUL_KERNEL_PKG (e.g. linux-image-6.1.0-56-amd64).
 *
 * Missing prerequisites fail with `VmPrereqError`, whose message names the Debian package to install.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, readdirSync, renameSync, rmSync, writeFileSync, chmodSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GUEST_INIT, INITRAMFS_MODULES } from './guest-init.js';

export class VmPrereqError extends Error {
  override name = 'VmPrereqError';
}

/** Tools the runner needs on the host, with the Debian package that provides each. */
const HOST_TOOLS: [tool: string, pkg: string][] = [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['cpio', 'cpio'],
  ['gzip', 'gzip'],
  ['dpkg-deb', 'dpkg'],
  ['depmod', 'kmod'],
  ['modprobe', 'kmod'],
];

export interface PreparedKernel {
  pkg: string;
  /** `uname -r` of the guest kernel, e.g. 6.1.0-56-amd64. */
  version: string;
  /** Absolute path of the unpacked package (boot/, lib/modules/<version>/). */
  root: string;
  vmlinuz: string;
  initrd: string;
}

export function defaultCacheDir(): string {
  return resolve(process.env['BACKHAUL_KERNEL_CACHE'] ?? join(process.cwd(), '.cache', 'kernel'));
}

/** The executable `tool` on $PATH, or null. */
function which(tool: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(':').filter(Boolean)) {
    const p = join(dir, tool);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** True when the ELF file at `path` has no PT_INTERP program header (statically linked). */
export function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const hdr = Buffer.alloc(64);
    readSync(fd, hdr, 0, 64, 0);
    if (hdr.readUInt32BE(0) !== 0x7f454c46 || hdr[4] !== 2) return false; // ELF64 only
    const phoff = Number(hdr.readBigUInt64LE(0x20));
    const phentsize = hdr.readUInt16LE(0x36);
    const phnum = hdr.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Throws VmPrereqError naming every missing tool and the packages that provide them. */
export function checkHostPrereqs(): { busybox: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new VmPrereqError(`the kernel tier needs Linux on x86-64 (this is ${process.platform}/${process.arch})`);
  }
  const missing = HOST_TOOLS.filter(([tool]) => which(tool) === null);
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p) && isStaticElf(p));
  const pkgs = [...new Set(missing.map(([, p]) => p))];
  if (!busybox) pkgs.push('busybox-static');
  if (pkgs.length > 0 || !busybox) {
    const what = [...missing.map(([t]) => t), ...(busybox ? [] : ['a static busybox (/bin/busybox)'])];
    throw new VmPrereqError(
      `the kernel tier needs ${what.join(', ')}: install with \`apt-get install -y ${pkgs.join(' ')}\` (or run scripts/install-test-deps.sh as root)`,
    );
  }
  return { busybox };
}

function sh(argv: string[], what: string, cwd?: string): string {
  const [file, ...args] = argv as [string, ...string[]];
  const r = spawnSync(file, args, { encoding: 'utf8', cwd, maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) {
    const err = r.error ? String(r.error.message) : (r.stderr || r.stdout).trim();
    throw new VmPrereqError(`${what} failed: \`${argv.join(' ')}\` (exit ${r.status ?? 'none'}): ${err}`);
  }
  return r.stdout;
}

/** The kernel image package `linux-image-amd64` depends on (or $BACKHAUL_KERNEL_PKG). */
export function resolveKernelPackage(): string {
  const forced = process.env['BACKHAUL_KERNEL_PKG'];
  if (forced) return forced;
  if (which('apt-cache') === null) {
    throw new VmPrereqError('apt-cache is missing: the kernel tier fetches a Debian kernel package (set BACKHAUL_KERNEL_PKG and pre-fill the cache, or run on Debian/Ubuntu)');
  }
  const out = sh(['apt-cache', 'depends', 'linux-image-amd64'], 'resolving the kernel package');
  const m = /Depends:\s+(linux-image-[0-9][^\s]*)/.exec(out);
  if (!m?.[1]) {
    throw new VmPrereqError(`apt-cache depends linux-image-amd64 names no linux-image-<version> package (run \`apt-get update\`); got:\n${out}`);
  }
  return m[1];
}

/** Unpack (once) the kernel package into <cache>/<pkg>/root and run depmod there. */
function prepareKernelRoot(cache: string, pkg: string, log: (s: string) => void): { root: string; version: string } {
  const dir = join(cache, pkg);
  const root = join(dir, 'root');
  const stamp = join(dir, 'root.ready');
  if (!existsSync(stamp)) {
    mkdirSync(dir, { recursive: true });
    const dl = join(dir, 'download');
    rmSync(dl, { recursive: true, force: true });
    mkdirSync(dl, { recursive: true });
    chmodSync(dl, 0o777); // apt's _apt user writes here when not root
    log(`kernel-vm: fetching ${pkg} (apt-get download) into ${dir}`);
    const r = spawnSync('apt-get', ['download', '-q', pkg], { cwd: dl, encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      throw new VmPrereqError(
        `apt-get download ${pkg} failed (exit ${r.status ?? 'none'}): ${(r.error?.message ?? r.stderr).trim()}\n` +
          'Is apt configured with a Debian mirror and `apt-get update` done? (Or set BACKHAUL_KERNEL_PKG to an available linux-image-*-amd64.)',
      );
    }
    const deb = readdirSync(dl).find((f) => f.endsWith('.deb'));
    if (!deb) throw new VmPrereqError(`apt-get download ${pkg} produced no .deb in ${dl}`);
    const tmpRoot = join(dir, 'root.tmp');
    rmSync(tmpRoot, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    sh(['dpkg-deb', '-x', join(dl, deb), tmpRoot], 'unpacking the kernel package');
    const version = kernelVersionIn(tmpRoot);
    sh(['depmod', '-b', tmpRoot, version], 'depmod');
    renameSync(tmpRoot, root);
    rmSync(dl, { recursive: true, force: true });
    writeFileSync(stamp, `${pkg}\n${version}\n`);
  }
  return { root, version: kernelVersionIn(root) };
}

function kernelVersionIn(root: string): string {
  const dirs = existsSync(join(root, 'lib/modules')) ? readdirSync(join(root, 'lib/modules')) : [];
  const version = dirs.find((d) => existsSync(join(root, 'boot', `vmlinuz-${d}`)));
  if (!version) throw new VmPrereqError(`${root}: no lib/modules/<version> with a matching boot/vmlinuz-<version>; delete the folder and retry`);
  return version;
}

/** Find <name>.ko (possibly compressed) in the module tree and return an uncompressed copy's bytes. */
function moduleBytes(root: string, version: string, name: string): Buffer {
  const dep = readFileSync(join(root, 'lib/modules', version, 'modules.dep'), 'utf8');
  const re = new RegExp(`^(\\S*/${name.replace(/[-_]/g, '[-_]')}\\.ko(?:\\.(?:xz|zst|gz))?):`, 'm');
  const rel = re.exec(dep)?.[1];
  if (!rel) throw new VmPrereqError(`module ${name} not found in ${root}/lib/modules/${version}/modules.dep`);
  const path = join(root, 'lib/modules', version, rel);
  if (rel.endsWith('.ko')) return readFileSync(path);
  const tool = rel.endsWith('.xz') ? ['xz', '-dc', path] : rel.endsWith('.zst') ? ['zstd', '-dc', path] : ['gzip', '-dc', path];
  return execFileSync(tool[0] as string, tool.slice(1), { maxBuffer: 256 * 1024 * 1024 });
}

/** Build (once per /init content) the gzip'ed newc initramfs; returns its path. */
function prepareInitramfs(dir: string, root: string, version: string, busybox: string): string {
  const hash = createHash('sha256').update(GUEST_INIT).update(INITRAMFS_MODULES.join(',')).update(readFileSync(busybox)).digest('hex').slice(0, 12);
  const out = join(dir, `initrd-${hash}.gz`);
  if (existsSync(out)) return out;
  const staging = join(dir, `initrd-${hash}.tmp`);
  rmSync(staging, { recursive: true, force: true });
  for (const d of ['bin', 'lib/bh-modules', 'proc', 'sys', 'dev', 'lower', 'upper', 'newroot']) mkdirSync(join(staging, d), { recursive: true });
  copyFileSync(busybox, join(staging, 'bin/busybox'));
  chmodSync(join(staging, 'bin/busybox'), 0o755);
  symlinkSync('busybox', join(staging, 'bin/sh'));
  for (const m of INITRAMFS_MODULES) writeFileSync(join(staging, 'lib/bh-modules', `${m}.ko`), moduleBytes(root, version, m));
  writeFileSync(join(staging, 'lib/bh-modules.order'), INITRAMFS_MODULES.join('\n') + '\n');
  writeFileSync(join(staging, 'init'), GUEST_INIT, { mode: 0o755 });
  const tmpOut = `${out}.tmp`;
  sh(['sh', '-c', `find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1 > "$1"`, 'sh', tmpOut], 'building the initramfs (cpio)', staging);
  renameSync(tmpOut, out);
  rmSync(staging, { recursive: true, force: true });
  return out;
}

/**
 * Make sure the kernel, its modules and the initramfs are in the cache; returns their paths.
 * Idempotent; the first call downloads ~70 MB, later calls do no I/O beyond a few stat()s.
 */
export function prepareKernel(opts: { cacheDir?: string; log?: (s: string) => void } = {}): PreparedKernel {
  const { busybox } = checkHostPrereqs();
  const cache = opts.cacheDir ?? defaultCacheDir();
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  mkdirSync(cache, { recursive: true });
  const pkg = resolveKernelPackage();
  const { root, version } = prepareKernelRoot(cache, pkg, log);
  const initrd = prepareInitramfs(join(cache, pkg), root, version, busybox);
  return { pkg, version, root, vmlinuz: join(root, 'boot', `vmlinuz-${version}`), initrd };
}
