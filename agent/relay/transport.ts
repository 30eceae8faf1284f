/**
 * What the two transport relays (udp-relay.ts, tcp-relay.ts) take and give back alike; relay.ts
 * builds one deps object for either and drives either handle through the same calls.
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../../core/clock.js';
import type { Impairment } from '../../core/profile.js';
import type { Random } from '../../core/random.js';
import type { Waiter } from '../../probe/timer.js';
import type { RelayStatsSnapshot } from './metrics.js';
import type { HostPort } from './plan.js';

export interface TransportRelayDeps {
  clock: Clock;
  /** Seeds one independent generator per direction (egress first), so each direction's draws
   *  depend only on the seed and that direction's traffic. */
  random: Random;
  /** The ingress direction's generator, when it has its own seed (the profile's `ingress.seed`);
   *  `random` still gives up the same draws, so the egress direction is unaffected. */
  ingressRandom?: Random;
  /** One waiter per pipe (a direction; for TCP, a direction of one connection): the relay never
   *  shares a pending wait between pipes. */
  createWaiter(): Pick<Waiter, 'waitUntil'>;
  registry?: Registry;
}

export interface TransportRelayHandle {
  /** The bound listen address (with the real port when 0 was asked). */
  readonly listen: HostPort;
  readonly upstream: HostPort;
  /** Replace both directions' impairments; applies to traffic arriving from then on. */
  setImpairments(egress: Impairment, ingress: Impairment): void;
  impairments(): { egress: Impairment; ingress: Impairment };
  stats(): RelayStatsSnapshot;
  /** Idempotent. */
  stop(): Promise<void>;
}
