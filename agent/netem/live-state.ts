/**
 * The live tc state of a target, as read by the runner (`readLiveState`) and consumed by the pure
 * planner. Plus the pure analysis of it: where our htb hangs, whose root it is, what our leaf is.
 */
import { BackhaulError } from '../../core/errors.js';
import {
  HTB_HANDLE, IMPAIRED_CLASS, INGRESS_HANDLE, LEAF_HANDLES, PRIO_INGRESS_REDIRECT, RESTORED_CHILD_HANDLE,
} from './handles.js';
import { planTbfRevert, type TbfRevert } from './tbf-revert.js';
import type { FilterEntry, HtbClass, QdiscEntry } from './tc-json.js';

export interface DevTcState {
  /** `tc -j qdisc show dev X` */
  qdiscs: QdiscEntry[];
  /** classes of our htb (empty when there is none) */
  classes: HtbClass[];
  /** filters attached to our htb bac0: */
  filters: FilterEntry[];
  /**
   * Options of a tbf root from `tc -raw -d -j qdisc show` (exact limit and buffer ticks), read only
   * when the root is a tbf: what an exact revert under it needs (tbf-revert.ts).
   */
  tbfRaw?: Record<string, unknown>;
  /**
   * The tbf root has no child at all, not even its invisible default bfifo: it is on `noop` and
   * drops everything. Only an interrupted exact revert (ours deleted, the tbf not yet changed)
   * leaves that; revert finishes it. From `tc qdisc show invisible`.
   */
  tbfNoopChild?: boolean;
}

export interface IfbState extends DevTcState {
  name: string;
  alias?: string;
}

export interface LiveState {
  dev: DevTcState & {
    /** filters on the ingress hook (ffff:fff2), present when an ingress/clsact qdisc exists */
    ingressFilters: FilterEntry[];
  };
  /** the device named like our IFB, when it exists (ours or not: check the alias) */
  ifb: IfbState | null;
}

/** An empty device (kernel default root, nothing else): what a fresh interface looks like. */
export function emptyDevState(rootKind = 'noqueue'): DevTcState {
  return { qdiscs: [{ kind: rootKind, handle: '0:', root: true, options: {} }], classes: [], filters: [] };
}

export function rootQdisc(qdiscs: QdiscEntry[]): QdiscEntry | undefined {
  return qdiscs.find((q) => q.root);
}

export function ourHtb(qdiscs: QdiscEntry[]): QdiscEntry | undefined {
  return qdiscs.find((q) => q.handle === HTB_HANDLE && q.kind === 'htb');
}

export function ourLeaf(qdiscs: QdiscEntry[]): QdiscEntry | undefined {
  return qdiscs.find((q) => q.parent === IMPAIRED_CLASS && (LEAF_HANDLES as readonly string[]).includes(q.handle));
}

export function ingressQdisc(qdiscs: QdiscEntry[]): QdiscEntry | undefined {
  return qdiscs.find((q) => q.handle === INGRESS_HANDLE && (q.kind === 'ingress' || q.kind === 'clsact'));
}

/** Our redirect on the ingress hook: the filter at our priority that redirects to `ifb`. */
export function ourRedirect(filters: FilterEntry[], ifb: string): FilterEntry | undefined {
  return filters.find((f) => f.pref === PRIO_INGRESS_REDIRECT && f.actions.some((a) => a.kind === 'mirred' && a.toDev === ifb));
}

/** tbf and netem have exactly one class (:1) and take any child qdisc. */
const GRAFTABLE_FOREIGN_ROOTS = new Set(['tbf', 'netem']);

export type AttachPoint =
  | { mode: 'root'; /** the root we replace, when it is a kernel default */ replacing?: QdiscEntry }
  | {
      mode: 'graft';
      /** e.g. '1:1' */
      parent: string;
      foreign: QdiscEntry;
      /** how revert puts a foreign tbf back (tbf-revert.ts); null for netem (takes no action) */
      restore: TbfRevert | null;
    };

/** How to revert under a foreign root: exact `change` of a tbf when its raw dump allows, else a bfifo. */
function tbfRestore(state: DevTcState, foreign: QdiscEntry): TbfRevert | null {
  if (foreign.kind !== 'tbf') return null;
  if (state.tbfRaw) return planTbfRevert(state.tbfRaw);
  return { exact: false, reason: 'no raw tbf dump was read', limitBytes: tbfLimitBytes(foreign) };
}

/** The child classid of a single-class foreign root: '1:' -> '1:1'. */
function childClassOf(handle: string): string {
  return `${handle.replace(/:$/, '')}:1`;
}

/**
 * tbf's default child is a bfifo of tbf's byte limit. `tc -j` shows rate (bytes/s), burst (bytes)
 * and lat (us) but not the limit; tc computed lat from it as (limit - burst) / rate, so
 * limit = rate * lat + burst (within a byte of rounding). Used only without the raw dump.
 */
export function tbfLimitBytes(tbf: QdiscEntry): number {
  const o = tbf.options;
  const rate = Number(o['rate'] ?? 0);
  const burst = typeof o['burst'] === 'number' ? o['burst'] : 0;
  const latUs = Number(o['lat'] ?? 0);
  return Math.max(1514, Math.round((rate * latUs) / 1e6 + burst));
}

/**
 * Where our htb goes on a device (pure). Kernel defaults (any root with handle 0:, e.g. noqueue,
 * pfifo_fast, mq, fq_codel) are replaced; our own htb is reused; a foreign tbf/netem root takes our
 * htb as its child (if its child is the default, ours, or the bfifo we put back earlier);
 * anything else is refused with ERR_FOREIGN_ROOT.
 */
export function attachPoint(state: DevTcState, dev: string): AttachPoint {
  const root = rootQdisc(state.qdiscs);
  const htb = ourHtb(state.qdiscs);
  if (htb) {
    if (htb.root) return { mode: 'root' };
    const parentHandle = htb.parent ? `${htb.parent.split(':')[0]}:` : '';
    const foreign = state.qdiscs.find((q) => q.handle === parentHandle);
    if (foreign && htb.parent) {
      return { mode: 'graft', parent: htb.parent, foreign, restore: tbfRestore(state, foreign) };
    }
  }
  if (!root || root.handle === '0:') return root ? { mode: 'root', replacing: root } : { mode: 'root' };
  if (GRAFTABLE_FOREIGN_ROOTS.has(root.kind)) {
    const parent = childClassOf(root.handle);
    const child = state.qdiscs.find((q) => q.parent === parent);
    if (!child || child.handle === RESTORED_CHILD_HANDLE || child.handle === HTB_HANDLE) {
      return { mode: 'graft', parent, foreign: root, restore: tbfRestore(state, root) };
    }
    throw new BackhaulError(
      'ERR_FOREIGN_ROOT',
      `${dev} has a root ${root.kind} ${root.handle} with a child ${child.kind} ${child.handle} that backhaul did not create; refusing to replace it`,
      { dev, root: root.kind, rootHandle: root.handle, child: child.kind, childHandle: child.handle,
        hint: `remove the child (tc qdisc del dev ${dev} parent ${parent}) if it is not needed, or impair another interface` },
    );
  }
  throw new BackhaulError(
    'ERR_FOREIGN_ROOT',
    `${dev} has a root qdisc ${root.kind} ${root.handle} that backhaul did not create; backhaul replaces only kernel-default roots and grafts under tbf or netem`,
    { dev, root: root.kind, rootHandle: root.handle,
      hint: `if that qdisc is not needed, remove it first (tc qdisc del dev ${dev} root); a classful root such as htb or hfsc is ambiguous (which class?) and is never modified` },
  );
}

/** Parent argument for our htb at an attach point: ['root'] or ['parent', '1:1']. */
export function attachArgs(ap: AttachPoint): string[] {
  return ap.mode === 'root' ? ['root'] : ['parent', ap.parent];
}
