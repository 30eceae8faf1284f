/**
 * Leases with a fake clock and the fake backend (unit tier): a renew that waited for the target's
 * lock is not undone by an expiry decided before it; a renew without ttl extends by the lease's
 * own TTL, never shortening it to the agent's default.
 */
import { describe, expect, it } from 'vitest';
import { validateCreate, validateRenew } from '../../../agent/api/validate.js';
import { managerFixtures, PLAIN_PROFILE, TEST_CALLER } from '../manager-fixture.js';

const PLAIN = PLAIN_PROFILE;
const CALLER = TEST_CALLER;

const fixture = managerFixtures();

function setup(defaultTtlMs = 60_000) {
  const fx = fixture(PLAIN, { defaultTtlMs });
  return fx;
}

describe('lease expiry vs renew', () => {
  it('a renew queued on the target lock before the expiry wins: nothing is reverted', async () => {
    const { clock, seen, backend, manager } = setup();
    const v = await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'plain', ttl: '10s' }), CALLER);
    const rec = manager.record(v.id)!;
    // Something holds the target's lock (the schedule runner does, ~40 ms before each boundary).
    let release!: () => void;
    const held = manager.withTarget(rec, () => new Promise<void>((r) => { release = r; }));
    await clock.advance(9_990);
    const renewed = manager.renew(v.id, validateRenew({ ttl: '10s' }), CALLER); // queued behind the holder
    await clock.advance(20); // the lease's deadline passes while the renew waits
    const expiry = manager.expireDue(); // decides "due" now, then queues its delete behind the renew
    release();
    await held;
    await renewed;
    await expiry;
    expect(manager.list().map((x) => x.id)).toEqual([v.id]);
    expect(backend.calls.filter((c) => c.startsWith('revert'))).toEqual([]);
    expect(seen.some((e) => e.type === 'impairment.deleted')).toBe(false);
    // The renewed lease still ends when it should.
    await clock.advance(10_000);
    await manager.expireDue();
    expect(manager.list()).toEqual([]);
    expect(backend.calls.filter((c) => c.startsWith('revert'))).toEqual(['revert netem::eth0']);
  });
});

describe('renew without ttl', () => {
  it('extends by the lease\'s own TTL, not the (shorter) agent default', async () => {
    const { clock, manager } = setup(60_000);
    const v = await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'plain', ttl: '30m' }), CALLER);
    await clock.advance(60_000);
    const r = await manager.renew(v.id, validateRenew({}), CALLER);
    expect(r.expiresAtMs - clock.wallMs()).toBe(30 * 60_000);
  });

  it('after a renew with a ttl, that ttl is the lease\'s own', async () => {
    const { clock, manager } = setup(60_000);
    const v = await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'plain' }), CALLER);
    expect(v.expiresAtMs - clock.wallMs()).toBe(60_000);
    await manager.renew(v.id, validateRenew({ ttl: '5m' }), CALLER);
    await clock.advance(1_000);
    const r = await manager.renew(v.id, validateRenew({}), CALLER);
    expect(r.expiresAtMs - clock.wallMs()).toBe(5 * 60_000);
    // and the lease holds for that long, no longer
    await clock.advance(5 * 60_000 - 1);
    await manager.expireDue();
    expect(manager.list()).toHaveLength(1);
    await clock.advance(1);
    await manager.expireDue();
    expect(manager.list()).toEqual([]);
  });
});
