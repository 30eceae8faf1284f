import { describe, expect, it } from 'vitest';
import * as names from '../../core/metric-names.js';
import { PROVISIONED_DATASOURCE_UID } from '../../dashboards/common.js';
import { DASHBOARDS, buildDashboard } from '../../dashboards/render.js';
import {
  allPanels, allStrings, extractQueries, metricNamesIn, referencedVariables, templateVariables, type Json,
} from './support/queries.js';

const built = DASHBOARDS.map((spec) => ({
  file: spec.file,
  dash: JSON.parse(JSON.stringify(buildDashboard(spec))) as Json,
}));

/** Every series name the exporters can produce: counters/gauges as named, histograms with their suffixes. */
function exportedSeriesNames(): Set<string> {
  const histograms = new Set<string>([names.PROBE_METRICS.rttSeconds, names.PROBE_METRICS.outageDurationSeconds]);
  const out = new Set<string>();
  for (const group of [names.PROBE_METRICS, names.REFLECTOR_METRICS, names.RELAY_METRICS, names.AGENT_METRICS,
    names.CAMPAIGN_METRICS, names.EXPORTER_METRICS]) {
    for (const n of Object.values(group)) {
      if (histograms.has(n)) for (const s of ['_bucket', '_sum', '_count']) out.add(n + s);
      else out.add(n);
    }
  }
  return out;
}

describe('dashboard structure', () => {
  it('has unique, stable dashboard uids and titles', () => {
    const uids = built.map((b) => b.dash.uid);
    const titles = built.map((b) => b.dash.title);
    expect(new Set(uids).size).toBe(built.length);
    expect(new Set(titles).size).toBe(built.length);
    for (const uid of uids) expect(uid).toMatch(/^[a-z0-9-]{8,40}$/);
  });

  describe.each(built)('$file', ({ file, dash }) => {
    const panels = allPanels(dash);
    const variables = templateVariables(dash);
    const queries = extractQueries(file, dash);

    it('gives every panel a unique numeric id', () => {
      const ids = panels.map((p) => p.id);
      for (const id of ids) expect(typeof id).toBe('number');
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('keeps every panel within the 24-column grid, without overlaps', () => {
      const boxes = panels.map((p) => ({ id: p.id, ...(p.gridPos as { x: number; y: number; w: number; h: number }) }));
      for (const b of boxes) {
        expect(b.x, `panel ${String(b.id)}`).toBeGreaterThanOrEqual(0);
        expect(b.w, `panel ${String(b.id)}`).toBeGreaterThan(0);
        expect(b.h, `panel ${String(b.id)}`).toBeGreaterThan(0);
        expect(b.x + b.w, `panel ${String(b.id)} right edge`).toBeLessThanOrEqual(24);
      }
      for (const [i, a] of boxes.entries()) {
        for (const b of boxes.slice(i + 1)) {
          const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
          expect(overlap, `panels ${String(a.id)} and ${String(b.id)} overlap`).toBe(false);
        }
      }
    });

    it('defines every variable it uses, and uses every variable it defines', () => {
      const defined = new Set(variables.map((v) => v.name as string));
      const used = new Set(allStrings({ panels: dash.panels, annotations: dash.annotations, templating: dash.templating })
        .flatMap(referencedVariables));
      for (const p of panels) if (typeof p.repeat === 'string') used.add(p.repeat);
      for (const name of used) expect(defined, `$${name} used in ${file}`).toContain(name);
      for (const name of defined) expect(used, `$${name} defined in ${file} but unused`).toContain(name);
    });

    it('points every query at the datasource variable or the provisioned uid', () => {
      const allowed = ['${datasource}', PROVISIONED_DATASOURCE_UID];
      const refs: Json[] = [];
      for (const p of panels) {
        if (p.datasource) refs.push(p.datasource as Json);
        for (const t of (p.targets as Json[] | undefined) ?? []) refs.push(t.datasource as Json);
      }
      for (const a of ((dash.annotations as Json).list as Json[])) refs.push(a.datasource as Json);
      for (const v of variables) if (v.type === 'query') refs.push(v.datasource as Json);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) {
        expect(ref?.type).toBe('prometheus');
        expect(allowed).toContain(ref?.uid);
      }
    });

    it('queries heatmaps in heatmap format with a {{le}} legend over histogram buckets', () => {
      const heatmapTargets = queries.filter((q) => q.panelType === 'heatmap' || q.format === 'heatmap');
      if (file === 'probe-detail.json') expect(heatmapTargets.map((q) => q.panelType)).toContain('heatmap');
      for (const q of heatmapTargets) {
        expect(q.format, q.where).toBe('heatmap');
        expect(q.legendFormat, q.where).toBe('{{le}}');
        expect(q.raw, q.where).toMatch(/_bucket\{/);
        expect(q.raw, q.where).toMatch(/^sum by \(le\)/);
      }
    });

    it('gives the targets of each panel distinct refIds', () => {
      for (const p of panels) {
        const refIds = ((p.targets as Json[] | undefined) ?? []).map((t) => t.refId);
        expect(new Set(refIds).size, `panel ${String(p.id)}`).toBe(refIds.length);
      }
    });

    it('references only metric names core/metric-names.ts exports', () => {
      const exported = exportedSeriesNames();
      const used = queries.flatMap((q) => metricNamesIn(q.raw));
      expect(used.length).toBeGreaterThan(0);
      for (const n of used) expect(exported, `${n} in ${file}`).toContain(n);
    });

    it('has no fallbacks that make an empty query look alive', () => {
      for (const q of queries) expect(q.raw, q.where).not.toMatch(/\bor\s+(on\s*\([^)]*\)\s*)?vector\(/);
    });
  });
});

describe('query extraction helpers', () => {
  it('finds backhaul metric names but not recording-rule names', () => {
    expect(metricNamesIn('rate(backhaul_probe_sent_total[1m]) / instance_target:backhaul_probe_rtt_seconds:p99_rate5m'))
      .toEqual(['backhaul_probe_sent_total']);
  });

  it('finds every variable syntax Grafana accepts, ignoring built-in macros', () => {
    expect(referencedVariables('x{a=~"$a",b="${b}",c="${c:regex}"}[$__rate_interval] [[d]]').sort())
      .toEqual(['a', 'b', 'c', 'd']);
  });
});
