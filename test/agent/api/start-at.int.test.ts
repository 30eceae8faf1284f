/**
 * `startAt` on POST /v1/impairments (the agreed start of a campaign step), through the daemon with
 * a fake backend: the apply waits for the instant on the agent's clock, the reply reports when it
 * applied, a past instant applies at once, and bad or out-of-bounds values are 400 before any effect.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { START_AT_MAX_AHEAD_MS, START_AT_MAX_LATE_MS } from '../../../agent/impairments/manager.js';
import { bearer, makeFixture, type Fixture } from '../daemon-fixture.js';

let fx: Fixture;
afterEach(async () => {
  await fx?.close();
});

const create = (f: Fixture, body: unknown) => f.daemon.app.inject({ method: 'POST', url: '/v1/impairments', headers: bearer('alice'), payload: body as object });

/** Record the wall time of every backend apply. */
function applyTimes(f: Fixture): number[] {
  const times: number[] = [];
  const orig = f.backend.apply.bind(f.backend);
  f.backend.apply = async (...args: Parameters<typeof orig>) => {
    times.push(Date.now());
    return orig(...args);
  };
  return times;
}

describe('startAt', () => {
  it('applies at the instant (not on receipt) and reports it; the lease runs from then', async () => {
    fx = await makeFixture();
    const times = applyTimes(fx);
    const sentAt = Date.now();
    // 2 s ahead: the record must be created (on receipt) before the instant even on a loaded host.
    const startAt = sentAt + 2000;
    const r = await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', ttl: '30s', startAt });
    expect(r.statusCode).toBe(201);
    const v = r.json();
    // Timers never fire early by more than their 1 ms granularity; without startAt the apply
    // would run right away (about 2 s before).
    expect(times).toHaveLength(1);
    expect(times[0]!).toBeGreaterThanOrEqual(startAt - 2);
    expect(v.appliedAtMs).toBeGreaterThanOrEqual(startAt - 2);
    expect(v.appliedAtMs).toBeGreaterThanOrEqual(times[0]! - 1);
    expect(v.createdAtMs).toBeLessThan(startAt);
    expect(v.expiresAtMs).toBe(v.appliedAtMs + 30_000);
    expect(fx.backend.live.has('netem::eth0')).toBe(true);
  });

  it('takes ISO 8601 with a zone; an instant already past applies at once', async () => {
    fx = await makeFixture();
    const times = applyTimes(fx);
    const iso = new Date(Date.now() + 300).toISOString();
    const a = await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', startAt: iso });
    expect(a.statusCode).toBe(201);
    expect(times[0]!).toBeGreaterThanOrEqual(Date.parse(iso) - 2);
    const past = Date.now() - 5_000;
    const b = await create(fx, { target: { dev: 'eth1' }, profile: 'rate-1m', startAt: past });
    expect(b.statusCode).toBe(201);
    expect(b.json().appliedAtMs).toBeGreaterThanOrEqual(past + 5_000);
    expect(fx.backend.live.has('netem::eth1')).toBe(true);
  });

  it('a caller that goes away during the wait cancels the create: nothing applied, no record, no journal entry', async () => {
    // Fake time, moved only once each step has been seen to happen: on the real clock the close
    // could reach the agent after the instant on a loaded host (and the apply would run).
    const clock = new FakeClock();
    fx = await makeFixture({ clock });
    const f = fx;
    const base = await f.daemon.app.listen({ host: '127.0.0.1', port: 0 });
    const post = (body: unknown, signal?: AbortSignal) =>
      fetch(`${base}/v1/impairments`, { method: 'POST', headers: { ...bearer('alice'), 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
    // Waiting for the instant: the journal entry is written first (write-ahead), then the wait.
    const waiting = (n: number) => expect.poll(() => f.journal.entries().length, { timeout: 15_000 }).toBe(n);
    const startAt = clock.wallMs() + 1500;
    const ac = new AbortController();
    const pending = post({ target: { dev: 'eth0' }, profile: 'rate-1m', startAt }, ac.signal);
    await waiting(1);
    ac.abort();
    await expect(pending).rejects.toThrow();
    await waiting(0); // the agent saw the connection close and cancelled the create
    // Past the instant: still nothing applied.
    await clock.advance(2000);
    expect(f.backend.calls.filter((c) => c.startsWith('apply'))).toEqual([]);
    expect(f.backend.live.size).toBe(0);
    expect(f.daemon.manager.list()).toEqual([]);
    await f.journal.idle();
    expect(f.journal.entries()).toEqual([]);
    // A caller that waits gets it, over the same kind of connection.
    const okReply = post({ target: { dev: 'eth0' }, profile: 'rate-1m', startAt: clock.wallMs() + 300 });
    await waiting(1);
    expect(f.backend.live.size).toBe(0);
    await clock.advance(300);
    const ok = await okReply;
    expect(ok.status).toBe(201);
    expect(f.backend.live.has('netem::eth0')).toBe(true);
  });

  it('malformed or out-of-bounds startAt is 400 with its problem, before any effect', async () => {
    fx = await makeFixture();
    const now = Date.now();
    const cases: [unknown, RegExp][] = [
      ['soon', /^startAt: must be wall-clock ms or an ISO 8601 time/],
      ['2026-11-28T13:00:00', /^startAt: must be wall-clock ms or an ISO 8601 time/], // no zone
      ['2026-13-45T99:00:00Z', /^startAt: must be wall-clock ms or an ISO 8601 time/],
      [-5, /^startAt/],
      [true, /^startAt/],
      [now + START_AT_MAX_AHEAD_MS + 30_000, /^startAt: at most 60000 ms ahead of this agent's clock/],
      [now - START_AT_MAX_LATE_MS - 30_000, /^startAt: \d+ ms in the past on this agent's clock/],
    ];
    for (const [startAt, re] of cases) {
      const r = await create(fx, { target: { dev: 'eth0' }, profile: 'rate-1m', startAt });
      expect(r.statusCode, String(startAt)).toBe(400);
      expect(r.json().code).toBe('ERR_BAD_REQUEST');
      expect(r.json().details.problems[0], String(startAt)).toMatch(re);
    }
    expect(fx.backend.calls).toEqual([]);
    expect(fx.journal.entries()).toEqual([]);
  });
});
