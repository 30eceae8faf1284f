/**
 * Read-only routes: health, capabilities, profiles, metrics, and the WebSocket event stream.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Profile } from '../../core/profile.js';
import type { EventBus } from '../events.js';
import type { Capabilities, Health, ProfileSummary } from './types.js';

export interface ProfileCatalog {
  list(): Promise<ProfileSummary[]>;
  /** Throws ERR_PROFILE_NOT_FOUND. */
  get(name: string): Promise<{ profile: Profile; description: string }>;
}

export interface InfoDeps {
  health(): Health;
  capabilities(): Promise<Capabilities>;
  profileCatalog: ProfileCatalog;
  registry: Registry;
  events: EventBus;
  version: string;
}

/** A WebSocket subscriber whose send buffer exceeds this is sent nothing until it drains. */
const WS_MAX_BUFFERED_BYTES = 1 << 20;

export function registerInfoRoutes(app: FastifyInstance, deps: InfoDeps): void {
  app.get('/v1/health', async () => deps.health());
  app.get('/v1/capabilities', async () => deps.capabilities());
  app.get('/v1/profiles', async () => ({ profiles: await deps.profileCatalog.list() }));
  app.get<{ Params: { name: string } }>('/v1/profiles/:name', async (req) => deps.profileCatalog.get(req.params.name));

  app.get('/metrics', async (_req, reply) => {
    const text = await deps.registry.metrics();
    void reply.header('content-type', deps.registry.contentType);
    return text;
  });

  app.get('/v1/events', { websocket: true }, (socket) => {
    let dropped = 0;
    const send = (obj: unknown): void => {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > WS_MAX_BUFFERED_BYTES) {
        dropped += 1;
        return;
      }
      socket.send(JSON.stringify(obj));
    };
    send({ type: 'hello', atMs: Date.now(), version: deps.version });
    const unsubscribe = deps.events.subscribe((e) => {
      if (dropped > 0 && socket.bufferedAmount <= WS_MAX_BUFFERED_BYTES) {
        send({ type: 'dropped', atMs: Date.now(), count: dropped });
        dropped = 0;
      }
      send(e);
    });
    socket.on('close', unsubscribe);
    socket.on('error', unsubscribe);
    socket.on('message', () => undefined);
  });
}
