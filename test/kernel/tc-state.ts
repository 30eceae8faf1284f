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

/** Raw `tc -j qdisc|class|filter show dev DEV` (+ ingress filters): what a revert must restore exactly. */
export async function snapshot(ns: Netns, dev: string): Promise<string> {
  const parts: string[] = [];
  for (const argv of [
    ['tc', '-j', 'qdisc', 'show', 'dev', dev],
    ['tc', '-j', 'class', 'show', 'dev', dev],
    ['tc', '-j', 'filter', 'show', 'dev', dev],
    ['tc', '-j', 'filter', 'show', 'dev', dev, 'ingress'],
    ['ip', '-j', 'link', 'show'],
  ]) {
    const r = await ns.exec(argv, { allowFail: true });
    parts.push(`$ ${argv.join(' ')}\n${r.stdout}${r.stderr}`);
  }
  return parts.join('\n');
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
