/**
 * The impairment backend interface. Two kinds: `netem` (Linux tc: htb + netem leaves, IFB for
 * ingress) and `relay` (userspace UDP/TCP relay between a listen address and an upstream).
 *
 * Contract for every backend:
 * - `apply` is idempotent: applying the same profile twice leaves the same state; applying another
 *   profile replaces the previous one completely (no stale fields).
 * - `revert` of nothing resolves; after it the target is as it was before the first apply
 *   (byte-identical `tc -j` output for the netem backend).
 * - `status` reads the live state back from the system, never from a cache; null when nothing of
 *   ours is there.
 * - Cancellation: an aborted signal stops before the next effect; a partial apply is reverted.
 */
import type { Direction, Impairment, Profile } from '../core/profile.js';

/**
 * Traffic selection: `peer` is a CIDR (destination on egress, source on ingress); `port` is the
 * peer's port (destination port on egress, source port on ingress); `localPort` is this node's port
 * (source port on egress, destination port on ingress), used to exclude the agent's API and SSH.
 */
export interface MatchRule {
  peer: string;
  port?: number;
  localPort?: number;
  proto?: 'tcp' | 'udp';
}

export type DirectionSelector = Direction | 'both';

export interface NetemTarget {
  kind: 'netem';
  /** Interface name (<= 15 characters, validated). */
  dev: string;
  /** Network namespace the interface lives in (`ip netns` name); absent = the current one. */
  netns?: string;
  direction: DirectionSelector;
  /** Only traffic matching one of these is impaired; empty = all traffic. */
  match?: MatchRule[];
  /** Traffic matching one of these is never impaired (management traffic). */
  exclude?: MatchRule[];
  /** Turn off GSO/GRO/TSO for fidelity; the prior setting is recorded and restored on revert. */
  disableOffloads?: boolean;
}

export interface RelayTarget {
  kind: 'relay';
  proto: 'udp' | 'tcp';
  listen: string;
  upstream: string;
}

export type Target = NetemTarget | RelayTarget;

/** What is in effect on a target, as read back from the system. */
export interface Applied {
  target: Target;
  backend: 'netem' | 'relay';
  profileName?: string;
  /** The impairment in effect now, per direction (the current phase's, for scheduled profiles). */
  egress?: Impairment;
  ingress?: Impairment;
  /** Free-form facts worth showing (kernel/iproute2 versions, IFB name, handles, warnings). */
  details?: Record<string, unknown>;
}

export interface ImpairmentBackend {
  readonly kind: 'netem' | 'relay';
  apply(target: Target, profile: Profile, signal?: AbortSignal): Promise<Applied>;
  revert(target: Target, signal?: AbortSignal): Promise<void>;
  status(target: Target): Promise<Applied | null>;
}
