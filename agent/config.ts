/**
 * The agent's configuration: a YAML file (`--config FILE`), overridden by command-line flags.
 * Validated once, here; every problem reported with its path.
 *
 *   listen: 0.0.0.0:8470             # API address (default 127.0.0.1:8470)
 *   tls: { cert: /etc/backhaul/tls.crt, key: /etc/backhaul/tls.key }   # or { selfSigned: true }
 *   tokensFile: /etc/backhaul/tokens.yaml   # name -> token; BACKHAUL_TOKEN adds one named 'default'
 *   stateDir: /var/lib/backhaul       # journal.json, guard.log, self-signed certificate
 *   auditLog: /var/log/backhaul/audit.jsonl   # default <stateDir>/audit.jsonl
 *   leases: { defaultTtl: 30m, maxTtl: 24h }
 *   management: { sshPorts: [22], exclude: ["peer=192.0.2.10/32"], allowManagementInterface: false }
 *   reconcile: { interval: 5s, reapply: true, watchLinks: true }
 *   profileDirs: [/etc/backhaul/profiles]
 *   reflector: { listen: "0.0.0.0:862" }      # the built-in STAMP reflector (omit or false: off)
 *   probes:                                  # standing probe targets (always-on mesh)
 *     - { name: site-b, target: "10.1.0.2:862", interval: 1s }
 *   hooks:                                   # commands a controller may run by name (POST /v1/hooks/NAME/run)
 *     pos-smoke: { run: [/usr/local/bin/pos-smoke, --quick], timeout: 5m, junit: /tmp/pos.xml, cwd: /srv }
 *   metricsAuth: false                       # GET /metrics without a token (Prometheus scrapes)
 *   bodyLimit: 65536
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BackhaulError } from '../core/errors.js';
import type { MatchRule } from './backend.js';
import { parseDurationMs } from './duration.js';
import { matchFromString } from './api/validate.js';
import { validateMatchRule } from './netem/match.js';

export const DEFAULT_PORT = 8470;

export interface StandingProbe {
  name: string;
  target: string;
  intervalMs: number;
  sizeBytes?: number;
}

export interface AgentConfig {
  listenHost: string;
  listenPort: number;
  tls: { cert: string; key: string } | { selfSigned: true } | null;
  tokensFile: string | null;
  stateDir: string;
  auditLog: string;
  defaultTtlMs: number;
  maxTtlMs: number;
  sshPorts: number[];
  extraExcludes: MatchRule[];
  allowManagementInterface: boolean;
  reconcileIntervalMs: number;
  reapply: boolean;
  watchLinks: boolean;
  profileDirs: string[];
  reflector: { host: string; port: number } | null;
  probes: StandingProbe[];
  metricsAuth: boolean;
  bodyLimitBytes: number;
  /** Named hooks (argv, no shell); nothing else can be run remotely. */
  hooks: Map<string, { run: string[]; timeoutMs: number; junit?: string; cwd?: string }>;
}

const duration = z.union([z.string(), z.number()]);
const schema = z
  .object({
    listen: z.string().optional(),
    tls: z.union([z.object({ cert: z.string(), key: z.string() }).strict(), z.object({ selfSigned: z.literal(true) }).strict(), z.literal(false)]).optional(),
    tokensFile: z.string().optional(),
    stateDir: z.string().optional(),
    auditLog: z.string().optional(),
    leases: z.object({ defaultTtl: duration.optional(), maxTtl: duration.optional() }).strict().optional(),
    management: z
      .object({
        sshPorts: z.array(z.number().int().min(1).max(65535)).optional(),
        exclude: z.array(z.string()).optional(),
        allowManagementInterface: z.boolean().optional(),
      })
      .strict()
      .optional(),
    reconcile: z.object({ interval: duration.optional(), reapply: z.boolean().optional(), watchLinks: z.boolean().optional() }).strict().optional(),
    profileDirs: z.array(z.string()).optional(),
    reflector: z.union([z.object({ listen: z.string() }).strict(), z.literal(false)]).optional(),
    probes: z
      .array(z.object({ name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/), target: z.string().min(1), interval: duration.optional(), size: z.number().int().min(0).optional() }).strict())
      .optional(),
    hooks: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'hook names are letters, digits, ".", "_" or "-"'),
        z.object({ run: z.array(z.string().min(1)).min(1), timeout: duration.optional(), junit: z.string().optional(), cwd: z.string().optional() }).strict(),
      )
      .optional(),
    metricsAuth: z.boolean().optional(),
    bodyLimit: z.number().int().min(1024).max(16 * 1024 * 1024).optional(),
  })
  .strict();

export type RawConfig = z.infer<typeof schema>;

/** Split `HOST:PORT` / `[v6]:PORT` / `:PORT` / `PORT`. */
export function parseHostPort(text: string, defaultHost: string, what: string): { host: string; port: number } {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw new BackhaulError('ERR_USAGE', `${what}: expected HOST:PORT (got ${JSON.stringify(text)})`);
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

/** Validate a raw config document into an AgentConfig (defaults filled). Throws ERR_USAGE with every problem. */
export function parseAgentConfig(raw: unknown, file = 'config'): AgentConfig {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${file}: ${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new BackhaulError('ERR_USAGE', problems[0] as string, { problems });
  }
  const c = r.data;
  const listen = parseHostPort(c.listen ?? `127.0.0.1:${DEFAULT_PORT}`, '0.0.0.0', `${file}: listen`);
  const stateDir = c.stateDir ?? '/var/lib/backhaul';
  const problems: string[] = [];
  const dur = (v: string | number | undefined, d: number, path: string): number => {
    if (v === undefined) return d;
    try {
      return parseDurationMs(v, path);
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
      return d;
    }
  };
  const defaultTtlMs = dur(c.leases?.defaultTtl, 30 * 60_000, 'leases.defaultTtl');
  const maxTtlMs = dur(c.leases?.maxTtl, 24 * 3_600_000, 'leases.maxTtl');
  if (defaultTtlMs > maxTtlMs) problems.push(`${file}: leases.defaultTtl must not exceed leases.maxTtl`);
  if (defaultTtlMs <= 0) problems.push(`${file}: leases.defaultTtl must be > 0`);
  const extraExcludes: MatchRule[] = [];
  (c.management?.exclude ?? []).forEach((text, i) => {
    try {
      extraExcludes.push(validateMatchRule(matchFromString(text) as unknown as MatchRule));
    } catch (e) {
      problems.push(`${file}: management.exclude.${i}: ${(e as Error).message}`);
    }
  });
  const probes = (c.probes ?? []).map((p, i) => ({
    name: p.name, target: p.target, intervalMs: dur(p.interval, 1000, `probes.${i}.interval`), ...(p.size !== undefined ? { sizeBytes: p.size } : {}),
  }));
  let reflector: AgentConfig['reflector'] = null;
  if (c.reflector) {
    try {
      reflector = parseHostPort(c.reflector.listen, '0.0.0.0', `${file}: reflector.listen`);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const hooks: AgentConfig['hooks'] = new Map();
  for (const [name, h] of Object.entries(c.hooks ?? {})) {
    hooks.set(name, { run: h.run, timeoutMs: dur(h.timeout, 60_000, `hooks.${name}.timeout`), ...(h.junit ? { junit: h.junit } : {}), ...(h.cwd ? { cwd: h.cwd } : {}) });
  }
  if (problems.length) throw new BackhaulError('ERR_USAGE', problems[0] as string, { problems });
  return {
    hooks,
    listenHost: listen.host,
    listenPort: listen.port,
    tls: c.tls ? c.tls : null,
    tokensFile: c.tokensFile ?? null,
    stateDir,
    auditLog: c.auditLog ?? `${stateDir}/audit.jsonl`,
    defaultTtlMs,
    maxTtlMs,
    sshPorts: c.management?.sshPorts ?? [22],
    extraExcludes,
    allowManagementInterface: c.management?.allowManagementInterface ?? false,
    reconcileIntervalMs: dur(c.reconcile?.interval, 5000, 'reconcile.interval'),
    reapply: c.reconcile?.reapply ?? true,
    watchLinks: c.reconcile?.watchLinks ?? true,
    profileDirs: c.profileDirs ?? [],
    reflector,
    probes,
    metricsAuth: c.metricsAuth ?? false,
    bodyLimitBytes: c.bodyLimit ?? 64 * 1024,
  };
}

export async function loadAgentConfig(file: string | undefined): Promise<AgentConfig> {
  if (!file) return parseAgentConfig({});
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new BackhaulError('ERR_USAGE', `cannot read the config file ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new BackhaulError('ERR_USAGE', `${file}: not valid YAML: ${(e as Error).message}`);
  }
  return parseAgentConfig(raw, file);
}
