/**
 * Agent-side faults: link down for a duration, link flap, blackhole of a peer. Every fault is
 * bounded in time (its total duration, at most the agent's maximum lease TTL) and crash-safe:
 *
 *   create: validate -> conflict (409) -> management path (403) -> journal.put -> guard plan
 *           (restore argv; acknowledged, or nothing is touched) -> start argv -> event; then in the background, per period: wait down,
 *           restore, wait up, start again ...; at the end: guard plan without it -> journal.remove
 *   delete: cut the wait short; the restore runs at once (idempotent: deleting an ended fault is a no-op)
 *
 * A SIGKILLed agent's guard runs the restore argv (link up / delete of the blackhole's nft table); a restarted agent runs
 * what the faults journal still holds. The management path: a link fault on the interface that
 * routes to the caller (the controller) is refused unless `allowManagementInterface`; a blackhole
 * covering the caller's address is always refused.
 */
import { execa } from 'execa';
import { BackhaulError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import type { EventBus } from '../events.js';
import type { GuardPort } from '../impairments/manager.js';
import type { FaultJournal } from './fault-journal.js';
import { cidrContains, faultIface, faultPeriods, faultTotalMs, planFault, type FaultArgv, type FaultRequestInput } from './fault-plan.js';

export type CmdRunner = (argv: string[]) => Promise<void>;

/** argv as one line for messages: a multi-line argument (the blackhole's nft script) is abbreviated. */
export function argvText(argv: string[]): string {
  return argv.map((a) => (a.includes('\n') ? `<script: ${a.split('\n').length} lines>` : a)).join(' ');
}

/**
 * Runs one argv without a shell. A missing tool (`nft` not installed, here or inside `ip netns
 * exec`) is ERR_CAPABILITY_MISSING with the package to install; any other failure ERR_TC_FAILED.
 */
export const ipRunner: CmdRunner = async (argv) => {
  const [file, ...args] = argv as [string, ...string[]];
  const r = await execa(file, args, { reject: false, timeout: 10_000 });
  if (r.exitCode === 0) return;
  const stderr = String(r.stderr ?? '').trim();
  const missing = (r as { code?: string }).code === 'ENOENT' ? file : /exec of "([^"]+)" failed: No such file/.exec(stderr)?.[1];
  if (missing) {
    const pkg = missing === 'nft' ? 'nftables' : 'iproute2';
    throw new BackhaulError('ERR_CAPABILITY_MISSING', `${missing} is not installed`, { argv, hint: `install it (apt-get install ${pkg} / dnf install ${pkg})` });
  }
  throw new BackhaulError('ERR_TC_FAILED', `${argvText(argv)} failed: ${stderr}`, { argv, exitCode: r.exitCode ?? null, stderr });
};

/** The interface(s) the route to `peer` leaves through, in the agent's own namespace (`ip -j route get`). */
export async function routeDevs(peer: string): Promise<string[]> {
  const r = await execa('ip', ['-j', 'route', 'get', peer], { reject: false, timeout: 5000 });
  if (r.exitCode !== 0) return [];
  try {
    return (JSON.parse(String(r.stdout)) as { dev?: string }[]).map((x) => x.dev).filter((d): d is string => typeof d === 'string');
  } catch {
    return [];
  }
}

export interface FaultView {
  id: string;
  kind: FaultRequestInput['kind'];
  request: FaultRequestInput;
  controller: string;
  state: 'active' | 'ended';
  createdAtMs: number;
  /** Wall ms right after the first start command, and right after the last restore (null while active). */
  startedAtMs: number;
  endedAtMs: number | null;
  /** When the fault ends at the latest (planned). */
  endsAtMs: number;
  periodsDone: number;
  error: string | null;
}

export interface FaultCreate {
  fault: FaultRequestInput;
  controller: string;
  allowManagementInterface: boolean;
}

export interface FaultManagerDeps {
  clock: Clock;
  events: EventBus;
  guard: GuardPort;
  journal: FaultJournal;
  maxDurationMs: number;
  run?: CmdRunner;
  /** The interfaces carrying the management path for a caller at `peer` (default: routeDevs). */
  managementDevs?: (peer: string) => Promise<string[]>;
  /** Agent-wide opt-out (config management.allowManagementInterface). */
  managementDisabled?: boolean;
  newId?: () => string;
  onGuardError?: (e: Error) => void;
}

interface Live {
  /** Creation order (taken when the create was asked for, before its awaits). */
  order: number;
  view: FaultView;
  argv: FaultArgv;
  abort: AbortController;
  done: Promise<void>;
}

const KEEP_ENDED = 100;

export class FaultManager {
  private readonly live = new Map<string, Live>();
  private readonly ended: { order: number; view: FaultView }[] = [];
  private seq = 0;
  private order = 0;

  constructor(private readonly deps: FaultManagerDeps) {}

  /** Start a fault; resolves once its first start command ran (view.state 'active'). */
  async create(req: FaultCreate, peer: string | null): Promise<FaultView> {
    const order = ++this.order;
    const f = req.fault;
    const total = faultTotalMs(f);
    if (total > this.deps.maxDurationMs) {
      throw new BackhaulError('ERR_BAD_REQUEST', `the fault lasts ${total} ms, more than the agent's maximum ${this.deps.maxDurationMs} ms`, { totalMs: total, maxMs: this.deps.maxDurationMs });
    }
    const key = this.key(f);
    const clash = [...this.live.values()].find((l) => l.view.state === 'active' && this.key(l.view.request) === key);
    if (clash) throw new BackhaulError('ERR_LEASE_CONFLICT', `fault ${clash.view.id} is already active on ${key}`, { id: clash.view.id, controller: clash.view.controller });
    await this.checkManagement(req, peer);

    const id = this.deps.newId?.() ?? `f-${Date.now().toString(36)}-${(++this.seq).toString(36)}`;
    const argv = planFault(f);
    const now = this.deps.clock.wallMs();
    const view: FaultView = { id, kind: f.kind, request: f, controller: req.controller, state: 'active', createdAtMs: now, startedAtMs: now, endedAtMs: null, endsAtMs: now + total, periodsDone: 0, error: null };
    // Write-ahead: the journal and the guard know the restore before anything is touched.
    await this.deps.journal.put({ id, kind: f.kind, restore: argv.restore, createdAtMs: now, endsAtMs: now + total });
    const abort = new AbortController();
    const live: Live = { order, view, argv, abort, done: Promise.resolve() };
    this.live.set(id, live);
    try {
      // Nothing is touched unless the guard acknowledged the restore (as for impairments).
      await this.syncGuard(true);
      await this.run(argv.start);
    } catch (e) {
      this.live.delete(id);
      await this.syncGuard();
      await this.deps.journal.remove(id);
      throw e;
    }
    view.startedAtMs = this.deps.clock.wallMs();
    view.endsAtMs = view.startedAtMs + total;
    this.deps.events.emit({ type: 'fault.started', id, kind: f.kind, iface: faultIface(f), endsAtMs: view.endsAtMs });
    live.done = this.drive(live);
    return { ...view };
  }

  /**
   * Active and recently ended faults in the order their creates were asked for (not in the order
   * concurrent creates got through their checks, nor as they ended).
   */
  list(): FaultView[] {
    return [...this.ended, ...[...this.live.values()].map((l) => ({ order: l.order, view: { ...l.view } }))]
      .sort((a, b) => a.order - b.order)
      .map((e) => ({ ...e.view }));
  }

  active(): FaultView[] {
    return [...this.live.values()].filter((l) => l.view.state === 'active').map((l) => ({ ...l.view }));
  }

  get(id: string): FaultView {
    const v = this.live.get(id)?.view ?? this.ended.find((e) => e.view.id === id)?.view;
    if (!v) throw new BackhaulError('ERR_NOT_FOUND', `no fault ${id}`);
    return { ...v };
  }

  /** End a fault now (restore at once). Idempotent: an ended fault is returned as it is. */
  async stop(id: string): Promise<FaultView> {
    const l = this.live.get(id);
    if (!l) return this.get(id);
    if (l.view.state === 'active') l.abort.abort();
    await l.done;
    return this.get(id);
  }

  /** End every fault (agent shutdown). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.live.keys()].map((id) => this.stop(id)));
    await this.deps.journal.idle();
  }

  private key(f: FaultRequestInput): string {
    return `${f.netns ? `${f.netns}/` : ''}${f.kind === 'blackhole' ? `blackhole ${f.peer}` : f.dev}`;
  }

  private async checkManagement(req: FaultCreate, peer: string | null): Promise<void> {
    const f = req.fault;
    if (f.kind === 'blackhole') {
      if (peer && !f.netns && cidrContains(f.peer, peer)) {
        throw new BackhaulError('ERR_FORBIDDEN', `blackhole ${f.peer} would cut off the controller at ${peer}`, { peer, hint: 'blackhole a narrower prefix that excludes the controller' });
      }
      return;
    }
    if (req.allowManagementInterface || this.deps.managementDisabled || f.netns || !peer) return;
    const devs = await (this.deps.managementDevs ?? routeDevs)(peer);
    if (devs.includes(f.dev)) {
      throw new BackhaulError('ERR_FORBIDDEN', `${f.dev} carries the management path (the route to ${peer}): taking it down would cut off the controller`, { dev: f.dev, peer, hint: 'pass allowManagementInterface: true if the controller reaches this agent another way' });
    }
  }

  private async run(argv: string[]): Promise<void> {
    await (this.deps.run ?? ipRunner)(argv);
  }

  private async drive(l: Live): Promise<void> {
    const periods = faultPeriods(l.view.request);
    const clock = this.deps.clock;
    for (const [i, p] of periods.entries()) {
      if (i > 0) {
        try {
          await this.run(l.argv.start);
        } catch (e) {
          l.view.error = (e as Error).message;
          break;
        }
      }
      await clock.sleep(p.downMs, l.abort.signal).catch(() => undefined);
      try {
        await this.run(l.argv.restore);
      } catch (e) {
        l.view.error = (e as Error).message;
      }
      l.view.periodsDone = i + 1;
      if (l.abort.signal.aborted) break;
      if (p.upMs > 0) await clock.sleep(p.upMs, l.abort.signal).catch(() => undefined);
      if (l.abort.signal.aborted) break;
    }
    l.view.state = 'ended';
    l.view.endedAtMs = clock.wallMs();
    await this.syncGuard();
    await this.deps.journal.remove(l.view.id).catch((e: Error) => this.deps.onGuardError?.(e));
    this.live.delete(l.view.id);
    this.ended.push({ order: l.order, view: { ...l.view } });
    if (this.ended.length > KEEP_ENDED) this.ended.shift();
    this.deps.events.emit({ type: 'fault.ended', id: l.view.id, kind: l.view.kind, reason: l.abort.signal.aborted ? 'stopped' : 'elapsed', ...(l.view.error ? { error: l.view.error } : {}) });
  }

  /** Hand the guard the restores of every active fault; `strict`: throw ERR_INTERNAL when it does not acknowledge. */
  private async syncGuard(strict = false): Promise<void> {
    const plan = [...this.live.values()].filter((l) => l.view.state === 'active').map((l) => l.argv.restore);
    try {
      await this.deps.guard.setPlan(plan);
    } catch (e) {
      this.deps.onGuardError?.(e as Error);
      if (strict) throw new BackhaulError('ERR_INTERNAL', `the revert guard did not take the fault's restore: ${(e as Error).message}`, { hint: 'the agent restarts its guard by itself; retry in a moment' }, { cause: e });
    }
  }
}
