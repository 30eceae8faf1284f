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
 * /api/v1/query) and reports how many series came back. An empty answer is retried for
 * `retryEmptyMs` (default 0): a scrape that timed out on a loaded machine marks the target's
 * series stale until the next good scrape, which is not what these tests are about.
 */
export async function runQueries(
  prom: RunningPrometheus,
  queries: ReadonlyArray<{ where: string; kind: string; expr: string }>,
  { retryEmptyMs = 0 }: { retryEmptyMs?: number } = {},
): Promise<QueryOutcome[]> {
  const out: QueryOutcome[] = [];
  for (const q of queries) {
    const end = Date.now() + retryEmptyMs;
    for (;;) {
      let outcome: QueryOutcome;
      try {
        const count = q.kind === 'variable' ? (await prom.series(q.expr)).length : (await prom.query(q.expr)).length;
        outcome = { where: q.where, expr: q.expr, count };
      } catch (e) {
        outcome = { where: q.where, expr: q.expr, count: 0, error: String(e) };
      }
      if (outcome.count > 0 || outcome.error || Date.now() >= end) {
        if (outcome.count === 0 && !outcome.error) {
          const down = await prom.query('up == 0');
          if (down.length > 0) outcome.error = `targets down: ${JSON.stringify(down.map((d) => d.metric))}`;
        }
        out.push(outcome);
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
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
