/**
 * Every API route through fastify `inject` (no sockets), with a fake backend: auth (401/403),
 * leases and ownership (409, force), validation (malformed, oversized, hostile names, inline
 * profiles with errors), events, metrics and the audit log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { bearer, makeFixture, TOKENS, type Fixture } from '../daemon-fixture.js';

let fx: Fixture;
afterEach(async () => {
  await fx?.close();
});

const create = (fx: Fixture, body: unknown, who: 'alice' | 'bob' | 'reader' = 'alice') =>
  fx.daemon.app.inject({ method: 'POST', url: '/v1/impairments', headers: bearer(who), payload: body as object });

describe('auth', () => {
  it('401 without or with a wrong token, 403 for a read-only token changing things', async () => {
    fx = await makeFixture();
    const none = await fx.daemon.app.inject({ method: 'GET', url: '/v1/impairments' });
    expect(none.statusCode).toBe(401);
    expect(none.json().code).toBe('ERR_UNAUTHORIZED');
    const wrong = await fx.daemon.app.inject({ method: 'GET', url: '/v1/impairments', headers: { authorization: `Bearer ${TOKENS.alice}x` } });
    expect(wrong.statusCode).toBe(401);
    const basic = await fx.daemon.app.inject({ method: 'GET', url: '/v1/health', headers: { authorization: `Basic ${TOKENS.alice}` } });
    expect(basic.statusCode).toBe(401);
    const read = await fx.daemon.app.inject({ method: 'GET', url: '/v1/impairments', headers: bearer('reader') });
    expect(read.statusCode).toBe(200);
    const change = await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m' }, 'reader');
    expect(change.statusCode).toBe(403);
    expect(change.json().code).toBe('ERR_FORBIDDEN');
    expect(fx.backend.calls).toEqual([]);
    // The audit log records refused changes too, with the token name.
    expect(fx.audit.records.at(-1)).toMatchObject({ token: 'reader', status: 403, result: 'error', code: 'ERR_FORBIDDEN' });
    // A change without a valid token has no name to record.
    const anon = await fx.daemon.app.inject({ method: 'DELETE', url: '/v1/impairments/x' });
    expect(anon.statusCode).toBe(401);
    expect(fx.audit.records.at(-1)).toMatchObject({ token: 'unauthenticated', status: 401, code: 'ERR_UNAUTHORIZED' });
  });

  it('GET /metrics is open by default (Prometheus scrapes it)', async () => {
    fx = await makeFixture();
    const r = await fx.daemon.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('backhaul_agent_build_info');
  });
});

describe('impairments', () => {
  it('create, list, get, renew, delete; management path excluded; journal and guard follow', async () => {
    fx = await makeFixture();
    const r = await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', ttl: '30s', labels: { campaign: 'c1', step: 's1' } });
    expect(r.statusCode).toBe(201);
    const view = r.json();
    expect(view).toMatchObject({ backend: 'netem', profileName: 'rate-1m', controller: 'alice', state: 'active', inEffect: true, managementExcluded: true });
    expect(view.expiresAtMs - view.createdAtMs).toBe(30_000);
    // API port and SSH from anyone, and the controlling peer, are excluded (inject's peer is 127.0.0.1).
    expect(view.exclude).toEqual(expect.arrayContaining([
      { peer: '0.0.0.0/0', localPort: 8470, proto: 'tcp' },
      { peer: '::/0', localPort: 22, proto: 'tcp' },
      { peer: '127.0.0.1/32' },
    ]));
    expect(view.target.exclude).toEqual(view.exclude);
    expect(fx.backend.calls).toEqual(['apply netem::eth0 rate-1m']);
    expect(fx.plans.at(-1)).toEqual([['true', 'revert', 'netem::eth0']]);
    expect(fx.journal.entries().map((e) => e.id)).toEqual([view.id]);

    const list = await fx.daemon.app.inject({ method: 'GET', url: '/v1/impairments', headers: bearer('reader') });
    expect(list.json().impairments.map((i: { id: string }) => i.id)).toEqual([view.id]);
    const got = await fx.daemon.app.inject({ method: 'GET', url: `/v1/impairments/${view.id}`, headers: bearer('reader') });
    expect(got.json().id).toBe(view.id);

    const renewed = await fx.daemon.app.inject({ method: 'POST', url: `/v1/impairments/${view.id}/renew`, headers: bearer('alice'), payload: { ttl: '10m' } });
    expect(renewed.statusCode).toBe(200);
    expect(renewed.json().expiresAtMs).toBeGreaterThanOrEqual(view.createdAtMs + 600_000);

    const del = await fx.daemon.app.inject({ method: 'DELETE', url: `/v1/impairments/${view.id}`, headers: bearer('alice') });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ id: view.id, reverted: true });
    expect(fx.backend.live.size).toBe(0);
    expect(fx.plans.at(-1)).toEqual([]);
    expect(fx.journal.entries()).toEqual([]);
    const gone = await fx.daemon.app.inject({ method: 'GET', url: `/v1/impairments/${view.id}`, headers: bearer('alice') });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().code).toBe('ERR_NOT_FOUND');
    expect(fx.audit.records.map((a) => [a.method, a.route, a.status, a.token])).toEqual([
      ['POST', '/v1/impairments', 201, 'alice'],
      ['POST', '/v1/impairments/:id/renew', 200, 'alice'],
      ['DELETE', '/v1/impairments/:id', 200, 'alice'],
    ]);
  });

  it('allowManagementInterface turns the management excludes off', async () => {
    fx = await makeFixture();
    const r = await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', allowManagementInterface: true, exclude: ['peer=10.0.0.0/8,port=443'] });
    expect(r.statusCode).toBe(201);
    expect(r.json().exclude).toEqual([{ peer: '10.0.0.0/8', port: 443 }]);
    expect(r.json().managementExcluded).toBe(false);
  });

  it('a second controller gets 409 on create, renew and delete unless it forces', async () => {
    fx = await makeFixture();
    const a = (await create(fx, { target: { dev: 'eth0', netns: 'site1' }, profile: 'rate-1m' })).json();
    const b = await create(fx, { target: { dev: 'eth0', netns: 'site1' }, profile: 'rate-1m' }, 'bob');
    expect(b.statusCode).toBe(409);
    expect(b.json()).toMatchObject({ code: 'ERR_LEASE_CONFLICT', details: { id: a.id, controller: 'alice' } });
    const renew = await fx.daemon.app.inject({ method: 'POST', url: `/v1/impairments/${a.id}/renew`, headers: bearer('bob'), payload: {} });
    expect(renew.statusCode).toBe(409);
    const del = await fx.daemon.app.inject({ method: 'DELETE', url: `/v1/impairments/${a.id}`, headers: bearer('bob') });
    expect(del.statusCode).toBe(409);
    // The same token with another controller name is another controller too.
    const other = await create(fx, { target: { dev: 'eth0', netns: 'site1' }, profile: 'rate-1m', controller: 'campaign-7' });
    expect(other.statusCode).toBe(409);
    // A different target is free.
    expect((await create(fx, { target: { dev: 'eth1', netns: 'site1' }, profile: 'rate-1m' }, 'bob')).statusCode).toBe(201);
    const forced = await create(fx, { target: { dev: 'eth0', netns: 'site1' }, profile: 'rate-1m', force: true }, 'bob');
    expect(forced.statusCode).toBe(201);
    expect(forced.json().controller).toBe('bob');
    const ids = fx.daemon.manager.list().map((i) => i.id);
    expect(ids).not.toContain(a.id);
    expect(ids).toHaveLength(2);
    const forcedDel = await fx.daemon.app.inject({ method: 'DELETE', url: `/v1/impairments/${forced.json().id}?force=true`, headers: bearer('alice') });
    expect(forcedDel.statusCode).toBe(200);
  });

  it('the same controller re-creating on its target replaces the impairment', async () => {
    fx = await makeFixture();
    const a = (await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m' })).json();
    const b = await create(fx, { target: { dev: 'eth0' }, profile: { name: 'inline', description: 'half a megabit', egress: { rate: '500kbit' } } });
    expect(b.statusCode).toBe(201);
    expect(fx.daemon.manager.list().map((i) => i.id)).toEqual([b.json().id]);
    expect(fx.journal.entries().map((e) => e.id)).toEqual([b.json().id]);
    expect(a.id).not.toBe(b.json().id);
  });

  it('ttl above the maximum, zero, or malformed is 400', async () => {
    fx = await makeFixture({ maxTtlMs: 60_000 });
    for (const ttl of ['2m', 0, 'soon', '10x', -5]) {
      const r = await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', ttl });
      expect(r.statusCode, String(ttl)).toBe(400);
      expect(r.json().code).toBe('ERR_BAD_REQUEST');
    }
    expect(fx.backend.calls).toEqual([]);
  });

  it('a failed apply leaves no record, no journal entry, and reverts', async () => {
    fx = await makeFixture();
    fx.backend.missingDevs.add('nope0');
    const r = await create(fx, { target: { dev: 'nope0' }, profile: 'rate-1m' });
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('ERR_INTERFACE_NOT_FOUND');
    expect(fx.daemon.manager.list()).toEqual([]);
    expect(fx.journal.entries()).toEqual([]);
    expect(fx.backend.calls).toEqual(['apply netem::nope0 rate-1m', 'revert netem::nope0']);
  });
});

describe('validation', () => {
  it.each([
    ['eth0;reboot'],
    ['a-very-long-interface-name'],
    ['../../etc'],
    ['eth0 '],
    [''],
    ['$(id)'],
  ])('hostile interface name %j is rejected before any effect', async (dev) => {
    fx = await makeFixture();
    const r = await create(fx, { target: { dev }, profile: 'rate-1m' });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('ERR_BAD_REQUEST');
    expect(r.json().details.problems[0]).toMatch(/^target/);
    expect(fx.backend.calls).toEqual([]);
  });

  it('hostile netns names and match rules are rejected', async () => {
    fx = await makeFixture();
    expect((await create(fx, { target: { dev: 'eth0', netns: '../x' }, profile: 'rate-1m' })).statusCode).toBe(400);
    const m = await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', match: ['peer=10.0.0.0/33', { peer: 'evil;rm', port: 70000 }] });
    expect(m.statusCode).toBe(400);
    expect(m.json().details.problems.length).toBeGreaterThanOrEqual(3);
  });

  it('an inline profile with errors lists every problem', async () => {
    fx = await makeFixture();
    const r = await create(fx, { target: { dev: 'eth0' }, profile: { egress: { rate: 'fast', delay: -3 }, bogus: 1 } });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('ERR_PROFILE_INVALID');
    expect(r.json().details.problems.length).toBeGreaterThanOrEqual(2);
    expect(fx.backend.calls).toEqual([]);
  });

  it('unknown profile names are 404; paths are not accepted', async () => {
    fx = await makeFixture();
    expect((await create(fx, { target: { dev: 'eth0' }, profile: 'no-such' })).json().code).toBe('ERR_PROFILE_NOT_FOUND');
    const path = await create(fx, { target: { dev: 'eth0' }, profile: '/etc/passwd' });
    expect(path.statusCode).toBe(404);
    expect(path.json().message).toContain('not paths');
  });

  it('malformed JSON, wrong content type, unknown fields and oversized bodies', async () => {
    fx = await makeFixture({ bodyLimitBytes: 4096 });
    const bad = await fx.daemon.app.inject({ method: 'POST', url: '/v1/impairments', headers: { ...bearer('alice'), 'content-type': 'application/json' }, payload: '{"target":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('ERR_BAD_REQUEST');
    const text = await fx.daemon.app.inject({ method: 'POST', url: '/v1/impairments', headers: { ...bearer('alice'), 'content-type': 'text/plain' }, payload: 'hello' });
    expect(text.statusCode).toBe(400);
    const extra = await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', sudo: true });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().details.problems.join()).toContain('sudo');
    const big = await create(fx, { target: { dev: 'eth0' }, profile: { name: 'x', description: 'y'.repeat(10_000), egress: { rateKbit: 1 } } });
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe('ERR_BODY_TOO_LARGE');
    const notObj = await create(fx, [1, 2, 3]);
    expect(notObj.statusCode).toBe(400);
    expect(fx.backend.calls).toEqual([]);
  });

  it('unknown routes and bad ids are 404 with a catalogued body', async () => {
    fx = await makeFixture();
    const r = await fx.daemon.app.inject({ method: 'GET', url: '/v1/nope', headers: bearer('alice') });
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('ERR_NOT_FOUND');
    const id = await fx.daemon.app.inject({ method: 'GET', url: '/v1/impairments/..%2f..%2fetc', headers: bearer('alice') });
    expect(id.statusCode).toBe(404);
  });
});

describe('info routes', () => {
  it('health, capabilities, profiles, reflector, probes without an engine', async () => {
    fx = await makeFixture();
    const h = (await fx.daemon.app.inject({ method: 'GET', url: '/v1/health', headers: bearer('reader') })).json();
    expect(h).toMatchObject({ status: 'ok', version: '0.0.0-test', impairments: 0, guard: { pid: 4242, alive: true } });
    const c = (await fx.daemon.app.inject({ method: 'GET', url: '/v1/capabilities', headers: bearer('reader') })).json();
    expect(c).toMatchObject({ backends: ['netem'], leases: { defaultTtlMs: 60_000, maxTtlMs: 3_600_000 } });
    const p = (await fx.daemon.app.inject({ method: 'GET', url: '/v1/profiles', headers: bearer('reader') })).json();
    expect(p.profiles.map((x: { name: string }) => x.name)).toContain('rate-1m');
    const one = await fx.daemon.app.inject({ method: 'GET', url: '/v1/profiles/rate-1m', headers: bearer('reader') });
    expect(one.json().profile.name).toBe('rate-1m');
    expect((await fx.daemon.app.inject({ method: 'GET', url: '/v1/profiles/nope', headers: bearer('reader') })).statusCode).toBe(404);
    const refl = (await fx.daemon.app.inject({ method: 'GET', url: '/v1/reflector', headers: bearer('reader') })).json();
    expect(refl.enabled).toBe(false);
    const probe = await fx.daemon.app.inject({ method: 'POST', url: '/v1/probes', headers: bearer('alice'), payload: { target: '127.0.0.1:862' } });
    expect(probe.statusCode).toBe(501);
    expect(probe.json().code).toBe('ERR_CAPABILITY_MISSING');
  });

  it('metrics describe impairments, leases, campaign steps and API requests', async () => {
    fx = await makeFixture();
    const v = (await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', labels: { campaign: 'c1', step: 's1' } })).json();
    const text = (await fx.daemon.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain(`backhaul_agent_impairment_info{impairment="${v.id}",iface="eth0",netns="",profile="rate-1m",backend="netem",direction="both",phase=""} 1`);
    expect(text).toContain(`backhaul_impairment_in_effect{impairment="${v.id}",iface="eth0"} 1`);
    expect(text).toContain(`backhaul_agent_lease_expiry_timestamp_seconds{impairment="${v.id}"} ${v.expiresAtMs / 1000}`);
    expect(text).toContain(`backhaul_campaign_step_info{campaign="c1",step="s1",impairment="${v.id}"} 1`);
    expect(text).toMatch(/backhaul_agent_api_requests_total\{method="POST",route="\/v1\/impairments",code="201"\} 1/);
  });

  it('the event stream reports creation and deletion', async () => {
    fx = await makeFixture();
    const got: { type: string; id?: string }[] = [];
    const ws = await fx.daemon.app.injectWS('/v1/events', { headers: bearer('reader') } as never, {
      onInit: (w) => w.on('message', (d: Buffer) => got.push(JSON.parse(String(d)))),
    });
    try {
      const v = (await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m' })).json();
      await fx.daemon.app.inject({ method: 'DELETE', url: `/v1/impairments/${v.id}`, headers: bearer('alice') });
      await expect.poll(() => got.map((e) => e.type), { timeout: 15_000 }).toEqual(['hello', 'impairment.created', 'impairment.deleted']);
    } finally {
      ws.terminate();
    }
  });

  it('the event stream needs a token', async () => {
    fx = await makeFixture();
    await expect(fx.daemon.app.injectWS('/v1/events', {} as never)).rejects.toThrow(/401/);
  });
});

describe('leases', () => {
  // Fake time: on the real clock, a create and a renew further apart than a short first ttl (a
  // loaded host) would let the lease expire before the renew, and a long ttl makes a slow test.
  it('a renewed lease outlives its first ttl', async () => {
    const clock = new FakeClock();
    fx = await makeFixture({ clock });
    const a = (await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', ttl: '400ms' })).json();
    const r = await fx.daemon.app.inject({ method: 'POST', url: `/v1/impairments/${a.id}/renew`, headers: bearer('alice'), payload: { ttl: '30s' } });
    expect(r.statusCode).toBe(200);
    await clock.advance(800);
    await fx.daemon.manager.expireDue(); // the lease check at 800 ms, awaited
    expect(fx.daemon.manager.list().map((i) => i.id)).toEqual([a.id]);
    expect(fx.backend.live.has('netem::eth0')).toBe(true);
  });

  it('an expired lease is reverted, an unexpired one stays', async () => {
    const clock = new FakeClock();
    fx = await makeFixture({ clock, defaultTtlMs: 300 });
    const a = (await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m' })).json();
    const b = (await create(fx, { target: { dev: 'eth1' }, profile: 'rate-1m', ttl: '10s' })).json();
    await clock.advance(300); // the lease loop (every 20 ms) wakes at a's expiry
    // The deleted event comes last (after the revert, the guard and the journal on disk).
    await expect.poll(() => fx.daemon.events.history().some((e) => e.type === 'impairment.deleted' && e.id === a.id && e.reason === 'expired'), { timeout: 15_000 }).toBe(true);
    expect(fx.daemon.manager.list().map((i) => i.id)).toEqual([b.id]);
    expect(fx.backend.live.has('netem::eth0')).toBe(false);
    expect(fx.journal.entries().map((e) => e.id)).toEqual([b.id]);
  });
});
