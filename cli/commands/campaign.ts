/**
 * `backhaul campaign run FILE [--out DIR]`, `backhaul campaign validate FILE`, `backhaul demo`.
 * Thin: parse flags -> load/validate -> campaign library -> summary + reports + exit code.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { BackhaulError } from '../../core/errors.js';
import type { parseProfile } from '../../core/profile-parse.js';
import type { runCampaign } from '../../campaign/runner.js';
import type { ProfileRef } from '../../campaign/spec.js';
import { parseDurationMs } from '../../campaign/quantity.js';
import type { CliContext } from '../context.js';
import { runAction } from '../context.js';
import { emit, usageError } from '../output.js';
import { progressPrinter } from './campaign-progress.js';

/** The campaign library (yaml, zod, agent client, relay, reports): loaded when a command runs, not at start-up. */
const loadImpl = async () => {
  const [{ runDemo }, { renderSummary }, { writeReports }, { runCampaign }, { connectSite }, { loadCampaign }] = await Promise.all([
    import('../../campaign/demo.js'),
    import('../../campaign/reports/terminal.js'),
    import('../../campaign/reports/index.js'),
    import('../../campaign/runner.js'),
    import('../../campaign/sites/connect.js'),
    import('../../campaign/spec.js'),
  ]);
  return { runDemo, renderSummary, writeReports, runCampaign, connectSite, loadCampaign };
};

const defaultOut = (name: string): string => `backhaul-report-${name}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`;

export async function resolveProfileRef(ref: ProfileRef): Promise<ReturnType<typeof parseProfile>> {
  if ('name' in ref) return (await import('../../agent/profile-library.js')).loadProfile(ref.name);
  return (await import('../../core/profile-parse.js')).parseProfile(ref.inline, 'inline profile');
}

export function registerCampaign(program: Command, ctx: CliContext): void {
  const campaign = program.command('campaign').description('run WAN conditions and probes across sites and judge the result (see docs/campaign.md)');

  campaign
    .command('validate')
    .argument('<file>', 'campaign YAML file')
    .description('check a campaign file (every problem with its path) and its profiles, touching nothing')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { json?: boolean }) =>
      runAction(ctx, opts, async () => {
        const { loadCampaign } = await loadImpl();
        const c = await loadCampaign(file, { env: ctx.env });
        const problems: string[] = [];
        for (const s of c.steps) for (const i of s.impairments) await resolveProfileRef(i.profile).catch((e: Error) => problems.push(`steps.${s.name}.${i.name}: ${e.message}`));
        if (problems.length) throw new BackhaulError('ERR_CAMPAIGN_INVALID', `${file}: profiles do not resolve`, { problems });
        emit(ctx.io, opts, { ok: true, campaign: c.name, steps: c.steps.length, agents: c.agents.map((a) => a.name) }, () => `${file}: valid (${c.steps.length} steps, agents ${c.agents.map((a) => a.name).join(', ')})`);
      }),
    );

  campaign
    .command('run')
    .argument('<file>', 'campaign YAML file')
    .description('run a campaign: pre-flight, steps at agreed times, leases, live progress, reports; always reverts')
    .option('--out <dir>', 'report folder (default: backhaul-report-NAME-TIME)')
    .option('--baseline <duration>', 'probe the unimpaired paths first, for conformance (0 to skip)', '2s')
    .option('--json', 'print the full result as JSON instead of the summary (progress stays on stderr)')
    .option('--quiet', 'no live progress on stderr')
    .addHelpText(
      'after',
      `
Exit codes: 0 every assertion holds, 1 some do not, 2 the campaign could not run (invalid file,
pre-flight failed, a site was lost, interrupted). Reports: summary.txt, result.json, junit.xml,
report.html in --out. Kill switch: backhaul campaign clear FILE.`,
    )
    .action(async (file: string, opts: { out?: string; baseline: string; json?: boolean; quiet?: boolean }) =>
      runAction(ctx, opts, async () => {
        const baselineMs = parseDurationMs(opts.baseline);
        if (baselineMs === null) throw usageError(`--baseline: '${opts.baseline}' is not a duration`, "e.g. --baseline 2s, or 0s to skip");
        const { loadCampaign, runCampaign, connectSite, writeReports, renderSummary } = await loadImpl();
        const c = await loadCampaign(file, { env: ctx.env });
        const result = await runCampaign(c, {
          connect: (a) => connectSite(a),
          resolveProfile: resolveProfileRef,
          signal: ctx.signal,
          baselineMs,
          cwd: process.cwd(),
          onProgress: opts.quiet ? undefined : progressPrinter(ctx.io.err, ctx.io.isTTY),
        } as Parameters<typeof runCampaign>[1]);
        const out = resolve(opts.out ?? defaultOut(c.name));
        const paths = await writeReports(result, out);
        emit(ctx.io, opts, { ...result, reports: paths }, () => `${renderSummary(result, { color: ctx.io.isTTY })}reports in ${out}/ (report.html, junit.xml, result.json, summary.txt)`);
        return result.exitCode;
      }),
    );

  campaign
    .command('clear')
    .argument('<file>', 'campaign YAML file')
    .description("Kill switch: remove every impairment on the campaign's agents (clear --all on each)")
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { json?: boolean }) =>
      runAction(ctx, opts, async () => {
        const { loadCampaign, connectSite } = await loadImpl();
        const c = await loadCampaign(file, { env: ctx.env });
        const rows = await Promise.all(
          c.agents.map(async (a) => {
            const s = connectSite(a);
            try {
              return { agent: a.name, cleared: await s.clearAll() };
            } catch (e) {
              return { agent: a.name, error: (e as Error).message };
            } finally {
              await s.close().catch(() => undefined);
            }
          }),
        );
        emit(ctx.io, opts, rows, () => rows.map((r) => ('error' in r ? `${r.agent}: FAILED ${r.error}` : `${r.agent}: cleared ${r.cleared}`)).join('\n'));
        return rows.some((r) => 'error' in r) ? 6 : 0;
      }),
    );

  program
    .command('demo')
    .description('one minute of Backhaul, no root, no services: fibre, LTE cell edge, GEO satellite and a failover outage through the userspace relay on loopback (or with --netns: tc/netem across namespaces), with live progress, /metrics and reports')
    .option('--out <dir>', 'report folder', 'backhaul-demo-report')
    .option('--metrics <addr>', '/metrics listen address while it runs', '127.0.0.1:0')
    .option('--step <duration>', 'length of each of the 4 steps (at least 6s)', '12s')
    .option('--netns', 'the same across two network namespaces with the tc/netem backend (root, sch_netem)')
    .option('--json', 'print the full result as JSON (progress stays on stderr)')
    .option('--quiet', 'no live progress on stderr')
    .addHelpText(
      'after',
      `
--netns creates two fresh namespaces (bh-demo-ID-store, bh-demo-ID-dc) joined by a veth pair with
10.77.0.1/.2 inside them only, probes from the store to a reflector in the dc, applies each profile
with netem on the store's veth (egress, and ingress through an IFB), blackholes the dc's address in
the store for the failover, and always removes both namespaces (also on Ctrl-C and errors).
Exit codes: 0 everything holds, 1 a check failed, 2 could not run, 3 (--netns) not root or no
sch_netem (the message says what to do).`,
    )
    .action(async (opts: { out: string; metrics: string; step: string; netns?: boolean; json?: boolean; quiet?: boolean }) =>
      runAction(ctx, opts, async () => {
        const stepMs = parseDurationMs(opts.step);
        if (stepMs === null || stepMs < 6000) throw usageError(`--step: '${opts.step}' must be a duration of at least 6s`);
        const out = resolve(opts.out);
        const { runDemo, renderSummary } = await loadImpl();
        const say = opts.quiet ? (): void => undefined : ctx.io.err;
        const how = opts.netns ? 'with tc/netem between two network namespaces' : 'through the userspace relay on 127.0.0.1';
        say(`backhaul demo: 4 steps of ${opts.step} ${how}; reports will be in ${out}/\n`);
        const o = await runDemo({
          outDir: out,
          metricsListen: opts.metrics,
          stepMs,
          netns: Boolean(opts.netns),
          onTopology: (t) => say(`namespaces: ${t.store} (${t.storeIf} ${t.storeIp}, netem) -> ${t.dc} (${t.dcIf} ${t.dcIp}, reflector ${t.reflector}); removed at the end\n`),
          signal: ctx.signal,
          onMetrics: (url) => say(`metrics: ${url} (Prometheus text, while the demo runs)\n`),
          ...(opts.quiet ? {} : { onProgress: progressPrinter(ctx.io.err, ctx.io.isTTY) }),
        });
        emit(ctx.io, opts, { ...o.result, demoChecks: o.checks, reports: o.reports, exitCode: o.exitCode }, () =>
          [
            renderSummary(o.result, { color: ctx.io.isTTY }).trimEnd(),
            '',
            ...o.checks.map((c) => `${c.passed ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`),
            '',
            `reports in ${out}/: report.html (open it in a browser), junit.xml, result.json, summary.txt`,
          ].join('\n'),
        );
        return o.exitCode;
      }),
    );
}
