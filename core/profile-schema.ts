/**
 * zod 4 schemas for the YAML profile format (human field names and units, see docs/profile.md).
 * Each direction block parses into an `ImpairmentPatch`: `none` becomes `null` ("remove the
 * base's field"), and removing a field also removes the fields that only make sense with it
 * (`delay: none` also removes jitter, correlation and distribution). Cross-field rules live in
 * profile-rules.ts; this file checks each field on its own (type, unit, range).
 */
import * as z from 'zod';
import type { Distribution, FourStateLoss, GilbertElliottLoss, ImpairmentPatch, Loss, Slot } from './profile.js';
import { parseDurationMs, parsePct, parseRateKbit, parseSizeBytes, UnitError } from './units.js';

/** The YAML field names of a direction block, in documentation order. */
export const DIRECTION_FIELDS = [
  'delay',
  'jitter',
  'correlation',
  'distribution',
  'loss',
  'ecn',
  'duplicate',
  'corrupt',
  'reorder',
  'order',
  'rate',
  'overhead',
  'cell-size',
  'cell-overhead',
  'slot',
  'limit',
  'seed',
] as const;

export const MAX_DELAY_MS = 60_000;
export const MAX_RATE_KBIT = 1e9; // 1 tbit/s
export const MIN_RATE_KBIT = 0.008; // 8 bit/s: tc's smallest useful rate
export const MAX_LIMIT_PACKETS = 4_294_967_295;
export const MAX_PHASE_MS = 7 * 86_400_000;
export const MAX_ALIGN_MS = 86_400_000;

const DISTRIBUTIONS = ['uniform', 'normal', 'pareto', 'paretonormal'] as const satisfies readonly Distribution[];

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? 'a list' : 'a mapping';
  return String(v);
}

type Ctx = z.core.$RefinementCtx<unknown>;

function fail(ctx: Ctx, message: string): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

/** A field that parses with a unit parser and checks a range; `none` (if allowed) gives null. */
function unitField(
  parse: (v: unknown) => number,
  min: number,
  max: number,
  range: string,
  opts: { none?: boolean; minExclusive?: boolean } = {},
) {
  return z.unknown().transform((v, ctx): number | null => {
    if (opts.none !== false && v === 'none') return null;
    if (v === undefined) return fail(ctx, 'required');
    let n: number;
    try {
      n = parse(v);
    } catch (e) {
      return fail(ctx, e instanceof UnitError ? e.message : String(e));
    }
    if (n < min || n > max || (opts.minExclusive && n === min)) return fail(ctx, `must be ${range} (got ${show(v)})`);
    return n;
  });
}

export const pctField = (opts: { none?: boolean } = {}) => unitField(parsePct, 0, 100, '0..100%', opts);
/** A percentage that may not be `none`. */
const pct = () => unitField(parsePct, 0, 100, '0..100%', { none: false }).pipe(z.number());
export const delayField = () => unitField(parseDurationMs, 0, MAX_DELAY_MS, '0ms..60s');
export const rateField = () => unitField(parseRateKbit, MIN_RATE_KBIT, MAX_RATE_KBIT, '8bit..1tbit');

/** A whole number in [min, max]; `none` gives null unless disabled. */
export function intField(min: number, max: number, opts: { none?: boolean } = {}) {
  return z.unknown().transform((v, ctx): number | null => {
    if (opts.none !== false && v === 'none') return null;
    if (typeof v !== 'number' || !Number.isInteger(v)) return fail(ctx, `expected a whole number ${min}..${max} (got ${show(v)})`);
    if (v < min || v > max) return fail(ctx, `must be ${min}..${max} (got ${v})`);
    return v;
  });
}

export function durationField(minMs: number, maxMs: number, range: string, opts: { none?: boolean; minExclusive?: boolean } = {}) {
  return unitField(parseDurationMs, minMs, maxMs, range, opts);
}

/** Re-raise the issues of a nested safeParse (relative paths are kept). */
function forward(ctx: Ctx, issues: z.core.$ZodIssue[]): typeof z.NEVER {
  for (const i of issues) ctx.addIssue({ ...i, path: [...i.path] } as never);
  return z.NEVER;
}

const randomLossSchema = z.strictObject({
  model: z.literal('random'),
  pct: pct(),
  correlation: pct().optional(),
});
const geLossSchema = z.strictObject({
  model: z.literal('gilbert-elliott'),
  p: pct(),
  r: pct().optional(),
  '1-h': pct().optional(),
  '1-k': pct().optional(),
});
const burstyLossSchema = z.strictObject({
  model: z.literal('bursty'),
  average: pct(),
  burst: z.unknown().transform((v, ctx): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(ctx, `expected a mean burst length in packets, >= 1 (got ${show(v)})`);
    if (v < 1 || v > 1e6) return fail(ctx, `must be 1..1000000 packets (got ${v})`);
    return v;
  }),
});
const fourStateLossSchema = z.strictObject({
  model: z.literal('4-state'),
  p13: pct(),
  p31: pct().optional(),
  p32: pct().optional(),
  p23: pct().optional(),
  p14: pct().optional(),
});
const lossObjectSchema = z.discriminatedUnion('model', [randomLossSchema, geLossSchema, burstyLossSchema, fourStateLossSchema]);
const LOSS_MODELS = '"random", "gilbert-elliott", "bursty" or "4-state"';

/**
 * `loss: 0.5%` (random), `loss: none`, or a mapping with `model:`. `bursty` (average + mean burst
 * length in packets) is converted to the equivalent Gilbert-Elliott model (1-h = 100%, 1-k = 0%).
 */
const lossField = z.unknown().transform((v, ctx): Loss | null => {
  if (v === 'none') return null;
  if (typeof v === 'string' || typeof v === 'number') {
    try {
      const pct = parsePct(v);
      if (pct > 100) return fail(ctx, `must be 0..100% (got ${show(v)})`);
      return { model: 'random', pct };
    } catch (e) {
      return fail(ctx, `${(e as Error).message}; or a mapping with model: ${LOSS_MODELS}`);
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return fail(ctx, `expected a percentage (0.5%), none, or a mapping with model: ${LOSS_MODELS} (got ${show(v)})`);
  }
  if (!('model' in v)) return fail(ctx, `needs model: ${LOSS_MODELS}`);
  const model = (v as { model: unknown }).model;
  if (!['random', 'gilbert-elliott', 'bursty', '4-state'].includes(model as string)) {
    ctx.addIssue({ code: 'custom', message: `must be ${LOSS_MODELS} (got ${show(model)})`, path: ['model'] });
    return z.NEVER;
  }
  const r = lossObjectSchema.safeParse(v, { reportInput: true });
  if (!r.success) return forward(ctx, r.error.issues);
  const d = r.data;
  switch (d.model) {
    case 'random':
      return d.correlation === undefined ? { model: 'random', pct: d.pct } : { model: 'random', pct: d.pct, correlationPct: d.correlation };
    case 'gilbert-elliott': {
      const out: GilbertElliottLoss = { model: 'gilbert-elliott', pPct: d.p, rPct: d.r ?? 100 - d.p };
      if (d['1-h'] !== undefined) out.oneMinusHPct = d['1-h'];
      if (d['1-k'] !== undefined) out.oneMinusKPct = d['1-k'];
      return out;
    }
    case 'bursty': {
      if (d.average >= 100) {
        ctx.addIssue({ code: 'custom', message: `must be below 100% for a bursty model (got ${d.average}%)`, path: ['average'] });
        return z.NEVER;
      }
      // Mean loss L = p/(p+r), mean burst b = 1/r (1-h = 100%, 1-k = 0%) => r = 1/b, p = rL/(1-L).
      const rFrac = 1 / d.burst;
      const pFrac = (rFrac * (d.average / 100)) / (1 - d.average / 100);
      if (pFrac > 1) {
        ctx.addIssue({
          code: 'custom',
          message: `average ${d.average}% with bursts of ${d.burst} packets needs P(good->bad) above 100%: use longer bursts or a lower average`,
          path: ['burst'],
        });
        return z.NEVER;
      }
      const round = (x: number): number => Number((x * 100).toPrecision(6));
      return { model: 'gilbert-elliott', pPct: round(pFrac), rPct: round(rFrac), oneMinusHPct: 100, oneMinusKPct: 0 };
    }
    case '4-state': {
      const out: FourStateLoss = { model: '4-state', p13Pct: d.p13 };
      if (d.p31 !== undefined) out.p31Pct = d.p31;
      if (d.p32 !== undefined) out.p32Pct = d.p32;
      if (d.p23 !== undefined) out.p23Pct = d.p23;
      if (d.p14 !== undefined) out.p14Pct = d.p14;
      return out;
    }
  }
});

/** `duplicate: 0.05%` or `{pct, correlation}`. */
function pctWithCorrelation(extra: Record<string, z.ZodType> = {}, shorthand = true) {
  const obj = z.strictObject({ pct: pct(), correlation: pct().optional(), ...extra });
  return z.unknown().transform((v, ctx): { pct: number; correlation?: number; [k: string]: unknown } | null => {
    if (v === 'none') return null;
    if (shorthand && (typeof v === 'string' || typeof v === 'number')) {
      try {
        const pct = parsePct(v);
        if (pct > 100) return fail(ctx, `must be 0..100% (got ${show(v)})`);
        return { pct };
      } catch (e) {
        return fail(ctx, `${(e as Error).message}; or a mapping {pct, correlation${Object.keys(extra).map((k) => `, ${k}`).join('')}}`);
      }
    }
    const r = obj.safeParse(v, { reportInput: true });
    if (!r.success) return forward(ctx, r.error.issues);
    return r.data as { pct: number; correlation?: number };
  });
}

const slotObject = z.strictObject({
  min: delayField().pipe(z.number()),
  max: delayField().pipe(z.number()).optional(),
  packets: intField(1, 4_294_967_295, { none: false }).optional(),
  bytes: z
    .unknown()
    .transform((v, ctx): number => {
      try {
        const n = parseSizeBytes(v);
        if (n < 1 || n > 4_294_967_295) return fail(ctx, `must be 1b..4g (got ${show(v)})`);
        return n;
      } catch (e) {
        return fail(ctx, (e as Error).message);
      }
    })
    .optional(),
});

/** `slot: 10ms` (fixed) or `{min, max, packets, bytes}`. */
const slotField = z.unknown().transform((v, ctx): Slot | null => {
  if (v === 'none') return null;
  if (typeof v === 'string' || typeof v === 'number') {
    try {
      const ms = parseDurationMs(v);
      if (ms > MAX_DELAY_MS) return fail(ctx, `must be 0ms..60s (got ${show(v)})`);
      return { minDelayMs: ms };
    } catch (e) {
      return fail(ctx, `${(e as Error).message}; or a mapping {min, max, packets, bytes}`);
    }
  }
  const r = slotObject.safeParse(v, { reportInput: true });
  if (!r.success) return forward(ctx, r.error.issues);
  const s: Slot = { minDelayMs: r.data.min };
  if (r.data.max !== undefined) s.maxDelayMs = r.data.max;
  if (r.data.packets !== undefined && r.data.packets !== null) s.packets = r.data.packets;
  if (r.data.bytes !== undefined) s.bytes = r.data.bytes;
  return s;
});

const distributionField = z.unknown().transform((v, ctx): Distribution | null => {
  if (v === 'none') return null;
  if (typeof v === 'string' && (DISTRIBUTIONS as readonly string[]).includes(v)) return v as Distribution;
  return fail(ctx, `must be one of ${DISTRIBUTIONS.join(', ')} (got ${show(v)})`);
});

/** `order: keep` (in-order release) -> true; `order: any` (the default) or `none` -> null (removed). */
const orderField = z.unknown().transform((v, ctx): true | null => {
  if (v === 'keep') return true;
  if (v === 'any' || v === 'none') return null;
  return fail(ctx, `must be keep (in-order delivery, as cellular and LEO links) or any (jitter may reorder; the default) (got ${show(v)})`);
});

const ecnField = z.unknown().transform((v, ctx): boolean | null => {
  if (v === 'none') return null;
  if (typeof v === 'boolean') return v;
  return fail(ctx, `must be true or false (got ${show(v)})`);
});

/** The accepted keys of a nested mapping (for "did you mean" hints), by its field and input. */
export function nestedKnownKeys(field: string, input: unknown): readonly string[] | undefined {
  switch (field) {
    case 'loss': {
      const model = typeof input === 'object' && input !== null ? (input as { model?: unknown }).model : undefined;
      if (model === 'random') return ['model', 'pct', 'correlation'];
      if (model === 'gilbert-elliott') return ['model', 'p', 'r', '1-h', '1-k'];
      if (model === 'bursty') return ['model', 'average', 'burst'];
      if (model === '4-state') return ['model', 'p13', 'p31', 'p32', 'p23', 'p14'];
      return undefined;
    }
    case 'duplicate':
    case 'corrupt':
      return ['pct', 'correlation'];
    case 'reorder':
      return ['pct', 'correlation', 'gap'];
    case 'slot':
      return ['min', 'max', 'packets', 'bytes'];
    default:
      return undefined;
  }
}

/** The raw schema of one direction block (YAML names). */
export const directionSchema = z.strictObject({
  delay: delayField().optional(),
  jitter: delayField().optional(),
  correlation: pctField().optional(),
  distribution: distributionField.optional(),
  loss: lossField.optional(),
  ecn: ecnField.optional(),
  duplicate: pctWithCorrelation().optional(),
  corrupt: pctWithCorrelation().optional(),
  reorder: pctWithCorrelation({ gap: intField(1, 4_294_967_295, { none: false }).optional() }).optional(),
  order: orderField.optional(),
  rate: rateField().optional(),
  overhead: intField(-1024, 1024).optional(),
  'cell-size': intField(1, 65_535).optional(),
  'cell-overhead': intField(-1024, 1024).optional(),
  slot: slotField.optional(),
  limit: intField(1, MAX_LIMIT_PACKETS).optional(),
  seed: intField(0, Number.MAX_SAFE_INTEGER).optional(),
});

type RawDirection = z.output<typeof directionSchema>;

/**
 * Convert a parsed direction block into an ImpairmentPatch (units in names), cascading removals:
 * `delay: none` -> jitter, correlation, distribution removed; `rate: none` -> overhead and cells;
 * `loss: none` -> ecn; `reorder/duplicate/corrupt: none` -> their correlation (and gap).
 * A field given explicitly in the same block is kept.
 */
export function toPatch(d: RawDirection): ImpairmentPatch {
  const p: ImpairmentPatch = {};
  const set = <K extends keyof ImpairmentPatch>(k: K, v: ImpairmentPatch[K] | undefined): void => {
    if (v !== undefined) p[k] = v;
  };
  set('delayMs', d.delay);
  set('jitterMs', d.jitter);
  set('delayCorrelationPct', d.correlation);
  set('distribution', d.distribution);
  set('loss', d.loss);
  set('ecn', d.ecn);
  for (const [key, pct, corr] of [
    ['duplicate', 'duplicatePct', 'duplicateCorrelationPct'],
    ['corrupt', 'corruptPct', 'corruptCorrelationPct'],
    ['reorder', 'reorderPct', 'reorderCorrelationPct'],
  ] as const) {
    const v = d[key];
    if (v === null) {
      p[pct] = null;
      p[corr] = null;
    } else if (v !== undefined) {
      p[pct] = v.pct;
      p[corr] = v.correlation ?? null;
    }
  }
  if (d.reorder === null) p.reorderGap = null;
  else if (d.reorder !== undefined) p.reorderGap = (d.reorder['gap'] as number | undefined) ?? null;
  set('keepOrder', d.order);
  set('rateKbit', d.rate);
  set('packetOverheadBytes', d.overhead);
  set('cellSizeBytes', d['cell-size']);
  set('cellOverheadBytes', d['cell-overhead']);
  set('slot', d.slot);
  set('limitPackets', d.limit);
  set('seed', d.seed);
  const cascade = (when: keyof ImpairmentPatch, also: (keyof ImpairmentPatch)[]): void => {
    if (p[when] === null) for (const k of also) if (!(k in p)) p[k] = null;
  };
  cascade('delayMs', ['jitterMs', 'delayCorrelationPct', 'distribution', 'reorderPct', 'reorderCorrelationPct', 'reorderGap']);
  cascade('jitterMs', ['delayCorrelationPct', 'distribution']);
  cascade('rateKbit', ['packetOverheadBytes', 'cellSizeBytes', 'cellOverheadBytes']);
  cascade('cellSizeBytes', ['cellOverheadBytes']);
  cascade('loss', ['ecn']);
  return p;
}
