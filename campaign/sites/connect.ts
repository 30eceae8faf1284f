/**
 * The registry of site kinds (composition root for campaigns): 'in-process' -> InProcessSite,
 * http(s) URL -> AgentSite.
 */
import type { AgentSpec } from '../spec.js';
import { AgentSite } from './agent-site.js';
import { InProcessSite } from './in-process.js';
import type { SiteDriver } from './site.js';

export function connectSite(agent: AgentSpec): SiteDriver {
  if (agent.url === 'in-process') return new InProcessSite(agent.name);
  return new AgentSite(agent);
}
