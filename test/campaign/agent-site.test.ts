/**
 * AgentSite against a scripted agent API (unit tier: the HTTP layer is a fake fetch): what it sends,
 * how it converts the agent's clock to the controller's, and its histogram units.
 */
import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/api/client.js';
import { AgentSite, rescaleHistogram } from '../../campaign/sites/agent-site.js';
import { summaryOf } from './fixture.js';

type Handler = (method: string, path: string, body: unknown) => [number, unknown];

function site(handler: Handler, calls: string[] = []): AgentSite {
  const fetchImpl = (async (url: string, init: { method: string; body?: string }) => {
    const path = url.replace('http://agent:8470', '');
    calls.push(`${init.method} ${path}`);
    const [status, body] = handler(init.method, path, init.body ? JSON.parse(init.body) : undefined);
    return new Response(JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
  return new AgentSite({ name: 'store', url: 'http://agent:8470' }, { client: new AgentClient('http://agent:8470', { fetch: fetchImpl }), controller: 'ci' });
}

describe('AgentSite', () => {
  it('apply sends target, profile, lease and labels; times come back on the controller clock', async () => {
    let sent: any;
    const s = site((m, p, b) => {
      if (m === 'POST' && p === '/v1/impairments') {
        sent = b;
        return [201, { id: 'imp-1', createdAtMs: 10_050, phaseSwitches: [] }];
      }
      return [404, { code: 'ERR_NOT_FOUND', message: 'x', details: {} }];
    });
    s.setClockOffset(50); // the agent's clock is 50 ms ahead
    const r = await s.apply({
      impairment: { name: 'wan', agent: 'store', target: { kind: 'netem', dev: 'eth1' }, profile: { name: 'lte-cell-edge' }, direction: 'both', exclude: [{ peer: '10.0.0.0/8', port: 22, proto: 'tcp' }] },
      profile: { name: 'lte-cell-edge', description: '', egress: {} },
      ttlMs: 30_000,
      campaign: 'gate',
      step: 'lte',
    });
    expect(r).toEqual({ id: 'imp-1', appliedAtMs: 10_000 });
    expect(sent).toEqual({
      target: { kind: 'netem', dev: 'eth1' },
      profile: 'lte-cell-edge',
      direction: 'both',
      exclude: [{ peer: '10.0.0.0/8', port: 22, proto: 'tcp' }],
      ttl: 30_000,
      controller: 'ci',
      labels: { campaign: 'gate', step: 'lte' },
    });
  });

  it('apply sends the agreed start in the agent clock (offset added); appliedAtMs comes back on the controller clock', async () => {
    let sent: any;
    const s = site((m, p, b) => {
      if (m === 'POST' && p === '/v1/impairments') {
        sent = b;
        return [201, { id: 'imp-2', createdAtMs: 9_000, appliedAtMs: 20_053, phaseSwitches: [] }];
      }
      return [404, { code: 'ERR_NOT_FOUND', message: 'x', details: {} }];
    });
    s.setClockOffset(50); // the agent's clock is 50 ms ahead
    const r = await s.apply({
      impairment: { name: 'wan', agent: 'store', target: { kind: 'netem', dev: 'eth1' }, profile: { name: 'lte-cell-edge' }, direction: 'both' },
      profile: { name: 'lte-cell-edge', description: '', egress: {} },
      ttlMs: 30_000,
      campaign: 'gate',
      step: 'lte',
      startAtMs: 20_000,
    });
    expect(sent.startAt).toBe(20_050);
    expect(r).toEqual({ id: 'imp-2', appliedAtMs: 20_003 });
  });

  it('inEffect reads the gap history back: an open gap counted up to now, times on the controller clock', async () => {
    const now = Date.now();
    const s = site((m, p) =>
      m === 'GET' && p === '/v1/impairments/imp-3'
        ? [200, { id: 'imp-3', inEffect: false, notInEffect: { count: 2, totalMs: 700, lastAtMs: now + 50 - 2_000, sinceMs: now + 50 - 2_000 } }]
        : [404, { code: 'ERR_NOT_FOUND', message: 'x', details: {} }],
    );
    s.setClockOffset(50);
    const r = await s.inEffect('imp-3');
    expect(r.now).toBe(false);
    expect(r.gaps!.count).toBe(2);
    expect(r.gaps!.lastAtMs).toBe(now - 2_000);
    // 700 closed + the open one (2 s so far, read a moment later)
    expect(r.gaps!.totalMs).toBeGreaterThanOrEqual(2_700 - 1);
    expect(r.gaps!.totalMs).toBeLessThan(2_700 + 5_000);
    // An agent without the history: just the reading.
    const old = site(() => [200, { id: 'imp-4', inEffect: true }]);
    expect(await old.inEffect('imp-4')).toEqual({ now: true });
  });

  it('revert of an impairment the agent no longer has resolves; other errors propagate', async () => {
    const s = site((m) => (m === 'DELETE' ? [404, { code: 'ERR_NOT_FOUND', message: 'gone', details: {} }] : [500, {}]));
    await expect(s.revert('imp-9')).resolves.toBeUndefined();
    const t = site(() => [409, { code: 'ERR_LEASE_CONFLICT', message: 'held by another controller', details: {} }]);
    await expect(t.revert('imp-9')).rejects.toMatchObject({ code: 'ERR_LEASE_CONFLICT' });
  });

  it('an unreachable agent is ERR_UNREACHABLE (the runner treats it as a lost site)', async () => {
    const s = new AgentSite({ name: 'x', url: 'http://127.0.0.1:9' }, { client: new AgentClient('http://127.0.0.1:9', { timeoutMs: 2000 }) });
    await expect(s.renew('imp-1', 1000)).rejects.toMatchObject({ code: 'ERR_UNREACHABLE' });
    const pf = await s.preflight();
    expect(pf.reachable).toBe(false);
  });

  it('pre-flight: missing token is reported, capabilities and reflector read', async () => {
    const denied = site((m, p) => (p === '/v1/health' ? [200, { status: 'ok', version: '0.1.0', uptimeS: 1, impairments: 0, probes: 0, guard: { pid: 1, alive: true, restarts: 0 } }] : [401, { code: 'ERR_UNAUTHORIZED', message: 'missing bearer token', details: {} }]));
    const pf = await denied.preflight();
    expect(pf).toMatchObject({ reachable: true, authorised: false });
    expect(pf.problems.join()).toMatch(/token refused/);
    const ok = site((m, p) => {
      if (p === '/v1/health') return [200, { status: 'ok', version: '0.1.0', uptimeS: 1, impairments: 0, probes: 0, guard: { pid: 1, alive: true, restarts: 0 } }];
      if (p === '/v1/impairments') return [200, { impairments: [] }];
      if (p === '/v1/capabilities') return [200, { backends: ['netem', 'relay'] }];
      if (p === '/v1/reflector') return [200, { enabled: true, address: '0.0.0.0', port: 862, counters: {} }];
      return [404, {}];
    });
    expect(await ok.preflight()).toMatchObject({ reachable: true, authorised: true, backends: ['netem', 'relay'], reflector: 'agent:862', version: '0.1.0' });
  });

  it('probe results: outage times converted with the offset, histograms rescaled to ns', async () => {
    const h = hdr.build();
    for (let i = 1; i <= 100; i++) h.recordValue(1000 * i); // 1..100 ms in us
    const us = hdr.encodeIntoCompressedBase64(h);
    const summary = summaryOf({ sent: 100, received: 100, lost: 0, outages: [{ startMs: 5050, endMs: 6050, durationMs: 1000, lost: 50, boundMs: 20 } as never] });
    const s = site((m, p) => {
      if (m === 'POST' && p === '/v1/probes') return [201, { id: 'pr-1' }];
      if (p === '/v1/probes/pr-1/histogram') return [200, { id: 'pr-1', encoded: us, unit: 'us' }];
      if (p === '/v1/probes/pr-1') return [200, { id: 'pr-1', summary: structuredClone(summary) }];
      return [404, {}];
    });
    s.setClockOffset(50);
    const run = await s.startProbe({ name: 'p', intervalMs: 20, timeoutMs: 1000 }, '10.0.0.1:862', 10_000);
    const fin = await run.stop();
    expect(fin.summary.outages[0]).toMatchObject({ startMs: 5000, endMs: 6000 });
    const ns = hdr.decodeFromCompressedBase64(fin.histogramNs!);
    expect(ns.totalCount).toBe(100);
    expect(ns.getValueAtPercentile(50) / 1e6).toBeCloseTo(50, 0);
    expect(await run.stop()).toBe(fin); // idempotent
  });

  it('rescaleHistogram keeps counts and scales values', () => {
    const h = hdr.build();
    h.recordValueWithCount(250, 7);
    const out = hdr.decodeFromCompressedBase64(rescaleHistogram(hdr.encodeIntoCompressedBase64(h), 1000));
    expect(out.totalCount).toBe(7);
    expect(out.getValueAtPercentile(50)).toBeGreaterThanOrEqual(249_000);
    expect(out.getValueAtPercentile(50)).toBeLessThanOrEqual(251_000);
  });
});
