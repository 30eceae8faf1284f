/**
 * Helpers for running dashboard queries against a live Prometheus (see test/support/prometheus.ts).
 */
import { CAMPAIGN_FILTER, PROFILE_FILTER } from '../../../dashboards/common.js';
import { DASHBOARDS, buildDashboard } from '../../../dashboards/render.js';
import { backhaulRuleGroups } from '../../../dashboards/rules.js';
import type { RunningPrometheus } from '../../support/prometheus.js';
import { metricNamesIn, substitutedQueries, type Json } from './queries.js';

export function builtDashboards(): Array<{ file: string; dash: Json }> {
  return DASHBOARDS.map((spec) => ({ file: spec.file, dash: JSON.parse(JSON.stringify(buildDashboard(spec))) as Json }));
}

/** Every `backhaul_*` name used in dashboards and rules. */
export function namesUsedEverywhere(): string[] {
  const exprs = [
    ...substitutedQueries(builtDashboards()).map((q) => q.raw),
    ...backhaulRuleGroups().flatMap((g) => g.rules.map((r) => r.expr)),
  ];
  return [...new Set(exprs.flatMap(metricNamesIn))].sort();
}

export interface QueryOutcome { where: string; expr: string; count: number; error?: string }

/**
 * Runs each query (variable selectors through /api/v1/series, expressions through
 * /api/v1/query) and reports how many series came back.
 */
export async function runQueries(
  prom: RunningPrometheus,
  queries: ReadonlyArray<{ where: string; kind: string; expr: string }>,
): Promise<QueryOutcome[]> {
  const out: QueryOutcome[] = [];
  for (const q of queries) {
    try {
      const count = q.kind === 'variable' ? (await prom.series(q.expr)).length : (await prom.query(q.expr)).length;
      out.push({ where: q.where, expr: q.expr, count });
    } catch (e) {
      out.push({ where: q.where, expr: q.expr, count: 0, error: String(e) });
    }
  }
  return out;
}

/** The recording rules' expressions, as `{ where, kind, expr }`. */
export function recordingRuleQueries(): Array<{ where: string; kind: string; expr: string }> {
  return backhaulRuleGroups().flatMap((g) => g.rules.flatMap((r) => ('record' in r
    ? [{ where: `rule ${r.record}`, kind: 'rule', expr: r.expr }] : [])));
}

/**
 * Metric names a query is about, leaving out those that only appear in the campaign/profile
 * filter clauses (those keep every site when the variables are All, via `up`).
 */
export function primaryMetricNames(raw: string): string[] {
  return metricNamesIn(raw.split(CAMPAIGN_FILTER).join('').split(PROFILE_FILTER).join(''));
}
