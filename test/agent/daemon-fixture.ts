/**
 * A daemon built from fakes for the integration tier: FakeBackend, an in-memory guard port, a
 * journal in a temp directory, in-memory audit. Profiles come from `profiles` (the real parser).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { MemoryAuditLog } from '../../agent/audit.js';
import { makeToken, type Role } from '../../agent/api/auth.js';
import { createDaemon, type Daemon, type DaemonParts } from '../../agent/daemon.js';
import type { AgentBackend } from '../../agent/agent-backend.js';
import { Journal } from '../../agent/journal.js';
import { FakeBackend } from './fake-backend.js';
import { testProfiles } from './test-profiles.js';

export const TOKENS = {
  alice: 'alice-token-0123456789abcdef',
  bob: 'bob-token-0123456789abcdef00',
  reader: 'reader-token-0123456789abcdef',
};

export interface Fixture {
  daemon: Daemon;
  backend: FakeBackend;
  plans: string[][][];
  audit: MemoryAuditLog;
  journal: Journal;
  dir: string;
  close(): Promise<void>;
}

export interface FixtureOptions {
  auth?: boolean;
  clock?: Clock;
  defaultTtlMs?: number;
  maxTtlMs?: number;
  bodyLimitBytes?: number;
  https?: { key: Buffer | string; cert: Buffer | string };
  /** Extra real parts (integration tier): probe sessions, reflector, relay backend, a shared registry. */
  extra?: Partial<Pick<DaemonParts, 'probes' | 'reflector' | 'registry'>> & { relay?: AgentBackend };
  /** Fault command runner / management lookup, and named hooks (agent config `hooks:`). */
  faults?: DaemonParts['faults'];
  agentHooks?: DaemonParts['agentHooks'];
}

export async function makeFixture(opts: FixtureOptions = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'bh-agent-'));
  const backend = new FakeBackend();
  const plans: string[][][] = [];
  const audit = new MemoryAuditLog();
  const journal = new Journal(join(dir, 'journal.json'));
  const tokens = opts.auth === false ? null : [
    makeToken('alice', TOKENS.alice),
    makeToken('bob', TOKENS.bob),
    makeToken('reader', TOKENS.reader, 'read' as Role),
  ];
  const daemon = await createDaemon({
    version: '0.0.0-test',
    backends: new Map<'netem' | 'relay', AgentBackend>([['netem', backend], ...(opts.extra?.relay ? [['relay', opts.extra.relay] as ['relay', AgentBackend]] : [])]),
    ...(opts.extra?.probes ? { probes: opts.extra.probes } : {}),
    ...(opts.extra?.reflector ? { reflector: opts.extra.reflector } : {}),
    ...(opts.extra?.registry ? { registry: opts.extra.registry } : {}),
    profiles: testProfiles(join(dir, 'profiles')),
    journal,
    guard: { pid: 4242, alive: true, restarts: 0, setPlan: async (p) => void plans.push(p) },
    auth: { tokens },
    audit,
    leases: { defaultTtlMs: opts.defaultTtlMs ?? 60_000, maxTtlMs: opts.maxTtlMs ?? 3_600_000 },
    management: { apiPort: 8470, sshPorts: [22], extra: [] },
    capabilities: async () => ({ backends: ['netem'], kernel: { release: 'test', features: { htb: true } }, iproute2Version: null, nodeVersion: process.version, hostname: 'test' }),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.bodyLimitBytes ? { bodyLimitBytes: opts.bodyLimitBytes } : {}),
    ...(opts.https ? { https: opts.https } : {}),
    leaseCheckMs: 20,
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.agentHooks ? { agentHooks: opts.agentHooks } : {}),
  });
  return {
    daemon, backend, plans, audit, journal, dir,
    close: async () => {
      await daemon.shutdown();
      await journal.idle();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function bearer(name: keyof typeof TOKENS): Record<string, string> {
  return { authorization: `Bearer ${TOKENS[name]}` };
}
