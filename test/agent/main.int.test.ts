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
