/**
 * "Backhaul / Agent": what each agent is doing: active impairments with profile/phase/backend,
 * whether they are in effect, lease time left, campaign steps, tc drops/overlimits/throughput of
 * our qdiscs, the relay backend (packets, drops by cause, queue, flows), and the agent API (requests
 * and errors) and reconcile loop.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as BarGaugeBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import { PanelBuilder as StateTimelineBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { AGENT_METRICS as A, CAMPAIGN_METRICS as C, RELAY_METRICS as R } from '../core/metric-names.js';
import {
  IMPAIRMENT_CONTEXT, SITE_SEL, filtered, organizeTable, panelNumberer, q, sel, table, thresholds, type DashboardSpec,
} from './common.js';
import { backhaulDashboard, statPanel } from './base.js';
import { IN_EFFECT_MAPPINGS } from './fleet-overview.js';

const RATE = '[$__rate_interval]';
const inEffect = sel(A.impairmentInEffect, SITE_SEL);
const API_ERRORS = 'instance=~"$instance",code=~"[45].."';

/** Per-second rate of a tc counter of our qdiscs, per impairment, interface and direction. */
function tcRate(metric: string, scale = ''): string {
  return `sum by (instance, impairment, iface, direction) (${filtered(`rate(${sel(metric, SITE_SEL)}${RATE})`)})${scale}`;
}

/** `fn` by `by` of a relay metric (userspace backend: `backhaul relay`, or the agent's relay impairments). */
function relay(fn: 'rate' | 'max', metric: string, by: string): string {
  const inner = fn === 'rate' ? `rate(${sel(metric, SITE_SEL)}${RATE})` : sel(metric, SITE_SEL);
  return `${fn === 'rate' ? 'sum' : 'max'} by (instance, relay${by}) (${filtered(inner)})`;
}

function stat(title: string, unit: string, expr: string, th: dashboard.ThresholdsConfigBuilder): StatBuilder {
  return statPanel(title, unit, expr, th, 6);
}

function timeseries(title: string, unit: string, span: number): TimeseriesBuilder {
  return new TimeseriesBuilder().title(title).span(span).height(8).unit(unit);
}

export function buildAgent(): dashboard.DashboardBuilder {
  const id = panelNumberer();
  return backhaulDashboard({
    title: 'Backhaul / Agent',
    uid: 'backhaul-agent',
    description: 'Impairments, leases, tc counters and API of Backhaul agents.',
    variables: ['datasource', 'campaign', 'instance', 'profile'],
    probeAnnotations: false,
  })
    .withRow(id(new dashboard.RowBuilder('Impairments')))
    .withPanel(id(stat('Active impairments', 'short', `count(${filtered(IMPAIRMENT_CONTEXT)})`, thresholds('blue'))))
    .withPanel(id(stat('Impairments NOT in effect', 'short', `count(${filtered(inEffect)}) - sum(${filtered(inEffect)})`,
      thresholds('green', ['red', 1]))))
    .withPanel(id(stat('Shortest lease left', units.Seconds,
      `min(${filtered(`${sel(A.leaseExpiryTimestampSeconds, SITE_SEL)} - time()`)})`,
      thresholds('red', ['orange', 60], ['green', 300]))))
    .withPanel(id(stat('API errors (range)', 'short',
      `sum(increase(${sel(A.apiRequestsTotal, API_ERRORS)}[$__range]))`, thresholds('green', ['orange', 1]))))
    .withPanel(id(new TableBuilder()
      .title('Active impairments')
      .description('From backhaul_agent_impairment_info; Value is 1 when in effect on every interface it covers.')
      .span(24).height(7)
      .mappings(IN_EFFECT_MAPPINGS)
      .withTransformation(organizeTable('in effect'))
      .withTarget(table('A',
        `max by (instance, impairment, iface, netns, profile, backend, direction, phase) ` +
          `(${filtered(sel(A.impairmentInfo, SITE_SEL))}) ` +
          `* on(instance, impairment) group_left() min by (instance, impairment) (${inEffect})`))))
    .withPanel(id(new StateTimelineBuilder()
      .title('In effect (profile / phase)')
      .span(12).height(8)
      .mappings(IN_EFFECT_MAPPINGS)
      .withTarget(q('A',
        `${filtered(inEffect)} * on(instance, impairment) group_left(profile, phase) ${IMPAIRMENT_CONTEXT}`,
        '{{instance}} {{impairment}} {{iface}}: {{profile}} / {{phase}}'))))
    .withPanel(id(new BarGaugeBuilder()
      .title('Lease time left')
      .description('Seconds until each lease expires and the agent reverts the impairment.')
      .span(12).height(8)
      .unit(units.Seconds).min(0)
      .thresholds(thresholds('red', ['orange', 60], ['green', 300]))
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
      .withTarget(q('A', `${filtered(`${sel(A.leaseExpiryTimestampSeconds, SITE_SEL)} - time()`)}`,
        '{{instance}} {{impairment}}').instant())))
    .withPanel(id(new TableBuilder()
      .title('Campaign steps')
      .description('Impairments created by a campaign, with the step and the applied profile/phase.')
      .span(24).height(6)
      .withTransformation(organizeTable('active'))
      .withTarget(table('A',
        `max by (instance, campaign, step, impairment) (${sel(C.stepInfo, 'instance=~"$instance",campaign=~"$campaign"')}) ` +
          `* on(instance, impairment) group_left(profile, phase) ${IMPAIRMENT_CONTEXT}`))))
    .withRow(id(new dashboard.RowBuilder('tc counters (our qdiscs)')))
    .withPanel(id(timeseries('tc drops', 'pps', 8)
      .withTarget(q('A', tcRate(A.tcDropsTotal), '{{instance}} {{impairment}} {{iface}} {{direction}}'))))
    .withPanel(id(timeseries('tc overlimits', 'pps', 8)
      .withTarget(q('A', tcRate(A.tcOverlimitsTotal), '{{instance}} {{impairment}} {{iface}} {{direction}}'))))
    .withPanel(id(timeseries('tc throughput', 'bps', 8)
      .withTarget(q('A', tcRate(A.tcBytesTotal, ' * 8'), 'bits {{instance}} {{impairment}} {{iface}} {{direction}}'))))
    .withRow(id(new dashboard.RowBuilder('Relay backend (userspace)')))
    .withPanel(id(timeseries('Relay packets', 'pps', 6)
      .description('Datagrams (UDP) or chunks (TCP) arriving at (in) and leaving (out) each relay direction.')
      .withTarget(q('A', relay('rate', R.packetsTotal, ', direction, stage'), '{{instance}} {{relay}} {{direction}} {{stage}}'))))
    .withPanel(id(timeseries('Relay drops by cause', 'pps', 6)
      .description('loss: the loss model; queue: limit full; outage, flow-limit, send-error, stopped.')
      .withTarget(q('A', relay('rate', R.dropsTotal, ', direction, cause'), '{{instance}} {{relay}} {{direction}} {{cause}}'))
      .withTarget(q('B', relay('rate', R.duplicatesTotal, ', direction'), 'duplicated {{instance}} {{relay}} {{direction}}'))))
    .withPanel(id(timeseries('Relay queue depth', 'short', 6)
      .withTarget(q('A', relay('max', R.queueDepthPackets, ', direction'), '{{instance}} {{relay}} {{direction}}'))))
    .withPanel(id(timeseries('Relay flows', 'short', 6)
      .description('UDP client flows / TCP connections open.')
      .withTarget(q('A', relay('max', R.flows, ''), '{{instance}} {{relay}}'))))
    .withRow(id(new dashboard.RowBuilder('Agent API and control loop')))
    .withPanel(id(timeseries('API requests', 'reqps', 8)
      .withTarget(q('A', `sum by (instance, method, route, code) (rate(${sel(A.apiRequestsTotal, SITE_SEL)}${RATE}))`,
        '{{instance}} {{method}} {{route}} {{code}}'))))
    .withPanel(id(timeseries('API errors (4xx/5xx)', 'reqps', 8)
      .withTarget(q('A', `sum by (instance, method, route, code) (rate(${sel(A.apiRequestsTotal, API_ERRORS)}${RATE}))`,
        '{{instance}} {{method}} {{route}} {{code}}'))))
    .withPanel(id(timeseries('Reconcile passes and phase switches', 'ops', 8)
      .withTarget(q('A', `sum by (instance) (rate(${sel(A.reconcileTotal, SITE_SEL)}${RATE}))`, 'reconcile {{instance}}'))
      .withTarget(q('B', `sum by (instance, impairment) (rate(${sel(A.phaseSwitchesTotal, SITE_SEL)}${RATE}))`,
        'phase switches {{instance}} {{impairment}}'))))
    .withPanel(id(new TableBuilder()
      .title('Agent build')
      .span(24).height(4)
      .withTransformation(organizeTable('running'))
      .withTarget(table('A', sel(A.buildInfo, SITE_SEL)))));
}

export const agent: DashboardSpec = { file: 'agent.json', build: buildAgent };
