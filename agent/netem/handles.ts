/**
 * Reserved tc handles and filter priorities of the netem backend. Anything carrying one of these is
 * ours; everything else on an interface is foreign and is never modified or removed.
 *
 *   dev (egress)                                   IFB `bh<hash>` (ingress)
 *   root or a foreign tbf's 1:1                    root
 *    `- htb bac0:  default 10, direct_qlen 1000     `- htb bac0: (same tree, source matches)
 *        |- class bac0:10  rate R ceil R   <- matched (or all) traffic
 *        |   `- leaf bac1: or bac2:  netem ... | pfifo limit N
 *        `- direct (unshaped): excluded and unmatched traffic (flowid bac0:)
 *
 *   dev ingress hook (existing ingress/clsact, else our own ingress ffff:)
 *    `- u32 prio 49152  match u32 0 0  action mirred egress redirect dev bh<hash>
 *
 * The leaf alternates between bac1: and bac2:. A same-kind change that can be expressed with every
 * field explicit is a `change` of the current leaf; anything else (kind change, dropping ecn, a
 * delay distribution table or a slot) grafts a fresh leaf under the other handle with `replace`,
 * which swaps the leaf atomically (no default-qdisc interval, no root graft).
 */

/** Major of our htb (hex, as tc writes it). */
export const HTB_MAJOR = 'bac0';
export const HTB_HANDLE = `${HTB_MAJOR}:`;
/** The class impaired traffic goes to. */
export const IMPAIRED_CLASS = `${HTB_MAJOR}:10`;
/** htb's `default` (hex minor of IMPAIRED_CLASS). */
export const HTB_DEFAULT_MINOR = '10';
/** flowid that sends a packet through htb's direct (unshaped) queue: the qdisc's own handle. */
export const DIRECT_FLOWID = `${HTB_MAJOR}:`;
/** The two leaf handles the leaf alternates between. */
export const LEAF_HANDLES = ['bac1:', 'bac2:'] as const;
/**
 * The child we put back under a foreign tbf on revert when an exact revert is not possible (a tbf
 * with a peakrate; see tbf-revert.ts). tbf replaces a deleted child with noop (which drops
 * everything), so we graft a bfifo with the tbf's own byte limit: the same qdisc the tbf had by
 * default, but visible in `tc qdisc show`; the tbf itself stays byte-identical.
 */
export const RESTORED_CHILD_HANDLE = 'bacf:';
/** htb direct queue length (IFB devices have txqueuelen 32, too short for a burst). */
export const HTB_DIRECT_QLEN = 1000;

/** Filter priorities on our htb. */
export const PRIO_EXCLUDE_V4 = 10;
export const PRIO_EXCLUDE_V6 = 11;
/**
 * With exclude rules, neighbour resolution stays unimpaired too: ARP (any) and IPv6 neighbour
 * discovery (ICMPv6 133-136), so an excluded peer (the management path) can still be resolved
 * while the rest of the traffic sees a 100%-loss phase.
 */
export const PRIO_NEIGHBOUR_ARP = 12;
export const PRIO_NEIGHBOUR_ND = 13;
export const PRIO_MATCH_V4 = 20;
export const PRIO_MATCH_V6 = 21;
/** Catch-all to the direct queue, present only with --match rules (so unmatched passes untouched). */
export const PRIO_CATCH_ALL = 30;

/** Priority of our redirect filter on the device's ingress hook (shared with other users). */
export const PRIO_INGRESS_REDIRECT = 49152;
/** The ingress hook as a filter parent; works for both an `ingress` and a `clsact` qdisc. */
export const INGRESS_PARENT = 'ffff:fff2';

/** Handle of an ingress/clsact qdisc. */
export const INGRESS_HANDLE = 'ffff:';

/** Marker at the start of our IFB's `ifalias`. */
export const IFB_ALIAS_PREFIX = 'backhaul-ifb';
