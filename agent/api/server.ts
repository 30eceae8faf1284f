/**
 * The agent's HTTP API server (fastify 5 + @fastify/websocket): authentication, body limits, error
 * mapping to the catalog (`{ code, message, details }`), request metrics and the audit log. Routes
 * live in routes-*.ts. Build with `buildServer(deps)`; tests drive it with `inject`/`injectWS`.
 */
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Counter } from 'prom-client';
import { BackhaulError, toBackhaulError } from '../../core/errors.js';
import type { AuditSink } from '../audit.js';
import { authenticate, type AuthConfig, type Role } from './auth.js';
import { registerImpairmentRoutes } from './routes-impairments.js';
import { registerInfoRoutes, type InfoDeps } from './routes-info.js';
import { registerProbeRoutes } from './routes-probes.js';
import { registerFaultRoutes } from './routes-faults.js';
import { registerHookRoutes } from './routes-hooks.js';
import type { FaultManager } from '../faults/fault-manager.js';
import type { HookService } from '../hook-service.js';
import type { ImpairmentManager } from '../impairments/manager.js';
import type { ProbeService, ReflectorService } from '../probes/service.js';
import { normalisePeer } from '../impairments/management.js';

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

export interface ServerDeps extends InfoDeps {
  auth: AuthConfig;
  manager: ImpairmentManager;
  probes: ProbeService | null;
  reflector: ReflectorService | null;
  audit: AuditSink;
  faults?: FaultManager;
  hooks?: HookService;
  /** Counter backhaul_agent_api_requests_total{method,route,code}. */
  requestsTotal?: Counter<'method' | 'route' | 'code'>;
  bodyLimitBytes?: number;
  /** Require a token for GET /metrics too (default false: Prometheus scrapes it openly). */
  metricsAuth?: boolean;
  /** TLS key + certificate (PEM); absent = plain HTTP. */
  https?: { key: Buffer | string; cert: Buffer | string };
}

export interface Caller {
  token: string;
  role: Role;
  peer: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
    audit?: Record<string, unknown>;
    errorCode?: string;
  }
}

/** The authenticated caller of a request (set by the auth hook). */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw new BackhaulError('ERR_INTERNAL', 'request without caller');
  return req.caller;
}

const CHANGE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });

  app.decorateRequest('caller', undefined);
  app.decorateRequest('audit', undefined);
  app.decorateRequest('errorCode', undefined);

  app.addHook('onRequest', async (req) => {
    const peer = normalisePeer(req.socket?.remoteAddress ?? req.ip);
    const path = req.url.split('?')[0];
    if (path === '/metrics' && !deps.metricsAuth) {
      req.caller = { token: 'scrape', role: 'read', peer };
      return;
    }
    const who = authenticate(deps.auth, req.headers.authorization);
    // Set before the role check: a refused change is audited under the token that tried it.
    // (Routes never run for a refused request, so this grants nothing.)
    req.caller = { token: who.name, role: who.role, peer };
    if (CHANGE_METHODS.has(req.method) && who.role !== 'control') {
      throw new BackhaulError('ERR_FORBIDDEN', `token "${who.name}" is read-only`, { token: who.name });
    }
  });

  app.setErrorHandler((error, req, reply) => {
    const err = mapError(error);
    req.errorCode = err.code;
    void reply.status(err.httpStatus).send(err.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    req.errorCode = 'ERR_NOT_FOUND';
    void reply.status(404).send(new BackhaulError('ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).toJSON());
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions?.url ?? 'unmatched';
    deps.requestsTotal?.inc({ method: req.method, route, code: String(reply.statusCode) });
    if (CHANGE_METHODS.has(req.method)) {
      await deps.audit.append({
        atMs: Date.now(),
        token: req.caller?.token ?? 'unauthenticated',
        peer: req.caller?.peer ?? normalisePeer(req.socket?.remoteAddress),
        method: req.method,
        route,
        what: { url: req.url.slice(0, 200), ...(req.audit ?? {}) },
        status: reply.statusCode,
        result: reply.statusCode < 400 ? 'ok' : 'error',
        ...(req.errorCode ? { code: req.errorCode } : {}),
      });
    }
  });

  registerInfoRoutes(app, deps);
  registerImpairmentRoutes(app, deps.manager);
  registerProbeRoutes(app, deps.probes, deps.reflector, deps.events);
  if (deps.faults) registerFaultRoutes(app, deps.faults);
  if (deps.hooks) registerHookRoutes(app, deps.hooks);
  await app.ready();
  return app;
}

/** fastify's own errors (body parsing, limits) onto our catalog; anything unknown is internal. */
export function mapError(error: unknown): BackhaulError {
  if (error instanceof BackhaulError) return error;
  const e = error as { code?: string; statusCode?: number; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new BackhaulError('ERR_BODY_TOO_LARGE', 'the request body is too large', { hint: 'inline profiles must be small; use a profile name' });
  }
  if (typeof e.code === 'string' && e.code.startsWith('FST_ERR_CTP')) {
    return new BackhaulError('ERR_BAD_REQUEST', `malformed request body: ${e.message ?? ''}`.trim(), { fastify: e.code });
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new BackhaulError('ERR_BAD_REQUEST', e.message ?? 'bad request', { fastify: e.code ?? null });
  }
  const err = toBackhaulError(error);
  return err.code === 'ERR_INTERNAL' ? new BackhaulError('ERR_INTERNAL', 'internal error', {}, { cause: error }) : err;
}
