/**
 * The fault and hook routes through fastify `inject`: validation (names, CIDR, durations, max TTL),
 * auth (401/403), the management path (403 for the interface routing to the caller; a blackhole
 * covering the caller is always refused), conflicts (409), the fault lifecycle as the commands run
 * (start, restore, guard plan, journal, events, metric), and hooks (unknown name 404, a real run).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { blackholeScript } from '../../../agent/faults/fault-plan.js';
import { bearer, makeFixture, type Fixture } from '../daemon-fixture.js';

let fx: Fixture;
afterEach(async () => {
  await fx?.close();
});

const post = (body: unknown, who: 'alice' | 'bob' | 'reader' = 'alice') =>
  fx.daemon.app.inject({ method: 'POST', url: '/v1/faults', headers: bearer(who), payload: body as object });

function recorder(): { ran: string[][]; run: (argv: string[]) => Promise<void> } {
  const ran: string[][] = [];
  return { ran, run: async (argv) => void ran.push(argv) };
}

const journalIds = (dir: string): string[] => (JSON.parse(readFileSync(join(dir, 'faults.json'), 'utf8')) as { entries: { id: string }[] }).entries.map((e) => e.id);

describe('fault validation and auth', () => {
  it('rejects bad names, CIDRs, durations, unknown kinds and fields, each with its path', async () => {
    const rec = recorder();
    fx = await makeFixture({ faults: { run: rec.run, managementDevs: async () => ['mgmt0'] } });
    const bad: [unknown, string][] = [
      [{ kind: 'link-down', dev: 'eth0; rm -rf /', durationMs: 1000 }, 'dev'],
      [{ kind: 'link-down', dev: 'a-very-long-interface-name', durationMs: 1000 }, 'dev'],
      [{ kind: 'link-down', dev: 'eth0', netns: '../etc', durationMs: 1000 }, 'netns'],
      [{ kind: 'link-down', dev: 'eth0' }, 'durationMs'],
      [{ kind: 'link-down', dev: 'eth0', durationMs: 'soon' }, 'duration'],
      [{ kind: 'blackhole', peer: '10.0.0.0/33', durationMs: 1000 }, 'peer'],
      [{ kind: 'blackhole', peer: 'example.com', durationMs: 1000 }, 'peer'],
      [{ kind: 'flap', dev: 'eth0', downMs: 100, upMs: 100, count: 0 }, 'count'],
      [{ kind: 'reboot', dev: 'eth0' }, 'kind'],
      [{ kind: 'link-down', dev: 'eth0', durationMs: 1000, shell: 'x' }, 'shell'],
    ];
    for (const [body, field] of bad) {
      const r = await post(body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.json().code).toBe('ERR_BAD_REQUEST');
      expect(JSON.stringify(r.json().details.problems ?? r.json().message)).toContain(field);
    }
    // Longer than the agent's maximum TTL (fixture: 1 h).
    const long = await post({ kind: 'flap', dev: 'eth0', downMs: '40m', upMs: '1m', count: 2 });
    expect(long.statusCode).toBe(400);
    expect(long.json().message).toMatch(/maximum/);
    expect(rec.ran).toEqual([]);
  });

  it('401 without a token, 403 for a read-only token; GET works with it', async () => {
    const rec = recorder();
    fx = await makeFixture({ faults: { run: rec.run, managementDevs: async () => [] } });
    expect((await fx.daemon.app.inject({ method: 'POST', url: '/v1/faults', payload: { kind: 'link-down', dev: 'eth0', durationMs: 1000 } })).statusCode).toBe(401);
    const ro = await post({ kind: 'link-down', dev: 'eth0', durationMs: 1000 }, 'reader');
    expect(ro.statusCode).toBe(403);
    expect((await fx.daemon.app.inject({ method: 'GET', url: '/v1/faults', headers: bearer('reader') })).json()).toEqual({ faults: [] });
    expect(rec.ran).toEqual([]);
  });

  it('403 for the interface carrying the management path unless allowed; a blackhole of the controller is always refused', async () => {
    const rec = recorder();
    const asked: string[] = [];
    fx = await makeFixture({ faults: { run: rec.run, managementDevs: async (peer) => (asked.push(peer), ['mgmt0']) } });
    const r = await post({ kind: 'link-down', dev: 'mgmt0', durationMs: 1000 });
    expect(r.statusCode).toBe(403);
    expect(r.json().message).toMatch(/management path/);
    expect(asked).toEqual(['127.0.0.1']);
    const bh = await post({ kind: 'blackhole', peer: '127.0.0.0/8', durationMs: 1000, allowManagementInterface: true });
    expect(bh.statusCode).toBe(403);
    expect(bh.json().message).toMatch(/cut off the controller/);
    expect(rec.ran).toEqual([]);
    expect(fx.audit.records.filter((a) => a.route === '/v1/faults').map((a) => a.status)).toEqual([403, 403]);
    const ok = await post({ kind: 'link-down', dev: 'mgmt0', durationMs: 1000, allowManagementInterface: true });
    expect(ok.statusCode).toBe(201);
  });

  it('the real management lookup: loopback carries the caller (inject comes from 127.0.0.1)', async () => {
    fx = await makeFixture({ faults: { run: recorder().run } });
    const r = await post({ kind: 'link-down', dev: 'lo', durationMs: 1000 });
    expect(r.statusCode).toBe(403);
  });
});

describe('fault lifecycle', () => {
  it('link-down: start, guard plan and journal written first, restore after the duration, events and metric', async () => {
    const clock = new FakeClock();
    const rec = recorder();
    fx = await makeFixture({ clock, faults: { run: rec.run, managementDevs: async () => [] } });
    const events: string[] = [];
    fx.daemon.events.subscribe((e) => events.push(e.type));
    const r = await post({ kind: 'link-down', dev: 'veth1', netns: 'site-a', durationMs: '2s' });
    expect(r.statusCode).toBe(201);
    const view = r.json();
    expect(view).toMatchObject({ kind: 'link-down', state: 'active', controller: 'alice', periodsDone: 0 });
    expect(rec.ran).toEqual([['ip', '-n', 'site-a', 'link', 'set', 'dev', 'veth1', 'down']]);
    // The guard knows the restore; so does the journal.
    expect(fx.plans.at(-1)).toEqual([['ip', '-n', 'site-a', 'link', 'set', 'dev', 'veth1', 'up']]);
    expect(journalIds(fx.dir)).toEqual([view.id]);
    const metrics = await fx.daemon.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain(`backhaul_agent_fault_active{fault="${view.id}",kind="link-down",iface="veth1"} 1`);
    // A second fault on the same interface: 409.
    expect((await post({ kind: 'flap', dev: 'veth1', netns: 'site-a', downMs: 10, upMs: 10, count: 2 }, 'bob')).statusCode).toBe(409);

    await clock.advance(1999);
    expect(rec.ran).toHaveLength(1);
    await clock.advance(1);
    await fx.daemon.faults.stop(view.id); // waits for the background restore to settle
    expect(rec.ran).toEqual([
      ['ip', '-n', 'site-a', 'link', 'set', 'dev', 'veth1', 'down'],
      ['ip', '-n', 'site-a', 'link', 'set', 'dev', 'veth1', 'up'],
    ]);
    const after = (await fx.daemon.app.inject({ method: 'GET', url: `/v1/faults/${view.id}`, headers: bearer('alice') })).json();
    expect(after).toMatchObject({ state: 'ended', periodsDone: 1, error: null });
    expect(after.endedAtMs - after.startedAtMs).toBe(2000);
    expect(fx.plans.at(-1)).toEqual([]);
    expect(journalIds(fx.dir)).toEqual([]);
    expect(events).toEqual(expect.arrayContaining(['fault.started', 'fault.ended']));
    expect((await fx.daemon.app.inject({ method: 'GET', url: '/metrics' })).body).not.toContain(`fault="${view.id}"`);
  });

  it('flap: count periods of down/up; DELETE ends it early with the restore run once', async () => {
    const clock = new FakeClock();
    const rec = recorder();
    fx = await makeFixture({ clock, faults: { run: rec.run, managementDevs: async () => [] } });
    const view = (await post({ kind: 'flap', dev: 'eth1', downMs: 100, upMs: 200, count: 3 })).json();
    await clock.advance(100);
    await clock.advance(200);
    await clock.advance(50);
    const kinds = (): string[] => rec.ran.map((a) => a.at(-1) as string);
    expect(kinds()).toEqual(['down', 'up', 'down']);
    const del = await fx.daemon.app.inject({ method: 'DELETE', url: `/v1/faults/${view.id}`, headers: bearer('bob') });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toMatchObject({ state: 'ended', periodsDone: 2 });
    expect(kinds()).toEqual(['down', 'up', 'down', 'up']);
    // Idempotent: deleting again changes nothing.
    expect((await fx.daemon.app.inject({ method: 'DELETE', url: `/v1/faults/${view.id}`, headers: bearer('bob') })).statusCode).toBe(200);
    expect(kinds()).toHaveLength(4);
    expect((await fx.daemon.app.inject({ method: 'DELETE', url: '/v1/faults/nope', headers: bearer('bob') })).statusCode).toBe(404);
  });

  it('blackhole: an nft table of its own (both directions), deleted at the end; the guard holds the delete; a failing start is reported and leaves nothing behind', async () => {
    const clock = new FakeClock();
    const rec = recorder();
    let fail = false;
    fx = await makeFixture({ clock, faults: { run: async (a) => { if (fail) throw new Error('ip said no'); await rec.run(a); }, managementDevs: async () => [] } });
    const view = (await post({ kind: 'blackhole', peer: '10.9.0.0/24', durationMs: 500 })).json();
    const restore = ['nft', 'add', 'table', 'inet', 'backhaul_fault_10_9_0_0_len24', ';', 'delete', 'table', 'inet', 'backhaul_fault_10_9_0_0_len24'];
    expect(rec.ran).toEqual([['nft', blackholeScript('10.9.0.0/24')]]);
    expect(fx.plans.at(-1)).toEqual([restore]);
    await clock.advance(500);
    await fx.daemon.faults.stop(view.id);
    expect(rec.ran.at(-1)).toEqual(restore);
    expect(fx.plans.at(-1)).toEqual([]);
    fail = true;
    const r = await post({ kind: 'blackhole', peer: '10.9.1.0/24', durationMs: 500 });
    expect(r.statusCode).toBe(500);
    expect(fx.daemon.faults.active()).toEqual([]);
    expect(fx.plans.at(-1)).toEqual([]);
    expect(journalIds(fx.dir)).toEqual([]);
  });

  it('a guard that does not acknowledge: nothing is touched, the journal is left empty', async () => {
    const rec = recorder();
    fx = await makeFixture({ faults: { run: rec.run, managementDevs: async () => [] } });
    const guard = (fx.daemon.faults as unknown as { deps: { guard: { setPlan(p: string[][]): Promise<void> } } }).deps.guard;
    const real = guard.setPlan;
    guard.setPlan = async () => { throw new Error('the revert guard is not running'); };
    const r = await post({ kind: 'link-down', dev: 'eth1', durationMs: 500 });
    expect(r.statusCode).toBe(500);
    expect(rec.ran).toEqual([]);
    expect(journalIds(fx.dir)).toEqual([]);
    guard.setPlan = real;
    expect((await post({ kind: 'link-down', dev: 'eth1', durationMs: 500 })).statusCode).toBe(201);
  });

  it('capabilities list the fault kinds and the configured hooks', async () => {
    fx = await makeFixture({ agentHooks: new Map([['pos-smoke', { run: ['true'], timeoutMs: 1000 }]]) });
    const caps = (await fx.daemon.app.inject({ method: 'GET', url: '/v1/capabilities', headers: bearer('reader') })).json();
    expect(caps.faults).toEqual(['link-down', 'flap', 'blackhole']);
    expect(caps.hooks).toEqual(['pos-smoke']);
  });
});

describe('hooks', () => {
  it('runs only declared hooks: unknown 404, read-only 403, a real run with exit code, output and JUnit, audited', async () => {
    const junitXml = '<testsuite name="pos"><testcase name="pay" classname="pos"/><testcase name="refund" classname="pos"><failure message="boom"/></testcase></testsuite>';
    const cwd = mkdtempSync(join(tmpdir(), 'bh-hook-'));
    fx = await makeFixture({
      agentHooks: new Map([
        ['pos-smoke', { run: ['/bin/sh', '-c', `echo hello-$BACKHAUL_STEP; printf '%s' '${junitXml}' > junit.xml; exit 3`], timeoutMs: 10_000, junit: 'junit.xml', cwd }],
        ['slow', { run: ['sleep', '30'], timeoutMs: 200 }],
      ]),
    });
    const unknown = await fx.daemon.app.inject({ method: 'POST', url: '/v1/hooks/rm-rf/run', headers: bearer('alice'), payload: {} });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().details.known).toEqual(['pos-smoke', 'slow']);
    expect((await fx.daemon.app.inject({ method: 'POST', url: '/v1/hooks/pos-smoke/run', headers: bearer('reader'), payload: {} })).statusCode).toBe(403);
    expect((await fx.daemon.app.inject({ method: 'POST', url: '/v1/hooks/pos-smoke/run', headers: bearer('alice'), payload: { run: ['id'] } })).statusCode).toBe(400);
    const r = await fx.daemon.app.inject({ method: 'POST', url: '/v1/hooks/pos-smoke/run', headers: bearer('alice'), payload: { campaign: 'c', step: 'peak' } });
    expect(r.statusCode).toBe(200);
    const res = r.json();
    expect(res).toMatchObject({ name: 'pos-smoke', exitCode: 3, timedOut: false });
    expect(res.outputTail).toContain('hello-peak');
    expect(res.junit).toMatchObject({ tests: 2, failures: 1 });
    const slow = (await fx.daemon.app.inject({ method: 'POST', url: '/v1/hooks/slow/run', headers: bearer('alice'), payload: {} })).json();
    expect(slow.timedOut).toBe(true);
    expect(fx.audit.records.filter((a) => String(a.route).startsWith('/v1/hooks')).map((a) => [String(a.what['url']).split('/')[3], a.status])).toEqual([
      ['rm-rf', 404], ['pos-smoke', 403], ['pos-smoke', 400], ['pos-smoke', 200], ['slow', 200],
    ]);
    expect((await fx.daemon.app.inject({ method: 'GET', url: '/v1/hooks', headers: bearer('reader') })).json().hooks.map((h: { name: string }) => h.name)).toEqual(['pos-smoke', 'slow']);
    rmSync(cwd, { recursive: true, force: true });
  });
});
