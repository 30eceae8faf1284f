/**
 * Prometheus recording and alerting rules for Backhaul, as data. `npm run dashboards` writes them
 * to dashboards/rules/backhaul.rules.yml; promtool unit tests live in dashboards/rules/tests/.
 *
 * Recording rule names follow `level:metric:operations`. Thresholds are defaults for a
 * pre-production site under a WAN profile: copy the file and adjust them to your service levels.
 */
import { AGENT_METRICS as A, PROBE_METRICS as P } from '../core/metric-names.js';

/** Scrape job name the agent-down alert watches (deploy/compose/prometheus.yml uses it). */
export const AGENT_JOB = 'backhaul-agent';

export const RECORDED = {
  rttP50: 'instance_target:backhaul_probe_rtt_seconds:p50_rate5m',
  rttP99: 'instance_target:backhaul_probe_rtt_seconds:p99_rate5m',
  lossRatio: 'instance_target:backhaul_probe_loss:ratio_increase5m',
  outages: 'instance_target:backhaul_probe_outages:increase5m',
} as const;

export interface RecordingRule { record: string; expr: string }
export interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export interface RuleGroup { name: string; rules: Array<RecordingRule | AlertingRule> }

function quantile(phi: number): string {
  return `histogram_quantile(${phi}, sum by (instance, target, le) (rate(${P.rttSeconds}_bucket[5m])))`;
}

export function backhaulRuleGroups(): RuleGroup[] {
  return [
    {
      name: 'backhaul-probe',
      rules: [
        { record: RECORDED.rttP50, expr: quantile(0.5) },
        { record: RECORDED.rttP99, expr: quantile(0.99) },
        {
          record: RECORDED.lossRatio,
          expr: `sum by (instance, target) (increase(${P.lostTotal}[5m])) / sum by (instance, target) (increase(${P.sentTotal}[5m]))`,
        },
        { record: RECORDED.outages, expr: `sum by (instance, target) (increase(${P.outagesTotal}[5m]))` },
        {
          alert: 'BackhaulProbeRttP99High',
          expr: `${RECORDED.rttP99} > 0.25`,
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'p99 RTT to {{ $labels.target }} from {{ $labels.instance }} is {{ $value | humanizeDuration }}',
            description: 'The 5-minute p99 round-trip time has been above 250ms for 5 minutes.',
          },
        },
        {
          alert: 'BackhaulProbeLossHigh',
          expr: `${RECORDED.lossRatio} > 0.05`,
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Probe loss to {{ $labels.target }} from {{ $labels.instance }} is {{ $value | humanizePercentage }}',
            description: 'More than 5% of probes timed out over 5 minutes, for 5 minutes.',
          },
        },
        {
          alert: 'BackhaulProbeOutage',
          expr: `${RECORDED.outages} > 0`,
          labels: { severity: 'critical' },
          annotations: {
            summary: 'Outage detected on the path to {{ $labels.target }} from {{ $labels.instance }}',
            description: 'The probe saw a run of consecutive lost probes (an outage) in the last 5 minutes.',
          },
        },
      ],
    },
    {
      name: 'backhaul-agent',
      rules: [
        {
          alert: 'BackhaulImpairmentNotInEffect',
          expr: `${A.impairmentInEffect} == 0`,
          for: '1m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'Impairment {{ $labels.impairment }} on {{ $labels.instance }} ({{ $labels.iface }}) is not in effect',
            description: 'The agent reads back a different qdisc/relay state than it applied (interface recreated or qdisc removed).',
          },
        },
        {
          // Fires only for a lease nobody renews: expiry < 120 s away AND the expiry timestamp
          // unchanged for a minute (same value now and 1 m ago, no change in between). A lease
          // renewed on schedule (every TTL/3, as campaigns do) can only be < 120 s from expiry
          // when its TTL is < 180 s, so it is renewed at least every 60 s and never matches;
          // a series younger than 1 m (a just-created lease) does not match either.
          alert: 'BackhaulLeaseExpiringSoon',
          expr: `${A.leaseExpiryTimestampSeconds} - time() < 120 and changes(${A.leaseExpiryTimestampSeconds}[1m]) == 0 `
            + `and ${A.leaseExpiryTimestampSeconds} == ${A.leaseExpiryTimestampSeconds} offset 1m`,
          labels: { severity: 'info' },
          annotations: {
            summary: 'Lease of impairment {{ $labels.impairment }} on {{ $labels.instance }} expires in {{ $value | humanizeDuration }}',
            description: 'The lease has not been renewed for a minute; when it expires the agent reverts the impairment. Renew it to keep the profile applied.',
          },
        },
        {
          alert: 'BackhaulAgentDown',
          expr: `up{job="${AGENT_JOB}"} == 0`,
          for: '2m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'Backhaul agent {{ $labels.instance }} is down',
            description: 'Prometheus has failed to scrape the agent for 2 minutes; its revert guard still reverts impairments whose lease expires.',
          },
        },
      ],
    },
  ];
}
