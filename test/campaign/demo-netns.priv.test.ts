/**
 * `backhaul demo --netns` (built CLI, root): prerequisites first, with exit 3 and what to do, and
 * nothing left behind (no namespace, no interface, no state folder); the namespaces it builds
 * (veth, addresses, a reflector in the dc namespace answering probes from the store one) are
 * removed by destroy(). The full run with real netem is the kernel tier's `demo` case
 * (`KERNEL_CASES='demo' npm run test:kernel`); on a host that has sch_netem it runs here too.
 * Needs dist/ (npm run build).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/backhaul.js');

/** What the demo could leave behind (other sessions create namespaces of their own meanwhile). */
async function hostState(): Promise<{ netns: string[]; links: string[]; stateDirs: string[] }> {
  const netns = (await execa('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith('bh-demo-'));
  const links = (await execa('ip', ['-o', 'link', 'show'])).stdout.split('\n').map((l) => l.replace(/^\d+: /, '').split(/[:@]/)[0] ?? '').filter((n) => /^bhd[0-9a-f]{6}[sd]$/.test(n));
  const stateDirs = (await readdir(tmpdir())).filter((f) => f.startsWith('backhaul-demo-netem-'));
  return { netns, links, stateDirs };
}

async function hasNetem(): Promise<boolean> {
  const r = await execa('unshare', ['-n', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { reject: false });
  return r.exitCode === 0;
}

describe('backhaul demo --netns', () => {
  let dir: string;
  let netem = false;
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    dir = await mkdtemp(join(tmpdir(), 'bh-demo-netns-'));
    netem = await hasNetem();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('without sch_netem: exit 3 with the capability probe message and what to do; nothing left behind', async (ctx) => {
    if (netem) ctx.skip();
    const before = await hostState();
    const r = await execa(process.execPath, [CLI, 'demo', '--netns', '--out', join(dir, 'r1')], { reject: false, timeout: 60_000 });
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/sch_netem is not available in this kernel/);
    expect(r.stderr).toMatch(/modprobe sch_netem/);
    expect(r.stderr).toMatch(/backhaul demo` without --netns/);
    expect(r.stderr).not.toMatch(/backhaul relay --listen/);
    expect(await hostState()).toEqual(before);
    expect(existsSync(join(dir, 'r1'))).toBe(false);
  });

  it('as a non-root user: exit 3, "needs root", nothing created', async () => {
    const before = await hostState();
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'demo', '--netns', '--out', join(dir, 'r2')], { reject: false, timeout: 60_000, env: { HOME: dir } });
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/needs root \(network namespaces\); run `backhaul demo` without --netns for the no-root demo/);
    expect(await hostState()).toEqual(before);
  });

  it('the namespaces: the store reaches the reflector in the dc across the veth; destroy removes both (idempotent)', { timeout: 90_000 }, async () => {
    const before = await hostState();
    const { createDemoTopology } = (await import(join(ROOT, 'dist/campaign/demo-netns.js'))) as typeof import('../../campaign/demo-netns.js');
    const { NetnsSite } = (await import(join(ROOT, 'dist/campaign/sites/netns-site.js'))) as typeof import('../../campaign/sites/netns-site.js');
    const topo = await createDemoTopology();
    try {
      expect(topo.store).toMatch(/^bh-demo-[0-9a-f]{6}-store$/);
      expect(topo.reflector).toBe(`${topo.dcIp}:862`);
      const netnsNow = (await execa('ip', ['netns', 'list'])).stdout;
      expect(netnsNow).toContain(topo.store);
      expect(netnsNow).toContain(topo.dc);
      // The addresses exist only inside the namespaces.
      expect((await execa('ip', ['-o', 'addr', 'show'])).stdout).not.toContain(topo.storeIp);
      const site = new NetnsSite('site', topo.store);
      try {
        const run = await site.startProbe({ name: 'p', intervalMs: 20, timeoutMs: 1000, outageMinLost: 3 }, topo.reflector, 2000);
        const { summary } = await new Promise<Awaited<ReturnType<typeof run.stop>>>((ok, fail) => setTimeout(() => run.stop().then(ok, fail), 2500));
        expect(summary.received).toBeGreaterThan(0);
        expect(summary.received).toBe(summary.sent - summary.lost);
      } finally {
        await site.close();
      }
    } finally {
      await topo.destroy();
      await topo.destroy();
    }
    expect(await hostState()).toEqual(before);
  });

  it('interrupted (Ctrl-C) in the second step: the runner stops, reports, and the namespaces, veth and reflector are gone', { timeout: 120_000 }, async () => {
    // A backend that claims netem and records what it is asked (this host has no sch_netem): the
    // namespaces, the reflector, the probe children and the blackhole are real.
    const calls: string[] = [];
    const caps = { netAdmin: true, kernel: 'k', iproute2: 'i', qdisc: { htb: 'yes', netem: 'yes', tbf: 'yes', pfifo: 'yes' }, ifb: 'yes', u32: 'yes', mirred: 'yes', netemSeed: false };
    const live = new Set<string>();
    const backend = {
      kind: 'netem',
      capabilities: async () => caps,
      apply: async (t: { netns: string; dev: string }, p: { name: string }) => (calls.push(`apply ${t.netns}/${t.dev} ${p.name}`), live.add(t.dev), {}),
      revert: async (t: { dev: string }) => (calls.push(`revert ${t.dev}`), live.delete(t.dev), undefined),
      status: async (t: { dev: string }) => (live.has(t.dev) ? {} : null),
      applyPhase: async (_t: unknown, _p: unknown, i: number | null) => (calls.push(`phase ${i}`), {}),
    };
    const before = await hostState();
    const { runDemo } = (await import(join(ROOT, 'dist/campaign/demo.js'))) as typeof import('../../campaign/demo.js');
    const ac = new AbortController();
    let topo: { store: string; dc: string; storeIf: string } | null = null;
    const outcome = await runDemo({
      outDir: join(dir, 'r4'),
      netns: true,
      netemBackend: backend as never,
      stepMs: 6000,
      signal: ac.signal,
      onTopology: (t) => (topo = t),
      onProgress: (e) => {
        if (e.type === 'tick' && e.step === 'lte-cell-edge') ac.abort(new Error('SIGINT'));
      },
    }).catch((e: Error) => e);
    expect(topo).not.toBeNull();
    const t = topo as unknown as { store: string; dc: string; storeIf: string };
    if (!(outcome instanceof Error)) {
      expect(outcome.exitCode).toBe(2);
      expect(outcome.result.steps.find((s) => s.name === 'fibre')?.probes[0]?.summary?.received ?? 0).toBeGreaterThan(0);
    }
    expect(calls[0]).toBe(`apply ${t.store}/${t.storeIf} fibre-business`);
    expect(calls).toContain(`apply ${t.store}/${t.storeIf} lte-cell-edge`);
    expect(calls.filter((c) => c.startsWith('apply')).length).toBe(calls.filter((c) => c.startsWith('revert')).length);
    expect(live.size).toBe(0);
    expect(await hostState()).toEqual(before);
    expect((await execa('ip', ['netns', 'list'])).stdout).not.toContain(t.store);
    expect((await execa('pgrep', ['-f', 'netns-reflector-child'], { reject: false })).stdout).toBe('');
  });

  it('with sch_netem: the whole demo across namespaces exits 0 and removes them', { timeout: 180_000 }, async (ctx) => {
    if (!netem) ctx.skip();
    const before = await hostState();
    const r = await execa(process.execPath, [CLI, 'demo', '--netns', '--json', '--quiet', '--out', join(dir, 'r3')], { reject: false, timeout: 170_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { demoChecks: { passed: boolean }[] };
    expect(res.demoChecks.every((c) => c.passed)).toBe(true);
    expect(await hostState()).toEqual(before);
  });
});
