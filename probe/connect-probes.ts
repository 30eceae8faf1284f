/**
 * TCP connect-time and HTTP(S) time-to-first-byte probes, on the same isochronous schedule and the
 * same statistics as STAMP probes (every slot opens a fresh connection):
 *
 *   tcp://host:port    RTT = time from connect() to the connection being established (SYN -> SYN/ACK)
 *   http(s)://url      RTT = time from the request start (fresh connection: DNS is resolved once up
 *                      front, so this includes TCP and TLS handshakes) to the response headers.
 *                      Every request connects to the address resolved at start (a fixed `lookup`);
 *                      the URL's host name still goes in the Host header and TLS SNI / certificate
 *                      check, so virtual hosts and certificates work as with the name.
 *
 * A connection that errors (refused, reset, TLS failure) is counted in `sendErrors` and its probe is
 * lost at its timeout; attempts are aborted at the timeout so sockets never pile up. Duplicates and
 * reordering do not apply (one completion per attempt); reordering counts completions that finish
 * out of order, which for connections reflects path variation, not packet reordering.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { LookupFunction } from 'node:net';
import type { Clock } from '../core/clock.js';
import type { ProbeStats } from './stats/engine.js';
import type { ProbeTransport, TransportCounters } from './sender.js';

interface Deps {
  clock: Clock;
  stats: ProbeStats;
  originNs: bigint;
  timeoutMs: number;
}

export function openTcpTransport(target: { host: string; port: number }, deps: Deps): ProbeTransport {
  const { clock, stats, originNs } = deps;
  const c: TransportCounters = { sendErrors: 0, badReplies: 0 };
  const live = new Set<net.Socket>();
  return {
    send(seq, intendedRelNs) {
      const start = clock.monoNs();
      stats.sent(seq, intendedRelNs, Number(start - originNs));
      const sock = net.connect({ host: target.host, port: target.port });
      live.add(sock);
      const timer = setTimeout(() => sock.destroy(), deps.timeoutMs);
      sock.once('connect', () => {
        stats.reply(seq, Number(clock.monoNs() - originNs), 0);
        sock.destroy();
      });
      sock.once('error', () => {
        c.sendErrors += 1;
      });
      sock.once('close', () => {
        clearTimeout(timer);
        live.delete(sock);
      });
      return start;
    },
    counters: () => ({ ...c }),
    close: async () => {
      for (const s of live) s.destroy();
    },
  };
}

/**
 * A `lookup` for http(s).request / net.connect that always answers `address` (resolved once at
 * start), whatever name it is asked for; handles both the single-address and the `all: true` form.
 */
export function fixedLookup(address: string): LookupFunction {
  const family = net.isIPv6(address) ? 6 : 4;
  return ((_host: string, options: { all?: boolean }, cb: (...a: unknown[]) => void) => {
    if (options?.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  }) as unknown as LookupFunction;
}

export function openHttpTransport(url: URL, deps: Deps & { insecure?: boolean; /** IP address resolved at start (omit when the URL host is an IP). */ address?: string }): ProbeTransport {
  const { clock, stats, originNs } = deps;
  const lookup = deps.address !== undefined && net.isIP(url.hostname.replace(/^\[|\]$/g, '')) === 0 ? fixedLookup(deps.address) : undefined;
  const c: TransportCounters = { sendErrors: 0, badReplies: 0 };
  const live = new Set<http.ClientRequest>();
  const mod = url.protocol === 'https:' ? https : http;
  return {
    send(seq, intendedRelNs) {
      const start = clock.monoNs();
      stats.sent(seq, intendedRelNs, Number(start - originNs));
      const req = mod.request(url, {
        method: 'GET',
        agent: false,
        timeout: deps.timeoutMs,
        headers: { 'user-agent': 'backhaul-probe', connection: 'close' },
        ...(lookup ? { lookup } : {}),
        ...(url.protocol === 'https:' && deps.insecure ? { rejectUnauthorized: false } : {}),
      });
      live.add(req);
      let timedOut = false;
      req.once('response', (res) => {
        stats.reply(seq, Number(clock.monoNs() - originNs), 0);
        res.resume();
        res.once('end', () => req.destroy());
      });
      req.once('timeout', () => {
        timedOut = true;
        req.destroy();
      });
      req.on('error', () => {
        if (!timedOut) c.sendErrors += 1;
        timedOut = true; // count one error per attempt
      });
      req.once('close', () => live.delete(req));
      req.end();
      return start;
    },
    counters: () => ({ ...c }),
    close: async () => {
      for (const r of live) r.destroy();
    },
  };
}
