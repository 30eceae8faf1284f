/**
 * The setup every Backhaul dashboard shares: tags, refresh, time range, crosshair tooltip, the
 * "Backhaul" link dropdown, template variables and the context annotations; and the stat panel
 * style used in the summary rows. Pure builders: nothing here touches Grafana.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as common from '@grafana/grafana-foundation-sdk/common';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { backhaulLinks, q, VARIABLES } from './common.js';
import { contextAnnotations } from './annotations.js';

/** What differs between the Backhaul dashboards' common setup. */
export interface BackhaulDashboardOptions {
  title: string;
  uid: string;
  description: string;
  /** Template variables, in dropdown order. */
  variables: ReadonlyArray<keyof typeof VARIABLES>;
  /** Whether the context annotations include probe outages (dashboards with a `$target`). */
  probeAnnotations: boolean;
}

/**
 * A read-only dashboard tagged `backhaul`/`generated`, refreshing every 30 s over the last hour,
 * with the given variables and the context annotations; callers add rows and panels.
 */
export function backhaulDashboard(opts: BackhaulDashboardOptions): dashboard.DashboardBuilder {
  let builder = new dashboard.DashboardBuilder(opts.title)
    .uid(opts.uid)
    .description(opts.description)
    .tags(['backhaul', 'generated'])
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .readonly()
    .link(backhaulLinks());
  for (const name of opts.variables) builder = builder.withVariable(VARIABLES[name]());
  return builder.annotations(contextAnnotations(opts.probeAnnotations));
}

/** A `span`-column stat of the last value of an instant query, coloured by `th`. */
export function statPanel(
  title: string, unit: string, expr: string, th: dashboard.ThresholdsConfigBuilder, span: number,
): StatBuilder {
  return new StatBuilder().title(title).span(span).height(4).unit(unit)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .thresholds(th)
    .withTarget(q('A', expr).instant());
}
