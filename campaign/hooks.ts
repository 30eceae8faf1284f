/**
 * Hooks: the user's own checks run during a step, on the controller. A string runs with
 * `/bin/sh -c` (it is the user's own command line); an array runs without a shell. The hook gets
 * BACKHAUL_CAMPAIGN, BACKHAUL_STEP, BACKHAUL_STEP_END_MS (wall ms) in its environment. It is killed
 * (SIGTERM, then SIGKILL after 2 s) when `timeoutMs` passes or the campaign is interrupted.
 * Optional JUnit XML it writes is read back (tests, failures, errors, skipped, and every case).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';
import type { HookResult } from './result.js';
import type { ControllerHookSpec } from './spec.js';

const TAIL_BYTES = 4000;

export interface HookContext {
  campaign: string;
  step: string;
  stepEndMs: number;
  cwd: string;
  signal?: AbortSignal;
}

export async function runHook(h: ControllerHookSpec, ctx: HookContext): Promise<HookResult> {
  const started = Date.now();
  const env = { ...h.env, BACKHAUL_CAMPAIGN: ctx.campaign, BACKHAUL_STEP: ctx.step, BACKHAUL_STEP_END_MS: String(ctx.stepEndMs) };
  const argv = typeof h.run === 'string' ? ['/bin/sh', '-c', h.run] : h.run;
  const [file, ...args] = argv as [string, ...string[]];
  const r = await execa(file, args, {
    reject: false,
    all: true,
    cwd: ctx.cwd,
    env,
    timeout: h.timeoutMs,
    forceKillAfterDelay: 2000,
    stdin: 'ignore',
    ...(ctx.signal ? { cancelSignal: ctx.signal } : {}),
  });
  const out = String(r.all ?? '');
  const result: HookResult = {
    step: ctx.step,
    name: h.name,
    exitCode: r.exitCode ?? null,
    timedOut: Boolean(r.timedOut),
    durationMs: Date.now() - started,
    outputTail: out.length > TAIL_BYTES ? out.slice(-TAIL_BYTES) : out,
    ...(r.signal ? { signal: r.signal } : {}),
    ...(r.failed && r.exitCode === undefined ? { error: r.shortMessage ?? 'the command could not run' } : {}),
  };
  if (h.junit) {
    try {
      result.junit = parseJunit(await readFile(resolve(ctx.cwd, h.junit), 'utf8'));
    } catch (e) {
      result.error = `${result.error ? `${result.error}; ` : ''}cannot read JUnit file ${h.junit}: ${(e as Error).message}`;
    }
  }
  return result;
}

type Junit = NonNullable<HookResult['junit']>;

/** Parse JUnit XML (<testsuites> or a single <testsuite>); counts come from the cases themselves. */
export function parseJunit(xml: string): Junit {
  const doc = new XMLParser({ ignoreAttributes: false, isArray: (n) => n === 'testsuite' || n === 'testcase' }).parse(xml) as Record<string, unknown>;
  const root = (doc['testsuites'] ?? { testsuite: doc['testsuite'] }) as { testsuite?: unknown[] };
  if (!root || !Array.isArray(root.testsuite)) throw new Error('no <testsuite> element');
  const cases: Junit['cases'] = [];
  let errors = 0;
  let skipped = 0;
  for (const s of root.testsuite as Record<string, unknown>[]) {
    for (const c of (s['testcase'] as Record<string, unknown>[] | undefined) ?? []) {
      const failure = (c['failure'] ?? c['error']) as Record<string, unknown> | string | undefined;
      if (c['error'] !== undefined) errors++;
      if (c['skipped'] !== undefined) skipped++;
      const message = failure === undefined ? undefined : typeof failure === 'string' ? failure : String(failure['@_message'] ?? failure['#text'] ?? '');
      cases.push({ name: String(c['@_name'] ?? ''), classname: String(c['@_classname'] ?? ''), failed: failure !== undefined, ...(message !== undefined ? { message } : {}) });
    }
  }
  return { tests: cases.length, failures: cases.filter((c) => c.failed).length - errors, errors, skipped, cases };
}
