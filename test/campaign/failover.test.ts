import { describe, expect, it } from 'vitest';
import { analyseFailover, flapEvents, type OutageWindow } from '../../campaign/failover.js';

/** An outage as the probe engine reports it: last answered sent at a, first answered again sent at r. */
function outage(a: number, r: number, d: number): OutageWindow {
  return { startMs: a + d / 2, endMs: r - d / 2, durationMs: r - a - d, lost: Math.round((r - a) / d) - 1, boundMs: d };
}

describe('analyseFailover', () => {
  const d = 10;

  it('derives onset, detect, outage and recover with bounds', () => {
    // Link down at 5000; last answered probe sent at 5000, first lost 5010; back at 6500.
    const res = analyseFailover([outage(5000, 6500, d)], [{ kind: 'fault', name: 'link-down-0', startMs: 5003, endMs: 20_000 }], {
      intervalMs: d,
      outageMinLost: 3,
      clockUncertaintyMs: 2,
    });
    const m = res.matches[0]!;
    expect(m.matched).toBe(true);
    expect(m.onsetMs).toBe(2); // start = 5000 + 5
    expect(m.detectMs).toBe(27); // third lost probe sent at 5030
    expect(m.outageMs).toBe(1490);
    expect(m.outageBoundMs).toBe(10);
    expect(m.recoverMs).toBe(1492); // end = 6500 - 5
    expect(m.boundMs).toBe(12);
    expect(res.unexpected).toEqual([]);
    expect(res.values).toEqual({
      'failover.detect': 27,
      'failover.outage': 1490,
      'failover.recover': 1492,
      'failover.unmatched': 0,
      'outage.unexpected': 0,
    });
  });

  it('reports outages no event explains as unexpected', () => {
    const res = analyseFailover(
      [outage(1000, 1100, d), outage(30_000, 30_200, d)],
      [{ kind: 'fault', name: 'f', startMs: 995, endMs: 2000 }],
      { intervalMs: d, outageMinLost: 3, graceMs: 5000 },
    );
    expect(res.matches[0]!.outages).toHaveLength(1);
    expect(res.unexpected.map((o) => o.endMs)).toEqual([30_195]);
    expect(res.values['outage.unexpected']).toBe(1);
  });

  it('an outage starting just before the injection (within one interval) still matches; earlier does not', () => {
    const ev = [{ kind: 'fault' as const, name: 'f', startMs: 1000, endMs: 2000 }];
    // start 995: the fault took effect between two probes, stamps are within one interval
    expect(analyseFailover([outage(990, 1500, d)], ev, { intervalMs: d, outageMinLost: 3 }).matches[0]!.matched).toBe(true);
    // start 985: 15 ms before the injection: not caused by it
    const r = analyseFailover([outage(980, 1500, d)], ev, { intervalMs: d, outageMinLost: 3 });
    expect(r.matches[0]!.matched).toBe(false);
    expect(r.unexpected).toHaveLength(1);
  });

  it('slack: scheduling lag on the probe host widens the window before the injection', () => {
    const ev = [{ kind: 'fault' as const, name: 'f', startMs: 1000, endMs: 2000 }];
    expect(analyseFailover([outage(960, 1500, d)], ev, { intervalMs: d, outageMinLost: 3 }).matches[0]!.matched).toBe(false);
    expect(analyseFailover([outage(960, 1500, d)], ev, { intervalMs: d, outageMinLost: 3, slackMs: 30 }).matches[0]!.matched).toBe(true);
  });

  it('grace: an outage after the event ended is attributed to it only within the grace period', () => {
    const ev = [{ kind: 'fault' as const, name: 'f', startMs: 1000, endMs: 2000 }];
    expect(analyseFailover([outage(4000, 4500, d)], ev, { intervalMs: d, outageMinLost: 3, graceMs: 3000 }).unexpected).toHaveLength(0);
    expect(analyseFailover([outage(6000, 6500, d)], ev, { intervalMs: d, outageMinLost: 3, graceMs: 3000 }).unexpected).toHaveLength(1);
  });

  it('an event with no outage: unmatched, with the detection limit stated', () => {
    const res = analyseFailover([], [{ kind: 'fault', name: 'hitless', startMs: 0, endMs: 1000 }], { intervalMs: 20, outageMinLost: 3 });
    expect(res.matches[0]).toMatchObject({ matched: false, outageMs: 0, recoverMs: null, detectMs: null, undetectableBelowMs: 60 });
    expect(res.values).toMatchObject({ 'failover.detect': null, 'failover.outage': 0, 'failover.recover': 0, 'failover.unmatched': 1 });
  });

  it('faults win over phases; the most recent event wins among equals', () => {
    const res = analyseFailover(
      [outage(5000, 5300, d)],
      [
        { kind: 'phase', name: 'leo-handover', startMs: 4990, endMs: 5200 },
        { kind: 'fault', name: 'old', startMs: 1000, endMs: 6000 },
        { kind: 'fault', name: 'recent', startMs: 4995, endMs: 6000 },
      ],
      { intervalMs: d, outageMinLost: 3 },
    );
    expect(res.matches.map((m) => [m.event.name, m.outages.length])).toEqual([
      ['leo-handover', 0],
      ['old', 0],
      ['recent', 1],
    ]);
  });

  it('optional events (high-loss phases) explain outages but are never unmatched', () => {
    const res = analyseFailover([], [{ kind: 'phase', name: 'slot2', startMs: 0, endMs: 100, optional: true }], { intervalMs: 20, outageMinLost: 3 });
    expect(res.values).toMatchObject({ 'failover.unmatched': 0, 'failover.outage': null, 'failover.recover': null });
  });

  it('a flap gives one event per down period, each matched to its own outage', () => {
    const events = flapEvents('flap-0', 1000, 500, 1500, 3);
    expect(events.map((e) => [e.startMs, e.endMs])).toEqual([
      [1000, 1500],
      [3000, 3500],
      [5000, 5500],
    ]);
    const res = analyseFailover([outage(990, 1520, d), outage(2990, 3510, d), outage(4990, 5530, d)], events, { intervalMs: d, outageMinLost: 3 });
    expect(res.matches.map((m) => m.outageMs)).toEqual([520, 510, 530]);
    expect(res.values['failover.outage']).toBe(530);
    expect(res.values['failover.recover']).toBe(525); // 4990 + 5 + 530 - 5000
  });

  it('a failover then a failback: both outages attributed to the one fault, timings from the first', () => {
    const res = analyseFailover(
      [outage(10_000, 11_200, d), outage(20_010, 20_100, d)],
      [{ kind: 'fault', name: 'primary-down', startMs: 10_005, endMs: 20_000 }],
      { intervalMs: d, outageMinLost: 3 },
    );
    expect(res.matches[0]!.outages).toHaveLength(2);
    expect(res.matches[0]!.recoverMs).toBe(1190);
  });
});
