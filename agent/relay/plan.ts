/**
 * What the relay can express, decided once before any socket opens (pure).
 *
 * UDP: every netem field except `ecn` (a relay sees payloads, not IP headers, so it cannot set CE):
 * a profile with `ecn: true` is refused. Reordering needs a delay, as in tc.
 *
 * TCP (a byte stream; the kernel below retransmits, so packet-level faults cannot be shown):
 *   delayMs, jitterMs, delayCorrelationPct, distribution  -> per-chunk delay, byte order kept
 *   rateKbit                                              -> per-direction bandwidth
 *   loss random 100 %                                     -> OUTAGE (blackhole or reset, per config)
 *   limitPackets                                          -> no effect: the relay applies backpressure
 *                                                            to the sender instead of dropping (noted)
 *   seed                                                  -> seeds the jitter draws
 *   loss < 100 % or any other loss model, duplicate*, corrupt*, reorder*, slot, ecn,
 *   packet/cell overheads                                 -> refused (ERR_UNSUPPORTED), or with
 *                                                            `lenient` dropped and listed in `ignored`
 */
import { isIP } from 'node:net';
import { BackhaulError } from '../../core/errors.js';
import type { Direction, Impairment } from '../../core/profile.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parse `HOST:PORT` / `[V6]:PORT`; port 0 allowed only when `allowZero` (listen: pick one). */
export function parseHostPort(s: string, what: string, allowZero = false): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m) {
    throw new BackhaulError('ERR_USAGE', `${what}: expected HOST:PORT or [IPv6]:PORT (got '${s}')`, { value: s });
  }
  const host = m[1]!;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port > 65535 || (port === 0 && !allowZero)) {
    throw new BackhaulError('ERR_USAGE', `${what}: port must be ${allowZero ? '0' : '1'}..65535 (got '${m[2]}')`, { value: s });
  }
  if (host.includes(':') && isIP(host) !== 6) {
    throw new BackhaulError('ERR_USAGE', `${what}: '${host}' is not an IPv6 address`, { value: s });
  }
  return { host, port };
}

export function formatHostPort(hp: HostPort): string {
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** Refuse what the UDP relay cannot do. Throws ERR_UNSUPPORTED / ERR_PROFILE_INVALID naming the field. */
export function checkUdpImpairment(imp: Impairment, where: string): void {
  if (imp.ecn) {
    throw new BackhaulError('ERR_UNSUPPORTED', `${where}.ecn: the relay cannot mark ECN (it sees payloads, not IP headers); remove ecn or use the netem backend`, { field: `${where}.ecn` });
  }
  if ((imp.reorderPct ?? 0) > 0 && !((imp.delayMs ?? 0) > 0)) {
    throw new BackhaulError('ERR_PROFILE_INVALID', `${where}.reorderPct: reordering is not possible without some delay (as in tc)`, { field: `${where}.reorderPct` });
  }
}

export type TcpOutageMode = 'blackhole' | 'reset';

/** One direction of the TCP relay, as planned from an Impairment. */
export interface TcpDirectionPlan {
  delayMs: number;
  jitterMs: number;
  delayCorrelationPct: number;
  distribution: Impairment['distribution'];
  /** 0 = unlimited. */
  rateKbit: number;
  /** True while the (phase's) loss is 100 %: the relay applies the outage mode. */
  outage: boolean;
  seed?: number;
  /** Fields dropped under `lenient` (never silently: reported by status and the CLI). */
  ignored: string[];
  /** Fields with a documented TCP meaning other than netem's (e.g. limitPackets -> backpressure). */
  notes: string[];
}

/**
 * Plan one TCP direction. Without `lenient`, any field TCP cannot express throws ERR_UNSUPPORTED
 * naming every such field; with it, they are listed in `ignored`.
 */
export function planTcpDirection(imp: Impairment, direction: Direction, lenient = false, where = ''): TcpDirectionPlan {
  const bad: string[] = [];
  const notes: string[] = [];
  let outage = false;
  const f = (k: string): string => `${where}${direction}.${k}`;
  if (imp.loss) {
    if (imp.loss.model === 'random' && imp.loss.pct >= 100) outage = true;
    else bad.push(f('loss'));
  }
  if (imp.duplicatePct) bad.push(f('duplicatePct'));
  if (imp.corruptPct) bad.push(f('corruptPct'));
  if (imp.reorderPct) bad.push(f('reorderPct'));
  if (imp.slot) bad.push(f('slot'));
  if (imp.ecn) bad.push(f('ecn'));
  if (imp.packetOverheadBytes || imp.cellSizeBytes || imp.cellOverheadBytes) bad.push(f('packetOverheadBytes/cellSizeBytes/cellOverheadBytes'));
  if (imp.limitPackets !== undefined) notes.push(`${f('limitPackets')}: a byte stream is not dropped; the relay applies backpressure instead`);
  if (bad.length > 0 && !lenient) {
    throw new BackhaulError(
      'ERR_UNSUPPORTED',
      `the TCP relay cannot express ${bad.join(', ')} (packet-level faults on a byte stream); use --proto udp or the netem backend, or allow dropping them with --lenient`,
      { fields: bad, hint: 'loss 100 % is supported: it becomes an outage (--tcp-outage blackhole|reset)' },
    );
  }
  return {
    delayMs: imp.delayMs ?? 0,
    jitterMs: imp.jitterMs ?? 0,
    delayCorrelationPct: imp.delayCorrelationPct ?? 0,
    distribution: imp.distribution,
    rateKbit: imp.rateKbit ?? 0,
    outage,
    ...(imp.seed !== undefined ? { seed: imp.seed } : {}),
    ignored: bad,
    notes,
  };
}
