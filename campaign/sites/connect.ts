/**
 * The registry of site kinds (composition root for campaigns): 'in-process' -> InProcessSite,
 * 'netns:NAME' -> NetnsSite (a namespace on this host), http(s) URL -> AgentSite.
 */
import type { AgentSpec } from '../spec.js';
import { AgentSite } from './agent-site.js';
import { InProcessSite } from './in-process.js';
import { NetnsSite } from './netns-site.js';
import type { SiteDriver } from './site.js';

export function connectSite(agent: AgentSpec): SiteDriver {
  if (agent.url === 'in-process') return new InProcessSite(agent.name);
  if (agent.url.startsWith('netns:')) return new NetnsSite(agent.name, agent.url.slice('netns:'.length));
  return new AgentSite(agent);
}
