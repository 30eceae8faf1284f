/**
 * Test helpers for the netem privileged tier: run the CLI in-process with captured output, and
 * measure TCP throughput with iperf3 between namespaces.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../cli/main.js';
import type { Netns } from '../../support/netns.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A private state dir and profile dir for one test file. */
export function scratchDirs(): { stateDir: string; profileDir: string } {
  const base = mkdtempSync(join(tmpdir(), 'bh-netem-'));
  return { stateDir: join(base, 'state'), profileDir: base };
}

export function writeProfile(dir: string, name: string, yaml: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

export async function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'backhaul', ...args], { out: (s) => (stdout += s), err: (s) => (stderr += s), isTTY: false }, { ...process.env, ...env });
  return { code, stdout, stderr };
}

/**
 * TCP throughput in Mbit/s from `client` to `serverIp` (iperf3 server in `server`), measured at
 * the receiver over `seconds` after omitting the first second (slow start). `reverse`: the server
 * sends (the client's download).
 */
export async function iperfMbit(client: Netns, server: Netns, serverIp: string, port: number,
  opts: { seconds?: number; reverse?: boolean } = {}): Promise<number> {
  const srv = server.spawn(['iperf3', '-s', '-1', '-p', String(port)]);
  try {
    const seconds = opts.seconds ?? 3;
    for (let attempt = 0; ; attempt++) {
      const r = await client.exec(['iperf3', '-c', serverIp, '-p', String(port), '-t', String(seconds), '-O', '1', '-J',
        ...(opts.reverse ? ['-R'] : [])], { allowFail: true, timeoutMs: (seconds + 20) * 1000 });
      if (r.exitCode === 0) {
        const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
        return j.end.sum_received.bits_per_second / 1e6;
      }
      if (attempt >= 20) throw new Error(`iperf3 failed: ${r.stdout.slice(0, 500)} ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 100)); // the server is not listening yet
    }
  } finally {
    srv.kill('SIGKILL');
    await srv.catch(() => undefined);
  }
}
