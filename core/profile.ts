/**
 * The WAN profile model. Parsed once, at the edge (`parseProfile`), into these types; everything
 * downstream trusts them. Units live in field names: `delayMs`, `rateKbit`, `...Pct` (0..100).
 *
 * Direction: `egress` = leaving the node (uplink); `ingress` = arriving at the node (downlink).
 * A profile without `ingress` leaves the downlink untouched.
 */

export type Distribution = 'uniform' | 'normal' | 'pareto' | 'paretonormal';

/** Random (Bernoulli) loss, with netem's correlation. */
export interface RandomLoss {
  model: 'random';
  pct: number;
  correlationPct?: number;
}

/**
 * Gilbert-Elliott loss with netem's meaning of each parameter (`loss gemodel p r 1-h 1-k`):
 * pPct = P(good -> bad), rPct = P(bad -> good), oneMinusHPct = loss probability in the bad state,
 * oneMinusKPct = loss probability in the good state. netem defaults: r = 100 - p, 1-h = 100, 1-k = 0.
 */
export interface GilbertElliottLoss {
  model: 'gilbert-elliott';
  pPct: number;
  rPct: number;
  oneMinusHPct?: number;
  oneMinusKPct?: number;
}

/** netem's 4-state Markov loss (`loss state p13 p31 p32 p23 p14`). */
export interface FourStateLoss {
  model: '4-state';
  p13Pct: number;
  p31Pct?: number;
  p32Pct?: number;
  p23Pct?: number;
  p14Pct?: number;
}

export type Loss = RandomLoss | GilbertElliottLoss | FourStateLoss;

export interface Slot {
  minDelayMs: number;
  maxDelayMs?: number;
  packets?: number;
  bytes?: number;
}

/** One direction's impairment. Every field is optional: an empty object means "no impairment". */
export interface Impairment {
  delayMs?: number;
  jitterMs?: number;
  delayCorrelationPct?: number;
  distribution?: Distribution;
  loss?: Loss;
  ecn?: boolean;
  duplicatePct?: number;
  duplicateCorrelationPct?: number;
  corruptPct?: number;
  corruptCorrelationPct?: number;
  reorderPct?: number;
  reorderCorrelationPct?: number;
  reorderGap?: number;
  /**
   * true: nothing leaves before a packet that arrived ahead of it in this direction (YAML
   * `order: keep`), so jitter varies the delay without reordering, as RLC/ARQ links (LTE, 5G,
   * LEO) deliver; a packet behind a late one waits for it (head-of-line blocking). Absent (YAML
   * `order: any`, the default): netem's time-sorted queue, where jitter larger than the packet
   * spacing reorders. Never false after parsing (`order: any` removes the field).
   */
  keepOrder?: boolean;
  rateKbit?: number;
  packetOverheadBytes?: number;
  cellSizeBytes?: number;
  cellOverheadBytes?: number;
  slot?: Slot;
  limitPackets?: number;
  seed?: number;
}

/**
 * Field-by-field overrides of an `Impairment` (a schedule phase, or a child profile's `extends`).
 * A field set to a value replaces the base's; `null` removes the base's field (YAML `none`);
 * an absent field keeps the base's. Apply with `applyPatch` (core/schedule.ts).
 */
export type ImpairmentPatch = { [K in keyof Impairment]?: Impairment[K] | null };

/** The impairment fields, in a stable order (the order describe() and planners walk them). */
export const IMPAIRMENT_KEYS = [
  'delayMs',
  'jitterMs',
  'delayCorrelationPct',
  'distribution',
  'loss',
  'ecn',
  'duplicatePct',
  'duplicateCorrelationPct',
  'corruptPct',
  'corruptCorrelationPct',
  'reorderPct',
  'reorderCorrelationPct',
  'reorderGap',
  'keepOrder',
  'rateKbit',
  'packetOverheadBytes',
  'cellSizeBytes',
  'cellOverheadBytes',
  'slot',
  'limitPackets',
  'seed',
] as const satisfies readonly (keyof Impairment)[];

/** A fixed duration in ms, or a random one drawn uniformly from [minMs, maxMs] each time. */
export type PhaseDuration = number | { minMs: number; maxMs: number };

/** A schedule phase: field-by-field overrides of the base; an empty phase means the base. */
export interface Phase {
  name?: string;
  durationMs: PhaseDuration;
  egress?: ImpairmentPatch;
  ingress?: ImpairmentPatch;
}

export interface Schedule {
  phases: Phase[];
  /** true: phases repeat until the impairment is removed. false: one pass, then `tail`. */
  loop: boolean;
  /** One-shot only: what stays in effect after the last phase ('base' = the base profile). */
  tail?: 'base' | 'last';
  /** Align phase boundaries to multiples of this many ms of wall-clock time (LEO: 15000). */
  alignMs?: number;
}

export interface Profile {
  name: string;
  description: string;
  source?: string;
  egress: Impairment;
  ingress?: Impairment;
  schedule?: Schedule;
}

export type Direction = 'egress' | 'ingress';
