/**
 * Live tc state -> `Impairment` (pure), per qdisc's units as `tc -j` prints them:
 *   netem: delay/jitter in seconds, percentages as fractions (0.01 = 1%), rate in bytes/s,
 *          slot delays in seconds (newer tc) ; GE `1-h`/`1-k` printed as the user's 1-h/1-k
 *   htb class (text in iproute2 6.1): rate '5Mbit' (bits/s, 1000-based)
 *   tbf: rate bytes/s, burst bytes, lat microseconds
 * Fields netem does not report (the delay distribution table) cannot be read back: see
 * `unreadable` in ReadBack.
 */
import type { Impairment, Loss } from '../../core/profile.js';
import { IMPAIRED_CLASS } from './handles.js';
import { ourHtb, ourLeaf, type DevTcState } from './live-state.js';
import type { FilterEntry, QdiscEntry } from './tc-json.js';
import { UNLIMITED_RATE_KBIT } from './netem-args.js';
import { canonicalCidr } from './match.js';

/** Fractions (0..1) to percent with netem's 2^-32 resolution cleaned up (0.0099999 -> 1). */
export function fracToPct(f: unknown): number {
  const x = Number(f) * 100;
  return Number(x.toPrecision(6));
}

/** Seconds to milliseconds, cleaned to nanosecond resolution. */
export function secToMs(s: unknown): number {
  return Math.round(Number(s) * 1e9) / 1e6;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** netem's `options` object (tc -j) -> Impairment. Zero-valued fields are omitted. */
export function netemOptionsToImpairment(options: Record<string, unknown>): Impairment {
  const imp: Impairment = {};
  if (typeof options['limit'] === 'number') imp.limitPackets = options['limit'];
  const delay = obj(options['delay']);
  if (delay) {
    const d = secToMs(delay['delay'] ?? 0);
    const j = secToMs(delay['jitter'] ?? 0);
    const c = fracToPct(delay['correlation'] ?? 0);
    if (d > 0) imp.delayMs = d;
    if (j > 0) imp.jitterMs = j;
    if (c > 0) imp.delayCorrelationPct = c;
  }
  let loss: Loss | undefined;
  const lr = obj(options['loss-random']);
  if (lr) {
    const pct = fracToPct(lr['loss'] ?? 0);
    const corr = fracToPct(lr['correlation'] ?? 0);
    if (pct > 0) loss = { model: 'random', pct, ...(corr > 0 ? { correlationPct: corr } : {}) };
  }
  const ge = obj(options['loss-gemodel']);
  if (ge) {
    loss = {
      model: 'gilbert-elliott',
      pPct: fracToPct(ge['p']),
      rPct: fracToPct(ge['r']),
      oneMinusHPct: fracToPct(ge['1-h']),
      oneMinusKPct: fracToPct(ge['1-k']),
    };
  }
  const st = obj(options['loss-state']);
  if (st) {
    loss = {
      model: '4-state',
      p13Pct: fracToPct(st['p13']),
      p31Pct: fracToPct(st['p31']),
      p32Pct: fracToPct(st['p32']),
      p23Pct: fracToPct(st['p23']),
      p14Pct: fracToPct(st['p14']),
    };
  }
  if (loss) imp.loss = loss;
  if (options['ecn'] === true) imp.ecn = true;
  const pair = (key: string, pctKey: keyof Impairment, corrKey: keyof Impairment): void => {
    const o = obj(options[key]);
    if (!o) return;
    const p = fracToPct(o[key] ?? 0);
    const c = fracToPct(o['correlation'] ?? 0);
    if (p > 0) (imp as Record<string, unknown>)[pctKey] = p;
    if (p > 0 && c > 0) (imp as Record<string, unknown>)[corrKey] = c;
  };
  pair('duplicate', 'duplicatePct', 'duplicateCorrelationPct');
  pair('corrupt', 'corruptPct', 'corruptCorrelationPct');
  pair('reorder', 'reorderPct', 'reorderCorrelationPct');
  // tc turns `reorder P` without a gap into gap 1 (every packet eligible): the same as no gap.
  if (typeof options['gap'] === 'number' && options['gap'] > 1 && imp.reorderPct !== undefined) imp.reorderGap = options['gap'];
  const rate = obj(options['rate']);
  if (rate && Number(rate['rate'] ?? 0) > 0) {
    // Any netem rate keeps order (sch_netem.c: the last queued packet is the reference), so say so.
    // A rate of ORDER_RATE (100 Gbit/s) or more without overhead/cells is only there for that
    // (netem-args.ts orderRateKbit): the shaping rate is the htb class's, read below.
    imp.keepOrder = true;
    const kbit = (Number(rate['rate']) * 8) / 1000;
    const num = (k: string): number | undefined => (typeof rate[k] === 'number' && rate[k] !== 0 ? rate[k] : undefined);
    const oh = num('packetoverhead');
    const cell = num('cellsize');
    const cellOh = num('celloverhead');
    if (kbit < UNLIMITED_RATE_KBIT || oh !== undefined || cell !== undefined || cellOh !== undefined) {
      imp.rateKbit = kbit;
      if (oh !== undefined) imp.packetOverheadBytes = oh;
      if (cell !== undefined) imp.cellSizeBytes = cell;
      if (cellOh !== undefined) imp.cellOverheadBytes = cellOh;
    }
  }
  const slot = obj(options['slot']);
  if (slot) {
    const s: NonNullable<Impairment['slot']> = { minDelayMs: secToMs(slot['min-delay'] ?? 0) };
    if (slot['max-delay'] !== undefined) s.maxDelayMs = secToMs(slot['max-delay']);
    if (typeof slot['packets'] === 'number' && slot['packets'] > 0) s.packets = slot['packets']; // 0 = no packet limit
    if (typeof slot['bytes'] === 'number' && slot['bytes'] > 0) s.bytes = slot['bytes']; // 0 = no byte limit
    imp.slot = s;
  }
  if (typeof options['seed'] === 'number') imp.seed = options['seed'];
  return imp;
}

/** What status shows for one device of ours. */
export interface ReadBack {
  impairment: Impairment;
  /** 'netem' | 'pfifo' | ... : the leaf kind; undefined when our htb has no leaf of ours */
  leafKind?: string;
  leafHandle?: string;
  /** where our htb hangs: 'root' or the foreign parent class ('1:1') */
  attachedAt: string;
  /** fields the kernel does not report back */
  unreadable: string[];
}

/** Read our tree on one device back into an Impairment; null when our htb is not there. */
export function readBack(state: DevTcState): ReadBack | null {
  const htb = ourHtb(state.qdiscs);
  if (!htb) return null;
  const leaf: QdiscEntry | undefined = ourLeaf(state.qdiscs);
  let impairment: Impairment = {};
  const unreadable: string[] = [];
  if (leaf?.kind === 'netem') {
    impairment = netemOptionsToImpairment(leaf.options);
    if (impairment.jitterMs !== undefined) unreadable.push('distribution');
  } else if (leaf && (leaf.kind === 'pfifo' || leaf.kind === 'bfifo') && typeof leaf.options['limit'] === 'number') {
    impairment.limitPackets = leaf.options['limit'];
  }
  const cls = state.classes.find((c) => c.classid === IMPAIRED_CLASS);
  if (cls && cls.rateBps > 0 && cls.rateBps < UNLIMITED_RATE_KBIT * 1000 && impairment.rateKbit === undefined) {
    impairment.rateKbit = cls.rateBps / 1000;
  }
  return {
    impairment,
    ...(leaf ? { leafKind: leaf.kind, leafHandle: leaf.handle } : {}),
    attachedAt: htb.root ? 'root' : (htb.parent ?? '?'),
    unreadable,
  };
}

/** A u32 key decoded back into what it selects (for status). */
export interface DecodedSelector {
  family: 4 | 6 | 'any';
  src?: string;
  dst?: string;
  protocol?: number;
  sport?: number;
  dport?: number;
  flowid?: string;
  pref: number;
}

function hexToBytes(value: string, width = 4): number[] {
  const n = parseInt(value, 16) >>> 0;
  return Array.from({ length: width }, (_, i) => (n >>> (8 * (width - 1 - i))) & 0xff);
}

function maskBits(mask: string): number {
  let n = parseInt(mask, 16) >>> 0;
  let bits = 0;
  while (n) {
    bits += n & 1;
    n >>>= 1;
  }
  return bits;
}

/**
 * Decode our u32 filters (ip: src@12 dst@16 protocol@8/0x00ff0000 ports@20; ip6: src@8..20,
 * dst@24..36, next header@4/0x0000ff00, ports@40) into selectors. Pure.
 */
export function decodeSelector(f: FilterEntry): DecodedSelector {
  const sel: DecodedSelector = { family: f.protocol === 'ip' ? 4 : f.protocol === 'ipv6' ? 6 : 'any', pref: f.pref };
  if (f.flowid) sel.flowid = f.flowid;
  if (sel.family === 4) {
    for (const k of f.keys) {
      const bytes = hexToBytes(k.value);
      if (k.off === 12 || k.off === 16) {
        const cidr = `${bytes.join('.')}/${maskBits(k.mask)}`;
        if (k.off === 12) sel.src = cidr;
        else sel.dst = cidr;
      } else if (k.off === 8 && k.mask === 'ff0000') sel.protocol = bytes[1];
      else if (k.off === 20 && k.mask === 'ffff') sel.dport = parseInt(k.value, 16);
      else if (k.off === 20 && k.mask === 'ffff0000') sel.sport = parseInt(k.value, 16) >>> 16;
    }
  } else if (sel.family === 6) {
    const src: number[] = new Array<number>(16).fill(0);
    const dst: number[] = new Array<number>(16).fill(0);
    let srcBits = -1;
    let dstBits = -1;
    for (const k of f.keys) {
      if (k.off >= 8 && k.off <= 20) {
        hexToBytes(k.value).forEach((b, i) => (src[k.off - 8 + i] = b));
        srcBits = Math.max(srcBits, 0) + maskBits(k.mask);
      } else if (k.off >= 24 && k.off <= 36) {
        hexToBytes(k.value).forEach((b, i) => (dst[k.off - 24 + i] = b));
        dstBits = Math.max(dstBits, 0) + maskBits(k.mask);
      } else if (k.off === 4 && k.mask === 'ff00') sel.protocol = parseInt(k.value, 16) >>> 8;
      else if (k.off === 40 && k.mask === 'ffff') sel.dport = parseInt(k.value, 16);
      else if (k.off === 40 && k.mask === 'ffff0000') sel.sport = parseInt(k.value, 16) >>> 16;
    }
    const v6 = (b: number[]): string =>
      Array.from({ length: 8 }, (_, i) => (((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0)).toString(16)).join(':');
    if (srcBits >= 0) sel.src = canonicalCidr(`${v6(src)}/${srcBits}`);
    if (dstBits >= 0) sel.dst = canonicalCidr(`${v6(dst)}/${dstBits}`);
  }
  return sel;
}
