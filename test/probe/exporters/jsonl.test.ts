import { describe, expect, it } from 'vitest';
import { createJsonlExporter } from '../../../probe/exporters/jsonl.js';
import { formatLiveLine, formatSummary } from '../../../probe/exporters/human.js';
import { ProbeStats } from '../../../probe/stats/engine.js';
import { buildSummary, type ProbeSummary } from '../../../probe/stats/summary.js';

function summary(): ProbeSummary {
  const MS = 1e6;
  const s = new ProbeStats({ intervalNs: 10 * MS, timeoutNs: 100 * MS, windowSize: 64, outageMinLost: 3, directional: true, toWallMs: (n) => 1_764_000_000_000 + n / MS });
  for (let k = 0; k < 10; k++) s.sent(k, k * 10 * MS, k * 10 * MS);
  for (const k of [0, 1, 2, 6, 7, 8, 9]) s.reply(k, k * 10 * MS + 2 * MS, 0, k < 3 ? k : k - 3); // reflector never saw 3..5
  s.finish();
  return buildSummary(s, { id: 'x', probe: 'stamp', kind: 'stamp', target: '10.0.0.2:862', startedAtMs: 0, elapsedMs: 100, intervalMs: 10, timeoutMs: 100, sizeBytes: 44, timer: 'hybrid', done: true, rcvbufErrors: 0 });
}

describe('jsonl exporter', () => {
  it('writes snapshots while the sink keeps up, drops and counts while it is backed up, always writes the summary', () => {
    const lines: string[] = [];
    let backedUp = false;
    const j = createJsonlExporter({ write: (l) => lines.push(l), get writableNeedDrain() { return backedUp; } });
    const s = summary();
    j.snapshot(s);
    backedUp = true;
    j.snapshot(s);
    j.snapshot(s);
    j.summary(s);
    expect(j.dropped).toBe(2);
    expect(lines.map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(['snapshot', 'summary']);
    expect((JSON.parse(lines[1] as string) as { exporterDropped: number }).exporterDropped).toBe(2);
  });
});

describe('human output', () => {
  it('shows counts, the outage window with its bound and direction, and the live line', () => {
    const s = summary();
    expect(s.outageCount).toBe(1);
    const t = formatSummary(s);
    expect(t).toMatch(/10 sent, 7 received, 3 lost \(30\.00%\)/);
    expect(t).toMatch(/30\.000 ms ± 10\.000 ms\s+\(3 lost, seq 3\.\.5, forward\)/);
    expect(t).toMatch(/loss by direction\s+forward 3, reverse 0, unknown 0/);
    expect(t).toMatch(/\(3 lost, seq 3\.\.5, forward\)/);
    const stalled = { ...s, outages: [{ ...(s.outages[0] as (typeof s.outages)[number]), missed: 4 }] };
    expect(formatSummary(stalled)).toMatch(/\(3 lost, 4 missed slots, seq 3\.\.5, forward\)/);
    expect(formatLiveLine(s)).toMatch(/sent 10 recv 7 lost 3 \(30\.00%\)/);
  });

  it('hints at the reflector rate limit only for a lossy STAMP probe faster than its default', () => {
    const s = summary(); // 10 ms interval, 3 lost
    expect(formatSummary(s)).not.toMatch(/hint/);
    const fast = { ...s, intervalMs: 0.25 }; // 4000 pps
    expect(formatSummary(fast)).toMatch(/hint\s+probing at 4000 pps exceeds a default reflector's per-source limit \(2000 pps\).*--rate 0/);
    expect(formatSummary({ ...fast, lost: 0 })).not.toMatch(/hint/);
    expect(formatSummary({ ...fast, kind: 'tcp' })).not.toMatch(/hint/);
  });
});
