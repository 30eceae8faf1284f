/**
 * Shared pieces of the Backhaul dashboards: the datasource reference, template variables, query
 * builders and the PromQL filter clauses that join context (`_info` gauges) onto probe series.
 *
 * Contract: everything here is pure and deterministic (same input, same JSON), because the
 * generated JSON is committed and a test compares it byte for byte.
 *
 * Joins (documented in docs/dashboards.md):
 *   campaign filter   X and on(instance) (backhaul_campaign_step_info{campaign=~"$campaign"} or up{campaign=~"$campaign"})
 *   profile filter    X and on(instance) (backhaul_agent_impairment_info{profile=~"$profile"} or up{profile=~"$profile"})
 * With "All" (allValue `.*`, which matches the empty string) the `up{...}` branch keeps every
 * scraped instance, so series from sites without a campaign or impairment stay visible; with a
 * concrete value `up{campaign=~"c1"}` matches nothing (up has no such label) and only instances
 * that export a matching `_info` series pass. `and` is a set operation: no value is invented and
 * no cardinality is added.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import { AGENT_METRICS, CAMPAIGN_METRICS, PROBE_METRICS } from '../core/metric-names.js';

/** Datasource uid provisioned by deploy/compose (Grafana provisioning file). */
export const PROVISIONED_DATASOURCE_UID = 'backhaul-prometheus';

/** Every dashboard query points at the `datasource` template variable. */
export const DS = { type: 'prometheus', uid: '${datasource}' } as const;

/** Value substituted for "All" in multi-value variables (must also match the empty string for the joins above). */
export const ALL_VALUE = '.*';

/** Matchers for the probe series of the current selection (site, target, probe session). */
export const PROBE_SEL = 'instance=~"$instance",target=~"$target",probe=~"$probe"';
/** Matchers for a site's series (agent metrics). */
export const SITE_SEL = 'instance=~"$instance"';

/** `metric{matchers}`. */
export function sel(metric: string, matchers: string): string {
  return `${metric}{${matchers}}`;
}

/** Restrict X to instances running the selected campaign(s); "All" keeps every instance. */
export const CAMPAIGN_FILTER =
  `and on(instance) (${CAMPAIGN_METRICS.stepInfo}{campaign=~"$campaign"} or up{campaign=~"$campaign"})`;
/** Restrict X to instances with an impairment of the selected profile(s); "All" keeps every instance. */
export const PROFILE_FILTER =
  `and on(instance) (${AGENT_METRICS.impairmentInfo}{profile=~"$profile"} or up{profile=~"$profile"})`;

/**
 * Wrap an instant-vector expression with the campaign and profile filters. The result is
 * parenthesised: `and` binds more loosely than arithmetic, so `filtered(a) * b` must not become
 * `a and (... * b)`.
 */
export function filtered(expr: string): string {
  return `((${expr}) ${CAMPAIGN_FILTER} ${PROFILE_FILTER})`;
}

/**
 * `impairment_info` reduced to one series per (instance, impairment) carrying profile and phase,
 * so it can sit on the "one" side of a `group_left(profile, phase)` join even when an impairment
 * exports an info series per direction.
 */
export const IMPAIRMENT_CONTEXT =
  `max by (instance, impairment, profile, phase) (${sel(AGENT_METRICS.impairmentInfo, SITE_SEL)})`;

/** A Prometheus query against the `datasource` variable. */
export function q(refId: string, expr: string, legend = ''): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().datasource(DS).refId(refId).expr(expr).legendFormat(legend);
}

/** An instant table query (one row per series, labels as columns). */
export function table(refId: string, expr: string): prometheus.DataqueryBuilder {
  return q(refId, expr).format(prometheus.PromQueryFormat.Table).instant();
}

/** A heatmap query: bucket counts per `le`, converted by Grafana from cumulative to per-bucket. */
export function heatmapQuery(refId: string, expr: string): prometheus.DataqueryBuilder {
  return q(refId, expr, '{{le}}').format(prometheus.PromQueryFormat.Heatmap);
}

function queryVar(name: string, label: string, selector: string, labelName: string): dashboard.QueryVariableBuilder {
  const query = `label_values(${selector}, ${labelName})`;
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(DS)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(ALL_VALUE)
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

export const VARIABLES = {
  datasource: (): dashboard.DatasourceVariableBuilder =>
    new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus')
      .current({ selected: true, text: 'Prometheus', value: PROVISIONED_DATASOURCE_UID }),
  /** Sites that export agent or probe metrics. */
  instance: (): dashboard.QueryVariableBuilder =>
    queryVar('instance', 'Site', `{__name__=~"${AGENT_METRICS.buildInfo}|${PROBE_METRICS.sentTotal}"}`, 'instance'),
  target: (): dashboard.QueryVariableBuilder =>
    queryVar('target', 'Target', sel(PROBE_METRICS.sentTotal, SITE_SEL), 'target'),
  probe: (): dashboard.QueryVariableBuilder =>
    queryVar('probe', 'Probe session', sel(PROBE_METRICS.sentTotal, 'instance=~"$instance",target=~"$target"'), 'probe'),
  campaign: (): dashboard.QueryVariableBuilder =>
    queryVar('campaign', 'Campaign', CAMPAIGN_METRICS.stepInfo, 'campaign'),
  profile: (): dashboard.QueryVariableBuilder =>
    queryVar('profile', 'Profile', sel(AGENT_METRICS.impairmentInfo, SITE_SEL), 'profile'),
};

/** Absolute thresholds from (colour, value) pairs; the first step is the base (value null). */
export function thresholds(base: string, ...steps: Array<[string, number]>): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { color: base, value: null },
    ...steps.map(([color, value]) => ({ color, value })),
  ]);
}

/** Panel builders we use all share `id()`; used to number panels in order. */
interface HasId { id(id: number): unknown }

/**
 * Assigns panel ids 1, 2, 3... in the order panels are added, so ids are unique and stable.
 * Rows get ids from the same sequence.
 */
export function panelNumberer(): <T extends HasId>(panel: T) => T {
  let next = 1;
  return <T extends HasId>(panel: T): T => {
    panel.id(next++);
    return panel;
  };
}

/** A dashboard definition: file name under dashboards/generated/ and its builder. */
export interface DashboardSpec {
  file: string;
  build(): cog.Builder<dashboard.Dashboard>;
}

/** Table transformation: hide the timestamp, rename the value column. */
export function organizeTable(valueName: string): { id: string; options: Record<string, unknown> } {
  return { id: 'organize', options: { excludeByName: { Time: true, __name__: true }, renameByName: { Value: valueName } } };
}

/** A "Backhaul" dropdown linking the dashboards to each other, keeping time range and variables. */
export function backhaulLinks(): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder('Backhaul')
    .type(dashboard.DashboardLinkType.Dashboards)
    .tags(['backhaul'])
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true)
    .targetBlank(false);
}
