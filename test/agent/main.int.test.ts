/**
 * The composition root's refusals and the audit log file: no token on a non-loopback address is
 * refused before anything starts; every change is appended as one JSON line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileAuditLog } from '../../agent/audit.js';
import { parseAgentConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { AgentClient } from '../../agent/api/client.js';
import { waitForGuardExit } from '../../agent/guard/guard-client.js';
import { reservePort } from '../support/ports.js';

describe('startAgent', () => {
  it('refuses a non-loopback address without tokens, before touching anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-main-'));
    try {
      const cfg = parseAgentConfig({ listen: '0.0.0.0:18999', stateDir: join(dir, 'state') });
      await expect(startAgent(cfg, { version: 't', env: {} })).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/without authentication/) });
      expect(() => readFileSync(join(dir, 'state', 'journal.json'))).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startAgent on loopback', () => {
  it('serves HTTPS with a self-signed certificate to pin, runs the reflector and standing probes, stops cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-main-'));
    // Two ports named in the config (API, reflector): reserved, never bind(0)-then-close.
    const port = await reservePort();
    const reflectorPort = await reservePort();
    try {
      const cfg = parseAgentConfig({
        listen: `127.0.0.1:${port}`, stateDir: join(dir, 'state'), tls: { selfSigned: true },
        reflector: { listen: `127.0.0.1:${reflectorPort}` }, probes: [{ name: 'self', target: `127.0.0.1:${reflectorPort}`, interval: '50ms' }],
        reconcile: { watchLinks: false },
      });
      const agent = await startAgent(cfg, { version: 't', env: {}, log: () => undefined });
      try {
        expect(agent.url).toBe(`https://127.0.0.1:${port}`);
        expect(agent.tls?.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
        const c = new AgentClient(agent.url, { fingerprint256: agent.tls?.fingerprint256 as string });
        const h = await c.health();
        expect(h.guard).toMatchObject({ alive: true, pid: agent.guard.pid });
        let probes = await c.listProbes();
        // The standing probe's first replies: a deadline for a loaded host, not a count of polls.
        for (const end = Date.now() + 30_000; Date.now() < end && !(probes[0]?.summary as { received?: number } | undefined)?.received;) {
          await new Promise((r) => setTimeout(r, 50));
          probes = await c.listProbes();
        }
        expect(probes).toHaveLength(1);
        expect(probes[0]).toMatchObject({ name: 'self', origin: 'standing', state: 'running' });
        expect((probes[0]?.summary as { received: number }).received).toBeGreaterThan(0);
        expect((await c.reflector()).counters['reflected']).toBeGreaterThan(0);
        expect(await c.metrics()).toContain('backhaul_probe_received_total{target="127.0.0.1:');
        expect(agent.recovery).toMatchObject({ reverted: [], failed: [] });
      } finally {
        const guardPid = agent.guard.pid as number;
        expect(await agent.stop()).toBe(true);
        // The guard was told everything is reverted and exits without acting.
        expect(await waitForGuardExit(guardPid, 30_000)).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('audit log file', () => {
  it('appends one JSON object per line, in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-audit-'));
    try {
      const log = new FileAuditLog(join(dir, 'sub', 'audit.jsonl'));
      const rec = (i: number) => ({ atMs: i, token: 'ci', peer: '10.0.0.1', method: 'POST', route: '/v1/impairments', what: { i }, status: 201, result: 'ok' as const });
      await Promise.all([0, 1, 2, 3, 4].map((i) => log.append(rec(i))));
      const lines = readFileSync(join(dir, 'sub', 'audit.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { atMs: number });
      expect(lines.map((l) => l.atMs)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
