/**
 * The management path: by default every netem impairment excludes the agent's API port, SSH and the
 * controlling peer's address, in both directions, so that a 100%-loss phase cannot cut the
 * operators off or block lease renewal. Pure.
 */
import { isIP } from 'node:net';
import type { MatchRule } from '../backend.js';

export interface ManagementConfig {
  /** The agent's API port (local port on this node). */
  apiPort: number;
  /** SSH port(s) on this node; default [22]. */
  sshPorts: number[];
  /** Extra always-excluded rules from the config file (e.g. the Prometheus server). */
  extra: MatchRule[];
  /** Agent-wide opt-out (config `management.allowManagementInterface: true`): no default excludes. */
  disabled?: boolean;
}

/** Normalise a socket address: strip an IPv4-mapped prefix and a zone id. */
export function normalisePeer(address: string | undefined): string | null {
  if (!address) return null;
  let a = address.replace(/%.*$/, '');
  if (a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return isIP(a) ? a : null;
}

/** The exclude rules protecting the management path for a request from `peer`. */
export function managementExcludes(cfg: ManagementConfig, peer: string | null): MatchRule[] {
  const rules: MatchRule[] = [];
  for (const any of ['0.0.0.0/0', '::/0']) {
    rules.push({ peer: any, localPort: cfg.apiPort, proto: 'tcp' });
    for (const ssh of cfg.sshPorts) rules.push({ peer: any, localPort: ssh, proto: 'tcp' });
  }
  const p = normalisePeer(peer ?? undefined);
  if (p) rules.push({ peer: isIP(p) === 4 ? `${p}/32` : `${p}/128` });
  rules.push(...cfg.extra);
  return rules;
}

/** Merge rule lists, dropping exact duplicates, keeping order. */
export function mergeRules(...lists: MatchRule[][]): MatchRule[] {
  const seen = new Set<string>();
  const out: MatchRule[] = [];
  for (const r of lists.flat()) {
    const k = JSON.stringify([r.peer, r.port ?? null, r.localPort ?? null, r.proto ?? null]);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(r);
    }
  }
  return out;
}
