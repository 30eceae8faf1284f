/**
 * Agent-side faults, planned purely: the argv that starts and the argv that restores one fault
 * period. No shell; every name reaching here went through the API validators.
 *
 *   link-down / flap  ip [-n NS] link set dev DEV down   ...   ip [-n NS] link set dev DEV up
 *   blackhole         [ip netns exec NS] nft SCRIPT          ...   [ip netns exec NS] nft add table inet T ; delete table inet T
 *
 * The blackhole is an nftables table of its own, `inet backhaul_fault_<peer>` (one per peer CIDR),
 * with three base chains at priority raw (before conntrack) that drop both directions:
 *
 *   input    saddr in PEER -> drop   (what the peer sends to this host)
 *   output   daddr in PEER -> drop   (what this host sends to the peer)
 *   forward  saddr or daddr in PEER -> drop   (what this host routes to or from the peer)
 *
 * The start is ONE nft invocation, hence one transaction (`add table; delete table; table {...}`:
 * it replaces a table left over by an earlier run instead of appending to it), passed as a single
 * argument so the guard and the journal stay argv-only. Restoring is idempotent: `link set up` on
 * an up link succeeds; `add table T ; delete table T` is one batch that succeeds whether or not
 * T exists, and removes it with its chains.
 */
export type FaultKind = 'link-down' | 'flap' | 'blackhole';

export type FaultRequestInput =
  | { kind: 'link-down'; dev: string; netns?: string; durationMs: number }
  | { kind: 'flap'; dev: string; netns?: string; downMs: number; upMs: number; count: number }
  | { kind: 'blackhole'; peer: string; netns?: string; durationMs: number };

export interface FaultArgv {
  start: string[];
  restore: string[];
}

const ip = (netns: string | undefined): string[] => (netns ? ['ip', '-n', netns] : ['ip']);
const nft = (netns: string | undefined): string[] => (netns ? ['ip', 'netns', 'exec', netns, 'nft'] : ['nft']);

/**
 * The nftables table of a blackhole of `peer` (family inet): `backhaul_fault_` + the CIDR with
 * '.' and ':' as '_' and '/' as '_len' (injective: 'l' and 'n' are not hex digits).
 */
export function blackholeTable(peer: string): string {
  return `backhaul_fault_${peer.replace(/[.:]/g, '_').replace('/', '_len')}`;
}

/** The nft script (one transaction) that installs the blackhole of `peer`. `peer` is a validated address or CIDR. */
export function blackholeScript(peer: string): string {
  const t = blackholeTable(peer);
  const fam = peer.includes(':') ? 'ip6' : 'ip';
  const chain = (name: string, rules: string[]): string =>
    [`  chain ${name} {`, `    type filter hook ${name} priority raw; policy accept;`, ...rules.map((r) => `    ${r}`), '  }'].join('\n');
  return [
    `add table inet ${t}`,
    `delete table inet ${t}`,
    `table inet ${t} {`,
    chain('input', [`${fam} saddr ${peer} counter drop`]),
    chain('output', [`${fam} daddr ${peer} counter drop`]),
    chain('forward', [`${fam} saddr ${peer} counter drop`, `${fam} daddr ${peer} counter drop`]),
    '}',
  ].join('\n');
}

export function planFault(f: FaultRequestInput): FaultArgv {
  if (f.kind === 'blackhole') {
    const t = blackholeTable(f.peer);
    return { start: [...nft(f.netns), blackholeScript(f.peer)], restore: [...nft(f.netns), 'add', 'table', 'inet', t, ';', 'delete', 'table', 'inet', t] };
  }
  return { start: [...ip(f.netns), 'link', 'set', 'dev', f.dev, 'down'], restore: [...ip(f.netns), 'link', 'set', 'dev', f.dev, 'up'] };
}

/** The down/up periods of a fault, in ms (a link-down or blackhole is one period with no up time). */
export function faultPeriods(f: FaultRequestInput): { downMs: number; upMs: number }[] {
  if (f.kind === 'flap') return Array.from({ length: f.count }, (_, i) => ({ downMs: f.downMs, upMs: i < f.count - 1 ? f.upMs : 0 }));
  return [{ downMs: f.durationMs, upMs: 0 }];
}

/** Total time from the first start to the last restore (ms). */
export function faultTotalMs(f: FaultRequestInput): number {
  return faultPeriods(f).reduce((a, p) => a + p.downMs + p.upMs, 0);
}

/** The interface a fault acts on ('' for a blackhole without one): the metric's `iface` label. */
export function faultIface(f: FaultRequestInput): string {
  return f.kind === 'blackhole' ? '' : f.dev;
}

/** Whether `addr` (an IP address) lies inside `cidr` (address or CIDR, same family). Pure. */
export function cidrContains(cidr: string, addr: string): boolean {
  const [net, prefixText] = cidr.split('/') as [string, string | undefined];
  const a = toBits(addr);
  const n = toBits(net);
  if (!a || !n || a.length !== n.length) return false;
  const prefix = prefixText === undefined ? n.length : Number(prefixText);
  return a.slice(0, prefix) === n.slice(0, prefix);
}

function toBits(addr: string): string | null {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(addr)) return addr.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
  if (!addr.includes(':')) return null;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (v4) return toBits(v4[1] as string);
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  return groups.map((g) => parseInt(g || '0', 16).toString(2).padStart(16, '0')).join('');
}
