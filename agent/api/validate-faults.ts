/**
 * Validation of fault requests (POST /v1/faults), once, at the edge, with the same interface,
 * namespace and CIDR rules as impairments. Durations: milliseconds or '1s', '500ms', '2m'.
 */
import { z } from 'zod';
import { BackhaulError } from '../../core/errors.js';
import { parseDurationMs } from '../duration.js';
import type { FaultRequestInput } from '../faults/fault-plan.js';
import { IFACE_RE, NETNS_RE, cidrProblem } from './validate.js';

const dev = z.string().regex(IFACE_RE, 'must be 1..15 characters of letters, digits, ".", "_" or "-"');
const netns = z.string().regex(NETNS_RE, 'must be letters, digits, ".", "_" or "-" (at most 63)').optional();
const duration = z.union([z.string().max(32), z.number().int().min(1)]);
const common = { netns, allowManagementInterface: z.boolean().optional(), controller: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/).optional() };

const schema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('link-down'), dev, durationMs: duration, ...common }).strict(),
  z.object({ kind: z.literal('flap'), dev, downMs: duration, upMs: duration, count: z.number().int().min(1).max(1000), ...common }).strict(),
  z
    .object({
      kind: z.literal('blackhole'),
      peer: z.string().max(64).superRefine((v, ctx) => {
        const p = cidrProblem(v);
        if (p) ctx.addIssue({ code: 'custom', message: `${p} (got ${JSON.stringify(v)})` });
      }),
      durationMs: duration,
      ...common,
    })
    .strict(),
]);

export interface FaultInput {
  fault: FaultRequestInput;
  controller: string | null;
  allowManagementInterface: boolean;
}

function positiveMs(v: string | number, field: string): number {
  const ms = typeof v === 'number' ? v : parseDurationMs(v, field);
  if (!(ms >= 1)) throw new BackhaulError('ERR_BAD_REQUEST', `invalid fault request: ${field}: must be at least 1 ms`, { problems: [`${field}: must be at least 1 ms`] });
  return ms;
}

export function validateFault(body: unknown): FaultInput {
  const r = schema.safeParse(body);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
    throw new BackhaulError('ERR_BAD_REQUEST', `invalid fault request: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, { problems });
  }
  const b = r.data;
  const ns = b.netns ? { netns: b.netns } : {};
  const fault: FaultRequestInput =
    b.kind === 'link-down'
      ? { kind: 'link-down', dev: b.dev, ...ns, durationMs: positiveMs(b.durationMs, 'durationMs') }
      : b.kind === 'flap'
        ? { kind: 'flap', dev: b.dev, ...ns, downMs: positiveMs(b.downMs, 'downMs'), upMs: positiveMs(b.upMs, 'upMs'), count: b.count }
        : { kind: 'blackhole', peer: b.peer, ...ns, durationMs: positiveMs(b.durationMs, 'durationMs') };
  return { fault, controller: b.controller ?? null, allowManagementInterface: b.allowManagementInterface ?? false };
}
