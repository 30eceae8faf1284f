/**
 * The typed client against the agent API on real loopback sockets: plain HTTP and TLS with a
 * self-signed certificate (pinned by fingerprint; a wrong pin is refused before the token is sent),
 * error mapping (401, 409, 400 with problems), an unreachable agent, and the event stream. Also the
 * CLI's --agent path (apply/status/clear) end to end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../../agent/api/client.js';
import type { AgentEvent } from '../../../agent/api/types.js';
import { selfSignedTls, type TlsMaterial } from '../../../agent/tls.js';
import { main } from '../../../cli/main.js';
import { makeFixture, TOKENS, type Fixture } from '../daemon-fixture.js';

let fx: Fixture | undefined;
let tls: TlsMaterial;
let tlsDir: string;

beforeAll(async () => {
  tlsDir = mkdtempSync(join(tmpdir(), 'bh-tls-'));
  tls = await selfSignedTls(tlsDir);
  return () => rmSync(tlsDir, { recursive: true, force: true });
});

afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

async function listen(f: Fixture): Promise<string> {
  return f.daemon.app.listen({ host: '127.0.0.1', port: 0 });
}

describe('typed client over HTTP', () => {
  it('maps errors to the catalog and round-trips an impairment', async () => {
    fx = await makeFixture();
    const url = await listen(fx);
    const anon = new AgentClient(url);
    await expect(anon.health()).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED', details: { status: 401 } });
    const alice = new AgentClient(url, { token: TOKENS.alice });
    const bob = new AgentClient(url, { token: TOKENS.bob });
    const v = await alice.createImpairment({ target: { dev: 'eth0' }, profile: 'rate-1m', ttl: '1m' });
    await expect(bob.createImpairment({ target: { dev: 'eth0' }, profile: 'rate-1m' })).rejects.toMatchObject({ code: 'ERR_LEASE_CONFLICT', details: { status: 409, controller: 'alice' } });
    await expect(alice.createImpairment({ target: { dev: 'eth0;id' }, profile: 'rate-1m' })).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
    expect((await alice.renewImpairment(v.id, { ttl: '2m' })).id).toBe(v.id);
    expect(await alice.clearDevice('eth0')).toEqual([v.id]);
    expect(await alice.listImpairments()).toEqual([]);
    expect(await alice.metrics()).toContain('backhaul_agent_api_requests_total');
  });

  it('an unreachable agent is ERR_UNREACHABLE; a bad URL is ERR_USAGE', async () => {
    await expect(new AgentClient('http://127.0.0.1:1', { timeoutMs: 2000 }).health()).rejects.toMatchObject({ code: 'ERR_UNREACHABLE' });
    expect(() => new AgentClient('ftp://x')).toThrow(/http/);
  });

  it('streams events', async () => {
    fx = await makeFixture();
    const url = await listen(fx);
    const c = new AgentClient(url, { token: TOKENS.alice });
    const got: AgentEvent[] = [];
    const close = await c.events((e) => got.push(e));
    const v = await c.createImpairment({ target: { dev: 'eth1' }, profile: 'rate-1m' });
    await c.deleteImpairment(v.id);
    await expect.poll(() => got.map((e) => e.type), { timeout: 15_000 }).toEqual(['hello', 'impairment.created', 'impairment.deleted']);
    close();
    await expect(new AgentClient(url).events(() => undefined)).rejects.toMatchObject({ code: 'ERR_UNAUTHORIZED' });
  });
});

describe('TLS on a real socket', () => {
  it('serves HTTPS; the pinned fingerprint is accepted and a wrong one refused', async () => {
    fx = await makeFixture({ https: { key: tls.key, cert: tls.cert } });
    const url = await listen(fx);
    expect(url).toMatch(/^https:/);
    const pinned = new AgentClient(url, { token: TOKENS.alice, fingerprint256: tls.fingerprint256 });
    expect((await pinned.health()).status).toBe('ok');
    const wrong = new AgentClient(url, { token: TOKENS.alice, fingerprint256: 'AA:'.repeat(31) + 'AA', timeoutMs: 5000 });
    await expect(wrong.health()).rejects.toMatchObject({ code: 'ERR_UNREACHABLE' });
    // Unpinned, unknown CA: refused by default certificate verification.
    await expect(new AgentClient(url, { token: TOKENS.alice, timeoutMs: 5000 }).health()).rejects.toMatchObject({ code: 'ERR_UNREACHABLE' });
    // The CA option (the certificate itself) works too.
    expect((await new AgentClient(url, { token: TOKENS.alice, ca: tls.cert }).health()).status).toBe('ok');
    // No request with the wrong pin reached the server.
    expect(fx.audit.records).toEqual([]);
    const events: AgentEvent[] = [];
    const close = await pinned.events((e) => events.push(e));
    await expect.poll(() => events.length, { timeout: 15_000 }).toBeGreaterThan(0);
    close();
    await expect(wrong.events(() => undefined)).rejects.toMatchObject({ code: 'ERR_UNREACHABLE' });
  });
});

describe('CLI --agent', () => {
  it('apply, status and clear through an agent, with exit codes', async () => {
    fx = await makeFixture();
    const url = await listen(fx);
    let out = '';
    let err = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s), isTTY: false };
    const env = { BACKHAUL_TOKEN: TOKENS.alice, BACKHAUL_PROFILES: join(fx.dir, 'profiles') };
    expect(await main(['node', 'backhaul', 'apply', 'rate-1m', '--dev', 'eth3', '--agent', url, '--ttl', '30s', '--json'], io, env), err).toBe(0);
    const view = JSON.parse(out) as { id: string; expiresAtMs: number; createdAtMs: number };
    expect(view.expiresAtMs - view.createdAtMs).toBe(30_000);
    out = '';
    expect(await main(['node', 'backhaul', 'status', '--agent', url], io, env)).toBe(0);
    expect(out).toContain(view.id);
    expect(out).toContain('rate-1m');
    // Another controller gets exit 5 (conflict).
    expect(await main(['node', 'backhaul', 'apply', 'rate-1m', '--dev', 'eth3', '--agent', url], io, { ...env, BACKHAUL_TOKEN: TOKENS.bob })).toBe(5);
    expect(await main(['node', 'backhaul', 'clear', '--dev', 'eth3', '--agent', url, '--json'], io, { ...env, BACKHAUL_TOKEN: TOKENS.bob })).toBe(5);
    out = '';
    expect(await main(['node', 'backhaul', 'clear', '--all', '--agent', url, '--json'], io, env)).toBe(0);
    expect(JSON.parse(out).cleared).toEqual([view.id]);
    // Wrong token: exit 6; --all without --agent: usage (2).
    expect(await main(['node', 'backhaul', 'status', '--agent', url], io, { BACKHAUL_TOKEN: 'nope-nope-nope-nope' })).toBe(6);
    expect(await main(['node', 'backhaul', 'clear', '--all'], io, env)).toBe(2);
    expect(await main(['node', 'backhaul', 'apply', 'rate-1m', '--dev', 'eth3', '--ttl', '30s'], io, env)).toBe(2);
  });
});
