/**
 * The manager's write-ahead contract (unit tier, fake backend): before backend.apply runs, the
 * journal entry is on disk and the guard has acknowledged a plan that includes the backend's
 * write-ahead revert plan; a guard that cannot acknowledge refuses the apply.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import type { Profile } from '../../../core/profile.js';
import type { Applied, Target } from '../../../agent/backend.js';
import { targetKey } from '../../../agent/agent-backend.js';
import { validateCreate } from '../../../agent/api/validate.js';
import { EventBus } from '../../../agent/events.js';
import { ImpairmentManager } from '../../../agent/impairments/manager.js';
import { Journal } from '../../../agent/journal.js';
import { isBackhaulError } from '../../../core/errors.js';
import { FakeBackend } from '../fake-backend.js';

const profile: Profile = { name: 'slow', description: 's', egress: { rateKbit: 1000 } };
const dirs: string[] = [];
const journals: Journal[] = [];
afterEach(async () => {
  await Promise.all(journals.splice(0).map((j) => j.idle()));
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

class AheadBackend extends FakeBackend {
  journalAtApply = '';
  constructor(private readonly journalPath: string) {
    super();
  }
  async revertPlanAhead(target: Target): Promise<string[][]> {
    this.calls.push(`ahead ${targetKey(target)}`);
    return [['true', 'ahead', targetKey(target)]];
  }
  override async apply(target: Target, p: Profile): Promise<Applied> {
    this.journalAtApply = readFileSync(this.journalPath, 'utf8');
    return super.apply(target, p);
  }
}

function setup(setPlan: (plan: string[][]) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'bh-wa-'));
  dirs.push(dir);
  const path = join(dir, 'journal.json');
  const backend = new AheadBackend(path);
  const clock = new FakeClock(1_700_000_000_000);
  const journal = new Journal(path);
  journals.push(journal);
  const manager = new ImpairmentManager({
    backends: new Map([['netem', backend]]), profiles: { resolve: async () => profile }, journal,
    guard: { setPlan }, clock, events: new EventBus(() => clock.wallMs()), leases: { defaultTtlMs: 60_000, maxTtlMs: 60_000 },
    management: { apiPort: 8470, sshPorts: [22], extra: [], disabled: true },
  });
  return { backend, manager, path };
}

describe('write-ahead revert plan', () => {
  it('journal on disk and guard acknowledged the ahead plan before apply; then the exact plan', async () => {
    const log: string[] = [];
    const { backend, manager } = setup(async (plan) => void log.push(`guard ${JSON.stringify(plan)} after [${backend.calls.join(', ')}]`));
    const view = await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'slow' }), { token: 't', peer: null });
    expect(log).toEqual([
      'guard [["true","ahead","netem::eth0"]] after [ahead netem::eth0]',
      'guard [["true","revert","netem::eth0"]] after [ahead netem::eth0, apply netem::eth0 slow]',
    ]);
    expect(JSON.parse(backend.journalAtApply).entries.map((e: { id: string }) => e.id)).toEqual([view.id]);
  });

  it('a guard that cannot acknowledge refuses the apply: nothing applied, no journal entry', async () => {
    const { backend, manager, path } = setup(async () => {
      throw new Error('the revert guard is not running');
    });
    let err: unknown;
    try {
      await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'slow' }), { token: 't', peer: null });
    } catch (e) {
      err = e;
    }
    expect(isBackhaulError(err) && err.code).toBe('ERR_INTERNAL');
    expect(backend.calls.filter((c) => c.startsWith('apply'))).toEqual([]);
    expect(JSON.parse(readFileSync(path, 'utf8')).entries).toEqual([]);
    expect(manager.list()).toEqual([]);
  });
});
