/**
 * A site in this process: the userspace relay backend (UDP), a STAMP reflector on loopback and
 * probe sessions. No root, no services: what `backhaul demo` and loopback tests run on. Given a
 * netem backend (root), it also impairs this host's interfaces (`backhaul verify --dev`).
 *
 *   probe session --> relay listen [egress engine] --> upstream (e.g. the reflector)
 *                 <--             [ingress engine] <--
 *
 * Leases are real: an impairment not renewed within its TTL is reverted by a timer. Scheduled
 * profiles are switched here on the core timeline (core/schedule.ts), and every switch is recorded
 * with its actual time. Faults: `blackhole` drops all traffic of the relays whose upstream lies in
 * the peer prefix, both directions, for its duration (an overlay on top of the current phase);
 * `link-down` and `flap` need a real interface (the netem backend on an agent) and are refused in
 * pre-flight.
 */
import type { Registry } from 'prom-client';
import { BackhaulError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { Impairment } from '../../core/profile.js';
import { randomSeed, seededRandom, type Random } from '../../core/random.js';
import { effectiveImpairment, TimelineCursor } from '../../core/schedule.js';
import { startUdpRelay, type UdpRelayHandle } from '../../agent/relay/udp-relay.js';
import { startReflector, type Reflector } from '../../probe/reflector.js';
import { startProbeSession, type ProbeSession } from '../../probe/session.js';
import { createWaiter, DEFAULT_TIMER_MODE, type TimerMode } from '../../probe/timer.js';
import type { ImpairmentBackend, NetemTarget } from '../../agent/backend.js';
import type { FaultSpec } from '../spec.js';
import { waitUntil, type ApplyRequest, type InEffectReading, type PhaseRecord, type SiteDriver, type SitePreflight, type SiteProbeRun } from './site.js';

interface HeldNetem {
  id: string;
  target: NetemTarget;
  leaseTimer: NodeJS.Timeout;
  appliedAtMs: number;
}

interface Held {
  id: string;
  req: ApplyRequest;
  relay: UdpRelayHandle;
  upstreamHost: string;
  phases: PhaseRecord[];
  blackholed: number;
  current: { egress: Impairment; ingress: Impairment };
  leaseTimer: NodeJS.Timeout;
  stopSchedule: AbortController;
}

export interface InProcessSiteOptions {
  clock?: Clock;
  random?: Random;
  registry?: Registry;
  /** Timer mode of the relay's release pipes (default: the probe's default). */
  timer?: TimerMode;
  reflectorHost?: string;
  /** An interface backend (the tc/netem one) for `dev` targets on this host; needs root. */
  netem?: ImpairmentBackend;
  /** Told each probe session as it starts (e.g. `registerProbeMetrics(session, registry)`). */
  onProbeSession?(session: ProbeSession): void;
}

/** Wall time = one Date.now() anchor + monotonic elapsed (consistent within the site). */
export function anchoredClock(): Clock {
  const monoA = systemClock.monoNs();
  const wallA = systemClock.wallMs();
  // Never an exact integer: probe/timestamps.ts takes a sub-ms wall clock as is, but spins to
  // anchor an integer one, and would then mix the two kinds (BigInt of a fraction throws).
  const wallMs = (): number => {
    const v = wallA + Number(systemClock.monoNs() - monoA) / 1e6;
    return Number.isInteger(v) ? v + 0.001 : v; // 1 us: well above the float spacing at ~1.8e12 ms
  };
  return { monoNs: systemClock.monoNs, wallMs, sleep: systemClock.sleep };
}

const BLACKHOLE: Impairment = { loss: { model: 'random', pct: 100 } };

function ipv4InCidr(ip: string, cidr: string): boolean {
  const [net, bitsText] = cidr.split('/');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const toInt = (a: string): number | null => {
    const parts = a.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
    return ((parts[0] as number) * 2 ** 24 + (parts[1] as number) * 2 ** 16 + (parts[2] as number) * 2 ** 8 + (parts[3] as number)) >>> 0;
  };
  const a = toInt(ip);
  const b = toInt(net ?? '');
  if (a === null || b === null) return ip === net;
  if (bits === 0) return true;
  const mask = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
  return (a & mask) === (b & mask);
}

export class InProcessSite implements SiteDriver {
  private reflector: Reflector | null = null;
  private readonly held = new Map<string, Held>();
  private readonly heldNetem = new Map<string, HeldNetem>();
  private counter = 0;
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(
    readonly name: string,
    private readonly opts: InProcessSiteOptions = {},
  ) {
    // One time base for everything this site stamps (probe windows, fault and phase switches): a
    // single wall-clock anchor advanced by the monotonic clock. Each probe session would otherwise
    // anchor Date.now() itself, and on a loaded host two anchors can disagree by tens of ms, more
    // than a probe interval. (Sub-ms wall values make the probe's timestamper take it as is.)
    this.clock = opts.clock ?? anchoredClock();
    this.random = opts.random ?? seededRandom(randomSeed());
  }

  /** Start the site's reflector (idempotent); returns HOST:PORT. */
  async start(): Promise<string> {
    if (!this.reflector) this.reflector = await startReflector({ host: this.opts.reflectorHost ?? '127.0.0.1', port: 0, ratePps: 0 }, { clock: this.clock });
    return `${this.reflector.address.address}:${this.reflector.address.port}`;
  }

  async preflight(): Promise<SitePreflight> {
    const reflector = await this.start();
    return { reachable: true, authorised: true, version: 'in-process', backends: this.opts.netem ? ['relay', 'netem'] : ['relay'], faults: ['blackhole'], reflector, problems: [] };
  }

  async apply(req: ApplyRequest, signal?: AbortSignal): Promise<{ id: string; appliedAtMs: number }> {
    await waitUntil(this.clock, req.startAtMs, signal);
    const t = req.impairment.target;
    if (t.kind === 'netem' && this.opts.netem) return this.applyNetem(req, t);
    if (t.kind !== 'relay' || t.proto !== 'udp') {
      throw new BackhaulError('ERR_UNSUPPORTED', `site ${this.name} runs in process: only UDP relay targets (got ${t.kind === 'relay' ? `relay ${t.proto}` : `interface ${t.dev}`})`);
    }
    const id = `${this.name}-${++this.counter}`;
    const first = this.effective(req, null);
    const relay = await startUdpRelay(
      { listen: t.listen, upstream: t.upstream, egress: first.egress, ingress: first.ingress, name: req.impairment.name },
      {
        clock: this.clock,
        random: seededRandom(this.random.nextU32()),
        createWaiter: () => createWaiter(this.opts.timer ?? DEFAULT_TIMER_MODE, this.clock),
        ...(this.opts.registry ? { registry: this.opts.registry } : {}),
      },
    );
    const appliedAtMs = this.clock.wallMs();
    const held: Held = {
      id,
      req,
      relay,
      upstreamHost: t.upstream.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''),
      phases: [],
      blackholed: 0,
      current: first,
      leaseTimer: setTimeout(() => void this.revert(id), req.ttlMs),
      stopSchedule: new AbortController(),
    };
    this.held.set(id, held);
    if (req.profile.schedule) void this.runSchedule(held, appliedAtMs);
    else held.phases.push({ name: 'base', startMs: appliedAtMs, endMs: Number.POSITIVE_INFINITY, outage: false });
    return { id, appliedAtMs };
  }

  private async applyNetem(req: ApplyRequest, t: { dev: string; netns?: string }): Promise<{ id: string; appliedAtMs: number }> {
    if (req.profile.schedule) throw new BackhaulError('ERR_UNSUPPORTED', `site ${this.name}: scheduled profiles on an interface need an agent (it switches the phases)`);
    const backend = this.opts.netem as ImpairmentBackend;
    const target: NetemTarget = {
      kind: 'netem',
      dev: t.dev,
      ...(t.netns ? { netns: t.netns } : {}),
      direction: req.impairment.direction,
      ...(req.impairment.match ? { match: req.impairment.match } : {}),
      ...(req.impairment.exclude ? { exclude: req.impairment.exclude } : {}),
    };
    await backend.apply(target, req.profile);
    const id = `${this.name}-${++this.counter}`;
    const appliedAtMs = this.clock.wallMs();
    this.heldNetem.set(id, { id, target, appliedAtMs, leaseTimer: setTimeout(() => void this.revert(id), req.ttlMs) });
    return { id, appliedAtMs };
  }

  private effective(req: ApplyRequest, phase: number | null): { egress: Impairment; ingress: Impairment } {
    const dir = req.impairment.direction;
    return {
      egress: dir === 'ingress' ? {} : (effectiveImpairment(req.profile, phase, 'egress') ?? {}),
      ingress: dir === 'egress' ? {} : (effectiveImpairment(req.profile, phase, 'ingress') ?? {}),
    };
  }

  private push(h: Held): void {
    const b = h.blackholed > 0;
    h.relay.setImpairments(b ? BLACKHOLE : h.current.egress, b ? BLACKHOLE : h.current.ingress);
  }

  private async runSchedule(h: Held, startMs: number): Promise<void> {
    const schedule = h.req.profile.schedule;
    if (!schedule) return;
    const cursor = new TimelineCursor(schedule, startMs, seededRandom(this.random.nextU32()));
    const signal = h.stopSchedule.signal;
    let last: PhaseRecord | null = null;
    while (!signal.aborted) {
      const now = this.clock.wallMs();
      const seg = cursor.at(now);
      if (last) last.endMs = now;
      h.current = this.effective(h.req, seg.phaseIndex);
      this.push(h);
      const name = seg.phaseIndex === null ? 'base' : (schedule.phases[seg.phaseIndex]?.name ?? `phase-${seg.phaseIndex}`);
      const lossAll = (i: Impairment): boolean => i.loss?.model === 'random' && i.loss.pct >= 100;
      last = { name, startMs: now, endMs: Number.POSITIVE_INFINITY, outage: lossAll(h.current.egress) || lossAll(h.current.ingress) };
      h.phases.push(last);
      if (!Number.isFinite(seg.endMs)) return;
      try {
        await this.clock.sleep(Math.max(0, seg.endMs - this.clock.wallMs()), signal);
      } catch {
        return;
      }
    }
  }

  async renew(id: string, ttlMs: number): Promise<void> {
    const n = this.heldNetem.get(id);
    if (n) {
      clearTimeout(n.leaseTimer);
      n.leaseTimer = setTimeout(() => void this.revert(id), ttlMs);
      return;
    }
    const h = this.held.get(id);
    if (!h) throw new BackhaulError('ERR_NOT_FOUND', `site ${this.name}: no impairment ${id} (its lease may have expired)`);
    clearTimeout(h.leaseTimer);
    h.leaseTimer = setTimeout(() => void this.revert(id), ttlMs);
  }

  async inEffect(id: string): Promise<InEffectReading> {
    return { now: await this.inEffectNow(id) };
  }

  private async inEffectNow(id: string): Promise<boolean> {
    const n = this.heldNetem.get(id);
    if (n) return (await (this.opts.netem as ImpairmentBackend).status(n.target)) !== null;
    const h = this.held.get(id);
    if (!h) return false;
    if (h.blackholed > 0) return true;
    const live = h.relay.impairments();
    return JSON.stringify(live.egress) === JSON.stringify(h.current.egress) && JSON.stringify(live.ingress) === JSON.stringify(h.current.ingress);
  }

  async phases(id: string): Promise<PhaseRecord[]> {
    const n = this.heldNetem.get(id);
    if (n) return [{ name: 'base', startMs: n.appliedAtMs, endMs: this.clock.wallMs(), outage: false }];
    return (this.held.get(id)?.phases ?? []).map((p) => ({ ...p }));
  }

  async revert(id: string): Promise<void> {
    const n = this.heldNetem.get(id);
    if (n) {
      this.heldNetem.delete(id);
      clearTimeout(n.leaseTimer);
      await (this.opts.netem as ImpairmentBackend).revert(n.target);
      return;
    }
    const h = this.held.get(id);
    if (!h) return;
    this.held.delete(id);
    clearTimeout(h.leaseTimer);
    h.stopSchedule.abort();
    const now = this.clock.wallMs();
    for (const p of h.phases) if (!Number.isFinite(p.endMs)) p.endMs = now;
    await h.relay.stop();
  }

  async clearAll(): Promise<number> {
    const ids = [...this.held.keys(), ...this.heldNetem.keys()];
    for (const id of ids) await this.revert(id);
    return ids.length;
  }

  async fault(f: FaultSpec, signal?: AbortSignal): Promise<{ startMs: number; endMs: number }> {
    if (f.kind !== 'blackhole') {
      throw new BackhaulError('ERR_UNSUPPORTED', `site ${this.name} runs in process: '${f.kind}' needs a real interface (an agent with the netem backend); use 'blackhole'`);
    }
    const hit = [...this.held.values()].filter((h) => ipv4InCidr(h.upstreamHost, f.peer));
    if (hit.length === 0) {
      throw new BackhaulError('ERR_NOT_FOUND', `site ${this.name}: blackhole ${f.peer} matches none of its relays' upstreams (${[...this.held.values()].map((h) => h.upstreamHost).join(', ') || 'no relay held'})`);
    }
    const startMs = this.clock.wallMs();
    for (const h of hit) {
      h.blackholed += 1;
      this.push(h);
    }
    try {
      await this.clock.sleep(f.durationMs, signal);
    } catch {
      /* aborted: restore now */
    } finally {
      for (const h of hit) {
        h.blackholed -= 1;
        if (this.held.has(h.id)) this.push(h);
      }
    }
    return { startMs, endMs: this.clock.wallMs() };
  }

  async startProbe(p: { name: string; intervalMs: number; timeoutMs: number; outageMinLost: number }, target: string, durationMs: number): Promise<SiteProbeRun> {
    const s = await startProbeSession(
      { target, name: p.name, intervalMs: p.intervalMs, timeoutMs: p.timeoutMs, durationMs, outageMinLost: p.outageMinLost, timer: this.opts.timer ?? DEFAULT_TIMER_MODE },
      { clock: this.clock },
    );
    this.opts.onProbeSession?.(s);
    return {
      snapshot: async () => ({ summary: s.snapshot(), histogramNs: s.histogram().rtt }),
      stop: async () => {
        const summary = await s.stop();
        return { summary, histogramNs: s.histogram().rtt };
      },
    };
  }

  async close(): Promise<void> {
    await this.clearAll();
    await this.reflector?.close();
    this.reflector = null;
  }
}
