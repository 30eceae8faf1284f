/**
 * "Backhaul / Probe detail": one row per target (repeated on `$target`) with the RTT heatmap from
 * the histogram buckets and a p5-p95 band around p50 plus p99; then loss, jitter,
 * duplicates/reordering and outage durations. Profile/phase, phase switches, campaign steps,
 * impairments not in effect and outages are annotations on the same time axis.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as units from '@grafana/grafana-foundation-sdk/units';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as BarGaugeBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import { PROBE_METRICS as P } from '../core/metric-names.js';
import {
  PROBE_SEL, filtered, heatmapQuery, panelNumberer, q, sel, thresholds, type DashboardSpec,
} from './common.js';
import { backhaulDashboard } from './base.js';

const RATE = '[$__rate_interval]';
const bucketRate = `rate(${sel(`${P.rttSeconds}_bucket`, PROBE_SEL)}${RATE})`;

/** `histogram_quantile(phi, ...)` of the RTT histogram, aggregated over the selection, kept per `by`. */
function rttQuantile(phi: number, by: string): string {
  return `histogram_quantile(${phi}, sum by (${by}le) (${filtered(bucketRate)}))`;
}

/** `fn` (rate or increase over the interval) of a probe counter, summed per site and target. */
function perTarget(metric: string, fn: 'rate' | 'increase' = 'rate'): string {
  return `sum by (instance, target) (${filtered(`${fn}(${sel(metric, PROBE_SEL)}${RATE})`)})`;
}

export function buildProbeDetail(): dashboard.DashboardBuilder {
  const id = panelNumberer();
  return backhaulDashboard({
    title: 'Backhaul / Probe detail',
    uid: 'backhaul-probe-detail',
    description: 'Latency distribution, loss, jitter, reordering and outages of Backhaul probe sessions.',
    variables: ['datasource', 'campaign', 'instance', 'profile', 'target', 'probe'],
    probeAnnotations: true,
  })
    .withRow(id(new dashboard.RowBuilder('Latency: $target').repeat('target')))
    .withPanel(id(new heatmap.PanelBuilder()
      .title('RTT distribution: $target')
      .description('Probes per RTT bucket (increase per interval, from the cumulative histogram).')
      .span(12).height(9)
      .calculate(false)
      .yAxis(new heatmap.YAxisConfigBuilder().unit(units.Seconds))
      .rowsFrame(new heatmap.RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Le))
      .color(new heatmap.HeatmapColorOptionsBuilder().mode(heatmap.HeatmapColorMode.Scheme).scheme('Oranges')
        .scale(heatmap.HeatmapColorScale.Exponential).exponent(0.5).steps(64))
      .filterValues(new heatmap.FilterValueRangeBuilder().le(1e-9))
      .showValue(common.VisibilityMode.Never)
      .withTarget(heatmapQuery('A', `sum by (le) (${filtered(`increase(${sel(`${P.rttSeconds}_bucket`, PROBE_SEL)}${RATE})`)})`))))
    .withPanel(id(new TimeseriesBuilder()
      .title('RTT percentiles: $target')
      .description('p50 line inside a p5-p95 band, and p99. Quantiles are interpolated within histogram buckets.')
      .span(12).height(9)
      .unit(units.Seconds)
      .lineWidth(1)
      .withTarget(q('A', rttQuantile(0.05, ''), 'p5'))
      .withTarget(q('B', rttQuantile(0.5, ''), 'p50'))
      .withTarget(q('C', rttQuantile(0.95, ''), 'p95'))
      .withTarget(q('D', rttQuantile(0.99, ''), 'p99'))
      .overrideByName('p95', [
        { id: 'custom.fillBelowTo', value: 'p5' },
        { id: 'custom.lineWidth', value: 0 },
        { id: 'custom.fillOpacity', value: 20 },
      ])
      .overrideByName('p5', [{ id: 'custom.lineWidth', value: 0 }])
      .overrideByName('p99', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }])))
    .withRow(id(new dashboard.RowBuilder('Loss, jitter and order')))
    .withPanel(id(new TimeseriesBuilder()
      .title('Loss ratio')
      .description('Probes timed out / probes sent, per interval (counts timeouts, not sent minus received).')
      .span(12).height(8)
      .unit(units.PercentUnit).min(0)
      .thresholds(thresholds('green', ['orange', 0.01], ['red', 0.05]))
      .withTarget(q('A',
        `${perTarget(`${P.lostTotal}`, 'increase')} / ${perTarget(P.sentTotal, 'increase')}`,
        '{{instance}} {{target}}'))))
    .withPanel(id(new TimeseriesBuilder()
      .title('Lost, late and missed probes')
      .description('Per second. Late: answered after the timeout. Missed: send slots the sender could not keep (not network loss).')
      .span(12).height(8)
      .unit('pps')
      .withTarget(q('A', perTarget(P.lostTotal), 'lost {{instance}} {{target}}'))
      .withTarget(q('B', perTarget(P.lateTotal), 'late {{instance}} {{target}}'))
      .withTarget(q('C', perTarget(P.missedTotal), 'missed {{instance}} {{target}}'))))
    .withPanel(id(new TimeseriesBuilder()
      .title('Jitter (RFC 3550)')
      .span(8).height(8)
      .unit(units.Seconds)
      .withTarget(q('A', `max by (instance, target, probe) (${filtered(sel(P.jitterSeconds, PROBE_SEL))})`,
        '{{instance}} {{target}} {{probe}}'))))
    .withPanel(id(new TimeseriesBuilder()
      .title('Mean RTT')
      .span(8).height(8)
      .unit(units.Seconds)
      .withTarget(q('A', `${perTarget(`${P.rttSeconds}_sum`)} / ${perTarget(`${P.rttSeconds}_count`)}`,
        '{{instance}} {{target}}'))))
    .withPanel(id(new TimeseriesBuilder()
      .title('Duplicates and reordering')
      .description('Per second: duplicated replies, and replies that arrived after a later sequence number.')
      .span(8).height(8)
      .unit('pps')
      .withTarget(q('A', perTarget(P.duplicatesTotal), 'duplicates {{instance}} {{target}}'))
      .withTarget(q('B', perTarget(P.reorderedTotal), 'reordered {{instance}} {{target}}'))))
    .withRow(id(new dashboard.RowBuilder('Outages')))
    .withPanel(id(new StatBuilder()
      .title('Outages in range')
      .span(6).height(8)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
      .thresholds(thresholds('green', ['red', 1]))
      .withTarget(q('A', `sum by (instance, target) (${filtered(`increase(${sel(P.outagesTotal, PROBE_SEL)}[$__range])`)})`,
        '{{instance}} {{target}}').instant())))
    .withPanel(id(new BarGaugeBuilder()
      .title('Outage durations in range')
      .description('Outages per duration bucket (upper bound), over the dashboard range.')
      .span(10).height(8)
      .unit('short')
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
      .withTarget(heatmapQuery('A', `sum by (le) (${filtered(`increase(${sel(`${P.outageDurationSeconds}_bucket`, PROBE_SEL)}[$__range])`)})`).instant())))
    .withPanel(id(new TimeseriesBuilder()
      .title('Mean outage duration')
      .span(8).height(8)
      .unit(units.Seconds)
      .withTarget(q('A',
        `${perTarget(`${P.outageDurationSeconds}_sum`, 'increase')} / ${perTarget(`${P.outageDurationSeconds}_count`, 'increase')}`,
        '{{instance}} {{target}}'))));
}

export const probeDetail: DashboardSpec = { file: 'probe-detail.json', build: buildProbeDetail };
