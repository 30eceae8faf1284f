/**
 * Probe routes: API probe sessions (start, list, summary, histogram, stop) and the reflector.
 */
import type { FastifyInstance } from 'fastify';
import { BackhaulError } from '../../core/errors.js';
import type { EventBus } from '../events.js';
import type { ProbeService, ReflectorService } from '../probes/service.js';
import { validateId, validateProbe } from './validate.js';

function noProbes(): BackhaulError {
  return new BackhaulError('ERR_CAPABILITY_MISSING', 'this agent runs no probe engine');
}

export function registerProbeRoutes(app: FastifyInstance, probes: ProbeService | null, reflector: ReflectorService | null, events: EventBus): void {
  app.post('/v1/probes', async (req, reply) => {
    if (!probes) throw noProbes();
    const input = validateProbe(req.body);
    req.audit = { target: input.target, name: input.name ?? null };
    const view = await probes.start(input);
    req.audit['id'] = view.id;
    events.emit({ type: 'probe.started', id: view.id, target: view.target });
    return reply.status(201).send(view);
  });
  app.get('/v1/probes', async () => ({ probes: probes ? probes.list() : [] }));
  app.get<{ Params: { id: string } }>('/v1/probes/:id', async (req) => {
    if (!probes) throw noProbes();
    return probes.get(validateId(req.params.id));
  });
  app.get<{ Params: { id: string } }>('/v1/probes/:id/histogram', async (req) => {
    if (!probes) throw noProbes();
    return probes.histogram(validateId(req.params.id));
  });
  app.delete<{ Params: { id: string } }>('/v1/probes/:id', async (req) => {
    if (!probes) throw noProbes();
    const id = validateId(req.params.id);
    req.audit = { id };
    const view = await probes.stop(id);
    events.emit({ type: 'probe.stopped', id, target: view.target });
    return view;
  });
  app.get('/v1/reflector', async () => reflector ? reflector.view() : { enabled: false, address: null, port: null, counters: {} });
}
