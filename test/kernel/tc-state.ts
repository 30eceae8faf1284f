/**
 * Reading tc state in the guest for assertions: the raw `tc -j` output (compared byte for byte
 * before and after a revert) and the parsed qdisc list.
 */
import type { Netns } from '../support/netns.js';

export interface TcQdisc {
  kind: string;
  handle: string;
  parent?: string;
  root?: boolean;
  options?: Record<string, unknown>;
}

/**
 * Raw `tc -j qdisc|class|filter show dev DEV` (+ ingress filters) in one `tc -batch` process, and
 * the namespace's links (a leaked IFB shows there): what a revert must restore exactly.
 */
export async function snapshot(ns: Netns, dev: string): Promise<string> {
  const batch = ['qdisc', 'class', 'filter'].map((what) => `${what} show dev ${dev}`).concat(`filter show dev ${dev} ingress`).join('\n') + '\n';
  const tc = await ns.exec(['tc', '-j', '-batch', '-'], { allowFail: true, input: batch });
  const links = await ns.exec(['ip', '-j', 'link', 'show'], { allowFail: true });
  return `$ tc -j -batch (qdisc, class, filter, ingress filter of ${dev})\n${tc.stdout}${tc.stderr}\n$ ip -j link show\n${links.stdout}${links.stderr}`;
}

export async function qdiscs(ns: Netns, dev: string): Promise<TcQdisc[]> {
  const r = await ns.exec(['tc', '-j', 'qdisc', 'show', 'dev', dev]);
  return JSON.parse(r.stdout) as TcQdisc[];
}

/** The netem qdiscs on a device (any parent). */
export async function netems(ns: Netns, dev: string): Promise<TcQdisc[]> {
  return (await qdiscs(ns, dev)).filter((q) => q.kind === 'netem');
}

/** Line-by-line difference of two snapshots, for a readable failure reason. */
export function diffLines(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) out.push(`- ${a[i] ?? ''}\n+ ${b[i] ?? ''}`);
  }
  return out.join('\n');
}

/** Read a nested field of a netem's options (`'delay.delay'`, `'loss-gemodel.p'`). */
export function field(q: TcQdisc | undefined, path: string): unknown {
  let cur: unknown = q?.options;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Compare numbers with a relative tolerance (tc rounds times to µs and percentages to 2^-32). */
export function near(a: unknown, b: number, rel = 1e-6): boolean {
  return typeof a === 'number' && Math.abs(a - b) <= Math.max(Math.abs(b) * rel, 1e-9);
}
