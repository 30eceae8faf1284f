/**
 * The impairment list's order (unit tier, fake clock and backend): by target, whatever order
 * concurrent creates completed in (records become active as their applies complete).
 */
import { describe, expect, it } from 'vitest';
import type { Profile } from '../../../core/profile.js';
import type { Target } from '../../../agent/backend.js';
import { validateCreate } from '../../../agent/api/validate.js';
import { managerFixtures, PLAIN_PROFILE, TEST_CALLER } from '../manager-fixture.js';

const PLAIN = PLAIN_PROFILE;
const CALLER = TEST_CALLER;

const fixture = managerFixtures();

describe('ImpairmentManager.list order', () => {
  it('lists by target, not in the order concurrent applies completed', async () => {
    const fx = fixture(PLAIN);
    const { backend, manager } = fx;
    // eth0's apply is held until eth1's has completed (eth0 becomes active second).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const apply = backend.apply.bind(backend);
    backend.apply = async (t: Target, p: Profile) => {
      if (t.kind === 'netem' && t.dev === 'eth0') await gate;
      return apply(t, p);
    };
    const first = manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'plain' }), CALLER);
    const second = await manager.create(validateCreate({ target: { dev: 'eth1' }, profile: 'plain' }), CALLER);
    release();
    const a = await first;
    expect(manager.all().map((r) => r.id)).toEqual([second.id, a.id]); // activation order
    expect(manager.list().map((v) => v.id)).toEqual([a.id, second.id]);
    expect(manager.list().map((v) => v.target.kind === 'netem' && v.target.dev)).toEqual(['eth0', 'eth1']);
  });

  it('netem targets: by namespace (none first), then device', async () => {
    const fx = fixture(PLAIN);
    const { manager } = fx;
    for (const target of [{ dev: 'eth1' }, { dev: 'eth0', netns: 'b' }, { dev: 'eth2', netns: 'a' }, { dev: 'eth0' }]) {
      await manager.create(validateCreate({ target, profile: 'plain' }), CALLER);
    }
    expect(manager.list().map((v) => (v.target.kind === 'netem' ? `${v.target.netns ?? ''}/${v.target.dev}` : ''))).toEqual(['/eth0', '/eth1', 'a/eth2', 'b/eth0']);
  });
});
