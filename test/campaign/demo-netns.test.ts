/**
 * The netns demo's /metrics from child-process probe reports (unit): counters and the RTT
 * histogram get exactly the deltas between successive cumulative reports of a run, and a new run
 * (the next step's probe) starts from zero. Prerequisite order: root before the capability probe.
 */
import * as hdr from 'hdr-histogram-js';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { checkNetnsPrerequisites, childProbeMetrics, NEEDS_ROOT_MESSAGE } from '../../campaign/demo-netns.js';
import type { ProbeSummary } from '../../probe/stats/summary.js';

function report(sent: number, lost: number, rttsMs: number[]): { summary: ProbeSummary; histogramNs: string } {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3 });
  for (const ms of rttsMs) h.recordValue(Math.round(ms * 1e6));
  return { summary: { sent, lost } as ProbeSummary, histogramNs: hdr.encodeIntoCompressedBase64(h) };
}

const sample = (text: string, series: string): number => Number(new RegExp(`^${series.replace(/[{}.+"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

describe('childProbeMetrics', () => {
  it('feeds the deltas of cumulative reports into the counters and the RTT histogram', async () => {
    const reg = new Registry();
    const on = childProbeMetrics(reg);
    on(1, report(10, 1, [4, 4, 12]), 'p', '10.77.0.2:862');
    on(1, report(20, 2, [4, 4, 12, 4, 600]), 'p', '10.77.0.2:862');
    on(2, report(4, 0, [300]), 'p', '10.77.0.2:862'); // the next step's probe: its own cumulative figures
    const text = await reg.metrics();
    const l = 'target="10.77.0.2:862",probe="p"';
    expect(sample(text, `backhaul_probe_sent_total{${l}}`)).toBe(24);
    expect(sample(text, `backhaul_probe_lost_total{${l}}`)).toBe(2);
    expect(sample(text, `backhaul_probe_rtt_seconds_count{${l}}`)).toBe(6);
    expect(sample(text, `backhaul_probe_rtt_seconds_bucket{le="0.005",${l}}`)).toBe(3);
    expect(sample(text, `backhaul_probe_rtt_seconds_bucket{le="0.02",${l}}`)).toBe(4);
    expect(sample(text, `backhaul_probe_rtt_seconds_bucket{le="0.5",${l}}`)).toBe(5);
    expect(sample(text, `backhaul_probe_rtt_seconds_bucket{le="1",${l}}`)).toBe(6);
    // HdrHistogram keeps 3 significant digits: the sum is exact to 0.1 %
    expect(sample(text, `backhaul_probe_rtt_seconds_sum{${l}}`)).toBeCloseTo(0.924, 2);
  });

  it('checks root before probing capabilities, and passes the probe message on with the no-root hint', async () => {
    let probed = false;
    const backend = { capabilities: async () => ((probed = true), { netAdmin: true, kernel: 'k', iproute2: 'i', qdisc: { htb: 'yes', netem: 'no', tbf: 'yes', pfifo: 'yes' }, ifb: 'yes', u32: 'yes', mirred: 'yes', netemSeed: false }) } as never;
    await expect(checkNetnsPrerequisites(backend, 1000)).rejects.toMatchObject({ code: 'ERR_PERMISSION', message: NEEDS_ROOT_MESSAGE });
    expect(probed).toBe(false);
    const e = await checkNetnsPrerequisites(backend, 0).catch((x: unknown) => x as { code: string; message: string; details: { hint: string } });
    expect(probed).toBe(true);
    expect(e).toMatchObject({ code: 'ERR_CAPABILITY_MISSING' });
    expect(e?.message).toMatch(/sch_netem is not available in this kernel \(k\)/);
    expect(e?.details.hint).toMatch(/modprobe sch_netem.*without --netns/);
  });
});
