/**
 * Readers for what `tc -j` and `ip -j` print. Pure. tc's JSON has quirks:
 * - u32 filters repeat the key "match" inside one object (one per key), which JSON.parse would
 *   collapse to the last one; `parseJsonDup` keeps every value (a repeated key becomes an array).
 * - each u32 filter prints three objects (the classifier, its hash table, the node); only the node
 *   carries options with match/actions.
 * - iproute2 6.1 prints htb classes as text even with -j (see parseClassText).
 */

/** JSON.parse, except that a key repeated in one object collects its values into an array. */
export function parseJsonDup(text: string): unknown {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`invalid JSON at offset ${i}: ${what}`);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      const dups = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        const k = value();
        if (typeof k !== 'string') fail('object key');
        ws();
        if (text[i] !== ':') fail('":"');
        i++;
        const v = value();
        const key = k as string;
        if (Object.prototype.hasOwnProperty.call(obj, key)) {
          if (!dups.has(key)) {
            obj[key] = [obj[key]];
            dups.add(key);
          }
          (obj[key] as unknown[]).push(v);
        } else obj[key] = v;
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail('"," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail('"," or "]"');
      }
    }
    if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
      if (!m) return fail('string');
      i += m[0].length;
      return JSON.parse(m[0]) as string;
    }
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) return fail('value');
    i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  };
  const out = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return out;
}

/** tc prints nothing at all for some empty dumps; treat blank output as an empty list. */
function parseList(text: string): Record<string, unknown>[] {
  if (text.trim() === '') return [];
  const v = parseJsonDup(text);
  if (!Array.isArray(v)) throw new SyntaxError('expected a JSON array');
  return v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null);
}

export interface QdiscEntry {
  kind: string;
  handle: string;
  /** Parent handle ('1:1', 'ffff:fff1'); absent for the root. */
  parent?: string;
  root: boolean;
  options: Record<string, unknown>;
}

/** `tc -j qdisc show dev X`. */
export function parseQdiscs(text: string): QdiscEntry[] {
  return parseList(text).map((q) => ({
    kind: String(q['kind'] ?? ''),
    handle: String(q['handle'] ?? ''),
    ...(typeof q['parent'] === 'string' ? { parent: q['parent'] } : {}),
    root: q['root'] === true,
    options: (typeof q['options'] === 'object' && q['options'] !== null ? q['options'] : {}) as Record<string, unknown>,
  }));
}

export interface U32Key {
  /** hex strings as tc prints them */
  value: string;
  mask: string;
  off: number;
}

export interface FilterAction {
  kind: string;
  /** mirred: 'redirect' | 'mirror' */
  mirredAction?: string;
  direction?: string;
  toDev?: string;
}

export interface FilterEntry {
  parent?: string;
  protocol: string;
  pref: number;
  kind: string;
  /** u32 node handle, e.g. '800::800' */
  fh?: string;
  flowid?: string;
  keys: U32Key[];
  actions: FilterAction[];
}

function asArray(v: unknown): unknown[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** `tc -j filter show dev X parent P`: the u32 nodes (entries that carry a match or an action). */
export function parseFilters(text: string): FilterEntry[] {
  const out: FilterEntry[] = [];
  for (const f of parseList(text)) {
    const o = f['options'] as Record<string, unknown> | undefined;
    if (!o || (o['match'] === undefined && o['actions'] === undefined && o['flowid'] === undefined)) continue;
    const keys = asArray(o['match']).map((m) => {
      const k = m as Record<string, unknown>;
      return { value: String(k['value'] ?? ''), mask: String(k['mask'] ?? ''), off: Number(k['off'] ?? 0) };
    });
    const actions = asArray(o['actions']).map((a) => {
      const x = a as Record<string, unknown>;
      return {
        kind: String(x['kind'] ?? ''),
        ...(typeof x['mirred_action'] === 'string' ? { mirredAction: x['mirred_action'] } : {}),
        ...(typeof x['direction'] === 'string' ? { direction: x['direction'] } : {}),
        ...(typeof x['to_dev'] === 'string' ? { toDev: x['to_dev'] } : {}),
      };
    });
    out.push({
      ...(typeof f['parent'] === 'string' ? { parent: f['parent'] } : {}),
      protocol: String(f['protocol'] ?? ''),
      pref: Number(f['pref'] ?? 0),
      kind: String(f['kind'] ?? ''),
      ...(typeof o['fh'] === 'string' ? { fh: o['fh'] } : {}),
      ...(typeof o['flowid'] === 'string' ? { flowid: o['flowid'] } : {}),
      keys,
      actions,
    });
  }
  return out;
}

export interface HtbClass {
  classid: string;
  parent?: string;
  leaf?: string;
  /** bits per second */
  rateBps: number;
  ceilBps: number;
  burstBytes?: number;
}

const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12 };

/** tc's sprint_rate output ('5Mbit', '100Gbit', '1.5Kbit', '800bit') -> bits per second. */
export function parseTcRateText(s: string): number {
  const m = /^([\d.]+)([KMGT]?bit)$/i.exec(s);
  if (!m) throw new SyntaxError(`not a tc rate: ${s}`);
  const unit = RATE_UNITS[(m[2] as string).toLowerCase()];
  return Math.round(Number(m[1]) * (unit ?? 1));
}

/** tc's sprint_size output ('3026b', '4Kb', '1Mb') -> bytes. */
export function parseTcSizeText(s: string): number {
  const m = /^([\d.]+)([KMG]?b)(?:\/\d+)?$/i.exec(s);
  if (!m) throw new SyntaxError(`not a tc size: ${s}`);
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] as string).toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

/**
 * `tc [-j] class show dev X` for htb classes. iproute2 6.1 prints text even with -j:
 *   class htb bac0:10 root leaf bac1: prio 0 rate 5Mbit ceil 5Mbit burst 3026b cburst 3026b
 * Newer versions print JSON with rate/ceil in bytes per second; both are accepted.
 */
export function parseClasses(text: string): HtbClass[] {
  const t = text.trim();
  if (t.startsWith('[')) {
    return parseList(t)
      .filter((c) => c['class'] === 'htb')
      .map((c) => ({
        classid: String(c['handle'] ?? ''),
        ...(typeof c['parent'] === 'string' ? { parent: c['parent'] } : {}),
        ...(typeof c['leaf'] === 'string' ? { leaf: c['leaf'] } : {}),
        rateBps: Number(c['rate'] ?? 0) * 8,
        ceilBps: Number(c['ceil'] ?? 0) * 8,
        ...(typeof c['burst'] === 'number' ? { burstBytes: c['burst'] } : {}),
      }));
  }
  const out: HtbClass[] = [];
  for (const line of t.split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w[0] !== 'class' || w[1] !== 'htb' || !w[2]) continue;
    const after = (k: string): string | undefined => {
      const idx = w.indexOf(k);
      return idx >= 0 ? w[idx + 1] : undefined;
    };
    const rate = after('rate');
    const ceil = after('ceil');
    const burst = after('burst');
    const parent = after('parent');
    const leaf = after('leaf');
    out.push({
      classid: w[2],
      ...(parent ? { parent } : {}),
      ...(leaf ? { leaf } : {}),
      rateBps: rate ? parseTcRateText(rate) : 0,
      ceilBps: ceil ? parseTcRateText(ceil) : 0,
      ...(burst ? { burstBytes: parseTcSizeText(burst) } : {}),
    });
  }
  return out;
}

export interface LinkEntry {
  ifname: string;
  alias?: string;
  kind?: string;
  up: boolean;
}

/** `ip -j [-d] link show [dev X]`. */
export function parseLinks(text: string): LinkEntry[] {
  return parseList(text).map((l) => {
    const info = l['linkinfo'] as Record<string, unknown> | undefined;
    const flags = Array.isArray(l['flags']) ? (l['flags'] as unknown[]) : [];
    return {
      ifname: String(l['ifname'] ?? ''),
      ...(typeof l['ifalias'] === 'string' ? { alias: l['ifalias'] } : {}),
      ...(info && typeof info['info_kind'] === 'string' ? { kind: info['info_kind'] } : {}),
      up: flags.includes('UP'),
    };
  });
}
