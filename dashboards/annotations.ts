/**
 * Annotations shared by the Fleet and Probe dashboards: what was applied, when it changed, and
 * when something went wrong, drawn on the same time axis as the measurements.
 *
 * Prometheus annotations turn every step at which a series has a sample into an event; adjacent
 * steps merge into a region. So the "profile / phase" query gives one region per applied
 * profile+phase, the "fault" query one region per agent-side fault while it is in effect (the
 * agent exports `backhaul_agent_fault_active` only for active faults), and the filters (`> 0`,
 * `== 0`) give events only when something happened.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { AGENT_METRICS as A, CAMPAIGN_METRICS as C, PROBE_METRICS as P } from '../core/metric-names.js';
import { DS, SITE_SEL, sel } from './common.js';

function annotation(name: string, color: string, expr: string, title: string, tagKeys: string): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name(name)
    .datasource(DS)
    .enable(true)
    .iconColor(color)
    .expr(expr)
    .titleFormat(title)
    .tagKeys(tagKeys)
    .useValueForTime(false);
}

/**
 * @param withProbes add the outage annotation (needs the `target` variable).
 */
export function contextAnnotations(withProbes: boolean): dashboard.AnnotationQueryBuilder[] {
  const list = [
    annotation('Profile / phase', 'blue',
      `max by (instance, impairment, profile, phase) (${sel(A.impairmentInfo, 'instance=~"$instance",profile=~"$profile"')})`,
      '{{profile}} / {{phase}}', 'instance,impairment,profile,phase'),
    annotation('Phase switch', 'purple',
      `(changes(${sel(A.phaseSwitchesTotal, SITE_SEL)}[$__interval]) > 0) * on(instance, impairment) group_left(phase) ` +
        `max by (instance, impairment, phase) (${sel(A.phaseInfo, SITE_SEL)} == 1)`,
      'phase -> {{phase}}', 'instance,impairment,phase'),
    annotation('Campaign step', 'green',
      `max by (instance, campaign, step) (${sel(C.stepInfo, 'instance=~"$instance",campaign=~"$campaign"')})`,
      '{{campaign}}: {{step}}', 'instance,campaign,step'),
    annotation('Impairment not in effect', 'red',
      `${sel(A.impairmentInEffect, SITE_SEL)} == 0`,
      'not in effect: {{impairment}} on {{iface}}', 'instance,impairment,iface'),
    annotation('Fault', 'dark-red',
      `max by (instance, fault, kind, iface) (${sel(A.faultActive, SITE_SEL)})`,
      'fault: {{kind}} {{iface}}', 'instance,kind,iface'),
  ];
  if (!withProbes) return list;
  return [
    ...list,
    annotation('Outage', 'orange',
      `sum by (instance, target) (increase(${sel(P.outagesTotal, 'instance=~"$instance",target=~"$target"')}[$__interval])) > 0`,
      'outage: {{target}}', 'instance,target'),
  ];
}
