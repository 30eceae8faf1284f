/**
 * Exact revert under a foreign tbf root (pure).
 *
 * Deleting our htb from under a tbf makes the kernel graft `noop` (drops everything). tbf's own
 * default child is a bfifo the kernel creates *invisibly* (not in `tc qdisc show`), and the only way
 * to get one back is `tc qdisc change ... tbf ...` while the child is noop: tbf_change then creates a
 * fresh default bfifo of `limit` bytes. `change` also rewrites every tbf parameter, so it must be
 * given values that leave the kernel's stored state as it was. They come from
 * `tc -raw -d -j qdisc show` (the raw dump, read at revert time; the tbf is never modified while we
 * are grafted under it):
 *
 *   rate      bytes/s, exact (`rate <n>bps`; 64-bit rates included)
 *   limit     bytes, exact (printed only with -raw)
 *   mpu, overhead, linklayer   exact
 *   burst_raw the kernel's buffer in psched ticks (64 ns). tc sends the burst in bytes and the kernel
 *             computes buffer = len * mult >> shift (psched_ratecfg_precompute/psched_l2t_ns); we
 *             search the byte counts that give back the same ticks. Above ~125 Mbit/s several byte
 *             counts do: any of them reads back identically (only the kernel's max_size, which is
 *             not dumped, can differ by less than one 64 ns tick's worth of bytes); we pick the
 *             roundest.
 *
 * Not exact (so revert falls back to a visible bfifo, `RESTORED_CHILD_HANDLE`): a tbf with a
 * peakrate (iproute2's JSON omits the peak rate and its text output rounds it), and a buffer no byte
 * count maps to (set through netlink in ticks by a tool other than tc).
 */
export type TbfRevert =
  | {
      exact: true;
      /** arguments after `tbf` for `tc qdisc change ... root handle H tbf`; empty: nothing to change */
      args: string[];
      limitBytes: number;
    }
  | { exact: false; reason: string; limitBytes: number };

const NSEC_PER_SEC = 1_000_000_000n;
const PSCHED_SHIFT = 6n;

/** The kernel's psched_l2t_ns for a rate config: transmission time of `len` bytes, in ns. */
export function l2tNs(rateBytesPs: bigint, overhead: number, mpu: number, atm: boolean): (len: number) => bigint {
  let factor = NSEC_PER_SEC;
  let shift = 0n;
  let mult = 0n;
  for (;;) {
    mult = factor / rateBytesPs;
    if ((mult & (1n << 31n)) !== 0n || (factor & (1n << 63n)) !== 0n) break;
    factor <<= 1n;
    shift += 1n;
  }
  return (len: number) => {
    let l = BigInt(len) + BigInt(overhead);
    if (l < BigInt(mpu)) l = BigInt(mpu);
    if (atm) l = ((l + 47n) / 48n) * 53n;
    return (l * mult) >> shift;
  };
}

/** Byte counts whose buffer in ticks is `ticks` at this rate config, roundest first (pure). */
export function burstCandidates(rateBytesPs: number, ticks: number, overhead: number, mpu: number, atm: boolean): number[] {
  const l2t = l2tNs(BigInt(rateBytesPs), overhead, mpu, atm);
  const target = BigInt(ticks);
  const est = (ticks * 64 * rateBytesPs) / 1e9;
  // A byte is at least 1/48*53 of a byte on the wire and at most `overhead`/`mpu` off: a window of
  // +-15% + overhead + mpu + one ATM cell around the estimate holds every candidate.
  const lo = Math.max(1, Math.floor(est * 0.85) - overhead - mpu - 64);
  const hi = Math.ceil(est * 1.15) + 64;
  const found: number[] = [];
  for (let b = lo; b <= hi; b++) if (l2t(b) >> PSCHED_SHIFT === target) found.push(b);
  const roundness = (b: number): number => (b % 1024 === 0 ? 4 : b % 1000 === 0 ? 3 : b % 100 === 0 ? 2 : b % 10 === 0 ? 1 : 0);
  return found.sort((a, b) => roundness(b) - roundness(a) || b - a);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * How to put a foreign tbf back as it was, from the options of `tc -raw -d -j qdisc show` (pure).
 * `limitBytes` is the tbf's limit (the size of its default bfifo) in either case.
 */
export function planTbfRevert(raw: Record<string, unknown>): TbfRevert {
  const rate = num(raw['rate']);
  const limit = num(raw['limit']);
  const limitBytes = limit ?? 0;
  if (rate === undefined || rate <= 0 || limit === undefined || typeof raw['burst_raw'] !== 'string') {
    return { exact: false, reason: 'the raw tbf dump lacks rate, limit or burst_raw', limitBytes };
  }
  if (raw['mtu_raw'] !== undefined || raw['peakrate'] !== undefined) {
    return { exact: false, reason: 'tbf has a peakrate, which tc does not print exactly', limitBytes };
  }
  // limit 0: tbf never had a child (it was noop from tbf_init on); deleting ours restores that.
  if (limit === 0) return { exact: true, args: [], limitBytes };
  const ticks = Number.parseInt(raw['burst_raw'], 16);
  const mpu = num(raw['mpu']) ?? 0;
  const overhead = num(raw['overhead']) ?? 0;
  const linklayer = typeof raw['linklayer'] === 'string' ? raw['linklayer'] : 'ethernet';
  if (linklayer !== 'ethernet' && linklayer !== 'atm') return { exact: false, reason: `tbf linklayer ${linklayer}`, limitBytes };
  const burst = burstCandidates(rate, ticks, overhead, mpu, linklayer === 'atm')[0];
  if (burst === undefined) return { exact: false, reason: `no burst in bytes gives the tbf's buffer of ${ticks} ticks`, limitBytes };
  const args = ['rate', `${rate}bps`, 'burst', String(burst), 'limit', String(limit)];
  if (mpu) args.push('mpu', String(mpu));
  if (overhead) args.push('overhead', String(overhead));
  if (linklayer !== 'ethernet') args.push('linklayer', linklayer);
  return { exact: true, args, limitBytes };
}
