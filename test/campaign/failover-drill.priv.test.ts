/**
 * The two-path failover drill, for real: two namespaces joined by a primary and a backup veth
 * pair, a route over each (metrics 10 and 20), `ignore_routes_with_linkdown=1`. The campaign
 * (built CLI, `netns:` sites, controller-side faults) probes store -> dc every 10 ms:
 *   - link-down of the primary's far end: the store's kernel loses carrier and falls back to the
 *     backup route at once: the measured failover is a few ms, below the 3-probe detection limit
 *     or a very short outage, never the fault's 3 s;
 *   - a blackhole of the dc on the primary (soft failure, the link stays up): the kernel does not
 *     fall back, so the outage lasts as long as the fault, and is matched to it.
 *
 * Evidence beyond the campaign's own verdict, and bounds from the mechanism (no speed limits):
 *   - `ip monitor link` in the store sees the primary lose carrier after the fault's recorded start,
 *     and get it back;
 *   - nft counters (postrouting in the store, prerouting in the dc) count the probes that used the
 *     backup: only during the fault, so between the slots of the fault window that the sender did
 *     not skip ((W - D/2)/D - 1 - missed, W >= the fault's 3 s) and the slots of its recorded span
 *     ((span + D/2)/D + 1); the dc received them; fewer probes were lost in the step than half of them
 *     (without the fallback every fault-window probe would have been lost);
 *   - the blackhole's outage lies between the fault's duration and its recorded span (start is taken
 *     before the `nft` process, end after the restoring one, so the span includes both processes'
 *     run time), each widened by the probe's bound (one interval) and the sender's measured
 *     lateness; its onset is at most the span's overhead (span - duration, which includes the
 *     starting process's run time) plus that bound and the clock-offset uncertainty.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, vethBetween } from '../support/netns.js';

const COUNTER_TABLE = 'bh_drill_counters';

/** A counter of the probes (UDP to the reflector's port 862) crossing `dev` in `hook`. */
async function countProbes(ns: Netns, hook: 'postrouting' | 'prerouting', dev: string, match: string): Promise<void> {
  const dir = hook === 'postrouting' ? 'oifname' : 'iifname';
  const script = `table inet ${COUNTER_TABLE} {\n chain c {\n  type filter hook ${hook} priority 0; policy accept;\n`
    + `  ${dir} "${dev}" ${match} udp dport 862 counter comment "probes"\n }\n}\n`;
  await ns.exec(['nft', '-f', '-'], { input: script });
}

async function probesCounted(ns: Netns): Promise<number> {
  const j = JSON.parse((await ns.exec(['nft', '-j', 'list', 'table', 'inet', COUNTER_TABLE])).stdout) as { nftables: Array<Record<string, any>> };
  const rule = j.nftables.map((x) => x.rule).find((r) => r?.comment === 'probes');
  const counter = (rule?.expr as Array<Record<string, any>> | undefined)?.find((e) => e.counter)?.counter;
  if (!counter) throw new Error(`no probe counter in ${JSON.stringify(j)}`);
  return Number(counter.packets);
}

/** `ip monitor link` in `ns`: every line with its arrival time (wall ms). */
function monitorLinks(ns: Netns): { lines: Array<{ atMs: number; line: string }>; stop: () => void } {
  const lines: Array<{ atMs: number; line: string }> = [];
  const p = ns.spawn(['ip', 'monitor', 'link']);
  let buf = '';
  p.stdout?.on('data', (c: Buffer) => {
    buf += String(c);
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const line of parts) lines.push({ atMs: Date.now(), line });
  });
  return { lines, stop: () => p.kill('SIGKILL') };
}

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
probeDefaults: { interval: 10ms, timeout: 2s, outageMinLost: 3 }
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
      - loss < 20%
  - name: soft-failure
    duration: 8s
    faults:
      - { kind: blackhole, agent: store, netns: ${store.name}, peer: 10.99.0.2/32, at: 2s, duration: 3s }
    probes:
      - { name: store-dc, from: store, to: "10.99.0.2:862" }
    assertions:
      - outage.count == 1
      - failover.unmatched == 0
      - failover.outage > 2s
`,
    );
    // The backup carries probes only while the primary is down (the store's primary route comes back
    // with the carrier); the dc's counter shows they arrived.
    await countProbes(store, 'postrouting', 'st-bak', 'ip daddr 10.99.0.2');
    await countProbes(dc, 'prerouting', 'dc-bak', 'ip saddr 10.99.0.1');
    const links = monitorLinks(store);
    let r;
    try {
      r = await execa(process.execPath, [CLI, 'campaign', 'run', file, '--out', join(dir, 'out'), '--json', '--baseline', '0s'], { reject: false, timeout: 100_000 });
    } finally {
      links.stop();
    }
    const res = JSON.parse(String(r.stdout));
    const [hard, soft] = res.steps;
    const uMs = Number(res.agents.find((a: any) => a.name === 'store')?.clockUncertaintyMs ?? 0);
    const faultMs = 3000;

    // --- hard failure: the primary was really down and the probes took the backup.
    const hardFault = hard.faults[0];
    expect(hardFault.error).toBeUndefined();
    const hardSpanMs = hardFault.endMs - hardFault.startMs;
    expect(hardSpanMs).toBeGreaterThanOrEqual(faultMs - 1); // the down time is slept between the two `ip` runs
    const down = links.lines.find((l) => l.line.includes('st-pri') && l.line.includes('NO-CARRIER'));
    expect(down, links.lines.map((l) => l.line).join('\n')).toBeDefined();
    expect(down!.atMs).toBeGreaterThanOrEqual(hardFault.startMs);
    const up = links.lines.find((l) => l.atMs >= down!.atMs && l !== down && l.line.includes('st-pri') && l.line.includes('LOWER_UP'));
    expect(up, links.lines.map((l) => l.line).join('\n')).toBeDefined();

    const hardProbe = hard.probes[0];
    const hs = hardProbe.summary;
    const d = hardProbe.intervalMs;
    const viaBackup = await probesCounted(store);
    const arrivedViaBackup = await probesCounted(dc);
    const lowerTx = Math.floor((faultMs - 1 - d / 2) / d) - 1 - hs.missed;
    const upperTx = Math.ceil((hardSpanMs + d / 2) / d) + 1;
    const m = hardProbe.failover.matches[0];
    const sm = soft.probes[0].failover.matches[0];
    const ss = soft.probes[0].summary;
    const softFault = soft.faults[0];
    const softSpanMs = softFault.endMs - softFault.startMs;
    const softSlackMs = Math.max(ss.sendLatenessMs?.max ?? 0, ss.missedMaxLatenessMs ?? 0);
    console.log(`failover drill: link-down (span ${hardSpanMs.toFixed(0)} ms) -> ${m.matched ? `outage ${m.outageMs.toFixed(1)} +/- ${m.outageBoundMs} ms, recover ${m.recoverMs.toFixed(1)} ms` : `no outage of >= ${m.undetectableBelowMs} ms`} (lost ${hs.lost}/${hs.sent}, missed ${hs.missed}), ${viaBackup} probes via the backup (bounds ${lowerTx}..${upperTx}), ${arrivedViaBackup} arrived; blackhole (span ${softSpanMs.toFixed(0)} ms) -> outage ${sm.outageMs?.toFixed(1)} +/- ${sm.outageBoundMs} ms, onset ${sm.onsetMs?.toFixed(1)} ms, sender slack ${softSlackMs} ms, clock u ${uMs} ms`);
    expect(viaBackup).toBeGreaterThanOrEqual(Math.max(1, lowerTx));
    expect(viaBackup).toBeLessThanOrEqual(upperTx);
    expect(arrivedViaBackup).toBeLessThanOrEqual(viaBackup);
    expect(arrivedViaBackup).toBeGreaterThanOrEqual(viaBackup - hs.lost);
    // The probe was answered through the fault: without the fallback every fault-window probe is lost.
    expect(hs.lost).toBeLessThan(viaBackup / 2);
    // Any interruption the switch caused is a small part of the fault: detected (matched, with its
    // bound) or below the detection limit (M probes).
    const hardOutageMs = m.matched ? m.outageMs + m.outageBoundMs : m.undetectableBelowMs;
    expect(hardOutageMs).toBeLessThan(faultMs / 2);

    // --- soft failure: a real outage between the fault's duration and its recorded span.
    expect(softFault.error).toBeUndefined();
    expect(softSpanMs).toBeGreaterThanOrEqual(faultMs - 1);
    expect(sm.matched).toBe(true);
    expect(sm.outageMs).toBeGreaterThanOrEqual(faultMs - 1 - sm.outageBoundMs - softSlackMs);
    expect(sm.outageMs).toBeLessThanOrEqual(softSpanMs + sm.outageBoundMs + softSlackMs);
    expect(sm.onsetMs).toBeGreaterThanOrEqual(-(d + uMs + softSlackMs));
    expect(sm.onsetMs).toBeLessThanOrEqual(softSpanMs - faultMs + d + uMs + softSlackMs);
    expect(r.exitCode, JSON.stringify(res.steps.flatMap((s: any) => s.assertions.filter((a: any) => !a.passed)))).toBe(0);
    // Faults are restored: the primary is up and the blackhole gone.
    expect((await dc.exec(['ip', '-j', 'link', 'show', 'dc-pri'])).stdout).toMatch(/"operstate":"UP"/);
    expect((await store.exec(['nft', 'list', 'tables'])).stdout).not.toContain('backhaul_fault_');
  });
});
