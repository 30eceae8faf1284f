/**
 * Validation of API request bodies, once, at the edge. Every problem is reported with its path
 * (`target.dev: ...`) in `details.problems`; nothing downstream sees unvalidated input.
 * Profiles are not parsed here: the route hands `profile` to the profile parser (core).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { BackhaulError } from '../../core/errors.js';
import type { DirectionSelector, MatchRule, Target } from '../backend.js';
import { parseDurationMs } from '../duration.js';

/** Linux interface names: 1..15 characters; we accept letters, digits, '.', '_', '-' and '@' no further. */
export const IFACE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/** `ip netns` names are file names under /run/netns. */
export const NETNS_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const HOSTPORT_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/;

export function cidrProblem(text: string): string | null {
  const [addr, prefix, ...rest] = text.split('/');
  if (rest.length > 0 || !addr) return 'must be an address or CIDR';
  const family = isIP(addr);
  if (family === 0) return 'must be an IPv4 or IPv6 address or CIDR';
  if (prefix === undefined) return null;
  if (!/^\d{1,3}$/.test(prefix)) return 'prefix length must be a number';
  const max = family === 4 ? 32 : 128;
  if (Number(prefix) > max) return `prefix length must be 0..${max}`;
  return null;
}

const port = z.number().int().min(1).max(65535);

const matchObject = z
  .object({
    peer: z.string().max(64).superRefine((v, ctx) => {
      const p = cidrProblem(v);
      if (p) ctx.addIssue({ code: 'custom', message: `${p} (got ${JSON.stringify(v)})` });
    }),
    port: port.optional(),
    localPort: port.optional(),
    proto: z.enum(['tcp', 'udp']).optional(),
  })
  .strict();

/** Parse the CLI form `peer=CIDR[,port=N][,localPort=N][,proto=tcp|udp]` into an object (unvalidated). */
export function matchFromString(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part.trim() : part.slice(0, eq).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    out[key] = key === 'port' || key === 'localPort' ? (/^\d+$/.test(value) ? Number(value) : value) : value;
  }
  return out;
}

const matchRule = z.preprocess((v) => (typeof v === 'string' ? matchFromString(v) : v), matchObject);

const netemTarget = z
  .object({
    kind: z.literal('netem').optional(),
    dev: z.string().regex(IFACE_RE, 'must be 1..15 characters of letters, digits, ".", "_" or "-"'),
    netns: z.string().regex(NETNS_RE, 'must be letters, digits, ".", "_" or "-" (at most 63)').optional(),
  })
  .strict();

const relayTarget = z
  .object({
    kind: z.literal('relay'),
    proto: z.enum(['udp', 'tcp']),
    listen: z.string().regex(HOSTPORT_RE, 'must be HOST:PORT'),
    upstream: z.string().regex(HOSTPORT_RE, 'must be HOST:PORT'),
  })
  .strict();

const duration = z.union([z.string().max(32), z.number()]);

const createSchema = z
  .object({
    target: z.union([relayTarget, netemTarget]),
    profile: z.union([z.string().min(1).max(200), z.record(z.string(), z.unknown())]),
    direction: z.enum(['egress', 'ingress', 'both']).optional(),
    match: z.array(matchRule).max(64).optional(),
    exclude: z.array(matchRule).max(64).optional(),
    ttl: duration.optional(),
    controller: z.string().regex(NAME_RE, 'must be a short name').optional(),
    force: z.boolean().optional(),
    allowManagementInterface: z.boolean().optional(),
    disableOffloads: z.boolean().optional(),
    labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/), z.string().max(200)).optional(),
    startAt: z
      .union([z.number().min(0), z.string().max(40)])
      .superRefine((v, ctx) => {
        if (typeof v === 'string' && startAtMsOf(v) === null) ctx.addIssue({ code: 'custom', message: `must be wall-clock ms or an ISO 8601 time with a zone, e.g. 2026-11-28T13:00:00.000Z (got ${JSON.stringify(v)})` });
      })
      .optional(),
  })
  .strict();

/** `startAt` as wall-clock ms: a number as is; text as digits (ms) or ISO 8601 with a zone. Null if neither. */
export function startAtMsOf(v: number | string): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : null;
  if (/^\d{1,16}$/.test(v)) return Number(v);
  // A zone is required: a local time would be read in the agent's time zone, not the caller's.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(v)) return null;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : null;
}

const renewSchema = z
  .object({ ttl: duration.optional(), controller: z.string().regex(NAME_RE).optional(), force: z.boolean().optional() })
  .strict();

const probeSchema = z
  .object({
    target: z.string().min(1).max(512),
    name: z.string().regex(NAME_RE).optional(),
    intervalMs: z.number().min(1).max(60_000).optional(),
    durationMs: z.number().int().min(1).optional(),
    count: z.number().int().min(1).optional(),
    sizeBytes: z.number().int().min(0).max(9000).optional(),
    timeoutMs: z.number().int().min(1).max(60_000).optional(),
  })
  .strict();

/** Throw ERR_BAD_REQUEST listing every zod issue as `path: message`. */
function check<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
  throw new BackhaulError('ERR_BAD_REQUEST', `invalid ${what}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, { problems });
}

export interface CreateInput {
  target: Target;
  profile: string | Record<string, unknown>;
  direction: DirectionSelector;
  match: MatchRule[];
  exclude: MatchRule[];
  ttlMs: number | null;
  controller: string | null;
  force: boolean;
  allowManagementInterface: boolean;
  labels: Record<string, string>;
  /** Apply at this wall-clock instant (the agent's clock, ms); null: at once. Bounds: manager.create. */
  startAtMs?: number | null;
}

/** Validate a create request (profile left to the profile parser). Pure. */
export function validateCreate(body: unknown): CreateInput {
  const b = check(createSchema, body, 'impairment request');
  const direction = b.direction ?? 'both';
  const t = b.target;
  const target: Target =
    'kind' in t && t.kind === 'relay'
      ? { kind: 'relay', proto: t.proto, listen: t.listen, upstream: t.upstream }
      : {
          kind: 'netem',
          dev: (t as { dev: string }).dev,
          ...((t as { netns?: string }).netns ? { netns: (t as { netns: string }).netns } : {}),
          direction,
          ...(b.disableOffloads ? { disableOffloads: true } : {}),
        };
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.labels ?? {})) if (v !== undefined) labels[k] = v;
  return {
    target,
    profile: b.profile,
    direction,
    match: (b.match ?? []) as MatchRule[],
    exclude: (b.exclude ?? []) as MatchRule[],
    ttlMs: b.ttl === undefined ? null : parseDurationMs(b.ttl, 'ttl'),
    controller: b.controller ?? null,
    force: b.force ?? false,
    allowManagementInterface: b.allowManagementInterface ?? false,
    labels,
    ...(b.startAt !== undefined ? { startAtMs: startAtMsOf(b.startAt) } : {}),
  };
}

export interface RenewInput {
  ttlMs: number | null;
  controller: string | null;
  force: boolean;
}

export function validateRenew(body: unknown): RenewInput {
  const b = check(renewSchema, body ?? {}, 'renew request');
  return { ttlMs: b.ttl === undefined ? null : parseDurationMs(b.ttl, 'ttl'), controller: b.controller ?? null, force: b.force ?? false };
}

export type ProbeInput = z.infer<typeof probeSchema>;

export function validateProbe(body: unknown): ProbeInput {
  return check(probeSchema, body, 'probe request');
}

/** Resource ids are ours: short lowercase tokens. */
export function validateId(id: string): string {
  if (!/^[a-z0-9-]{1,64}$/.test(id)) throw new BackhaulError('ERR_NOT_FOUND', `no such resource: ${JSON.stringify(id.slice(0, 64))}`);
  return id;
}
