/**
 * The HTML report opens in headless Chromium (Debian's /usr/bin/chromium) without console errors,
 * with no network, and its plots hold the data points (read back from the uPlot objects).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../../campaign/reports/html.js';
import { fixtureResult } from '../fixture.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../support/chromium.js';


describe('HTML report in headless Chromium', () => {
  let browser: Browser;
  let dir: string;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    dir = await mkdtemp(join(tmpdir(), 'bh-html-'));
  });
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('renders every plot with its data, no console errors, no requests', async () => {
    const r = fixtureResult({ failing: true, hookJunit: true });
    const file = join(dir, 'report.html');
    await writeFile(file, renderHtml(r));
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (req) => {
      if (!req.url().startsWith('file://')) requests.push(req.url());
    });
    await page.goto(`file://${file}`);
    await page.waitForFunction(() => Array.isArray((globalThis as any).__backhaulPlots) && (globalThis as any).__backhaulPlots.length > 0);
    const plots = await page.evaluate(() =>
      (globalThis as any).__backhaulPlots.map((p: any) => ({
        id: p.id,
        kind: p.kind,
        series: p.plot.data.length,
        points: p.plot.data.slice(1).map((s: (number | null)[]) => s.filter((v) => v !== null && Number.isFinite(v)).length),
        xs: p.plot.data[0].length,
        canvas: p.plot.root.querySelector('canvas') !== null,
      })),
    );
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    // 2 steps x 1 probe x (CDF + histogram) + the timeline.
    expect(plots.map((p: any) => p.kind).sort()).toEqual(['cdf', 'cdf', 'histogram', 'histogram', 'timeline']);
    const cdf = plots.filter((p: any) => p.kind === 'cdf');
    for (const [i, p] of cdf.entries()) {
      const expected = r.steps[i]!.probes[0]!.latency!.cdf.xMs.length;
      expect(p.xs).toBe(expected);
      expect(p.points[0]).toBe(expected);
      expect(p.canvas).toBe(true);
    }
    const hist = plots.filter((p: any) => p.kind === 'histogram');
    for (const p of hist) expect(p.points[0]).toBe(40);
    const timeline = plots.find((p: any) => p.kind === 'timeline');
    // loss, p50 and p99 series for each of the 2 probes, 5 ticks each on a shared axis of 10 points.
    expect(timeline.series).toBe(1 + 3 * 2);
    expect(timeline.xs).toBe(10);
    expect(timeline.points).toEqual([5, 5, 5, 5, 5, 5]);
    const tl = await page.evaluate(() => {
      const p = (globalThis as any).__backhaulPlots.find((x: any) => x.kind === 'timeline').plot;
      return { labels: p.series.map((s: any) => s.label), p99: p.data[3].filter((v: number | null) => v !== null) };
    });
    expect(tl.labels.slice(1, 4)).toEqual(['fibre/to-dc loss %', 'fibre/to-dc p50 ms', 'fibre/to-dc p99 ms']);
    expect(tl.p99).toEqual(r.steps[0]!.probes[0]!.ticks.map((t) => t.p99Ms));
    // The bands are drawn: one per span, where the spans are, and the canvas shows their colours
    // (sampled down a column through each; the series lines are thin, so most samples hit the band).
    const bands = await page.evaluate(() => {
      const p = (globalThis as any).__backhaulPlots.find((x: any) => x.kind === 'timeline').plot;
      const ctx = p.ctx as { getImageData(x: number, y: number, w: number, h: number): { data: Iterable<number> } };
      return ((globalThis as any).__backhaulBands as { kind: string; label: string; x: number; y: number; w: number; h: number }[]).map((b) => {
        const samples: number[][] = [];
        for (let i = 0; i < 20; i++) samples.push([...ctx.getImageData(Math.round(b.x + b.w / 2), Math.round(b.y + ((i + 0.5) * b.h) / 20), 1, 1).data]);
        return { ...b, left: p.bbox.left, right: p.bbox.left + p.bbox.width, samples };
      });
    });
    expect(bands.map((b: any) => b.kind).sort()).toEqual(['fault', 'fault', 'outage', 'outage', 'phase', 'phase', 'step', 'step']);
    for (const b of bands) {
      expect(b.w, b.label).toBeGreaterThan(0);
      // Inside the plot area (a step may begin before the first tick, left of the axis).
      expect(b.x, b.label).toBeLessThan(b.right);
      expect(b.x + b.w, b.label).toBeGreaterThan(b.left);
      if (b.kind !== 'step') expect(b.x, b.label).toBeGreaterThanOrEqual(b.left - 1);
    }
    const tinted = (b: any, test: (px: number[]) => boolean): number => b.samples.filter(test).length;
    for (const b of bands.filter((x: any) => x.kind === 'phase')) expect(tinted(b, ([r, , bl]) => bl! > r! + 10), b.label).toBeGreaterThanOrEqual(12);
    for (const b of bands.filter((x: any) => x.kind === 'fault' || x.kind === 'outage')) expect(tinted(b, ([r, , bl]) => r! > bl! + 20), b.label).toBeGreaterThanOrEqual(12);
    // The hook and the test cases of its JUnit file are listed.
    expect(await page.locator('li.hook', { hasText: 'pos-smoke' }).count()).toBe(1);
    const cases = await page.locator('table.hook-cases tbody tr').allTextContents();
    expect(cases).toEqual(['pos.Checkoutsale completesPASS', 'pos.Refundrefund <over> limitFAILexpected 402 & got 200']);
    // The histogram counts plotted equal the samples recorded.
    const sum = await page.evaluate(() => (globalThis as any).__backhaulPlots.find((p: any) => p.kind === 'histogram').plot.data[1].reduce((a: number, b: number) => a + b, 0));
    expect(sum).toBe(240);
    // Escaping: the step name with markup shows as text.
    expect(await page.locator('h2', { hasText: 'lte <&> "edge"' }).count()).toBe(1);
    await page.close();
  });
});
