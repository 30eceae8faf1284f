/**
 * Hook routes: GET /v1/hooks (the names the config declares), POST /v1/hooks/:name/run
 * (body { campaign?, step?, stepEndMs? }) -> HookRunResult after the command ends (bounded by its timeout).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BackhaulError } from '../../core/errors.js';
import type { HookService } from '../hook-service.js';

const body = z.object({ campaign: z.string().max(128).optional(), step: z.string().max(128).optional(), stepEndMs: z.number().optional() }).strict();

export function registerHookRoutes(app: FastifyInstance, hooks: HookService): void {
  app.get('/v1/hooks', async () => ({ hooks: hooks.names() }));
  app.post<{ Params: { name: string } }>('/v1/hooks/:name/run', async (req) => {
    const name = req.params.name;
    req.audit = { hook: name };
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new BackhaulError('ERR_NOT_FOUND', `no hook named ${JSON.stringify(name.slice(0, 64))}`);
    const r = body.safeParse(req.body ?? {});
    if (!r.success) throw new BackhaulError('ERR_BAD_REQUEST', `invalid hook run request: ${r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    const result = await hooks.run(name, { ...(r.data.campaign ? { campaign: r.data.campaign } : {}), ...(r.data.step ? { step: r.data.step } : {}), ...(r.data.stepEndMs !== undefined ? { stepEndMs: r.data.stepEndMs } : {}) });
    req.audit['exitCode'] = result.exitCode;
    return result;
  });
}
