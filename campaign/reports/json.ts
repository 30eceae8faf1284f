/**
 * The full JSON report: the `CampaignResult` as is (histograms stay encoded, so any HdrHistogram
 * port can decode them), with a schema version so consumers can tell formats apart.
 */
import type { CampaignResult } from '../result.js';

export const JSON_REPORT_SCHEMA = 'backhaul.campaign-result/v1';

export function renderJson(r: CampaignResult): string {
  return JSON.stringify({ schema: JSON_REPORT_SCHEMA, ...r }, null, 2) + '\n';
}
