/**
 * Names that reach tc/ip argv: interface and network-namespace names are validated here, once, at
 * the edge (CLI flags, API bodies). Nothing is ever passed through a shell, but a name that the
 * kernel would refuse (or that tc would read as a keyword) is rejected with a clear message.
 */
import { createHash } from 'node:crypto';
import { BackhaulError } from '../../core/errors.js';
import { IFB_ALIAS_PREFIX } from './handles.js';

/** IFNAMSIZ - 1. */
export const MAX_IFNAME = 15;

/**
 * Kernel rules (net/core/dev.c dev_valid_name): 1..15 bytes, not '.' or '..', no '/', ':' or
 * whitespace. We also refuse control characters, quotes, shell metacharacters and names starting
 * with '-' (read as an option by ip/tc), which the kernel allows but no sane interface uses.
 */
export function validateInterfaceName(name: unknown, what = 'interface'): string {
  const fail = (why: string): never => {
    throw new BackhaulError('ERR_INVALID_INTERFACE', `invalid ${what} name ${JSON.stringify(name)}: ${why}`, {
      name,
      hint: 'interface names are 1..15 characters of letters, digits and . _ - @ (no spaces, "/" or ":")',
    });
  };
  if (typeof name !== 'string' || name.length === 0) return fail('empty');
  if (Buffer.byteLength(name, 'utf8') > MAX_IFNAME) return fail(`longer than ${MAX_IFNAME} characters`);
  if (name === '.' || name === '..') return fail('"." and ".." are not interface names');
  if (/[\s/:]/.test(name)) return fail('contains whitespace, "/" or ":"');
  if (!/^[A-Za-z0-9._@-]+$/.test(name)) return fail('contains characters other than letters, digits and . _ - @');
  if (name.startsWith('-')) return fail('starts with "-"');
  return name;
}

/**
 * `ip netns` names are file names under /run/netns: 1..255 bytes, no '/', not '.'/'..'. We accept
 * the conservative subset letters, digits, . _ - (at most 64 characters, not starting with '-').
 */
export function validateNetnsName(name: unknown): string {
  const fail = (why: string): never => {
    throw new BackhaulError('ERR_INVALID_NETNS', `invalid network namespace name ${JSON.stringify(name)}: ${why}`, {
      name,
      hint: 'namespace names are 1..64 characters of letters, digits and . _ -',
    });
  };
  if (typeof name !== 'string' || name.length === 0) return fail('empty');
  if (name.length > 64) return fail('longer than 64 characters');
  if (name === '.' || name === '..') return fail('"." and ".." are not namespace names');
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return fail('contains characters other than letters, digits and . _ -');
  if (name.startsWith('-')) return fail('starts with "-"');
  return name;
}

/**
 * The IFB device that carries `dev`'s ingress: `bh` + 8 hex of sha256(netns/dev), 10 characters,
 * stable across runs (so clear finds it) and distinct per device.
 */
export function ifbNameFor(dev: string, netns?: string): string {
  const h = createHash('sha256').update(`${netns ?? ''}/${dev}`).digest('hex');
  return `bh${h.slice(0, 8)}`;
}

/** What our IFB's alias records: whose ingress it carries, and whether we added the ingress qdisc. */
export interface IfbAlias {
  dev: string;
  ownsIngressQdisc: boolean;
}

export function formatIfbAlias(a: IfbAlias): string {
  return `${IFB_ALIAS_PREFIX} dev=${a.dev} ingress-qdisc=${a.ownsIngressQdisc ? 'ours' : 'shared'}`;
}

/** Parse an alias written by formatIfbAlias; null when it is not ours. */
export function parseIfbAlias(alias: string | undefined): IfbAlias | null {
  if (!alias) return null;
  const m = /^backhaul-ifb dev=(\S+) ingress-qdisc=(ours|shared)$/.exec(alias.trim());
  if (!m) return null;
  return { dev: m[1] as string, ownsIngressQdisc: m[2] === 'ours' };
}
