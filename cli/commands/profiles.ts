/**
 * `backhaul profiles list | show <name|file> | validate <file...>`: browse and check WAN profiles.
 *
 * Exit codes: 0 ok; 2 a profile is invalid or not found (validate: any file invalid).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { listProfiles, loadProfile, loadProfileFile, type ProfileEntry } from '../../agent/profile-library.js';
import { describe, describePatch } from '../../core/describe.js';
import { BackhaulError, toBackhaulError } from '../../core/errors.js';
import { meanLossPct } from '../../core/gilbert-elliott.js';
import { effectiveLimitPackets } from '../../core/limit.js';
import type { Impairment, Profile } from '../../core/profile.js';
import { formatDuration, formatRate, parseDurationMs, UnitError } from '../../core/units.js';
import { randomSeed, seededRandom } from '../../core/random.js';
import { timelineUntil } from '../../core/schedule.js';
import { runAction, type CliContext } from '../context.js';
import { emit, table, usageError } from '../output.js';
import { addProfilesOption, profileLibraryOptions } from '../profile-options.js';

/** Compact one-cell summary of a direction: "25ms±5 8Mbit/s 0.1%". */
export function summarize(imp: Impairment | undefined): string {
  if (!imp) return '-';
  const parts: string[] = [];
  if (imp.delayMs !== undefined) parts.push(`${formatDuration(imp.delayMs).replace(' ', '')}${imp.jitterMs ? `±${formatDuration(imp.jitterMs).replace(' ', '')}` : ''}`);
  if (imp.rateKbit !== undefined) parts.push(formatRate(imp.rateKbit).replace(' ', ''));
  if (imp.loss) parts.push(`${Number(meanLossPct(imp.loss).toPrecision(2))}%${imp.loss.model === 'random' ? '' : ' burst'}`);
  return parts.length ? parts.join(' ') : 'none';
}

export function isAsymmetric(p: Profile): boolean {
  return JSON.stringify(p.egress) !== JSON.stringify(p.ingress ?? {});
}

function listJson(e: ProfileEntry): Record<string, unknown> {
  const base: Record<string, unknown> = { name: e.name, path: e.path, origin: e.origin };
  if (e.shadows) base['shadows'] = e.shadows;
  if (!e.profile) return { ...base, description: null, source: null, asymmetric: null, scheduled: null, valid: false, error: e.error?.toJSON() };
  const p = e.profile;
  return {
    ...base,
    description: p.description,
    source: p.source ?? null,
    valid: true,
    asymmetric: isAsymmetric(p),
    scheduled: p.schedule !== undefined,
    profile: p,
  };
}

function scheduleCell(p: Profile): string {
  if (!p.schedule) return '-';
  return `${p.schedule.loop ? 'loop' : 'once'} ${p.schedule.phases.length}`;
}

function fieldRows(imp: Impairment | undefined): string {
  if (!imp) return '  (untouched)';
  const lines = Object.entries(imp).map(([k, v]) => `  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  lines.push(`  netem limit (effective): ${effectiveLimitPackets(imp)} packets`);
  return lines.join('\n');
}

function showHuman(p: Profile): string {
  const out = [`${p.name}: ${p.description}`];
  if (p.source) out.push(`source: ${p.source}`);
  out.push('', describe(p), '', 'egress (uplink):', fieldRows(p.egress), 'ingress (downlink):', fieldRows(p.ingress));
  if (p.schedule) {
    const s = p.schedule;
    out.push('', `schedule: ${s.loop ? 'loop' : `one-shot, then ${s.tail ?? 'base'}`}${s.alignMs !== undefined ? `, aligned to ${formatDuration(s.alignMs)}` : ''}`);
    out.push(
      table(
        ['#', 'PHASE', 'DURATION', 'EGRESS', 'INGRESS'],
        s.phases.map((ph, i) => [
          String(i),
          ph.name ?? '',
          typeof ph.durationMs === 'number' ? formatDuration(ph.durationMs) : `${formatDuration(ph.durationMs.minMs)}..${formatDuration(ph.durationMs.maxMs)}`,
          describePatch(ph.egress) || (ph.egress ? '(base)' : '-'),
          describePatch(ph.ingress) || (ph.ingress ? '(base)' : '-'),
        ]),
      ),
    );
  }
  return out.join('\n');
}

export const MAX_TIMELINE_SEGMENTS = 10_000;

export interface TimelineRow {
  phaseIndex: number | null;
  phase: string;
  startMs: number;
  /** null: open-ended (a one-shot schedule's tail, or a profile without a schedule). */
  endMs: number | null;
}

/** The segments in [startMs, startMs + spanMs) for `show --timeline` (seeded, so repeatable). */
export function previewTimeline(p: Profile, startMs: number, spanMs: number, seed: number): TimelineRow[] {
  if (!p.schedule) return [{ phaseIndex: null, phase: 'base', startMs, endMs: null }];
  const s = p.schedule;
  return timelineUntil(s, startMs, seededRandom(seed), startMs + spanMs)
    .slice(0, MAX_TIMELINE_SEGMENTS)
    .map((seg) => ({
      phaseIndex: seg.phaseIndex,
      phase: seg.phaseIndex === null ? (seg.endMs === Infinity ? 'base (tail)' : 'base') : (s.phases[seg.phaseIndex]?.name ?? `phase ${seg.phaseIndex}`),
      startMs: seg.startMs,
      endMs: Number.isFinite(seg.endMs) ? seg.endMs : null,
    }));
}

function parseStart(v: string | undefined): number {
  if (v === undefined) return Date.now();
  const ms = /^[0-9]+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw usageError(`--start: expected an ISO 8601 time or Unix milliseconds (got ${JSON.stringify(v)})`);
  return ms;
}

function parseSpan(v: string): number {
  try {
    const ms = parseDurationMs(v);
    if (ms <= 0 || ms > 7 * 86_400_000) throw new UnitError(`must be above 0 and at most 7d (got ${v})`);
    return ms;
  } catch (e) {
    throw usageError(`--timeline: ${(e as Error).message}`);
  }
}

function parseSeed(v: string | undefined): number {
  if (v === undefined) return randomSeed();
  if (!/^[0-9]+$/.test(v) || Number(v) > 0x7fffffff) throw usageError(`--seed: expected a whole number 0..2147483647 (got ${JSON.stringify(v)})`);
  return Number(v);
}

function timelineHuman(rows: TimelineRow[], seed: number): string {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return (
    `timeline (seed ${seed}; the same seed and start give the same timeline):\n` +
    table(
      ['START', 'END', 'LENGTH', 'PHASE'],
      rows.map((r) => [iso(r.startMs), r.endMs === null ? '(open)' : iso(r.endMs), r.endMs === null ? '-' : formatDuration(r.endMs - r.startMs), r.phase]),
    ) +
    (rows.length >= MAX_TIMELINE_SEGMENTS ? `\n(first ${MAX_TIMELINE_SEGMENTS} segments only)` : '')
  );
}

interface ValidateResult {
  file: string;
  valid: boolean;
  name?: string;
  problems?: string[];
  error?: { code: string; message: string };
}

async function validateOne(arg: string, command: Command, ctx: CliContext): Promise<ValidateResult> {
  const opts = profileLibraryOptions(command, ctx);
  try {
    const p = arg.includes('/') || existsSync(arg) ? await loadProfileFile(arg, opts) : await loadProfile(arg, opts);
    return { file: arg, valid: true, name: p.name };
  } catch (e) {
    const err = toBackhaulError(e);
    const problems = Array.isArray(err.details['problems']) ? (err.details['problems'] as string[]) : [err.message];
    return { file: arg, valid: false, problems, error: { code: err.code, message: err.message } };
  }
}

export function registerProfiles(program: Command, ctx: CliContext): void {
  const profiles = program
    .command('profiles')
    .description('list, show and validate WAN profiles (bundled, --profiles DIR, $BACKHAUL_PROFILES)')
    .addHelpText(
      'after',
      `
Profiles are YAML files: per direction (egress = uplink, ingress = downlink) delay, jitter, loss
(random, gilbert-elliott, bursty), rate, ... and an optional schedule. See docs/profile.md.

Examples:
  backhaul profiles list
  backhaul profiles show leo-starlink
  backhaul --profiles ./my-profiles profiles show store-17
  backhaul profiles validate my-profiles/*.yaml`,
    );

  addProfilesOption(profiles);

  addProfilesOption(profiles.command('list'))
    .description('list every profile on the search path (user dirs shadow bundled names)')
    .option('--json', 'print a JSON array of {name, description, source, asymmetric, scheduled, origin, path, profile}')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await runAction(ctx, opts, async () => {
        const entries = await listProfiles(profileLibraryOptions(command, ctx));
        emit(ctx.io, opts, entries.map(listJson), () =>
          table(
            ['NAME', 'UPLINK', 'DOWNLINK', 'SCHEDULE', 'DESCRIPTION'],
            entries.map((e) =>
              e.profile
                ? [e.name + (e.origin === 'user' ? ' *' : ''), summarize(e.profile.egress), summarize(e.profile.ingress), scheduleCell(e.profile), e.profile.description]
                : [e.name, '-', '-', '-', `INVALID: ${e.error?.message ?? 'unknown error'} (run: backhaul profiles validate ${e.path})`],
            ),
          ) + (entries.some((e) => e.origin === 'user') ? '\n* user profile (from --profiles / BACKHAUL_PROFILES)' : ''),
        );
      });
    });

  addProfilesOption(profiles.command('show'))
    .description('show one profile: its fields, schedule and a plain-English description')
    .argument('<profile>', 'a profile name, or a path to a .yaml file')
    .option('--json', 'print {profile, describe, effectiveLimitPackets[, timeline, seed]}')
    .option('--timeline <duration>', 'also list the phases the schedule would run over this span (e.g. 2m)')
    .option('--start <time>', 'timeline start: ISO 8601 time or Unix ms (default: now)')
    .option('--seed <n>', 'seed for random phase durations (default: random, printed)')
    .action(async (name: string, opts: { json?: boolean; timeline?: string; start?: string; seed?: string }, command: Command) => {
      await runAction(ctx, opts, async () => {
        const span = opts.timeline === undefined ? undefined : parseSpan(opts.timeline);
        const start = parseStart(opts.start);
        const seed = parseSeed(opts.seed);
        const p = await loadProfile(name, profileLibraryOptions(command, ctx));
        const limits: Record<string, number> = { egress: effectiveLimitPackets(p.egress) };
        if (p.ingress) limits['ingress'] = effectiveLimitPackets(p.ingress);
        const value: Record<string, unknown> = { profile: p, describe: describe(p), effectiveLimitPackets: limits };
        const rows = span === undefined ? undefined : previewTimeline(p, start, span, seed);
        if (rows) Object.assign(value, { seed, timeline: rows });
        emit(ctx.io, opts, value, () => showHuman(p) + (rows ? `\n\n${timelineHuman(rows, seed)}` : ''));
      });
    });

  addProfilesOption(profiles.command('validate'))
    .description('check profile files (or names), listing every problem; exit 0 if all are valid, 2 otherwise')
    .argument('<file...>', 'profile files (or names)')
    .option('--json', 'print a JSON array of {file, valid, name?, problems?}')
    .action(async (files: string[], opts: { json?: boolean }, command: Command) => {
      await runAction(ctx, opts, async () => {
        const results: ValidateResult[] = [];
        for (const f of files) results.push(await validateOne(f, command, ctx));
        emit(ctx.io, opts, results, () =>
          results
            .map((r) => (r.valid ? `ok       ${r.file} (${r.name})` : `invalid  ${r.file}\n${(r.problems ?? []).map((p) => `  - ${p}`).join('\n')}`))
            .join('\n'),
        );
        const bad = results.filter((r) => !r.valid).length;
        if (bad > 0 && !opts.json) ctx.io.err(`backhaul: ${bad} of ${results.length} profile${results.length === 1 ? '' : 's'} invalid\n`);
        return bad > 0 ? new BackhaulError('ERR_PROFILE_INVALID', 'invalid').exitCode : 0;
      });
    });
}
