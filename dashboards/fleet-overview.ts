/**
 * "Backhaul / Fleet overview": every site and target at a glance: RTT p50/p99, loss, outages,
 * whether each impairment is in effect, and the applied profile and phase (joined from
 * `backhaul_agent_impairment_info`).
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as StateTimelineBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { AGENT_METRICS as A, PROBE_METRICS as P } from '../core/metric-names.js';
import {
  IMPAIRMENT_CONTEXT, SITE_SEL, filtered, organizeTable, panelNumberer, q, sel, table, thresholds, type DashboardSpec,
} from './common.js';
import { backhaulDashboard, statPanel } from './base.js';

const FLEET_SEL = 'instance=~"$instance",target=~"$target"';

/** Value mapping for the 0/1 in-effect gauge. */
export const IN_EFFECT_MAPPINGS: dashboard.ValueMapping[] = [{
  type: dashboard.MappingType.ValueToText,
  options: {
    '0': { text: 'NOT in effect', color: 'red', index: 0 },
    '1': { text: 'in effect', color: 'green', index: 1 },
  },
}];

function quantileByTarget(phi: number, range: string): string {
  return `histogram_quantile(${phi}, sum by (instance, target, le) ` +
    `(${filtered(`rate(${sel(`${P.rttSeconds}_bucket`, FLEET_SEL)}[${range}])`)}))`;
}

function increaseByTarget(metric: string, range: string): string {
  return `sum by (instance, target) (${filtered(`increase(${sel(metric, FLEET_SEL)}[${range}])`)})`;
}

const inEffect = sel(A.impairmentInEffect, SITE_SEL);

function stat(title: string, unit: string, expr: string, th: dashboard.ThresholdsConfigBuilder): StatBuilder {
  return statPanel(title, unit, expr, th, 4);
}

export function buildFleetOverview(): dashboard.DashboardBuilder {
  const id = panelNumberer();
  return backhaulDashboard({
    title: 'Backhaul / Fleet overview',
    uid: 'backhaul-fleet-overview',
    description: 'Per site and target: RTT, loss, outages, and the impairment each site runs.',
    variables: ['datasource', 'campaign', 'instance', 'profile', 'target'],
    probeAnnotations: true,
  })
    .withRow(id(new dashboard.RowBuilder('Fleet')))
    .withPanel(id(stat('Worst p99 RTT (range)', units.Seconds, `max(${quantileByTarget(0.99, '$__range')})`,
      thresholds('green', ['orange', 0.1], ['red', 0.25]))))
    .withPanel(id(stat('Worst loss (range)', units.PercentUnit,
      `max(${increaseByTarget(P.lostTotal, '$__range')} / ${increaseByTarget(P.sentTotal, '$__range')})`,
      thresholds('green', ['orange', 0.01], ['red', 0.05]))))
    .withPanel(id(stat('Outages (range)', 'short', `sum(${increaseByTarget(P.outagesTotal, '$__range')})`,
      thresholds('green', ['red', 1]))))
    .withPanel(id(stat('Probe targets', 'short', `count(${increaseByTarget(P.sentTotal, '$__range')})`,
      thresholds('blue'))))
    .withPanel(id(stat('Impairments in effect', 'short', `sum(${filtered(inEffect)})`, thresholds('blue'))))
    .withPanel(id(stat('Impairments NOT in effect', 'short', `count(${filtered(inEffect)}) - sum(${filtered(inEffect)})`,
      thresholds('green', ['red', 1]))))
    .withPanel(id(new TimeseriesBuilder()
      .title('RTT p50 and p99 by site and target')
      .span(12).height(9)
      .unit(units.Seconds)
      .withTarget(q('A', quantileByTarget(0.5, '$__rate_interval'), 'p50 {{instance}} {{target}}'))
      .withTarget(q('B', quantileByTarget(0.99, '$__rate_interval'), 'p99 {{instance}} {{target}}'))))
    .withPanel(id(new TimeseriesBuilder()
      .title('Loss ratio by site and target')
      .description('Probes timed out / probes sent, per interval.')
      .span(12).height(9)
      .unit(units.PercentUnit).min(0)
      .thresholds(thresholds('green', ['orange', 0.01], ['red', 0.05]))
      .withTarget(q('A',
        `${increaseByTarget(P.lostTotal, '$__rate_interval')} / ${increaseByTarget(P.sentTotal, '$__rate_interval')}`,
        '{{instance}} {{target}}'))))
    .withPanel(id(new TimeseriesBuilder()
      .title('Outages by site and target')
      .description('Outages (runs of consecutive lost probes) started per interval.')
      .span(12).height(8)
      .unit('short').min(0)
      .drawStyle(common.GraphDrawStyle.Bars)
      .withTarget(q('A', increaseByTarget(P.outagesTotal, '$__rate_interval'), '{{instance}} {{target}}'))))
    .withPanel(id(new StateTimelineBuilder()
      .title('Impairment in effect (profile / phase)')
      .description('backhaul_impairment_in_effect joined with the profile and phase from backhaul_agent_impairment_info.')
      .span(12).height(8)
      .mappings(IN_EFFECT_MAPPINGS)
      .withTarget(q('A',
        `${filtered(inEffect)} * on(instance, impairment) group_left(profile, phase) ${IMPAIRMENT_CONTEXT}`,
        '{{instance}} {{impairment}}: {{profile}} / {{phase}}'))))
    .withPanel(id(new TableBuilder()
      .title('Applied profile and phase per site')
      .description('One row per impairment; Value is 1 when the impairment is in effect on every interface it covers.')
      .span(24).height(7)
      .mappings(IN_EFFECT_MAPPINGS)
      .withTransformation(organizeTable('in effect'))
      .withTarget(table('A',
        `max by (instance, impairment, iface, profile, phase, backend, direction) ` +
          `(${filtered(sel(A.impairmentInfo, SITE_SEL))}) ` +
          `* on(instance, impairment) group_left() min by (instance, impairment) (${inEffect})`))));
}

export const fleetOverview: DashboardSpec = { file: 'fleet-overview.json', build: buildFleetOverview };
