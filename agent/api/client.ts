/**
 * Typed client of the agent API v1 (shapes in ./types.ts). Used by the CLI (`--agent URL`) and
 * the campaign runner.
 *
 *   const agent = new AgentClient('https://site17:8470', { token: process.env.BACKHAUL_TOKEN, fingerprint256: 'AB:CD:...' });
 *   const imp = await agent.createImpairment({ target: { dev: 'eth0' }, profile: 'lte-cell-edge', ttl: '30m' });
 *   await agent.renewImpairment(imp.id, { ttl: '30m' });
 *   await agent.deleteImpairment(imp.id);
 *
 * Errors: an agent's error body becomes a BackhaulError with the same code (409 -> ERR_LEASE_CONFLICT
 * ...), `details.status` and `details.agent` added; a network failure or timeout is ERR_UNREACHABLE.
 * Every call has a timeout (default 10 s) and accepts an AbortSignal. Plain fetch for http:// and
 * for https:// with a public CA; node:https when a certificate is pinned (`fingerprint256`) or `ca`.
 */
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { BackhaulError, ERROR_CATALOG, type ErrorCode } from '../../core/errors.js';
import type {
  AgentEvent, Capabilities, CreateImpairmentRequest, DeleteResult, FaultRequest, FaultView, Health, HookRunRequest, HookRunResult, ImpairmentView, ProbeHistogram,
  ProbeView, ProfileSummary, ReflectorView, RenewRequest, StartProbeRequest,
} from './types.js';
import type { Profile } from '../../core/profile.js';

export interface ClientOptions {
  token?: string;
  timeoutMs?: number;
  /** Pin the agent's certificate by SHA-256 fingerprint (as printed by `--tls-self-signed`). */
  fingerprint256?: string;
  /** Extra CA certificate(s) (PEM) to trust. */
  ca?: string | Buffer;
  /** Injected fetch (tests). */
  fetch?: typeof fetch;
}

interface Resp {
  status: number;
  text: string;
}

/** What a clear did, per impairment id. */
export interface ClearReport {
  /** reverted by this call */
  cleared: string[];
  /** already gone (404) when deleted: its lease ended meanwhile; done all the same */
  gone: string[];
  /** not cleared: the agent's error for each (409 ERR_LEASE_CONFLICT: another controller's) */
  failed: { id: string; code: ErrorCode; message: string }[];
}

/**
 * The error for a clear where some deletes failed: the first failure's code (so a conflict is still
 * exit 5), every failure in the message and `details.failed`, what was done in `details.cleared`.
 */
export function clearFailure(r: ClearReport, agent: string): BackhaulError {
  const first = r.failed[0]!;
  return new BackhaulError(first.code,
    `${r.failed.length} impairment${r.failed.length === 1 ? '' : 's'} not cleared on ${agent}: ${r.failed.map((f) => `${f.id}: ${f.message}`).join('; ')}`,
    { agent, cleared: [...r.cleared, ...r.gone], failed: r.failed });
}

function doneOrThrow(r: ClearReport, agent: string): string[] {
  if (r.failed.length > 0) throw clearFailure(r, agent);
  return [...r.cleared, ...r.gone];
}

export function normaliseFingerprint(fp: string): string {
  return fp.replace(/^sha256[:=]?/i, '').replace(/[^0-9a-f]/gi, '').toUpperCase();
}

export class AgentClient {
  readonly baseUrl: string;

  constructor(baseUrl: string, private readonly opts: ClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new BackhaulError('ERR_USAGE', `not an agent URL: ${JSON.stringify(baseUrl)}`, { hint: 'e.g. http://127.0.0.1:8470 or https://site17.example:8470' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BackhaulError('ERR_USAGE', `agent URL must be http(s): ${baseUrl}`);
    this.baseUrl = url.origin;
  }

  health(): Promise<Health> { return this.call('GET', '/v1/health'); }
  capabilities(): Promise<Capabilities> { return this.call('GET', '/v1/capabilities'); }
  async listProfiles(): Promise<ProfileSummary[]> { return (await this.call<{ profiles: ProfileSummary[] }>('GET', '/v1/profiles')).profiles; }
  getProfile(name: string): Promise<{ profile: Profile; description: string }> { return this.call('GET', `/v1/profiles/${encodeURIComponent(name)}`); }

  createImpairment(req: CreateImpairmentRequest, signal?: AbortSignal): Promise<ImpairmentView> { return this.call('POST', '/v1/impairments', req, signal); }
  async listImpairments(): Promise<ImpairmentView[]> { return (await this.call<{ impairments: ImpairmentView[] }>('GET', '/v1/impairments')).impairments; }
  getImpairment(id: string): Promise<ImpairmentView> { return this.call('GET', `/v1/impairments/${encodeURIComponent(id)}`); }
  renewImpairment(id: string, req: RenewRequest = {}, signal?: AbortSignal): Promise<ImpairmentView> {
    return this.call('POST', `/v1/impairments/${encodeURIComponent(id)}/renew`, req, signal);
  }
  deleteImpairment(id: string, opts: { force?: boolean; controller?: string } = {}, signal?: AbortSignal): Promise<DeleteResult> {
    const q = new URLSearchParams();
    if (opts.force) q.set('force', 'true');
    if (opts.controller) q.set('controller', opts.controller);
    const qs = q.toString();
    return this.call('DELETE', `/v1/impairments/${encodeURIComponent(id)}${qs ? `?${qs}` : ''}`, undefined, signal);
  }

  /**
   * Delete every impairment on `dev` (in `netns`), or every one on the agent (`'all'`), trying each
   * whatever happened to the others. A 404 (the lease ended between the list and the delete) counts
   * as done; any other failure (409: another controller's, without force) is reported in `failed`
   * and does not stop the rest. Never throws for a single delete; throws only when the list fails.
   */
  async clearEach(which: { dev: string; netns?: string } | 'all', opts: { force?: boolean; controller?: string } = {}): Promise<ClearReport> {
    const all = await this.listImpairments();
    const hits = which === 'all' ? all
      : all.filter((i) => i.target.kind === 'netem' && i.target.dev === which.dev && (i.target.netns ?? undefined) === (which.netns ?? undefined));
    const report: ClearReport = { cleared: [], gone: [], failed: [] };
    for (const i of hits) {
      try {
        await this.deleteImpairment(i.id, opts);
        report.cleared.push(i.id);
      } catch (e) {
        const err = e instanceof BackhaulError ? e : new BackhaulError('ERR_REMOTE', (e as Error).message);
        if (err.code === 'ERR_NOT_FOUND') report.gone.push(i.id);
        else report.failed.push({ id: i.id, code: err.code, message: err.message });
      }
    }
    return report;
  }

  /** Delete every impairment on `dev` (in `netns`); resolves with the ids removed (see clearEach; throws clearFailure after trying all). */
  async clearDevice(dev: string, netns?: string, opts: { force?: boolean; controller?: string } = {}): Promise<string[]> {
    return doneOrThrow(await this.clearEach({ dev, ...(netns ? { netns } : {}) }, opts), this.baseUrl);
  }

  /** Delete every impairment on the agent; resolves with the ids removed (see clearEach; throws clearFailure after trying all). */
  async clearAll(opts: { force?: boolean; controller?: string } = {}): Promise<string[]> {
    return doneOrThrow(await this.clearEach('all', opts), this.baseUrl);
  }

  startProbe(req: StartProbeRequest): Promise<ProbeView> { return this.call('POST', '/v1/probes', req); }
  async listProbes(): Promise<ProbeView[]> { return (await this.call<{ probes: ProbeView[] }>('GET', '/v1/probes')).probes; }
  getProbe(id: string): Promise<ProbeView> { return this.call('GET', `/v1/probes/${encodeURIComponent(id)}`); }
  probeHistogram(id: string): Promise<ProbeHistogram> { return this.call('GET', `/v1/probes/${encodeURIComponent(id)}/histogram`); }
  stopProbe(id: string): Promise<ProbeView> { return this.call('DELETE', `/v1/probes/${encodeURIComponent(id)}`); }
  reflector(): Promise<ReflectorView> { return this.call('GET', '/v1/reflector'); }

  createFault(req: FaultRequest, signal?: AbortSignal): Promise<FaultView> { return this.call('POST', '/v1/faults', req, signal); }
  async listFaults(): Promise<FaultView[]> { return (await this.call<{ faults: FaultView[] }>('GET', '/v1/faults')).faults; }
  getFault(id: string, signal?: AbortSignal): Promise<FaultView> { return this.call('GET', `/v1/faults/${encodeURIComponent(id)}`, undefined, signal); }
  /** End a fault now (its restore runs before the reply); idempotent. */
  stopFault(id: string): Promise<FaultView> { return this.call('DELETE', `/v1/faults/${encodeURIComponent(id)}`); }
  async listHooks(): Promise<{ name: string; timeoutMs: number; junit: boolean }[]> { return (await this.call<{ hooks: { name: string; timeoutMs: number; junit: boolean }[] }>('GET', '/v1/hooks')).hooks; }
  /** Run a hook the agent's config declares; waits for it (give `timeoutMs` in the client options above the hook's timeout). */
  runHook(name: string, req: HookRunRequest = {}, signal?: AbortSignal): Promise<HookRunResult> { return this.call('POST', `/v1/hooks/${encodeURIComponent(name)}/run`, req, signal); }

  /** The agent's Prometheus exposition text. */
  async metrics(): Promise<string> {
    const r = await this.send('GET', '/metrics', undefined, undefined);
    if (r.status !== 200) throw this.errorFrom(r, 'GET', '/metrics');
    return r.text;
  }

  /**
   * Subscribe to the event stream (WebSocket). Resolves once connected; call the returned function
   * to close. Pinned certificates apply as for HTTP.
   */
  async events(onEvent: (e: AgentEvent) => void): Promise<() => void> {
    const { WebSocket } = await import('ws');
    const url = this.baseUrl.replace(/^http/, 'ws') + '/v1/events';
    const ws = new WebSocket(url, {
      headers: this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {},
      ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      ...(this.opts.fingerprint256 ? { agent: new PinnedAgent(this.opts.fingerprint256) } : {}),
    });
    // Listen before the handshake completes: the agent's `hello` may arrive in the same tick as 'open'.
    ws.on('message', (data) => {
      try {
        onEvent(JSON.parse(String(data)) as AgentEvent);
      } catch {
        /* ignore a malformed frame */
      }
    });
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (e) => reject(new BackhaulError('ERR_UNREACHABLE', `cannot open the event stream of ${this.baseUrl}: ${e.message}`, { agent: this.baseUrl }, { cause: e })));
      ws.once('unexpected-response', (_req, res) => reject(new BackhaulError(res.statusCode === 401 ? 'ERR_UNAUTHORIZED' : 'ERR_REMOTE', `the agent refused the event stream (HTTP ${res.statusCode})`, { agent: this.baseUrl, status: res.statusCode })));
    });
    return () => ws.close();
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const r = await this.send(method, path, body, signal);
    if (r.status < 200 || r.status >= 300) throw this.errorFrom(r, method, path);
    try {
      return JSON.parse(r.text) as T;
    } catch (e) {
      throw new BackhaulError('ERR_REMOTE', `${method} ${path}: the agent sent a non-JSON reply`, { agent: this.baseUrl, status: r.status }, { cause: e });
    }
  }

  private errorFrom(r: Resp, method: string, path: string): BackhaulError {
    let parsed: { code?: unknown; message?: unknown; details?: unknown } = {};
    try {
      parsed = JSON.parse(r.text) as typeof parsed;
    } catch {
      /* not JSON */
    }
    const code = typeof parsed.code === 'string' && parsed.code in ERROR_CATALOG ? (parsed.code as ErrorCode) : 'ERR_REMOTE';
    const message = typeof parsed.message === 'string' ? parsed.message : `${method} ${path}: HTTP ${r.status}`;
    const details = parsed.details && typeof parsed.details === 'object' ? (parsed.details as Record<string, unknown>) : {};
    return new BackhaulError(code, message, { ...details, status: r.status, agent: this.baseUrl });
  }

  private headers(body: unknown): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) h['content-type'] = 'application/json';
    if (this.opts.token) h['authorization'] = `Bearer ${this.opts.token}`;
    return h;
  }

  private async send(method: string, path: string, body: unknown, signal: AbortSignal | undefined): Promise<Resp> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 10_000);
    const sig = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    try {
      if (this.baseUrl.startsWith('https:') && (this.opts.fingerprint256 || this.opts.ca)) {
        return await this.sendNodeHttps(method, path, payload, sig);
      }
      const f = this.opts.fetch ?? fetch;
      const res = await f(this.baseUrl + path, { method, headers: this.headers(body), ...(payload !== undefined ? { body: payload } : {}), signal: sig });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      if (e instanceof BackhaulError) throw e;
      const why = timeout.aborted ? `timed out after ${this.opts.timeoutMs ?? 10_000} ms` : (e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message;
      throw new BackhaulError('ERR_UNREACHABLE', `cannot reach the agent at ${this.baseUrl}: ${why}`, { agent: this.baseUrl }, { cause: e });
    }
  }

  private sendNodeHttps(method: string, path: string, payload: string | undefined, signal: AbortSignal): Promise<Resp> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(this.baseUrl + path, {
        method,
        headers: { ...this.headers(payload), ...(payload !== undefined ? { 'content-length': String(Buffer.byteLength(payload)) } : {}) },
        signal,
        ...(this.opts.ca ? { ca: this.opts.ca } : {}),
        ...(this.opts.fingerprint256 ? { agent: new PinnedAgent(this.opts.fingerprint256) } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}

/**
 * An https agent that accepts exactly one certificate, by SHA-256 fingerprint (self-signed agents).
 * The check runs on the TLS handshake, before any request byte (the token included) is sent: a
 * mismatch destroys the socket. One connection per request (no keep-alive).
 */
export class PinnedAgent extends HttpsAgent {
  private readonly want: string;

  constructor(fingerprint256: string) {
    super({ keepAlive: false });
    this.want = normaliseFingerprint(fingerprint256);
  }

  override createConnection(options: ConnectionOptions): TLSSocket {
    const socket = tlsConnect({ ...options, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      const got = normaliseFingerprint(socket.getPeerCertificate().fingerprint256 ?? '');
      if (got !== this.want) {
        socket.destroy(new Error(`certificate fingerprint ${got} does not match the pinned ${this.want}`));
      }
    });
    return socket;
  }
}
