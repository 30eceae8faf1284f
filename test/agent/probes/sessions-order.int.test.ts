/**
 * The probe session list's order (integration tier: the real probe engine against the agent's
 * reflector on loopback): the order the starts were asked for, not the order the sessions' async
 * starts completed in.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { validateProbe } from '../../../agent/api/validate.js';
import { ProbeSessions, startAgentReflector } from '../../../agent/probes/sessions.js';
import { startProbeSession, type ProbeSessionConfig } from '../../../probe/session.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** Sessions whose start of the one named `slow` waits until `release()` is called. */
async function setup(slow: string): Promise<{ probes: ProbeSessions; port: number; release: () => void }> {
  const registry = new Registry();
  const reflector = await startAgentReflector('127.0.0.1', 0, registry);
  cleanup.push(() => reflector.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const probes = new ProbeSessions({
    registry,
    start: async (cfg: ProbeSessionConfig) => {
      if (cfg.name === slow) await gate;
      return startProbeSession(cfg);
    },
  });
  cleanup.push(() => probes.stopAll());
  return { probes, port: reflector.view().port as number, release };
}

describe('ProbeSessions.list order', () => {
  it('API sessions in the order they were asked for, whichever start completed first', async () => {
    const { probes, port, release } = await setup('first');
    const first = probes.start(validateProbe({ target: `127.0.0.1:${port}`, name: 'first', intervalMs: 100 }));
    const second = await probes.start(validateProbe({ target: `127.0.0.1:${port}`, name: 'second', intervalMs: 100 }));
    expect(probes.list().map((p) => p.name)).toEqual(['second']); // the first is still starting
    release();
    const a = await first;
    expect(probes.list().map((p) => p.id)).toEqual([a.id, second.id]);
  });

  it("standing targets in the config file's order, whichever start completed first", async () => {
    const { probes, port, release } = await setup('mesh-a');
    probes.startStanding([
      { name: 'mesh-a', target: `127.0.0.1:${port}`, intervalMs: 100 },
      { name: 'mesh-b', target: `127.0.0.1:${port}`, intervalMs: 100 },
    ]);
    await expect.poll(() => probes.list().map((p) => p.name), { timeout: 15_000 }).toEqual(['mesh-b']);
    release();
    await expect.poll(() => probes.list().map((p) => p.name), { timeout: 15_000 }).toEqual(['mesh-a', 'mesh-b']);
  });
});
