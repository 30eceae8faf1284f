/**
 * The campaign file's shape (zod), as written by users: durations as strings ('15s'), assertions
 * as text. `spec.ts` turns a parse of this into the validated `Campaign` (base units, parsed
 * assertions, resolved agents) and adds the cross-reference checks.
 */
import { z } from 'zod';
import { parseDurationMs } from './quantity.js';

export const durationText = z.string().refine((s) => parseDurationMs(s) !== null, {
  message: "must be a duration such as '500ms', '15s' or '2m'",
});

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const nameText = z.string().regex(NAME_RE, 'must be 1-63 characters of letters, digits, _ . - (starting with a letter or digit)');

/** Interface names as the kernel allows them (<= 15 characters, no '/' or whitespace). */
export const devText = z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'must be an interface name (1-15 characters, no spaces or /)');

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "must be HOST:PORT, e.g. '127.0.0.1:862'");

export const matchRuleSchema = z
  .object({
    peer: z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'must be an IP address or CIDR'),
    port: z.number().int().min(1).max(65535).optional(),
    proto: z.enum(['tcp', 'udp']).optional(),
  })
  .strict();

const agentEntry = z
  .object({
    name: nameText,
    /** An agent's http(s) URL, 'in-process' (relay backend + reflector in the runner's process), or
     *  'netns:NAME' (a network namespace on this host: probes run inside it; needs root). */
    url: z.string().regex(/^(https?:\/\/[^\s]+|in-process|netns:[A-Za-z0-9_.-]{1,64})$/, "must be an http(s):// URL (e.g. 'http://10.0.0.7:9870'), 'in-process' or 'netns:NAME'"),
    tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
  })
  .strict();

const fileSdEntry = z
  .object({
    fileSd: z.string().min(1),
    scheme: z.enum(['http', 'https']).default('http'),
    /** The target label naming the site (default: the target's host:port). */
    nameLabel: z.string().optional(),
    tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
  })
  .strict();

export const impairmentSchema = z
  .object({
    name: nameText.optional(),
    agent: nameText,
    dev: devText.optional(),
    netns: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a network namespace name').optional(),
    relay: z
      .object({ listen: hostPort, upstream: z.union([hostPort, z.string().regex(/^agent:[A-Za-z0-9][A-Za-z0-9_.-]*$/)]), proto: z.enum(['udp', 'tcp']).default('udp') })
      .strict()
      .optional(),
    profile: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    direction: z.enum(['egress', 'ingress', 'both']).default('both'),
    match: z.array(matchRuleSchema).optional(),
    exclude: z.array(matchRuleSchema).optional(),
  })
  .strict()
  .refine((i) => (i.dev === undefined) !== (i.relay === undefined), {
    message: "give exactly one target: 'dev' (netem) or 'relay' (userspace relay)",
  });

const faultBase = {
  agent: nameText,
  at: durationText.default('0s'),
  /** An agent-side fault in this namespace on the agent's host (the agent runs `ip -n NS`); `netns` instead runs it on the controller. */
  agentNetns: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/).optional(),
};

export const faultSchema = z.discriminatedUnion('kind', [
  z
    .object({ kind: z.literal('link-down'), ...faultBase, dev: devText, netns: z.string().optional(), duration: durationText })
    .strict(),
  z
    .object({
      kind: z.literal('flap'),
      ...faultBase,
      dev: devText,
      netns: z.string().optional(),
      downFor: durationText,
      upFor: durationText,
      count: z.number().int().min(1).max(1000),
    })
    .strict(),
  z
    .object({
      kind: z.literal('blackhole'),
      ...faultBase,
      /** Run on the controller's host in this network namespace (see local-faults.ts). */
      netns: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
      peer: z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'must be an IP address or CIDR'),
      duration: durationText,
    })
    .strict(),
]);

export const probeSchema = z
  .object({
    name: nameText,
    from: nameText,
    /** 'HOST:PORT' (STAMP reflector), 'agent:NAME' (that agent's reflector), 'tcp://H:P', 'http(s)://...'. */
    to: z.string().min(1),
    /** Optional: must agree with the scheme of `to` (a mismatch is refused with its path). */
    kind: z.enum(['stamp', 'tcp', 'http']).optional(),
    interval: durationText.optional(),
    timeout: durationText.optional(),
    /** Impairments (by name) this probe's path crosses; used for conformance. */
    crosses: z.array(nameText).optional(),
  })
  .strict();

export const hookSchema = z
  .object({
    name: nameText,
    /** Where the command runs: 'controller' (this machine) or an agent's name (a hook its config declares). */
    on: nameText.default('controller'),
    /** Controller hooks: a shell command line (run with /bin/sh -c) or an argv array (no shell). */
    run: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional(),
    /** Agent hooks: the name of the hook in that agent's config (default: this hook's name). */
    hook: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).optional(),
    /** When in the step to start it; it may run until the step ends plus `timeout`. */
    at: durationText.default('0s'),
    timeout: durationText.default('60s'),
    /** A JUnit XML file the command writes; its test cases become part of the report. */
    junit: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
    /**
     * The exit code the step expects (default 0): an automatic `exit == N` assertion, unless the
     * step asserts on this hook's `exit` itself. 'any': no automatic check.
     */
    expectExit: z.union([z.number().int().min(0).max(255), z.literal('any')]).optional(),
  })
  .strict();

export const assertionSchema = z.union([
  z.string().min(1),
  z.object({ probe: nameText, assert: z.string().min(1) }).strict(),
  z.object({ hook: nameText, assert: z.string().min(1).default('exit == 0') }).strict(),
  z.object({ promql: z.string().min(1), assert: z.string().min(1), name: z.string().optional() }).strict(),
]);

export const stepSchema = z
  .object({
    name: nameText,
    duration: durationText,
    impairments: z.array(impairmentSchema).default([]),
    faults: z.array(faultSchema).default([]),
    probes: z.array(probeSchema).default([]),
    hooks: z.array(hookSchema).default([]),
    assertions: z.array(assertionSchema).default([]),
  })
  .strict();

export const campaignSchema = z
  .object({
    name: nameText,
    description: z.string().default(''),
    agents: z.array(z.union([agentEntry, fileSdEntry])).min(1, 'a campaign needs at least one agent'),
    prometheus: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s):// URL').optional(),
    leaseTtl: durationText.default('30s'),
    startDelay: durationText.default('2s'),
    probeDefaults: z
      .object({
        interval: durationText.default('20ms'),
        timeout: durationText.default('1s'),
        outageMinLost: z.number().int().min(1).max(1000).default(3),
      })
      .strict()
      .default({ interval: '20ms', timeout: '1s', outageMinLost: 3 }),
    steps: z.array(stepSchema).min(1, 'a campaign needs at least one step'),
  })
  .strict();

export type RawCampaign = z.infer<typeof campaignSchema>;
export type RawStep = z.infer<typeof stepSchema>;
