/**
 * Impairment routes: create, list, get, renew, delete. Bodies are validated here (validate.ts) and
 * profiles parsed by the manager's resolver (core parser), once; errors carry every problem.
 */
import type { FastifyInstance } from 'fastify';
import { BackhaulError } from '../../core/errors.js';
import type { ImpairmentManager } from '../impairments/manager.js';
import { targetLabel } from '../agent-backend.js';
import { callerOf } from './server.js';
import { validateCreate, validateId, validateRenew } from './validate.js';

export function registerImpairmentRoutes(app: FastifyInstance, manager: ImpairmentManager): void {
  app.post('/v1/impairments', async (req, reply) => {
    const input = validateCreate(req.body);
    req.audit = {
      target: targetLabel(input.target),
      profile: typeof input.profile === 'string' ? input.profile : `(inline) ${String((input.profile as { name?: unknown }).name ?? '')}`,
      ttlMs: input.ttlMs,
      force: input.force,
      allowManagementInterface: input.allowManagementInterface,
    };
    const c = callerOf(req);
    // A caller that goes away while the create waits for its startAt cancels it (else the
    // impairment would be applied later with nobody knowing its id).
    const gone = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) gone.abort(new BackhaulError('ERR_BAD_REQUEST', 'the caller closed the connection before startAt: not applied'));
    };
    if (input.startAtMs != null) reply.raw.once('close', onClose);
    let view;
    try {
      view = await manager.create(input, { token: c.token, peer: c.peer }, gone.signal);
    } finally {
      reply.raw.off('close', onClose);
    }
    req.audit['id'] = view.id;
    return reply.status(201).send(view);
  });

  app.get('/v1/impairments', async () => ({ impairments: manager.list() }));

  app.get<{ Params: { id: string } }>('/v1/impairments/:id', async (req) => manager.get(validateId(req.params.id)));

  app.post<{ Params: { id: string } }>('/v1/impairments/:id/renew', async (req) => {
    const id = validateId(req.params.id);
    const input = validateRenew(req.body);
    req.audit = { id, ttlMs: input.ttlMs, force: input.force };
    const c = callerOf(req);
    return manager.renew(id, input, { token: c.token, peer: c.peer });
  });

  app.delete<{ Params: { id: string }; Querystring: { force?: string; controller?: string } }>('/v1/impairments/:id', async (req) => {
    const id = validateId(req.params.id);
    const force = req.query.force === 'true' || req.query.force === '1';
    const controller = typeof req.query.controller === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$/.test(req.query.controller) ? req.query.controller : null;
    req.audit = { id, force };
    const c = callerOf(req);
    await manager.delete(id, { force, controller }, { token: c.token, peer: c.peer }, 'api');
    return { id, reverted: true as const };
  });
}
