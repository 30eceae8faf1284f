/**
 * `backhaul verify PROFILE --relay --to REFLECTOR` (built CLI, loopback, no root): a profile the
 * relay applies faithfully is conformant (exit 0) and every check is shown with its tolerance;
 * bad flags exit 2.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReflector, type Reflector } from '../../probe/reflector.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/backhaul.js');

describe('backhaul verify --relay', () => {
  let r: Reflector;
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm ci does it)');
    r = await startReflector({ host: '127.0.0.1', port: 0, ratePps: 0 });
  });
  afterAll(async () => {
    await r.close();
  });

  it('geo-satellite through the relay is conformant: exit 0, checks with expected/measured/tolerance', { timeout: 60_000 }, async () => {
    const res = await execa(process.execPath, [CLI, 'verify', 'geo-satellite', '--relay', '--to', `127.0.0.1:${r.address.port}`, '--duration', '5s', '--interval', '20ms', '--json'], { reject: false, timeout: 50_000 });
    const out = JSON.parse(String(res.stdout));
    expect(out.conformance.profile).toBe('geo-satellite');
    const delay = out.conformance.result.checks.find((c: any) => c.quantity === 'delay');
    expect(delay.expected).toBeCloseTo(600.26, 1); // 300 + 300 ms + serialization of 86 bytes at 3 and 25 Mbit/s
    expect(Math.abs(delay.measured - delay.expected)).toBeLessThanOrEqual(delay.toleranceMs);
    expect(out.inEffect).toBe(true);
    expect(res.exitCode, JSON.stringify(out.conformance.result.checks)).toBe(0);
  });

  it('bad flags: exit 2 with the reason', async () => {
    const a = await execa(process.execPath, [CLI, 'verify', 'geo-satellite', '--to', '127.0.0.1:1'], { reject: false });
    expect(a.exitCode).toBe(2);
    expect(String(a.stderr)).toMatch(/give exactly one of --relay or --dev IF/);
    const b = await execa(process.execPath, [CLI, 'verify', 'no-such-profile', '--relay', '--to', `127.0.0.1:${r.address.port}`, '--duration', '1s', '--baseline', '0s'], { reject: false, timeout: 30_000 });
    expect(b.exitCode).toBe(2);
  });
});
