/**
 * `backhaul verify <profile> --to REFLECTOR (--relay | --dev IF [--netns NS]) [--agent URL]`:
 * apply, probe, compare with what the profile should produce, revert. Exit 0 conformant, 1 a
 * deviation or an impairment not in effect, 2 could not run.
 */
import type { Command } from 'commander';
import { parseDurationMs } from '../../campaign/quantity.js';
import type { CliContext } from '../context.js';
import { runAction } from '../context.js';
import { emit, table, usageError } from '../output.js';
import { progressPrinter } from './campaign-progress.js';

const fmt = (q: string, v: number | [number, number] | null | undefined): string => {
  if (v === null || v === undefined) return '-';
  const one = (x: number): string => (q === 'loss' ? `${(x * 100).toFixed(3)}%` : `${x.toFixed(2)} ms`);
  return Array.isArray(v) ? `${one(v[0])}..${one(v[1])}` : one(v);
};

export function registerVerify(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .argument('<profile>', 'profile name or .yaml file')
    .description('apply a profile, probe across it, check that the path behaves as the profile says (delay, jitter, loss, rate), revert')
    .requiredOption('--to <host:port>', 'a STAMP reflector beyond the impaired path (backhaul reflect)')
    .option('--relay', 'impair through an in-process UDP relay in front of --to (no root)')
    .option('--dev <if>', "impair this interface (netem backend; root), or the agent's with --agent")
    .option('--netns <name>', 'the interface lives in this network namespace')
    .option('--agent <url>', 'let this agent apply the profile and run the probe (token: BACKHAUL_TOKEN)')
    .option('--duration <d>', 'how long to probe', '10s')
    .option('--interval <d>', 'probe interval', '10ms')
    .option('--baseline <d>', 'probe the path unimpaired first (0s to skip)', '2s')
    .option('--json', 'machine-readable result')
    .addHelpText(
      'after',
      `
Tolerances come from the sample size and the probe's resolution (docs/campaign.md, "Conformance").
Exit codes: 0 conformant, 1 a deviation or the impairment is not in effect, 2 could not run.
Examples:
  backhaul verify lte-cell-edge --relay --to 127.0.0.1:862
  backhaul verify geo-satellite --dev eth1 --to 10.0.0.2:862
  BACKHAUL_TOKEN=... backhaul verify fibre-business --agent https://site17:8470 --dev eth1 --to 10.9.0.1:862`,
    )
    .action(async (profile: string, opts: { to: string; relay?: boolean; dev?: string; netns?: string; agent?: string; duration: string; interval: string; baseline: string; json?: boolean }) =>
      runAction(ctx, opts, async () => {
        const durationMs = parseDurationMs(opts.duration);
        const intervalMs = parseDurationMs(opts.interval);
        const baselineMs = parseDurationMs(opts.baseline);
        if (durationMs === null || durationMs < 1000) throw usageError(`--duration: '${opts.duration}' must be a duration of at least 1s`);
        if (intervalMs === null || intervalMs < 1) throw usageError(`--interval: '${opts.interval}' must be a duration of at least 1ms`);
        if (baselineMs === null) throw usageError(`--baseline: '${opts.baseline}' is not a duration`);
        if (Boolean(opts.relay) === Boolean(opts.dev)) throw usageError('give exactly one of --relay or --dev IF', 'e.g. backhaul verify lte-cell-edge --relay --to 127.0.0.1:862');
        const agent = opts.agent ? { name: 'agent', url: opts.agent, ...(ctx.env['BACKHAUL_TOKEN'] ? { token: ctx.env['BACKHAUL_TOKEN'], tokenEnv: 'BACKHAUL_TOKEN' } : {}) } : undefined;
        // heavy (profile library, netem backend, probe and relay engines): loaded when the command runs
        const [{ loadProfile }, { NetemBackend }, { runVerify }] = await Promise.all([
          import('../../agent/profile-library.js'),
          import('../../agent/netem/netem-backend.js'),
          import('../../campaign/verify.js'),
        ]);
        const result = await runVerify({
          profile,
          resolveProfile: (n) => loadProfile(n),
          to: opts.to,
          mode: opts.relay
            ? { kind: 'relay', ...(agent ? { agent } : {}) }
            : { kind: 'dev', dev: opts.dev as string, ...(opts.netns ? { netns: opts.netns } : {}), ...(agent ? { agent } : {}), netem: () => new NetemBackend() },
          durationMs,
          intervalMs,
          baselineMs,
          signal: ctx.signal,
          ...(opts.json ? {} : { onProgress: progressPrinter(ctx.io.err, ctx.io.isTTY) }),
        });
        const step = result.steps[0];
        const conf = step?.probes[0]?.conformance[0];
        const inEffect = step?.impairments[0]?.inEffect;
        const ok = result.exitCode === 0;
        emit(ctx.io, opts, { ok, exitCode: result.exitCode, error: result.error, inEffect, conformance: conf, summary: step?.probes[0]?.summary, reverts: result.reverts }, () => {
          if (!step || !conf) return `verify ${profile}: could not run: ${result.error ?? step?.error ?? step?.probes[0]?.error ?? 'no measurement'}`;
          const rows = conf.result.checks.map((c) => [c.quantity, c.status, fmt(c.quantity, c.expected), fmt(c.quantity, c.measured), c.quantity === 'loss' ? fmt('loss', c.tolerance) : fmt('delay', c.toleranceMs), c.note]);
          return [`verify ${profile} (${conf.profile}): ${ok ? 'CONFORMANT' : 'DEVIATION'}${inEffect === false ? ' (the site reports it NOT in effect)' : ''}`, table(['check', 'status', 'expected', 'measured', '+/- tolerance', 'note'], rows), `reverted: ${result.reverts.every((r) => r.ok) ? 'yes' : 'NO'}`].join('\n');
        });
        return result.exitCode === 0 ? 0 : result.exitCode === 1 ? 1 : 2;
      }),
    );
}
