/**
 * parseProfile: raw YAML data (already `yaml.parse`d) -> Profile, validated once at the edge.
 *
 * Every problem is reported at once, each with its YAML path and the accepted range:
 *   profiles/lte.yaml: egress.loss.p: must be 0..100% (got 140%)
 * Unknown keys are errors (a typo must not silently do nothing). Cross-field rules are checked on
 * the base directions and on every schedule phase merged with the base. Format: docs/profile.md.
 */
import * as z from 'zod';
import { BackhaulError } from './errors.js';
import type { Direction, Impairment, ImpairmentPatch, Phase, PhaseDuration, Profile, Schedule } from './profile.js';
import { directionSchema, DIRECTION_FIELDS, durationField, MAX_ALIGN_MS, MAX_PHASE_MS, nestedKnownKeys, toPatch } from './profile-schema.js';
import { checkImpairmentRules } from './profile-rules.js';
import { applyPatch } from './schedule.js';
import { parseDurationMs, UnitError } from './units.js';

export const PROFILE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const TOP_FIELDS = ['name', 'description', 'source', 'egress', 'ingress', 'schedule'] as const;
const SCHEDULE_FIELDS = ['loop', 'tail', 'align', 'phases'] as const;
const PHASE_FIELDS = ['name', 'duration', 'egress', 'ingress'] as const;
export const MAX_PHASES = 1000;

const nameSchema = z.unknown().transform((v, ctx): string => {
  if (typeof v !== 'string' || !PROFILE_NAME_RE.test(v)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit (got ${JSON.stringify(v)})`,
    });
    return z.NEVER;
  }
  return v;
});

const textSchema = (what: string) =>
  z.unknown().transform((v, ctx): string => {
    if (typeof v !== 'string' || v.trim() === '') {
      ctx.addIssue({ code: 'custom', message: `must be a non-empty text (${what})` });
      return z.NEVER;
    }
    return v.trim();
  });

const topSchema = z.strictObject({
  name: nameSchema.optional(),
  description: textSchema('one line saying what link this emulates'),
  source: textSchema('where the figures come from').optional(),
  egress: z.unknown().optional(),
  ingress: z.unknown().optional(),
  schedule: z.unknown().optional(),
});

/** `30s` or `30s..90s` (random, uniform). */
const phaseDurationSchema = z.unknown().transform((v, ctx): PhaseDuration => {
  const range = '1ms..7d';
  const one = (s: unknown): number | undefined => {
    try {
      const ms = parseDurationMs(s);
      if (ms < 1 || ms > MAX_PHASE_MS) {
        ctx.addIssue({ code: 'custom', message: `must be ${range} (got ${String(s)})` });
        return undefined;
      }
      return ms;
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `${(e as UnitError).message}; or a random range such as 30s..90s` });
      return undefined;
    }
  };
  if (v === undefined) {
    ctx.addIssue({ code: 'custom', message: 'required: a duration such as 30s, or a random range such as 30s..90s' });
    return z.NEVER;
  }
  if (typeof v === 'string' && v.includes('..')) {
    const [a, b, ...rest] = v.split('..');
    if (rest.length > 0) {
      ctx.addIssue({ code: 'custom', message: `expected min..max such as 30s..90s (got ${v})` });
      return z.NEVER;
    }
    const minMs = one(a?.trim());
    const maxMs = one(b?.trim());
    if (minMs === undefined || maxMs === undefined) return z.NEVER;
    if (minMs >= maxMs) {
      ctx.addIssue({ code: 'custom', message: `min must be below max (got ${v}); for a fixed duration write one value` });
      return z.NEVER;
    }
    return { minMs, maxMs };
  }
  const ms = one(v);
  return ms === undefined ? z.NEVER : ms;
});

const scheduleSchema = z.strictObject({
  loop: z.boolean().optional(),
  tail: z.enum(['base', 'last']).optional(),
  align: durationField(0, MAX_ALIGN_MS, '1ms..24h', { none: false, minExclusive: true }).optional(),
  phases: z.array(z.unknown()).min(1).max(MAX_PHASES),
});

const phaseSchema = z.strictObject({
  name: z.string().min(1).max(64).optional(),
  duration: phaseDurationSchema,
  egress: z.unknown().optional(),
  ingress: z.unknown().optional(),
});

type Path = readonly PropertyKey[];

function pathText(path: Path): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else s += s === '' ? String(seg) : `.${String(seg)}`;
  }
  return s;
}

/** Optimal-string-alignment distance (a transposition counts as one edit: "dealy" -> "delay"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** `(did you mean "delay"?)` or `(expected one of: ...)` */
export function suggestKey(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = editDistance(key.toLowerCase(), k);
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  if (best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3))) return `did you mean "${best}"?`;
  return `expected one of: ${known.join(', ')}`;
}

function describeInput(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

class Problems {
  readonly list: string[] = [];
  constructor(private readonly file: string | undefined) {}

  add(path: Path, message: string): void {
    const p = pathText(path);
    const where = [this.file, p].filter((x) => x !== undefined && x !== '').join(': ');
    this.list.push(where === '' ? message : `${where}: ${message}`);
  }

  /**
   * safeParse `value` with `schema`, reporting issues under `prefix`; undefined on failure.
   * `known(path, input)` gives the accepted keys of the mapping at `path` (for "did you mean").
   */
  parse<T extends z.ZodType>(
    schema: T,
    value: unknown,
    prefix: Path,
    known: (path: Path, input: unknown) => readonly string[] | undefined,
  ): z.output<T> | undefined {
    const r = schema.safeParse(value, { reportInput: true });
    if (r.success) return r.data;
    for (const issue of r.error.issues) {
      const path = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        const knownHere = known(issue.path, (issue as { input?: unknown }).input);
        for (const k of issue.keys) {
          this.add([...path, k], `unknown field${knownHere ? ` (${suggestKey(k, knownHere)})` : ''}`);
        }
      } else if (issue.code === 'invalid_type') {
        const input = (issue as { input?: unknown }).input;
        this.add(path, input === undefined ? 'required' : `expected ${issue.expected === 'object' ? 'a mapping' : issue.expected} (got ${describeInput(input)})`);
      } else if (issue.code === 'too_small' && issue.origin === 'array') {
        this.add(path, `needs at least ${String(issue.minimum)} entry`);
      } else if (issue.code === 'too_big' && issue.origin === 'array') {
        this.add(path, `at most ${String(issue.maximum)} entries`);
      } else if (issue.code === 'invalid_value') {
        this.add(path, `must be ${issue.values.map((x) => JSON.stringify(x)).join(' or ')} (got ${describeInput((issue as { input?: unknown }).input)})`);
      } else {
        this.add(path, issue.message);
      }
    }
    return undefined;
  }
}

const fixedKeys =
  (keys: readonly string[]) =>
  (path: Path): readonly string[] | undefined =>
    path.length === 0 ? keys : undefined;

interface ParsedDirection {
  patch: ImpairmentPatch;
  /** YAML fields present but invalid ('*' = the whole block), so dependent rules are moot. */
  invalid: Set<string>;
}

/** Parse one direction block field by field, so the valid fields still get cross-field checks. */
function parseDirection(value: unknown, prefix: Path, problems: Problems): ParsedDirection | undefined {
  if (value === undefined) return undefined;
  if (value === null) return { patch: {}, invalid: new Set() }; // `ingress:` with nothing under it
  const invalid = new Set<string>();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.add(prefix, `expected a mapping of ${DIRECTION_FIELDS.slice(0, 5).join(', ')}, ... (got ${describeInput(value)})`);
    return { patch: {}, invalid: new Set(['*']) };
  }
  const shape = directionSchema.shape as Record<string, z.ZodType>;
  const valid: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const schema = Object.hasOwn(shape, k) ? shape[k] : undefined;
    if (!schema) {
      problems.add([...prefix, k], `unknown field (${suggestKey(k, DIRECTION_FIELDS)})`);
      continue;
    }
    const out = problems.parse(schema, v, [...prefix, k], (path, input) => (path.length === 0 ? nestedKnownKeys(k, input) : undefined));
    if (out === undefined) invalid.add(k);
    else valid[k] = out;
  }
  return { patch: toPatch(valid as z.output<typeof directionSchema>), invalid };
}

function checkRules(imp: Impairment, invalid: Set<string>, prefix: Path, problems: Problems, merged = false, skip?: Set<string>): Set<string> {
  const seen = new Set<string>();
  if (invalid.has('*')) return seen;
  for (const p of checkImpairmentRules(imp)) {
    if ([p.field.split('.')[0] as string, ...p.needs].some((f) => invalid.has(f))) continue;
    const key = `${p.field}: ${p.message}`;
    seen.add(key);
    if (skip?.has(key)) continue;
    problems.add([...prefix, ...p.field.split('.')], merged ? `with the base merged in, ${p.message}` : p.message);
  }
  return seen;
}

/**
 * Validate raw profile data (as parsed from YAML/JSON) into a Profile.
 * `file` prefixes every problem and gives the default name (its basename without .yaml/.yml).
 * Throws BackhaulError('ERR_PROFILE_INVALID', ..., { problems: string[], file }) listing everything.
 */
export function parseProfile(raw: unknown, file?: string): Profile {
  const problems = new Problems(file);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.add([], `expected a mapping with description and egress/ingress (got ${describeInput(raw)})`);
    throw invalid(file, problems.list);
  }
  if ('extends' in raw) {
    problems.add(['extends'], 'is resolved when a profile is loaded by name or path (backhaul profiles/--profiles); here it cannot be');
  }
  const rawObj = Object.fromEntries(Object.entries(raw).filter(([k]) => k !== 'extends'));
  const top = problems.parse(topSchema, rawObj, [], fixedKeys(TOP_FIELDS));
  const r = rawObj as Record<string, unknown>;

  const eg = parseDirection(r['egress'], ['egress'], problems);
  const ig = parseDirection(r['ingress'], ['ingress'], problems);
  const egress = applyPatch({}, eg?.patch);
  const ingress = ig === undefined ? undefined : applyPatch({}, ig.patch);
  const none = new Set<string>();
  const baseSeen: Record<Direction, Set<string>> = {
    egress: checkRules(egress, eg?.invalid ?? none, ['egress'], problems),
    ingress: ingress ? checkRules(ingress, ig?.invalid ?? none, ['ingress'], problems) : new Set(),
  };

  let schedule: Schedule | undefined;
  if (r['schedule'] !== undefined) {
    const s = problems.parse(scheduleSchema, r['schedule'], ['schedule'], fixedKeys(SCHEDULE_FIELDS));
    if (s?.tail !== undefined && s.loop !== false) problems.add(['schedule', 'tail'], 'only applies to a one-shot schedule (loop: false)');
    const rawPhases = isMapping(r['schedule']) ? r['schedule']['phases'] : undefined;
    const phases: Phase[] = [];
    (Array.isArray(rawPhases) ? (rawPhases as unknown[]) : []).slice(0, MAX_PHASES).forEach((rawPhase, i) => {
      const prefix = ['schedule', 'phases', i];
      const ph = problems.parse(phaseSchema, rawPhase ?? {}, prefix, fixedKeys(PHASE_FIELDS));
      const rp = isMapping(rawPhase) ? rawPhase : {};
      const pe = parseDirection(rp['egress'], [...prefix, 'egress'], problems);
      const pi = parseDirection(rp['ingress'], [...prefix, 'ingress'], problems);
      if (!ph) return;
      const phase: Phase = { durationMs: ph.duration };
      if (ph.name !== undefined) phase.name = ph.name;
      if (pe !== undefined) phase.egress = pe.patch;
      if (pi !== undefined) phase.ingress = pi.patch;
      phases.push(phase);
      const union = (a?: ParsedDirection, b?: ParsedDirection): Set<string> => new Set([...(a?.invalid ?? []), ...(b?.invalid ?? [])]);
      if (pe !== undefined) checkRules(applyPatch(egress, pe.patch), union(eg, pe), [...prefix, 'egress'], problems, true, baseSeen.egress);
      if (pi !== undefined) checkRules(applyPatch(ingress ?? {}, pi.patch), union(ig, pi), [...prefix, 'ingress'], problems, true, baseSeen.ingress);
    });
    if (s) {
      schedule = { phases, loop: s.loop ?? true };
      if (s.loop === false) schedule.tail = s.tail ?? 'base';
      if (s.align !== undefined && s.align !== null) schedule.alignMs = s.align;
    }
  }

  let name = top?.name;
  if (name === undefined && file !== undefined) {
    const base = file.split(/[\\/]/).pop() ?? '';
    const derived = base.replace(/\.ya?ml$/i, '');
    if (PROFILE_NAME_RE.test(derived)) name = derived;
    else if (top) problems.add(['name'], `required: the file name ${JSON.stringify(base)} is not a valid profile name`);
  } else if (name === undefined && top) {
    problems.add(['name'], 'required (no file name to take it from)');
  }

  if (problems.list.length > 0 || !top || name === undefined) throw invalid(file, problems.list);
  const profile: Profile = { name, description: top.description, ...(top.source !== undefined ? { source: top.source } : {}), egress };
  if (ingress !== undefined) profile.ingress = ingress;
  if (schedule !== undefined) profile.schedule = schedule;
  return profile;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(file: string | undefined, problems: string[]): BackhaulError {
  const n = problems.length;
  return new BackhaulError(
    'ERR_PROFILE_INVALID',
    `${file ?? 'profile'} is not a valid profile (${n} problem${n === 1 ? '' : 's'})`,
    file === undefined ? { problems } : { problems, file },
  );
}
