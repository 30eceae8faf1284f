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
 * sends (the client's download). A run that iperf3 reports as failed (it can exit 0 with an
 * "error" in its JSON when the control connection breaks under load) is retried with a fresh
 * server, up to 3 times; the error is reported if all fail.
 */
export async function iperfMbit(client: Netns, server: Netns, serverIp: string, port: number,
  opts: { seconds?: number; reverse?: boolean } = {}): Promise<number> {
  const seconds = opts.seconds ?? 3;
  const errors: string[] = [];
  for (let run = 0; run < 3; run++) {
    const srv = server.spawn(['iperf3', '-s', '-1', '-p', String(port)]);
    try {
      for (let attempt = 0; attempt < 30; attempt++) {
        const r = await client.exec(['iperf3', '-c', serverIp, '-p', String(port), '-t', String(seconds), '-O', '1', '-J',
          ...(opts.reverse ? ['-R'] : [])], { allowFail: true, timeoutMs: (seconds + 20) * 1000 });
        let j: { error?: string; end?: { sum_received?: { bits_per_second?: number } } } = {};
        try {
          j = JSON.parse(r.stdout) as typeof j;
        } catch {
          /* not JSON */
        }
        const bps = j.end?.sum_received?.bits_per_second;
        if (r.exitCode === 0 && typeof bps === 'number') {
          if (errors.length) process.stderr.write(`iperf3 to ${serverIp}:${port} needed a retry: ${errors.join(' | ')}\n`);
          return bps / 1e6;
        }
        const err = j.error ?? (r.stderr.trim() || r.stdout.slice(0, 200));
        if (/Connection refused|unable to connect/i.test(err)) {
          await new Promise((res) => setTimeout(res, 100)); // the server is not listening yet
          continue;
        }
        errors.push(err);
        break;
      }
    } finally {
      srv.kill('SIGKILL');
      await srv.catch(() => undefined);
    }
  }
  throw new Error(`iperf3 to ${serverIp}:${port} failed 3 times: ${errors.join(' | ')}`);
}
