/**
 * Fault routes: POST /v1/faults (201 FaultView), GET /v1/faults, GET /v1/faults/:id,
 * DELETE /v1/faults/:id (ends it now; the restore runs before the reply).
 */
import type { FastifyInstance } from 'fastify';
import type { FaultManager } from '../faults/fault-manager.js';
import { callerOf } from './server.js';
import { validateId } from './validate.js';
import { validateFault } from './validate-faults.js';

export function registerFaultRoutes(app: FastifyInstance, faults: FaultManager): void {
  app.post('/v1/faults', async (req, reply) => {
    const input = validateFault(req.body);
    req.audit = { fault: input.fault, allowManagementInterface: input.allowManagementInterface };
    const c = callerOf(req);
    const view = await faults.create({ fault: input.fault, controller: input.controller ?? c.token, allowManagementInterface: input.allowManagementInterface }, c.peer);
    req.audit['id'] = view.id;
    return reply.status(201).send(view);
  });
  app.get('/v1/faults', async () => ({ faults: faults.list() }));
  app.get<{ Params: { id: string } }>('/v1/faults/:id', async (req) => faults.get(validateId(req.params.id)));
  app.delete<{ Params: { id: string } }>('/v1/faults/:id', async (req) => {
    const id = validateId(req.params.id);
    req.audit = { id };
    faults.get(id);
    return faults.stop(id);
  });
}
