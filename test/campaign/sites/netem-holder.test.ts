/**
 * NetemHolder against a recording fake backend (unit tier): the target it builds, scheduled
 * profiles followed phase by phase with the switches recorded, a failed switch taking the
 * impairment off, idempotent revert, leases.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { parseProfile } from '../../../core/profile-parse.js';
import { seededRandom } from '../../../core/random.js';
import type { Applied, ImpairmentBackend, NetemTarget, Target } from '../../../agent/backend.js';
import type { Profile } from '../../../core/profile.js';
import { NetemHolder } from '../../../campaign/sites/netem-holder.js';
import type { ApplyRequest } from '../../../campaign/sites/site.js';

class FakeBackend implements ImpairmentBackend {
  readonly kind = 'netem' as const;
  calls: string[] = [];
  live: Profile | null = null;
  failPhase: number | null | undefined = undefined;
  async apply(t: Target, p: Profile): Promise<Applied> {
    this.calls.push(`apply ${(t as NetemTarget).netns}/${(t as NetemTarget).dev} ${(t as NetemTarget).direction} ${p.name}`);
    this.live = p;
    return {} as Applied;
  }
  async revert(t: Target): Promise<void> {
    this.calls.push(`revert ${(t as NetemTarget).dev}`);
    this.live = null;
  }
  async status(): Promise<Applied | null> {
    return this.live ? ({} as Applied) : null;
  }
  async applyPhase(_t: NetemTarget, _p: Profile, phase: number | null): Promise<unknown> {
    if (phase === this.failPhase) throw new Error('tc failed');
    this.calls.push(`phase ${phase}`);
    return {};
  }
}

const flat = parseProfile({ name: 'flat', description: 'd', egress: { delay: '10ms' } });
const scheduled = parseProfile({
  name: 'sched', description: 'd', egress: { delay: '10ms' },
  schedule: { loop: false, phases: [{ name: 'a', duration: '2s' }, { name: 'cut', duration: '2s', egress: { loss: '100%' } }] },
});

function req(profile: Profile, ttlMs = 60_000): ApplyRequest {
  return { impairment: { name: 'wan', agent: 'site', target: { kind: 'netem', dev: 'veth0' }, profile: { name: profile.name }, direction: 'both' }, profile, ttlMs, campaign: 'c', step: 's' };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

afterEach(() => vi.useRealTimers());

describe('NetemHolder', () => {
  it('applies in the site namespace, reads in-effect back from the backend, reverts once', async () => {
    const b = new FakeBackend();
    const h = new NetemHolder('site', b, new FakeClock(), seededRandom(1));
    const { id } = await h.apply(req(flat), 'ns-store');
    expect(b.calls).toEqual(['apply ns-store/veth0 both flat']);
    expect(await h.inEffect(id)).toBe(true);
    b.live = null; // someone removed it behind our back
    expect(await h.inEffect(id)).toBe(false);
    expect(h.phases(id).map((p) => p.name)).toEqual(['base']);
    await h.revert(id);
    await h.revert(id);
    expect(b.calls.filter((c) => c.startsWith('revert'))).toHaveLength(1);
    expect(() => h.renew(id, 1000)).toThrow(/no impairment/);
  });

  it('follows a schedule: one applyPhase per boundary, switches recorded with their times, outage phases flagged', async () => {
    const b = new FakeBackend();
    const clock = new FakeClock();
    const h = new NetemHolder('site', b, clock, seededRandom(1));
    const t0 = clock.wallMs();
    const { id } = await h.apply(req(scheduled), 'ns');
    await settle();
    await clock.advance(2000);
    await settle();
    await clock.advance(2000);
    await settle();
    expect(b.calls).toEqual(['apply ns/veth0 both sched', 'phase 0', 'phase 1', 'phase null']);
    const ph = h.phases(id);
    expect(ph.map((p) => [p.name, p.startMs - t0, p.outage])).toEqual([
      ['base', 0, false], ['a', 0, false], ['cut', 2000, true], ['base', 4000, false],
    ]);
    await h.revert(id);
    expect(b.calls.at(-1)).toBe('revert veth0');
  });

  it('a failed phase switch takes the impairment off', async () => {
    const b = new FakeBackend();
    b.failPhase = 1;
    const clock = new FakeClock();
    const h = new NetemHolder('site', b, clock, seededRandom(1));
    const { id } = await h.apply(req(scheduled), 'ns');
    await settle();
    await clock.advance(2000);
    await settle();
    expect(h.has(id)).toBe(false);
    expect(b.calls.at(-1)).toBe('revert veth0');
  });

  it('a lease not renewed reverts by itself; renewing keeps it', async () => {
    vi.useFakeTimers();
    const b = new FakeBackend();
    const h = new NetemHolder('site', b, new FakeClock(), seededRandom(1));
    const { id } = await h.apply(req(flat, 1000), 'ns');
    await vi.advanceTimersByTimeAsync(800);
    h.renew(id, 1000);
    await vi.advanceTimersByTimeAsync(800);
    expect(h.has(id)).toBe(true);
    await vi.advanceTimersByTimeAsync(300);
    expect(h.has(id)).toBe(false);
    expect(b.calls.at(-1)).toBe('revert veth0');
  });
});
