/**
 * An ImpairmentManager for unit tests: fake clock, fake backend, a real journal in a temp dir,
 * every event recorded, and hooks the test can add to (a ScheduleRunner, say). `cleanup()` waits
 * for the journal's last write before removing the directory (a write may still be landing).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { afterEach } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../core/clock.js';
import type { Profile } from '../../core/profile.js';
import type { AgentEvent } from '../../agent/api/types.js';
import { EventBus } from '../../agent/events.js';
import { ImpairmentManager } from '../../agent/impairments/manager.js';
import { Journal } from '../../agent/journal.js';
import { FakeBackend } from './fake-backend.js';

export interface ManagerHooks {
  onActive?: (r: never) => void;
  onRemoved?: (r: never) => void;
}

export function managerFixture(profile: Profile, opts: { defaultTtlMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bh-manager-'));
  const journal = new Journal(join(dir, 'j.json'));
  const clock = new FakeClock(1_700_000_000_000);
  const events = new EventBus(() => clock.wallMs());
  const seen: AgentEvent[] = [];
  events.subscribe((e) => seen.push(e));
  const backend = new FakeBackend();
  const hooks: ManagerHooks[] = [];
  const manager = new ImpairmentManager({
    backends: new Map([['netem', backend]]), profiles: { resolve: async () => profile }, journal,
    guard: { setPlan: async () => undefined }, clock, events, leases: { defaultTtlMs: opts.defaultTtlMs ?? 3_600_000, maxTtlMs: 3_600_000 },
    management: { apiPort: 8470, sshPorts: [22], extra: [] },
    hooks: { onActive: (r) => hooks.forEach((h) => h.onActive?.(r as never)), onRemoved: (r) => hooks.forEach((h) => h.onRemoved?.(r as never)) },
  });
  const cleanup = async (): Promise<void> => {
    await journal.idle();
    rmSync(dir, { recursive: true, force: true });
  };
  return { clock, events, seen, backend, manager, hooks, cleanup };
}

/** A profile with one rate field: the simplest thing to apply. */
export const PLAIN_PROFILE: Profile = { name: 'plain', description: 'x', egress: { rateKbit: 1000 } };
/** The caller of the manager's calls in these tests. */
export const TEST_CALLER = { token: 't', peer: null };

/**
 * For a test file: `const fixture = managerFixtures();` at the top, then `fixture(profile)` in a
 * test; every fixture made is cleaned up after its test.
 */
export function managerFixtures(): typeof managerFixture {
  const open: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of open.splice(0)) await cleanup();
  });
  return (profile, opts) => {
    const fx = managerFixture(profile, opts);
    open.push(fx.cleanup);
    return fx;
  };
}
