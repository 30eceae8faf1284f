/**
 * The two-path failover drill, for real: two namespaces joined by a primary and a backup veth
 * pair, a route over each (metrics 10 and 20), `ignore_routes_with_linkdown=1`. The campaign
 * (built CLI, `netns:` sites, controller-side faults) probes store -> dc every 10 ms:
 *   - link-down of the primary's far end: the store's kernel loses carrier and falls back to the
 *     backup route at once: the measured failover is a few ms, below the 3-probe detection limit
 *     or a very short outage, never the fault's 3 s;
 *   - a blackhole of the dc on the primary (soft failure, the link stays up): the kernel does not
 *     fall back, so the outage lasts as long as the fault, and is matched to it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, vethBetween } from '../support/netns.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/backhaul.js');

describe('failover drill across two real paths', () => {
  let store: Netns;
  let dc: Netns;
  let reflector: ResultPromise | undefined;
  let dir: string;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    dir = await mkdtemp(join(tmpdir(), 'bh-drill-'));
    store = await Netns.create('bhs');
    dc = await Netns.create('bhd');
    await vethBetween(store, 'st-pri', dc, 'dc-pri');
    await vethBetween(store, 'st-bak', dc, 'dc-bak');
    for (const [ns, self, peer, pri, bak, priPeer, bakPeer] of [
      [store, '10.99.0.1', '10.99.0.2', '10.98.1.1/30', '10.98.2.1/30', '10.98.1.2', '10.98.2.2'],
      [dc, '10.99.0.2', '10.99.0.1', '10.98.1.2/30', '10.98.2.2/30', '10.98.1.1', '10.98.2.1'],
    ] as const) {
      const [p, b] = ns === store ? ['st-pri', 'st-bak'] : ['dc-pri', 'dc-bak'];
      await ns.exec(['sysctl', '-qw', 'net.ipv4.conf.all.ignore_routes_with_linkdown=1']);
      await ns.exec(['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0']);
      await ns.exec(['ip', 'addr', 'add', `${self}/32`, 'dev', 'lo']);
      await ns.exec(['ip', 'addr', 'add', pri, 'dev', p]);
      await ns.exec(['ip', 'addr', 'add', bak, 'dev', b]);
      await ns.exec(['ip', 'link', 'set', p, 'up']);
      await ns.exec(['ip', 'link', 'set', b, 'up']);
      await ns.exec(['ip', 'route', 'add', `${peer}/32`, 'via', priPeer, 'dev', p, 'metric', '10', 'src', self]);
      await ns.exec(['ip', 'route', 'add', `${peer}/32`, 'via', bakPeer, 'dev', b, 'metric', '20', 'src', self]);
    }
    const code = `const m = await import(${JSON.stringify(join(ROOT, 'dist/probe/reflector.js'))}); await m.startReflector({ host: '10.99.0.2', port: 862, ratePps: 0 }); process.stdout.write('ready\\n'); setInterval(() => {}, 1e9);`;
    reflector = dc.spawn([process.execPath, '--input-type=module', '-e', code]);
    await new Promise<void>((ok, fail) => {
      reflector!.stdout?.on('data', (c: Buffer) => String(c).includes('ready') && ok());
      setTimeout(() => fail(new Error('reflector did not start')), 15_000);
    });
  });

  afterAll(async () => {
    reflector?.kill('SIGKILL');
    await store?.destroy();
    await dc?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('hard failure falls back at once; soft failure is an outage as long as the fault', { timeout: 120_000 }, async () => {
    const file = join(dir, 'drill.yaml');
    await writeFile(
      file,
      `name: drill
agents:
  - { name: store, url: "netns:${store.name}" }
  - { name: dc, url: "netns:${dc.name}" }
startDelay: 300ms
probeDefaults: { interval: 10ms, timeout: 500ms, outageMinLost: 3 }
steps:
  - name: link-down
    duration: 8s
    faults:
      - { kind: link-down, agent: dc, netns: ${dc.name}, dev: dc-pri, at: 2s, duration: 3s }
    probes:
      - { name: store-dc, from: store, to: "10.99.0.2:862" }
    assertions:
      - failover.recover < 500ms
      - outage.max < 500ms
  - name: soft-failure
    duration: 8s
    faults:
      - { kind: blackhole, agent: store, netns: ${store.name}, peer: 10.99.0.2/32, at: 2s, duration: 3s }
    probes:
      - { name: store-dc, from: store, to: "10.99.0.2:862" }
    assertions:
      - outage.count == 1
      - failover.unmatched == 0
      - failover.outage > 2.5s
`,
    );
    const r = await execa(process.execPath, [CLI, 'campaign', 'run', file, '--out', join(dir, 'out'), '--json', '--baseline', '0s'], { reject: false, timeout: 100_000 });
    const res = JSON.parse(String(r.stdout));
    const [hard, soft] = res.steps;
    // The primary was really down: the probe kept flowing over the backup.
    const hardProbe = hard.probes[0];
    expect(hard.faults[0].error).toBeUndefined();
    expect(hardProbe.summary.received).toBeGreaterThan(600);
    const m = hardProbe.failover.matches[0];
    const sm0 = soft.probes[0].failover.matches[0];
    console.log(`failover drill: link-down -> ${m.matched ? `outage ${m.outageMs.toFixed(1)} +/- ${m.outageBoundMs} ms, recover ${m.recoverMs.toFixed(1)} ms` : `no outage of >= ${m.undetectableBelowMs} ms`} (lost ${hardProbe.summary.lost}/${hardProbe.summary.sent}); blackhole -> outage ${sm0.outageMs?.toFixed(1)} +/- ${sm0.outageBoundMs} ms, onset ${sm0.onsetMs?.toFixed(1)} ms`);
    // kernel failover: below the detection limit (< 3 probes), or a short outage matched to the fault
    if (m.matched) expect(m.outageMs).toBeLessThan(500);
    // the blackhole is a real outage of about the fault's length (3 s), matched to it
    const sm = soft.probes[0].failover.matches[0];
    expect(sm.matched).toBe(true);
    expect(Math.abs(sm.outageMs - 3000)).toBeLessThan(sm.outageBoundMs + 200);
    expect(sm.onsetMs).toBeLessThan(100);
    expect(r.exitCode, JSON.stringify(res.steps.flatMap((s: any) => s.assertions.filter((a: any) => !a.passed)))).toBe(0);
    // Faults are restored: the primary is up and the blackhole gone.
    expect((await dc.exec(['ip', '-j', 'link', 'show', 'dc-pri'])).stdout).toMatch(/"operstate":"UP"/);
    expect((await store.exec(['nft', 'list', 'tables'])).stdout).not.toContain('backhaul_fault_');
  });
});
