/**
 * `backhaul demo` as a non-root user (nobody), from the built CLI: completes in under 2 minutes,
 * exits 0, and its reports exist and parse (JSON, JUnit with one case per assertion, HTML).
 * Needs dist/ (npm ci builds it; after changing sources: npm run build).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/chromium.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/backhaul.js');

/** argv that runs as nobody when we are root (setpriv), as is otherwise (already unprivileged). */
function asNobody(argv: string[]): string[] {
  return process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv;
}

describe('backhaul demo (non-root, built CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm ci does it)');
    dir = await mkdtemp(join(tmpdir(), 'bh-demo-'));
    await chmod(dir, 0o777);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('completes in under 2 minutes, exits 0, verdicts from measurement, reports parse', { timeout: 150_000 }, async () => {
    const out = join(dir, 'report');
    const [file, ...args] = asNobody([process.execPath, CLI, 'demo', '--out', out, '--json']);
    const started = Date.now();
    const child = execa(file as string, args, { cwd: dir, reject: false, timeout: 120_000, env: { HOME: dir } });
    // /metrics is served while it runs: scrape it once the first step is under way.
    const scraped = new Promise<string>((ok) => {
      let err = '';
      let done = false;
      child.stderr?.on('data', (c: Buffer) => {
        err += String(c);
        const url = /metrics: (http:\/\/\S+)/.exec(err)?.[1];
        if (!done && url && /step 1\/4 fibre/.test(err) && /fibre \d+s left/.test(err)) {
          done = true;
          fetch(url).then((res) => res.text()).then(ok, (e: Error) => ok(`scrape failed: ${e.message}`));
        }
      });
    });
    // ... and again once the fibre step is over: its probe session has exported a step of samples.
    const scrapedLater = new Promise<string>((ok) => {
      let err = '';
      let done = false;
      child.stderr?.on('data', (c: Buffer) => {
        err += String(c);
        const url = /metrics: (http:\/\/\S+)/.exec(err)?.[1];
        if (!done && url && /step 2\/4 lte-cell-edge/.test(err)) {
          done = true;
          fetch(url).then((res) => res.text()).then(ok, (e: Error) => ok(`scrape failed: ${e.message}`));
        }
      });
    });
    const r = await child;
    const metrics = await scraped;
    const later = await scrapedLater;
    // The probe sessions export on the demo's registry: counters and the RTT histogram, with samples.
    expect(metrics).toMatch(/^# TYPE backhaul_probe_rtt_seconds histogram/m);
    expect(metrics).toMatch(/^backhaul_probe_sent_total\{target="127\.0\.0\.1:\d+",probe="store-to-dc"\} \d/m);
    expect(later).toMatch(/^backhaul_probe_sent_total\{target="127\.0\.0\.1:\d+",probe="store-to-dc"\} [1-9]/m);
    const count = /^backhaul_probe_rtt_seconds_count\{target="127\.0\.0\.1:\d+",probe="store-to-dc"\} (\d+)/m.exec(later);
    expect(count, later.slice(0, 3000)).not.toBeNull();
    expect(Number(count?.[1])).toBeGreaterThan(0);
    const inf = /^backhaul_probe_rtt_seconds_bucket\{le="\+Inf",target="127\.0\.0\.1:\d+",probe="store-to-dc"\} (\d+)/m.exec(later);
    expect(Number(inf?.[1])).toBe(Number(count?.[1]));
    // fibre: the RTT samples lie far below a second (the profile's few ms plus this host's scheduling)
    const underSecond = /^backhaul_probe_rtt_seconds_bucket\{le="1",target="127\.0\.0\.1:\d+",probe="store-to-dc"\} (\d+)/m.exec(later);
    expect(Number(underSecond?.[1]), later.slice(0, 3000)).toBeGreaterThan(0);
    expect(metrics).toMatch(/^backhaul_relay_packets_total\{/m);
    expect(metrics).toMatch(/^backhaul_campaign_step_info\{campaign="demo",step="fibre",impairment="wan"\} 1/m);
    const elapsed = Date.now() - started;
    expect(r.timedOut, `timed out; stderr: ${r.stderr}`).toBe(false);
    expect(elapsed).toBeLessThan(120_000);
    const res = JSON.parse(String(r.stdout));
    // verdicts come from what was measured
    const p50 = (step: string): number => res.steps.find((s: any) => s.name === step).probes[0].summary.rttMs.p50;
    expect(p50('fibre')).toBeLessThan(p50('lte-cell-edge'));
    expect(p50('lte-cell-edge')).toBeLessThan(p50('geo-satellite'));
    const failover = res.steps.find((s: any) => s.name === 'failover');
    const fo = failover.probes[0].failover;
    const m = fo.matches.find((x: any) => x.event.kind === 'fault');
    expect(m.matched, JSON.stringify(fo)).toBe(true);
    // A 2.5 s blackhole (the relay's outage mode, which also flushes what it holds): the matched
    // outage lies between the blackhole's duration and its recorded span (the site's clock around
    // the sleep), each widened by the probe's bound (one interval), the sender's measured lateness
    // (a late or skipped slot moves an edge of the window) and the largest RTT measured in the step
    // (probes held in the relay when it starts are lost; probes sent just before it ends pass).
    const fault = failover.faults[0];
    expect(fault.error).toBeUndefined();
    const spanMs = fault.endMs - fault.startMs;
    expect(spanMs).toBeGreaterThanOrEqual(2500 - 1);
    const sum = failover.probes[0].summary;
    const slackMs = Math.max(sum.sendLatenessMs?.max ?? 0, sum.missedMaxLatenessMs ?? 0) + (sum.rttMs.max ?? 0);
    console.log(`demo failover: outage ${m.outageMs} +/- ${m.outageBoundMs} ms, blackhole span ${spanMs} ms, slack ${slackMs.toFixed(1)} ms`);
    expect(m.outageMs).toBeGreaterThanOrEqual(2500 - 1 - m.outageBoundMs - slackMs);
    expect(m.outageMs).toBeLessThanOrEqual(spanMs + m.outageBoundMs + slackMs);
    expect(res.demoChecks.every((c: any) => c.passed), JSON.stringify(res.demoChecks)).toBe(true);
    const failed = res.steps.flatMap((s: any) => s.assertions.filter((a: any) => !a.passed));
    expect(failed, JSON.stringify(failed, null, 1)).toEqual([]);
    expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
    // stderr showed live progress and the /metrics address
    expect(String(r.stderr)).toMatch(/metrics: http:\/\/127\.0\.0\.1:\d+\/metrics/);
    expect(String(r.stderr)).toMatch(/step 4\/4 failover/);
    // reports
    const json = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
    expect(json.schema).toBe('backhaul.campaign-result/v1');
    expect(json.steps).toHaveLength(4);
    expect(typeof json.steps[0].probes[0].histogramNs).toBe('string');
    const junit = new XMLParser({ ignoreAttributes: false, isArray: (n) => n === 'testsuite' || n === 'testcase' }).parse(await readFile(join(out, 'junit.xml'), 'utf8'));
    const cases = junit.testsuites.testsuite.flatMap((s: any) => s.testcase);
    expect(cases).toHaveLength(json.steps.reduce((n: number, s: any) => n + s.assertions.length, 0));
    // The real report opens in headless Chromium, without console errors, with data in every plot.
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`file://${join(out, 'report.html')}`);
      await page.waitForFunction(() => (globalThis as any).__backhaulPlots?.length > 0);
      const plots = await page.evaluate(() => (globalThis as any).__backhaulPlots.map((p: any) => ({ kind: p.kind, n: p.plot.data[1].filter((v: unknown) => v !== null).length })));
      expect(errors).toEqual([]);
      expect(plots.filter((p: any) => p.kind === 'cdf')).toHaveLength(4);
      expect(plots.filter((p: any) => p.kind === 'histogram')).toHaveLength(4);
      expect(plots.filter((p: any) => p.kind === 'timeline')).toHaveLength(1);
      for (const p of plots) expect(p.n).toBeGreaterThan(0);
    } finally {
      await browser.close();
    }
    expect(await readFile(join(out, 'summary.txt'), 'utf8')).toMatch(/PASSED/);
  });
});
