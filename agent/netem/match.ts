/**
 * Traffic selection with u32 only (matchall, flower and prio are missing on kernels we target).
 *
 * A rule is `peer=CIDR[,port=N][,proto=tcp|udp]`: the peer is the remote end, so on egress it is
 * the destination (`match ip dst`, port = destination port) and on ingress (on the IFB) the source
 * (`match ip src`, port = source port). IPv4 rules go to a `protocol ip` filter, IPv6 rules to a
 * `protocol ipv6` filter (`match ip6 ...`). A port without proto matches TCP and UDP (two filters),
 * never other protocols that happen to carry the same bytes at that offset. Port matches assume no
 * IPv4 options / IPv6 extension headers (u32 offsets are fixed), as every u32 port match does.
 */
import { isIP } from 'node:net';
import { BackhaulError } from '../../core/errors.js';
import type { MatchRule } from '../backend.js';
import type { Direction } from '../../core/profile.js';

export interface ParsedCidr {
  family: 4 | 6;
  address: string;
  prefix: number;
}

function invalid(text: string, why: string): never {
  throw new BackhaulError('ERR_INVALID_MATCH', `invalid match rule ${JSON.stringify(text)}: ${why}`, {
    rule: text,
    hint: 'use peer=CIDR[,port=N][,proto=tcp|udp], e.g. peer=10.20.0.0/16,port=443 or peer=2001:db8::/32',
  });
}

/** '10.0.0.0/8' | '10.1.2.3' | '2001:db8::/32' -> family, address, prefix. Host bits must be zero. */
export function parseCidr(text: string): ParsedCidr {
  const [addr, pfx, extra] = text.split('/');
  if (addr === undefined || extra !== undefined) invalid(text, 'not an address or CIDR');
  const family = isIP(addr);
  if (family !== 4 && family !== 6) invalid(text, `"${addr}" is not an IPv4 or IPv6 address`);
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (pfx !== undefined) {
    if (!/^\d{1,3}$/.test(pfx) || Number(pfx) > max) invalid(text, `prefix length must be 0..${max}`);
    prefix = Number(pfx);
  }
  const bits = addressBits(addr, family);
  for (let i = prefix; i < max; i++) {
    if (bits[i]) invalid(text, `host bits set after /${prefix} (did you mean ${networkOf(bits, prefix, family)}/${prefix}?)`);
  }
  return { family, address: addr, prefix };
}

function addressBits(addr: string, family: 4 | 6): number[] {
  const bytes: number[] = [];
  if (family === 4) bytes.push(...addr.split('.').map(Number));
  else {
    const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
    const hs = head ? head.split(':') : [];
    const ts = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const expand = (groups: string[]): number[] =>
      groups.flatMap((g) => {
        if (g.includes('.')) return g.split('.').map(Number); // embedded IPv4
        const v = parseInt(g, 16);
        return [v >> 8, v & 0xff];
      });
    const hb = expand(hs);
    const tb = expand(ts);
    bytes.push(...hb, ...new Array<number>(16 - hb.length - tb.length).fill(0), ...tb);
  }
  return bytes.flatMap((b) => Array.from({ length: 8 }, (_, i) => (b >> (7 - i)) & 1));
}

function networkOf(bits: number[], prefix: number, family: 4 | 6): string {
  const b = bits.map((v, i) => (i < prefix ? v : 0));
  const bytes = Array.from({ length: b.length / 8 }, (_, i) => b.slice(i * 8, i * 8 + 8).reduce((a, v) => a * 2 + v, 0));
  if (family === 4) return bytes.join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

/** A CIDR in one canonical spelling (network address, IPv6 fully expanded, lower case). */
export function canonicalCidr(text: string): string {
  const c = parseCidr(text);
  return `${networkOf(addressBits(c.address, c.family), c.prefix, c.family)}/${c.prefix}`;
}

/** A CIDR for people: IPv6 with the longest run of zero groups written as '::' (RFC 5952). */
export function displayCidr(text: string): string {
  const [addr, pfx] = text.split('/');
  if (!addr || !addr.includes(':') || addr.includes('::')) return text;
  const groups = addr.split(':').map((g) => g.replace(/^0+(?=.)/, '').toLowerCase());
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const out = best < 0 ? groups.join(':') : `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  return pfx !== undefined ? `${out}/${pfx}` : out;
}

/** Parse `peer=CIDR[,port=N][,proto=tcp|udp]` (the CLI's --match/--exclude value). */
export function parseMatchRule(text: string): MatchRule {
  const rule: Partial<MatchRule> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) invalid(text, `"${part}" is not key=value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key in rule) invalid(text, `${key} given twice`);
    if (key === 'peer') {
      parseCidr(value);
      rule.peer = value;
    } else if (key === 'port') {
      if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) invalid(text, 'port must be 1..65535');
      rule.port = Number(value);
    } else if (key === 'localPort') {
      if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) invalid(text, 'localPort must be 1..65535');
      rule.localPort = Number(value);
    } else if (key === 'proto') {
      if (value !== 'tcp' && value !== 'udp') invalid(text, 'proto must be tcp or udp');
      rule.proto = value;
    } else invalid(text, `unknown key "${key}" (expected peer, port, localPort, proto)`);
  }
  if (rule.peer === undefined) invalid(text, 'peer=CIDR is required');
  if (rule.proto !== undefined && rule.port === undefined && rule.localPort === undefined) invalid(text, 'proto needs a port');
  return rule as MatchRule;
}

/** Validate an already-structured rule (API bodies): same rules as parseMatchRule. */
export function validateMatchRule(rule: MatchRule): MatchRule {
  return parseMatchRule(formatMatchRule(rule));
}

export function formatMatchRule(rule: MatchRule): string {
  return [`peer=${rule.peer}`, rule.port !== undefined ? `port=${rule.port}` : '', rule.localPort !== undefined ? `localPort=${rule.localPort}` : '',
    rule.proto ? `proto=${rule.proto}` : '']
    .filter(Boolean)
    .join(',');
}

export interface U32Selector {
  family: 4 | 6;
  /** tokens after `u32` and before `flowid`/`action`, e.g. ['match','ip','dst','10.0.0.0/8', ...]. */
  tokens: string[];
}

const PROTO_NUMBER = { tcp: '6', udp: '17' } as const;

/**
 * u32 selectors for one rule in one direction (egress: peer = destination; ingress: peer = source).
 * One selector per protocol when a port is given without proto.
 */
export function u32Selectors(rule: MatchRule, direction: Direction): U32Selector[] {
  const cidr = parseCidr(rule.peer);
  const fam = cidr.family === 4 ? 'ip' : 'ip6';
  const side = direction === 'egress' ? 'dst' : 'src';
  const portSide = direction === 'egress' ? 'dport' : 'sport';
  // localPort (this node's port: the agent API, SSH) is the other side: source on egress, destination on ingress.
  const localSide = direction === 'egress' ? 'sport' : 'dport';
  const base = ['match', fam, side, `${cidr.address}/${cidr.prefix}`];
  if (rule.port === undefined && rule.localPort === undefined) return [{ family: cidr.family, tokens: base }];
  const protos = rule.proto ? [rule.proto] : (['tcp', 'udp'] as const);
  return protos.map((p) => ({
    family: cidr.family,
    tokens: [...base, 'match', fam, 'protocol', PROTO_NUMBER[p], '0xff',
      ...(rule.port !== undefined ? ['match', fam, portSide, String(rule.port), '0xffff'] : []),
      ...(rule.localPort !== undefined ? ['match', fam, localSide, String(rule.localPort), '0xffff'] : [])],
  }));
}
