/**
 * Probe sessions and the reflector through the agent API, on loopback with the real probe engine
 * and reflector; and a relay impairment created through the API measured by an API probe.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ProbeSessions, startAgentReflector } from '../../../agent/probes/sessions.js';
import { RelayBackend } from '../../../agent/relay/backend.js';
import { bearer, makeFixture, type Fixture } from '../daemon-fixture.js';
import { reservePort } from '../../support/ports.js';

let fx: Fixture | undefined;
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await fx?.close();
  fx = undefined;
  for (const c of cleanup) await c();
  cleanup = [];
});

async function setup(withRelay = false): Promise<{ fx: Fixture; port: number; probes: ProbeSessions }> {
  const registry = new Registry();
  const reflector = await startAgentReflector('127.0.0.1', 0, registry);
  cleanup.push(() => reflector.close());
  const probes = new ProbeSessions({ registry });
  const relay = withRelay ? new RelayBackend({ registry }) : undefined;
  fx = await makeFixture({ extra: { probes, reflector, registry, ...(relay ? { relay } : {}) } });
  const port = reflector.view().port as number;
  return { fx, port, probes };
}

type View = { id: string; state: string; summary: { sent: number; received: number; rttMs: { p50: number } } };

async function finished(f: Fixture, id: string): Promise<View> {
  for (let i = 0; i < 400; i++) {
    const v = (await f.daemon.app.inject({ method: 'GET', url: `/v1/probes/${id}`, headers: bearer('reader') })).json() as View;
    if (v.state === 'stopped') return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('probe did not finish');
}

describe('probe sessions through the API', () => {
  it('start, summary, histogram, metrics, reflector counters', async () => {
    const { fx: f, port } = await setup();
    const r = await f.daemon.app.inject({ method: 'POST', url: '/v1/probes', headers: bearer('alice'), payload: { target: `127.0.0.1:${port}`, name: 'loop', intervalMs: 10, count: 40, timeoutMs: 10_000 } });
    expect(r.statusCode).toBe(201);
    const v = await finished(f, r.json().id);
    expect(v.summary.sent).toBe(40);
    expect(v.summary.received).toBe(40);
    const h = (await f.daemon.app.inject({ method: 'GET', url: `/v1/probes/${v.id}/histogram`, headers: bearer('reader') })).json();
    expect(h).toMatchObject({ id: v.id, unit: 'ns' });
    expect(h.encoded.length).toBeGreaterThan(10);
    const refl = (await f.daemon.app.inject({ method: 'GET', url: '/v1/reflector', headers: bearer('reader') })).json();
    expect(refl).toMatchObject({ enabled: true, port });
    expect(refl.counters.reflected).toBe(40);
    const text = (await f.daemon.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain(`backhaul_probe_sent_total{target="127.0.0.1:${port}",probe="loop"} 40`);
    expect(text).toMatch(/backhaul_reflector_reflected_total 40/);
    const list = (await f.daemon.app.inject({ method: 'GET', url: '/v1/probes', headers: bearer('reader') })).json();
    expect(list.probes.map((p: { id: string }) => p.id)).toEqual([v.id]);
  });

  it('stop a running session (final summary); bad targets are 400', async () => {
    const { fx: f, port } = await setup();
    const r = (await f.daemon.app.inject({ method: 'POST', url: '/v1/probes', headers: bearer('alice'), payload: { target: `127.0.0.1:${port}`, intervalMs: 20 } })).json();
    // Running and sending (not a fixed sleep: a loaded host may skip the first slots as missed).
    await expect.poll(async () => ((await f.daemon.app.inject({ method: 'GET', url: `/v1/probes/${r.id}`, headers: bearer('reader') })).json() as View).summary.sent, { timeout: 30_000 }).toBeGreaterThan(0);
    const stopped = await f.daemon.app.inject({ method: 'DELETE', url: `/v1/probes/${r.id}`, headers: bearer('alice') });
    expect(stopped.statusCode).toBe(200);
    expect(stopped.json().state).toBe('stopped');
    expect(stopped.json().summary.sent).toBeGreaterThan(0);
    const bad = await f.daemon.app.inject({ method: 'POST', url: '/v1/probes', headers: bearer('alice'), payload: { target: 'gopher://x:1' } });
    expect(bad.statusCode).toBe(400);
    const ro = await f.daemon.app.inject({ method: 'POST', url: '/v1/probes', headers: bearer('reader'), payload: { target: `127.0.0.1:${port}` } });
    expect(ro.statusCode).toBe(403);
    expect((await f.daemon.app.inject({ method: 'GET', url: '/v1/probes/prb-nope', headers: bearer('reader') })).statusCode).toBe(404);
  });

  it('standing probes run from the config and cannot be stopped through the API', async () => {
    const { fx: f, port, probes } = await setup();
    probes.startStanding([{ name: 'mesh-self', target: `127.0.0.1:${port}`, intervalMs: 50 }]);
    let id = '';
    for (let i = 0; i < 100 && !id; i++) {
      id = probes.list().find((p) => p.origin === 'standing')?.id ?? '';
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(id).not.toBe('');
    const r = await f.daemon.app.inject({ method: 'DELETE', url: `/v1/probes/${id}`, headers: bearer('alice') });
    expect(r.statusCode).toBe(403);
    await probes.stopAll();
  });

  it('a relay impairment created through the API delays what an API probe measures through it', async () => {
    const { fx: f, port } = await setup(true);
    // Not a port in the ephemeral range, which any parallel test's socket can hold (EADDRINUSE).
    const relayPort = await reservePort();
    const imp = await f.daemon.app.inject({
      method: 'POST', url: '/v1/impairments', headers: bearer('alice'),
      payload: { target: { kind: 'relay', proto: 'udp', listen: `127.0.0.1:${relayPort}`, upstream: `127.0.0.1:${port}` }, profile: { name: 'd20', description: '20 ms each way', egress: { delay: '20ms' }, ingress: { delay: '20ms' } }, ttl: '1m' },
    });
    expect(imp.statusCode, imp.body).toBe(201);
    expect(imp.json()).toMatchObject({ backend: 'relay', managementExcluded: false });
    const r = (await f.daemon.app.inject({ method: 'POST', url: '/v1/probes', headers: bearer('alice'), payload: { target: `127.0.0.1:${relayPort}`, intervalMs: 20, count: 20, timeoutMs: 2000 } })).json();
    const v = await finished(f, r.id);
    expect(v.summary.received).toBe(20);
    // 20 ms added each way: no RTT can be below 40 ms.
    expect(v.summary.rttMs.p50).toBeGreaterThanOrEqual(40);
    const del = await f.daemon.app.inject({ method: 'DELETE', url: `/v1/impairments/${imp.json().id}`, headers: bearer('alice') });
    expect(del.statusCode).toBe(200);
  });
});
