/**
 * What the API needs from the probe side of the agent (implemented in agent/probes/sessions.ts on
 * top of the probe engine; the routes depend only on this shape).
 */
import type { ProbeHistogram, ProbeView, ReflectorView } from '../api/types.js';
import type { ProbeInput } from '../api/validate.js';

export interface ProbeService {
  /** Start an API probe session; resolves once it is sending. */
  start(input: ProbeInput): Promise<ProbeView>;
  list(): ProbeView[];
  /** Throws ERR_NOT_FOUND. */
  get(id: string): ProbeView;
  histogram(id: string): ProbeHistogram;
  /** Stop an API session (standing ones: ERR_FORBIDDEN); resolves with the final summary. */
  stop(id: string): Promise<ProbeView>;
}

export interface ReflectorService {
  view(): ReflectorView;
}
