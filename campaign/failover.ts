/**
 * Failover analysis: match each outage window a probe measured to the injected fault or profile
 * phase that caused it, and derive the failover timings with their bounds. Pure.
 *
 * Time base: every time here is in ms on ONE clock (the runner converts the probe agent's times
 * with the estimated clock offset and passes that estimate's uncertainty as `clockUncertaintyMs`).
 *
 * What a probe stream can see (interval D, outage threshold M consecutive lost probes; the probe
 * engine's convention, probe/stats/outage.ts): answered probe a, lost a+1..b-1, answered b:
 *
 *   injected at E     a    start = send(a) + D/2                end = send(b) - D/2    b
 *        |            |      |                                       |               |
 *   -----+------------+------+---------------------------------------+---------------+---->
 *                            <------ durationMs = send(b)-send(a)-D (+/- D) ------->
 *
 *   onsetMs   = start - E               fault -> traffic stopped (how fast the fault bit)
 *   detectMs  = start + (M - 1/2)D - E  fault -> the M-th consecutive lost probe was sent, i.e. when
 *                                       a monitor with this interval and multiplier could declare
 *                                       the outage (as BFD: Detect Mult x interval, RFC 5880 6.8.4)
 *   outageMs  = durationMs              traffic interrupted (the probe's own +/- boundMs)
 *   recoverMs = end - E                 fault -> traffic flows again (failover complete, or link back)
 *
 * The true instants lie within one interval of the probe stamps (the event happened between two
 * probes), so each of onset/detect/recover is reported with bound D + clockUncertaintyMs
 * (conservative: the midpoint estimates are within D/2).
 *
 * Matching: an outage belongs to the event (fault or phase) whose window
 * [startMs - D - u - slack, endMs + graceMs] contains the outage's start (slack: the probe
 * sender's longest measured stall); faults win over phases,
 * then the latest-starting event wins (the most recent cause). Outages that match nothing are
 * `unexpected`. An event with no matching outage is reported with `matched: false`: any
 * interruption it caused was shorter than M probes (< M x D), which is the detection limit.
 */

import type { OutageWindow as ProbeOutageWindow } from '../probe/stats/outage.js';

/** The fields of the probe engine's outage window (probe/stats/outage.ts) that matching needs. */
export type OutageWindow = Pick<ProbeOutageWindow, 'startMs' | 'endMs' | 'durationMs' | 'lost' | 'boundMs'>;

export interface InjectedEvent {
  /** 'fault' (link down, flap period, blackhole) or 'phase' (a profile schedule phase). */
  kind: 'fault' | 'phase';
  name: string;
  startMs: number;
  endMs: number;
  /** May explain an outage but need not cause one (e.g. a high-loss phase): never 'unmatched'. */
  optional?: boolean;
}

export interface FailoverOptions {
  intervalMs: number;
  /** M: consecutive lost probes that make an outage (the probe's setting). */
  outageMinLost: number;
  /** How long after an event ends an outage may still begin and be attributed to it. */
  graceMs?: number;
  /** Uncertainty of the clock offset between the probe's agent and the injector (ms). */
  clockUncertaintyMs?: number;
  /** The probe sender's longest stall (ms): with no probe sent during a stall, a window may start
   *  up to that much before the injection that caused it. */
  slackMs?: number;
}

export interface FailoverMatch {
  event: InjectedEvent;
  matched: boolean;
  /** Outages attributed to this event, in time order (a failover, then maybe a failback). */
  outages: OutageWindow[];
  onsetMs: number | null;
  detectMs: number | null;
  /** The first attributed outage's duration; 0 when none was seen (then < outageMs limit). */
  outageMs: number;
  recoverMs: number | null;
  /** +/- bound on onset/detect/recover (one interval plus the clock uncertainty). */
  boundMs: number;
  /** +/- bound on outageMs (the probe's bound, plus clock uncertainty does not apply: same clock). */
  outageBoundMs: number;
  /** Without a match: any interruption was shorter than this (M x interval). */
  undetectableBelowMs: number;
}

export interface FailoverAnalysis {
  matches: FailoverMatch[];
  unexpected: OutageWindow[];
  /** Aggregates for assertions (max over matched events, counts). */
  values: {
    'failover.detect': number | null;
    'failover.outage': number | null;
    'failover.recover': number | null;
    'failover.unmatched': number;
    'outage.unexpected': number;
  };
}

export const DEFAULT_GRACE_MS = 10_000;

/** Match outage windows to injected events; see the module comment for definitions. */
export function analyseFailover(outages: readonly OutageWindow[], events: readonly InjectedEvent[], opts: FailoverOptions): FailoverAnalysis {
  const d = opts.intervalMs;
  const u = opts.clockUncertaintyMs ?? 0;
  const grace = opts.graceMs ?? DEFAULT_GRACE_MS;
  const slack = opts.slackMs ?? 0;
  const byEvent = new Map<InjectedEvent, OutageWindow[]>(events.map((e) => [e, []]));
  const unexpected: OutageWindow[] = [];

  const sorted = [...outages].sort((a, b) => a.startMs - b.startMs);
  for (const o of sorted) {
    const candidates = events.filter((e) => o.startMs >= e.startMs - d - u - slack && o.startMs <= e.endMs + grace);
    if (candidates.length === 0) {
      unexpected.push(o);
      continue;
    }
    candidates.sort((a, b) => (a.kind === b.kind ? b.startMs - a.startMs : a.kind === 'fault' ? -1 : 1));
    byEvent.get(candidates[0] as InjectedEvent)?.push(o);
  }

  const matches: FailoverMatch[] = events.map((event) => {
    const list = byEvent.get(event) ?? [];
    const first = list[0];
    const base = { event, outages: list, boundMs: d + u, undetectableBelowMs: opts.outageMinLost * d };
    if (!first) {
      return { ...base, matched: false, onsetMs: null, detectMs: null, outageMs: 0, recoverMs: null, outageBoundMs: 0 };
    }
    return {
      ...base,
      matched: true,
      onsetMs: first.startMs - event.startMs,
      detectMs: first.startMs + (opts.outageMinLost - 0.5) * d - event.startMs,
      outageMs: first.durationMs,
      recoverMs: first.endMs - event.startMs,
      outageBoundMs: first.boundMs,
    };
  });

  const matched = matches.filter((m) => m.matched);
  const required = matches.filter((m) => !m.event.optional);
  const max = (xs: (number | null)[]): number | null => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length === 0 ? null : Math.max(...v);
  };
  return {
    matches,
    unexpected,
    values: {
      'failover.detect': max(matched.map((m) => m.detectMs)),
      // Faults that caused no detectable outage count as 0 for the outage and recovery maxima.
      'failover.outage': required.length + matched.length === 0 ? null : Math.max(0, ...required.map((m) => m.outageMs), ...matched.map((m) => m.outageMs)),
      'failover.recover': required.length + matched.length === 0 ? null : Math.max(0, ...required.map((m) => m.recoverMs ?? 0), ...matched.map((m) => m.recoverMs ?? 0)),
      'failover.unmatched': required.filter((m) => !m.matched).length,
      'outage.unexpected': unexpected.length,
    },
  };
}

/** Expand a flap into its down periods (each is its own event). */
export function flapEvents(name: string, startMs: number, downForMs: number, upForMs: number, count: number): InjectedEvent[] {
  const out: InjectedEvent[] = [];
  for (let i = 0; i < count; i++) {
    const s = startMs + i * (downForMs + upForMs);
    out.push({ kind: 'fault', name: `${name}#${i + 1}`, startMs: s, endMs: s + downForMs });
  }
  return out;
}
