/**
 * The campaign file, validated once at the edge.
 *
 *   const campaign = await loadCampaign('campaigns/release-gate.yaml', { env: process.env });
 *
 * `parseCampaign(raw, source, ctx)` checks the shape (zod), converts quantities to base units
 * (ms, fractions), parses every assertion, resolves agents (URL lists and Prometheus file_sd JSON
 * files; bearer tokens from the named environment variables) and checks cross-references (a probe
 * from an unknown agent, an assertion about an unknown probe, a fault after its step ends...).
 * Every problem is collected with its path and reported at once as ERR_CAMPAIGN_INVALID with
 * `details.problems`:
 *
 *   campaigns/gate.yaml: steps[1].probes[0].from: unknown agent 'store18' (known: store17)
 *
 * Profiles are kept as references (a name or an inline object); they are resolved and validated
 * by the runner's pre-flight, which knows the profile library and the agents.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BackhaulError } from '../core/errors.js';
import type { MatchRule } from '../agent/backend.js';
import { HOOK_SUBJECTS, PROBE_SUBJECTS, parseAssertion, type Assertion } from './assertions.js';
import { parseDurationMs } from './quantity.js';
import { campaignSchema, type RawStep } from './spec-schema.js';

export interface AgentSpec {
  name: string;
  url: string;
  /** The bearer token (read from `tokenEnv`); absent when none is configured. */
  token?: string;
  tokenEnv?: string;
}

export type ProfileRef = { name: string } | { inline: Record<string, unknown> };

export interface ImpairmentSpec {
  name: string;
  agent: string;
  target:
    | { kind: 'netem'; dev: string; netns?: string }
    | { kind: 'relay'; listen: string; upstream: string; proto: 'udp' | 'tcp' };
  profile: ProfileRef;
  direction: 'egress' | 'ingress' | 'both';
  match?: MatchRule[];
  exclude?: MatchRule[];
}

/** `netns`: the controller runs it on its own host (local-faults.ts); otherwise the agent does, in `agentNetns` or its own namespace. */
export type FaultSpec = (
  | { kind: 'link-down'; name: string; agent: string; atMs: number; durationMs: number; dev: string; netns?: string }
  | { kind: 'flap'; name: string; agent: string; atMs: number; dev: string; netns?: string; downForMs: number; upForMs: number; count: number }
  | { kind: 'blackhole'; name: string; agent: string; atMs: number; durationMs: number; peer: string; netns?: string }
) & { agentNetns?: string };

export interface ProbeSpec {
  name: string;
  from: string;
  to: string;
  kind: 'stamp' | 'tcp' | 'http';
  intervalMs: number;
  timeoutMs: number;
  outageMinLost: number;
  crosses: string[];
}

/** A hook run on the controller (`run`: the user's command). */
export interface ControllerHookSpec {
  name: string;
  on: 'controller';
  run: string | string[];
  atMs: number;
  timeoutMs: number;
  /** The exit code checked automatically (`exit == N`) unless the step asserts on `exit`; null: none; absent: 0. */
  expectExit?: number | null;
  junit?: string;
  env?: Record<string, string>;
}

/** A hook run by an agent: only a command its config declares by name (`hook`). */
export interface AgentHookSpec {
  name: string;
  on: 'agent';
  agent: string;
  hook: string;
  atMs: number;
  timeoutMs: number;
  /** As ControllerHookSpec.expectExit. */
  expectExit?: number | null;
}

export type HookSpec = ControllerHookSpec | AgentHookSpec;

export type AssertionSpec =
  | { scope: 'probe'; probe: string | null; assertion: Assertion }
  | { scope: 'hook'; hook: string; assertion: Assertion }
  | { scope: 'promql'; query: string; name: string; assertion: Assertion };

export interface StepSpec {
  name: string;
  durationMs: number;
  impairments: ImpairmentSpec[];
  faults: FaultSpec[];
  probes: ProbeSpec[];
  hooks: HookSpec[];
  assertions: AssertionSpec[];
}

export interface Campaign {
  name: string;
  description: string;
  source: string;
  agents: AgentSpec[];
  prometheus?: string;
  leaseTtlMs: number;
  startDelayMs: number;
  steps: StepSpec[];
}

export interface ParseContext {
  env: NodeJS.ProcessEnv;
  /** Read a Prometheus file_sd JSON file (path already resolved against the campaign's folder). */
  readJson?: (path: string) => unknown;
  baseDir?: string;
}

const ms = (text: string): number => parseDurationMs(text) as number; // validated by the schema

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(top level)';
}

/**
 * Parse Prometheus file_sd JSON (`[{targets: ['host:port'], labels: {...}}]`) into agents named by
 * `nameLabel` (or host:port); repeated names get -2, -3. Problems are pushed with `where` as path.
 */
export function agentsFromFileSd(
  doc: unknown,
  opts: { scheme: 'http' | 'https'; nameLabel?: string | undefined },
  where: string,
  problems: string[],
): { name: string; url: string }[] {
  if (!Array.isArray(doc)) {
    problems.push(`${where}: a file_sd file must be a JSON array of {targets, labels}`);
    return [];
  }
  const out: { name: string; url: string }[] = [];
  doc.forEach((group: unknown, gi) => {
    const g = group as { targets?: unknown; labels?: unknown };
    if (typeof g !== 'object' || g === null || !Array.isArray(g.targets)) {
      problems.push(`${where}[${gi}].targets: must be an array of 'host:port' strings`);
      return;
    }
    const labels = (typeof g.labels === 'object' && g.labels !== null ? g.labels : {}) as Record<string, unknown>;
    g.targets.forEach((t: unknown, ti) => {
      if (typeof t !== 'string' || !/^[^\s/]+:\d{1,5}$/.test(t)) {
        problems.push(`${where}[${gi}].targets[${ti}]: must be 'host:port' (got ${JSON.stringify(t)})`);
        return;
      }
      const label = opts.nameLabel ? labels[opts.nameLabel] : undefined;
      let name = typeof label === 'string' && label !== '' ? label : t;
      // Several targets may share a label value: the later ones get -2, -3, ...
      for (let n = 2; out.some((o) => o.name === name); n++) name = `${typeof label === 'string' && label !== '' ? label : t}-${n}`;
      out.push({ name, url: `${opts.scheme}://${t}` });
    });
  });
  return out;
}

/** Validate a parsed YAML/JSON document as a campaign. Throws ERR_CAMPAIGN_INVALID with every problem. */
export function parseCampaign(raw: unknown, source: string, ctx: ParseContext): Campaign {
  const parsed = campaignSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${source}: ${pathText(i.path)}: ${i.message}`);
    throw invalid(source, problems);
  }
  const c = parsed.data;
  const problems: string[] = [];
  const p = (path: string, message: string): void => {
    problems.push(`${source}: ${path}: ${message}`);
  };

  // Agents.
  const agents: AgentSpec[] = [];
  c.agents.forEach((a, i) => {
    const withToken = (name: string, url: string, tokenEnv: string | undefined): void => {
      const spec: AgentSpec = { name, url };
      if (tokenEnv !== undefined) {
        spec.tokenEnv = tokenEnv;
        const token = ctx.env[tokenEnv];
        if (token === undefined || token === '') p(`agents[${i}].tokenEnv`, `environment variable ${tokenEnv} is not set`);
        else spec.token = token;
      }
      agents.push(spec);
    };
    if ('url' in a) withToken(a.name, a.url, a.tokenEnv);
    else {
      const file = resolve(ctx.baseDir ?? '.', a.fileSd);
      let doc: unknown;
      try {
        if (!ctx.readJson) throw new Error('no reader');
        doc = ctx.readJson(file);
      } catch (e) {
        p(`agents[${i}].fileSd`, `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      const found = agentsFromFileSd(doc, { scheme: a.scheme, nameLabel: a.nameLabel }, `${file}`, problems);
      if (found.length === 0) p(`agents[${i}].fileSd`, `${file} lists no targets`);
      for (const f of found) withToken(f.name, f.url, a.tokenEnv);
    }
  });
  const agentNames = new Set<string>();
  for (const a of agents) {
    if (agentNames.has(a.name)) p('agents', `agent '${a.name}' is listed twice`);
    agentNames.add(a.name);
  }
  const known = (): string => [...agentNames].join(', ') || 'none';
  const checkAgent = (path: string, name: string): void => {
    if (!agentNames.has(name)) p(path, `unknown agent '${name}' (known: ${known()})`);
  };

  const stepNames = new Set<string>();
  const steps: StepSpec[] = c.steps.map((s: RawStep, si) => {
    const at = (rest: string): string => `steps[${si}].${rest}`;
    if (stepNames.has(s.name)) p(`steps[${si}].name`, `step '${s.name}' is defined twice`);
    stepNames.add(s.name);
    const durationMs = ms(s.duration);
    if (durationMs <= 0) p(at('duration'), 'must be greater than 0');

    const impairments: ImpairmentSpec[] = s.impairments.map((imp, ii) => {
      checkAgent(at(`impairments[${ii}].agent`), imp.agent);
      const target: ImpairmentSpec['target'] = imp.relay
        ? { kind: 'relay', listen: imp.relay.listen, upstream: imp.relay.upstream, proto: imp.relay.proto }
        : { kind: 'netem', dev: imp.dev as string, ...(imp.netns ? { netns: imp.netns } : {}) };
      if (target.kind === 'relay' && target.upstream.startsWith('agent:')) checkAgent(at(`impairments[${ii}].relay.upstream`), target.upstream.slice(6));
      const defaultName = `${imp.agent}-${target.kind === 'relay' ? target.listen : target.dev}`.replace(/[^A-Za-z0-9_.-]/g, '_');
      return {
        name: imp.name ?? defaultName,
        agent: imp.agent,
        target,
        profile: typeof imp.profile === 'string' ? { name: imp.profile } : { inline: imp.profile },
        direction: imp.direction,
        ...(imp.match ? { match: imp.match } : {}),
        ...(imp.exclude ? { exclude: imp.exclude } : {}),
      };
    });
    const impNames = new Set<string>();
    impairments.forEach((imp, ii) => {
      if (impNames.has(imp.name)) p(at(`impairments[${ii}].name`), `impairment '${imp.name}' is defined twice in this step`);
      impNames.add(imp.name);
    });

    const faults: FaultSpec[] = s.faults.map((f, fi) => {
      checkAgent(at(`faults[${fi}].agent`), f.agent);
      const atMs = ms(f.at);
      const name = `${f.kind}-${fi}`;
      let fault: FaultSpec;
      if (f.kind === 'flap') {
        fault = { kind: 'flap', name, agent: f.agent, atMs, dev: f.dev, ...(f.netns ? { netns: f.netns } : {}), downForMs: ms(f.downFor), upForMs: ms(f.upFor), count: f.count };
      } else if (f.kind === 'link-down') {
        fault = { kind: 'link-down', name, agent: f.agent, atMs, durationMs: ms(f.duration), dev: f.dev, ...(f.netns ? { netns: f.netns } : {}) };
      } else {
        fault = { kind: 'blackhole', name, agent: f.agent, atMs, durationMs: ms(f.duration), peer: f.peer, ...(f.netns ? { netns: f.netns } : {}) };
      }
      if (f.agentNetns) {
        if (f.netns) p(at(`faults[${fi}].agentNetns`), "give 'netns' (run on the controller) or 'agentNetns' (run by the agent), not both");
        fault.agentNetns = f.agentNetns;
      }
      const end = faultEndMs(fault);
      if (end > durationMs) p(at(`faults[${fi}]`), `ends at ${end} ms, after the step's ${durationMs} ms`);
      return fault;
    });

    const probeNames = new Set<string>();
    const probes: ProbeSpec[] = s.probes.map((pr, pi) => {
      checkAgent(at(`probes[${pi}].from`), pr.from);
      if (probeNames.has(pr.name)) p(at(`probes[${pi}].name`), `probe '${pr.name}' is defined twice in this step`);
      probeNames.add(pr.name);
      // The kind follows from `to` (its scheme); a declared kind must agree with it, else the probe
      // would silently run as the other kind.
      const kind = inferProbeKind(pr.to);
      if (pr.kind !== undefined && pr.kind !== kind) {
        p(at(`probes[${pi}].kind`), `'${pr.kind}' does not match to '${pr.to}', which is a ${kind} target (${PROBE_KIND_FORMS[pr.kind]})`);
      }
      if (pr.to.startsWith('agent:')) checkAgent(at(`probes[${pi}].to`), pr.to.slice('agent:'.length));
      else if (kind === 'stamp' && !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(pr.to)) {
        p(at(`probes[${pi}].to`), `'${pr.to}' is not HOST:PORT, agent:NAME, tcp://HOST:PORT or http(s)://URL`);
      }
      for (const [ci, name] of (pr.crosses ?? []).entries()) {
        if (!impNames.has(name)) p(at(`probes[${pi}].crosses[${ci}]`), `no impairment '${name}' in this step (known: ${[...impNames].join(', ') || 'none'})`);
      }
      const intervalMs = ms(pr.interval ?? c.probeDefaults.interval);
      if (intervalMs < 1) p(at(`probes[${pi}].interval`), 'must be at least 1ms');
      return {
        name: pr.name,
        from: pr.from,
        to: pr.to,
        kind,
        intervalMs,
        timeoutMs: ms(pr.timeout ?? c.probeDefaults.timeout),
        outageMinLost: c.probeDefaults.outageMinLost,
        crosses: pr.crosses ?? [],
      };
    });

    const hookNames = new Set<string>();
    const hooks: HookSpec[] = s.hooks.map((h, hi) => {
      if (hookNames.has(h.name)) p(at(`hooks[${hi}].name`), `hook '${h.name}' is defined twice in this step`);
      hookNames.add(h.name);
      const atMs = ms(h.at);
      if (atMs > durationMs) p(at(`hooks[${hi}].at`), `starts after the step ends (${durationMs} ms)`);
      const expectExit = h.expectExit === 'any' ? null : (h.expectExit ?? 0);
      if (h.on !== 'controller') {
        checkAgent(at(`hooks[${hi}].on`), h.on);
        for (const k of ['run', 'junit', 'env'] as const) {
          if (h[k] !== undefined) p(at(`hooks[${hi}].${k}`), `an agent hook runs what the agent's config declares: give 'hook: NAME', not '${k}'`);
        }
        return { name: h.name, on: 'agent' as const, agent: h.on, hook: h.hook ?? h.name, atMs, timeoutMs: ms(h.timeout), expectExit };
      }
      if (h.run === undefined) p(at(`hooks[${hi}].run`), "a controller hook needs 'run' (a command line or an argv array)");
      if (h.hook !== undefined) p(at(`hooks[${hi}].hook`), "'hook' names an agent's hook: set 'on: AGENT'");
      return {
        name: h.name,
        on: 'controller' as const,
        run: h.run ?? [],
        atMs,
        timeoutMs: ms(h.timeout),
        expectExit,
        ...(h.junit ? { junit: h.junit } : {}),
        ...(h.env ? { env: h.env } : {}),
      };
    });

    const assertions: AssertionSpec[] = [];
    s.assertions.forEach((a, ai) => {
      const where = at(`assertions[${ai}]`);
      if (typeof a === 'string' || 'probe' in a) {
        const text = typeof a === 'string' ? a : a.assert;
        const probe = typeof a === 'string' ? null : a.probe;
        if (probe !== null && !probeNames.has(probe)) p(`${where}.probe`, `no probe '${probe}' in this step`);
        if (probe === null && probes.length === 0) p(where, 'a probe assertion needs a probe in this step');
        const r = parseAssertion(text, PROBE_SUBJECTS);
        if (!r.ok) p(where, r.problem);
        else assertions.push({ scope: 'probe', probe, assertion: r.assertion });
      } else if ('hook' in a) {
        if (!hookNames.has(a.hook)) p(`${where}.hook`, `no hook '${a.hook}' in this step`);
        const r = parseAssertion(a.assert, HOOK_SUBJECTS);
        if (!r.ok) p(`${where}.assert`, r.problem);
        else assertions.push({ scope: 'hook', hook: a.hook, assertion: r.assertion });
      } else {
        if (!c.prometheus) p(`${where}.promql`, "a PromQL assertion needs 'prometheus: URL' at the top level");
        const r = parseAssertion(a.assert, { value: 'value' }, 'value');
        if (!r.ok) p(`${where}.assert`, r.problem);
        else assertions.push({ scope: 'promql', query: a.promql, name: a.name ?? a.promql, assertion: r.assertion });
      }
    });

    return { name: s.name, durationMs, impairments, faults, probes, hooks, assertions };
  });

  if (problems.length > 0) throw invalid(source, problems);
  return {
    name: c.name,
    description: c.description,
    source,
    agents,
    ...(c.prometheus ? { prometheus: c.prometheus } : {}),
    leaseTtlMs: ms(c.leaseTtl),
    startDelayMs: ms(c.startDelay),
    steps,
  };
}

const PROBE_KIND_FORMS = { stamp: 'stamp needs HOST:PORT or agent:NAME', tcp: 'tcp needs tcp://HOST:PORT', http: 'http needs http(s)://URL' } as const;

/** The probe kind a `to` address names: tcp://, http(s):// by scheme; anything else is STAMP. */
export function inferProbeKind(to: string): 'stamp' | 'tcp' | 'http' {
  if (to.startsWith('tcp://')) return 'tcp';
  if (to.startsWith('http://') || to.startsWith('https://')) return 'http';
  return 'stamp';
}

/** When a fault's last effect ends, relative to its step's start (ms). */
export function faultEndMs(f: FaultSpec): number {
  return f.kind === 'flap' ? f.atMs + f.count * (f.downForMs + f.upForMs) : f.atMs + f.durationMs;
}

function invalid(source: string, problems: string[]): BackhaulError {
  return new BackhaulError(
    'ERR_CAMPAIGN_INVALID',
    `${source}: the campaign is not valid (${problems.length} problem${problems.length === 1 ? '' : 's'})`,
    { problems },
  );
}

/** Read, YAML-parse and validate a campaign file. file_sd paths resolve against its folder. */
export async function loadCampaign(file: string, opts: { env: NodeJS.ProcessEnv }): Promise<Campaign> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new BackhaulError('ERR_CAMPAIGN_INVALID', `cannot read the campaign file ${file}`, { problems: [`${file}: ${(e as Error).message}`] }, { cause: e });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new BackhaulError('ERR_CAMPAIGN_INVALID', `${file}: not valid YAML`, { problems: [`${file}: ${(e as Error).message}`] }, { cause: e });
  }
  return parseCampaign(raw, file, {
    env: opts.env,
    baseDir: dirname(resolve(file)),
    readJson: (path) => JSON.parse(readFileSync(path, 'utf8')) as unknown,
  });
}
