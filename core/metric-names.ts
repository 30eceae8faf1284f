/**
 * Every metric name the product exports, in one place: exporters and dashboards import these, so a
 * dashboard can never reference a name nobody exports. Prefix `backhaul_`, base units (seconds,
 * bytes, ratios 0..1), counters end in `_total`, labels stay low-cardinality.
 */

/** Latency buckets, 100 us .. 10 s (1-2-5 series, seconds). */
export const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10,
] as const;

/** Outage-duration buckets, 10 ms .. 600 s. */
export const OUTAGE_BUCKETS_SECONDS = [
  0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600,
] as const;

/*
 * Label contract (dashboards and rules rely on it; keep cardinality low):
 *   probe metrics ............ target, probe            (probe = session name, default: the probe kind)
 *   reflector metrics ........ (none; malformed/dropped add `reason`)
 *   relay metrics ............ relay, direction (egress|ingress); drops add `cause`
 *                              (loss|queue|outage|flow-limit|send-error|stopped, see agent/relay/metrics.ts),
 *                              packets/bytes add `stage` (in|out); flows has `relay` only
 *   agent impairment_info .... impairment, iface, netns, profile, backend, direction, phase   (value 1)
 *   agent in_effect .......... impairment, iface
 *   agent lease expiry ....... impairment
 *   agent phase_info ......... impairment, phase  (value 1 for the phase now in effect)
 *   agent phase switches ..... impairment
 *   agent tc counters ........ impairment, iface, direction
 *   agent api requests ....... method, route, code
 *   campaign step_info ....... campaign, step, impairment   (exported by the agent for impairments a campaign created)
 *   agent fault_active ....... fault, kind, iface           (value 1 while the fault is in effect; iface '' for a blackhole)
 *   demo probe p50 ........... probe                        (`backhaul demo` only: its live view, not a dashboard input)
 * Every metric also gets Prometheus' `instance`/`job` from the scrape (the site).
 */

export const PROBE_METRICS = {
  rttSeconds: 'backhaul_probe_rtt_seconds',
  sentTotal: 'backhaul_probe_sent_total',
  receivedTotal: 'backhaul_probe_received_total',
  lostTotal: 'backhaul_probe_lost_total',
  lateTotal: 'backhaul_probe_late_total',
  duplicatesTotal: 'backhaul_probe_duplicates_total',
  reorderedTotal: 'backhaul_probe_reordered_total',
  missedTotal: 'backhaul_probe_missed_total',
  jitterSeconds: 'backhaul_probe_jitter_seconds',
  outagesTotal: 'backhaul_probe_outages_total',
  outageDurationSeconds: 'backhaul_probe_outage_duration_seconds',
  lossRatio: 'backhaul_probe_loss_ratio',
} as const;

/** Labels on every probe series. */
export const PROBE_LABELS = ['target', 'probe'] as const;

export const REFLECTOR_METRICS = {
  receivedTotal: 'backhaul_reflector_received_total',
  reflectedTotal: 'backhaul_reflector_reflected_total',
  malformedTotal: 'backhaul_reflector_malformed_total',
  droppedTotal: 'backhaul_reflector_dropped_total',
} as const;

export const RELAY_METRICS = {
  packetsTotal: 'backhaul_relay_packets_total',
  bytesTotal: 'backhaul_relay_bytes_total',
  dropsTotal: 'backhaul_relay_drops_total',
  duplicatesTotal: 'backhaul_relay_duplicates_total',
  queueDepthPackets: 'backhaul_relay_queue_depth_packets',
  flows: 'backhaul_relay_flows',
} as const;

export const AGENT_METRICS = {
  impairmentInfo: 'backhaul_agent_impairment_info',
  impairmentInEffect: 'backhaul_impairment_in_effect',
  leaseExpiryTimestampSeconds: 'backhaul_agent_lease_expiry_timestamp_seconds',
  phaseInfo: 'backhaul_agent_phase_info',
  phaseSwitchesTotal: 'backhaul_agent_phase_switches_total',
  tcPacketsTotal: 'backhaul_agent_tc_packets_total',
  tcBytesTotal: 'backhaul_agent_tc_bytes_total',
  tcDropsTotal: 'backhaul_agent_tc_drops_total',
  tcOverlimitsTotal: 'backhaul_agent_tc_overlimits_total',
  apiRequestsTotal: 'backhaul_agent_api_requests_total',
  reconcileTotal: 'backhaul_agent_reconcile_total',
  buildInfo: 'backhaul_agent_build_info',
  /** 1 per active agent-side fault {fault (id), kind, iface ('' for a blackhole)}. */
  faultActive: 'backhaul_agent_fault_active',
} as const;

export const CAMPAIGN_METRICS = {
  stepInfo: 'backhaul_campaign_step_info',
} as const;

/** Exported by `backhaul demo` while it runs (campaign/demo.ts). */
export const DEMO_METRICS = {
  /** RTT median over the last second per probe session {probe}, seconds. */
  probeRttP50Seconds: 'backhaul_demo_probe_rtt_p50_seconds',
} as const;

export const EXPORTER_METRICS = {
  droppedTotal: 'backhaul_exporter_dropped_total',
} as const;
