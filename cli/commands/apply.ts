/**
 * `backhaul apply <profile> --dev IF ...`: put a WAN profile on an interface with tc.
 * `--dry-run` prints the exact commands (one per line, as a shell would run them) and changes
 * nothing; it needs no root (the live state is read when possible, else a fresh device is assumed).
 */
import type { Command } from 'commander';
import { isBackhaulError } from '../../core/errors.js';
import type { Profile } from '../../core/profile.js';
import { systemClock } from '../../core/clock.js';
import { randomSeed, seededRandom } from '../../core/random.js';
import { parseDurationMs } from '../../core/units.js';
import type { NetemTarget } from '../../agent/backend.js';
import { followSchedule } from '../../agent/netem/follow.js';
import { loadProfile, readProfileYaml } from '../../agent/profile-library.js';
import { emptyDevState, type LiveState } from '../../agent/netem/live-state.js';
import { NetemBackend } from '../../agent/netem/netem-backend.js';
import { defaultStateDir } from '../../agent/netem/target-record.js';
import { planLines } from '../../agent/netem/plan.js';
import { runAction, type CliContext } from '../context.js';
import { emit, usageError } from '../output.js';
import { addDevFlags, addSelectionFlags, impairmentLines, targetFromFlags, type TargetFlags } from './netem-common.js';
import { addAgentFlags, applyViaAgent, type RemoteFlags } from './agent-remote.js';

interface ApplyFlags extends TargetFlags, RemoteFlags {
  dryRun?: boolean;
  follow?: boolean;
  for?: string;
  json?: boolean;
  profiles?: string[];
}

const EXAMPLES = `
Examples:
  backhaul apply lte-cell-edge --dev eth1                      # both directions (ingress via an IFB)
  backhaul apply geo-satellite --dev eth1 --direction egress
  backhaul apply ./my-link.yaml --dev eth1 --exclude peer=192.0.2.10/32,port=22,proto=tcp
  backhaul apply fibre-business --dev r1 --netns router --match peer=10.78.2.0/24
  backhaul apply leo-starlink --dev eth1 --dry-run             # print the tc/ip commands only
  backhaul apply lte-cell-edge --dev eth1 --agent https://site17:8470 --ttl 30m   # through an agent, leased

Applying again replaces the previous profile completely; \`backhaul clear --dev IF\` removes it.
A scheduled profile gets its base here; its phases run under \`backhaul agent\`, or in the
foreground with --follow (Ctrl-C stops and clears).
Exit codes: 0 ok, 2 bad input, 3 missing kernel feature/privilege (e.g. no sch_netem), 4 tc failed,
5 the interface has a root qdisc backhaul does not own.`;

export function registerApply(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('apply')
    .description('apply a WAN profile (a name or a YAML file) to an interface with tc (htb + netem)')
    .argument('<profile>', 'profile name (see `backhaul profiles list`) or path to a .yaml file');
  addDevFlags(cmd, true);
  addAgentFlags(addSelectionFlags(cmd), { lease: true })
    .option('--dry-run', 'print the tc/ip commands instead of running them (no root needed)')
    .option('--follow', 'run a scheduled profile\'s phases in the foreground until Ctrl-C (or --for), then clear the interface')
    .option('--for <duration>', 'with --follow: stop after this long (e.g. 90s, 10m)')
    .option('--profiles <dir>', 'extra directory of profiles (repeatable; also $BACKHAUL_PROFILES)', (v: string, p: string[] = []) => [...p, v])
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, flags: ApplyFlags) => {
      await runAction(ctx, flags, async () => {
        const target = targetFromFlags(flags);
        if (flags.agent) {
          if (flags.dryRun) throw usageError('--dry-run is local only (the agent plans against its own live state)');
          // A name goes to the agent's library; a local file is sent inline (parsed here first, so errors show locally).
          const isFile = /[/\\]|\.ya?ml$/i.test(name);
          const inline = isFile ? await readProfileYaml(name) : null;
          if (inline !== null) await loadProfile(name, { env: ctx.env });
          return applyViaAgent(ctx, flags, {
            profile: inline !== null ? (inline as Record<string, unknown>) : name, dev: target.dev, ...(target.netns ? { netns: target.netns } : {}),
            direction: target.direction, match: flags.match ?? [], exclude: flags.exclude ?? [], ...(target.disableOffloads ? { disableOffloads: true } : {}),
          });
        }
        if (flags.ttl || flags.controller || flags.force || flags.allowManagementInterface) {
          throw usageError('--ttl, --controller, --force and --allow-management-interface need --agent URL');
        }
        const profile = await loadProfile(name, { env: ctx.env, ...(flags.profiles ? { dirs: flags.profiles } : {}) });
        const backend = new NetemBackend({ stateDir: defaultStateDir(ctx.env) });
        if (flags.dryRun) return dryRun(ctx, flags, backend, target, profile);
        const forMs = checkFollowFlags(flags, profile);
        const applied = await backend.apply(target, profile, ctx.signal);
        const warnings = (applied.details?.['warnings'] as string[] | undefined) ?? [];
        const scheduleNote = profile.schedule && !flags.follow
          ? `profile ${profile.name} has a schedule of ${profile.schedule.phases.length} phases: its base is applied; run it under \`backhaul agent\` for the phases`
          : undefined;
        emit(ctx.io, flags, { ...applied, ...(scheduleNote ? { note: scheduleNote } : {}) }, () => {
          const out = [`applied ${profile.name} to ${target.dev}${target.netns ? ` (netns ${target.netns})` : ''}`];
          if (applied.egress) out.push('  egress', ...impairmentLines(applied.egress));
          if (applied.ingress) out.push(`  ingress (via ${String(applied.details?.['ifb'])})`, ...impairmentLines(applied.ingress));
          if (scheduleNote) out.push(`note: ${scheduleNote}`);
          return out.join('\n');
        });
        for (const w of warnings) ctx.io.err(`warning: ${w}\n`);
        if (flags.follow) return follow(ctx, flags, backend, target, profile, forMs);
      });
    });
}

function checkFollowFlags(flags: ApplyFlags, profile: Profile): number | undefined {
  if (flags.for !== undefined && !flags.follow) throw usageError('--for needs --follow');
  if (flags.follow && !profile.schedule) throw usageError(`profile ${profile.name} has no schedule: --follow has nothing to run`);
  if (flags.for === undefined) return undefined;
  try {
    return parseDurationMs(flags.for);
  } catch (e) {
    throw usageError(`--for: ${e instanceof Error ? e.message : String(e)}`, 'e.g. --for 90s or --for 10m');
  }
}

/** --follow: switch phases on time until Ctrl-C or --for, then clear (also after a failure). */
async function follow(ctx: CliContext, flags: ApplyFlags, backend: NetemBackend, target: NetemTarget, profile: Profile,
  forMs: number | undefined): Promise<number> {
  const clock = systemClock;
  const stamp = (ms: number): string => new Date(ms).toISOString().slice(11, 23);
  try {
    await followSchedule(backend, target, profile, {
      clock,
      random: seededRandom(randomSeed()),
      signal: ctx.signal,
      ...(forMs !== undefined ? { untilWallMs: clock.wallMs() + forMs } : {}),
      onPhase: (e) => {
        if (flags.json) ctx.io.out(JSON.stringify({ event: 'phase', ...e, endMs: Number.isFinite(e.endMs) ? e.endMs : null }) + '\n');
        else ctx.io.out(`${stamp(e.appliedMs)}  ${e.name}${Number.isFinite(e.endMs) ? ` until ${stamp(e.endMs)}` : ' (stays)'}\n`);
      },
    });
  } finally {
    await backend.revert(target);
    if (!flags.json) ctx.io.out(`cleared ${target.dev}\n`);
  }
  return 0;
}

async function dryRun(ctx: CliContext, flags: ApplyFlags, backend: NetemBackend, target: ReturnType<typeof targetFromFlags>,
  profile: Profile): Promise<number> {
  let state: LiveState | undefined;
  const notes: string[] = [];
  try {
    state = await backend.runner.readLiveState(target);
  } catch (e) {
    if (!isBackhaulError(e) || (e.code !== 'ERR_PERMISSION' && e.code !== 'ERR_CAPABILITY_MISSING')) throw e;
    notes.push(`could not read ${target.dev}'s current tc state (${e.message}); showing the plan for an interface with its default qdisc`);
    state = { dev: { ...emptyDevState(), ingressFilters: [] }, ifb: null };
  }
  const plan = await backend.plan(target, profile, state);
  const lines = planLines(plan);
  emit(ctx.io, flags, { dryRun: true, profile: profile.name, commands: lines, warnings: [...notes, ...plan.warnings] }, () => lines.join('\n'));
  if (!flags.json) for (const w of [...notes, ...plan.warnings]) ctx.io.err(`warning: ${w}\n`);
  return 0;
}
