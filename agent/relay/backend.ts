/**
 * RelayBackend: the `relay` kind of ImpairmentBackend. A target `{ kind: 'relay', proto, listen,
 * upstream }` is a relay process-internal to this backend (one per proto + listen address).
 *
 * - apply: starts the relay, or, when one already runs on that listen address with the same
 *   upstream, replaces its profile in place (flows/connections stay; the schedule restarts from
 *   now); the same profile again is a no-op. A different upstream restarts the relay. An aborted
 *   signal stops before the effect; an abort that arrives while starting stops the new relay.
 * - revert: stops the relay (queued packets are dropped and counted); nothing running resolves.
 * - status: read from the running relay itself (current phase's impairment, counters, seed),
 *   null when none runs. Relays live as long as this backend's process: `revertAll()` on shutdown.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Applied, ImpairmentBackend, RelayTarget, Target } from '../backend.js';
import { BackhaulError } from '../../core/errors.js';
import type { Profile } from '../../core/profile.js';
import { startRelay, type RelayConfig, type RelayDeps, type RelayHandle } from './relay.js';

export type RelayDefaults = Omit<RelayConfig, 'proto' | 'listen' | 'upstream' | 'profile'>;

function asRelayTarget(t: Target): RelayTarget {
  if (t.kind !== 'relay') {
    throw new BackhaulError('ERR_BAD_REQUEST', `the relay backend takes targets of kind 'relay' (got '${t.kind}')`, { kind: t.kind });
  }
  return t;
}

const keyOf = (t: RelayTarget): string => `${t.proto}|${t.listen}`;

export class RelayBackend implements ImpairmentBackend {
  readonly kind = 'relay' as const;
  private readonly relays = new Map<string, { target: RelayTarget; relay: RelayHandle }>();

  constructor(
    private readonly deps: RelayDeps = {},
    private readonly defaults: RelayDefaults = {},
  ) {}

  async apply(target: Target, profile: Profile, signal?: AbortSignal): Promise<Applied> {
    const t = asRelayTarget(target);
    signal?.throwIfAborted();
    const key = keyOf(t);
    const running = this.relays.get(key);
    if (running && running.target.upstream === t.upstream) {
      if (!isDeepStrictEqual(running.relay.profile(), profile)) running.relay.setProfile(profile);
      return this.applied(t, running.relay);
    }
    if (running) {
      this.relays.delete(key);
      await running.relay.stop();
    }
    const relay = await startRelay({ ...this.defaults, proto: t.proto, listen: t.listen, upstream: t.upstream, profile }, this.deps);
    if (signal?.aborted) {
      await relay.stop();
      signal.throwIfAborted();
    }
    this.relays.set(key, { target: t, relay });
    return this.applied(t, relay);
  }

  async revert(target: Target, _signal?: AbortSignal): Promise<void> {
    const t = asRelayTarget(target);
    const running = this.relays.get(keyOf(t));
    if (!running) return;
    this.relays.delete(keyOf(t));
    await running.relay.stop();
  }

  async status(target: Target): Promise<Applied | null> {
    const t = asRelayTarget(target);
    const running = this.relays.get(keyOf(t));
    return running ? this.applied(running.target, running.relay) : null;
  }

  /** The running relay for a target (for callers that need its bound port or counters). */
  handle(target: RelayTarget): RelayHandle | undefined {
    return this.relays.get(keyOf(target))?.relay;
  }

  /** Stop every relay (shutdown). */
  async revertAll(): Promise<void> {
    const all = [...this.relays.values()];
    this.relays.clear();
    await Promise.all(all.map((r) => r.relay.stop()));
  }

  private applied(target: RelayTarget, relay: RelayHandle): Applied {
    const phase = relay.phase();
    return {
      target,
      backend: 'relay',
      profileName: relay.profile().name,
      egress: phase.egress,
      ingress: phase.ingress,
      details: {
        listen: relay.listen,
        seed: relay.seed,
        timer: relay.timer,
        phase: phase.phaseIndex,
        ...(phase.phaseName ? { phaseName: phase.phaseName } : {}),
        stats: relay.stats(),
        warnings: relay.warnings(),
      },
    };
  }
}
