/**
 * `backhaul fault` in process (cli/main.ts with a captured Io):
 *   - flags: every bad flag exits 2 naming it, before anything is touched (no guard, no command);
 *   - the --agent path against an in-process agent (the daemon fixture, a recording command runner
 *     in place of `ip`/`nft`): create, wait for the end, print start/restore; SIGINT-equivalent
 *     abort stops it on the agent at once; `fault list` and `fault stop`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runCli as run } from '../../support/cli-in-process.js';
import { blackholeScript } from '../../../agent/faults/fault-plan.js';
import { TOKENS, makeFixture, type Fixture } from '../../agent/daemon-fixture.js';


let fx: Fixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

describe('backhaul fault: flags', () => {
  // A state dir that cannot exist: a run that got past validation would fail loudly on it.
  const env = { BACKHAUL_STATE_DIR: '/proc/nonexistent/bh' };
  it.each([
    [['fault', 'link-down', '--dev', 'eth0; rm -rf /', '--for', '5s'], /--dev: must be 1\.\.15 characters/],
    [['fault', 'link-down', '--dev', 'a-very-long-interface-name', '--for', '5s'], /--dev/],
    [['fault', 'link-down', '--dev', 'eth0', '--for', 'soon'], /--for: not a duration \(got "soon"\)/],
    [['fault', 'link-down', '--dev', 'eth0', '--for', '5'], /--for needs a unit \(got "5"\)/],
    [['fault', 'link-down', '--dev', 'eth0', '--for', '0s'], /--for: must be at least 1 ms/],
    [['fault', 'link-down', '--dev', 'eth0', '--netns', '../etc', '--for', '1s'], /--netns/],
    [['fault', 'flap', '--dev', 'eth0', '--down', '1s', '--up', '1s', '--count', 'three'], /--count must be a whole number of periods \(got "three"\)/],
    [['fault', 'flap', '--dev', 'eth0', '--down', '1s', '--up', '1s', '--count', '0'], /--count/],
    [['fault', 'blackhole', '10.0.0.0/33', '--for', '3s'], /PEER_CIDR: prefix length must be 0\.\.32/],
    [['fault', 'blackhole', 'example.com', '--for', '3s'], /PEER_CIDR: must be an IPv4 or IPv6 address or CIDR \(got "example.com"\)/],
    [['fault', 'link-down', '--for', '3s'], /required option '--dev <ifname>'/],
    [['fault', 'blackhole', '--for', '3s'], /missing required argument/],
    [['fault', 'list'], /fault list needs --agent URL/],
    [['fault', 'stop', 'f-1'], /fault stop needs --agent URL/],
  ])('%j exits 2: %s', async (args, message) => {
    const r = await run(args as string[], env);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  });

  it('--json errors are { error: { code, message } } on stderr', async () => {
    const r = await run(['fault', 'blackhole', '10.0.0.300', '--for', '3s', '--json'], env);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.err)).toMatchObject({ error: { code: 'ERR_BAD_REQUEST', message: expect.stringMatching(/^PEER_CIDR: /) } });
  });

  it('--help teaches: what each kind does to traffic, both directions, the management path, examples', async () => {
    const r = await run(['fault', 'blackhole', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/drops every packet to AND\s+from PEER_CIDR/);
    expect(r.out).toMatch(/Management path/);
    expect(r.out).toMatch(/sudo backhaul fault blackhole 10\.9\.0\.0\/24 --for 3s/);
    const top = await run(['fault', '--help']);
    expect(top.out).toMatch(/link-down.*\n.*flap.*\n.*blackhole/s);
    expect(top.out).toMatch(/backhaul fault flap --dev eth1 --down 1s --up 2s --count 3/);
  });
});

function recorder(): { ran: string[][]; run: (argv: string[]) => Promise<void> } {
  const ran: string[][] = [];
  return { ran, run: async (argv) => void ran.push(argv) };
}

async function agent(rec: ReturnType<typeof recorder>): Promise<string> {
  fx = await makeFixture({ faults: { run: rec.run, managementDevs: async () => ['mgmt0'] } });
  return fx.daemon.app.listen({ host: '127.0.0.1', port: 0 });
}

const token = { BACKHAUL_TOKEN: TOKENS.alice };

describe('backhaul fault --agent (in-process agent, recorded commands)', () => {
  it('link-down: created on the agent, followed to its end, start and restore printed; --json result', async () => {
    const rec = recorder();
    const url = await agent(rec);
    const r = await run(['fault', 'link-down', '--dev', 'veth1', '--netns', 'site-a', '--for', '300ms', '--agent', url], token);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(rec.ran).toEqual([['ip', '-n', 'site-a', 'link', 'set', 'dev', 'veth1', 'down'], ['ip', '-n', 'site-a', 'link', 'set', 'dev', 'veth1', 'up']]);
    expect(r.out).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}started link-down of veth1 \(netns site-a\) on http:\/\/127\.0\.0\.1:\d+ as f-/m);
    expect(r.out).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}restored$/m);
    const j = await run(['fault', 'blackhole', '10.9.0.0/24', '--for', '200ms', '--agent', url, '--json'], token);
    expect(j.code).toBe(0);
    const res = JSON.parse(j.out) as { kind: string; startMs: number; endMs: number; restored: boolean; interrupted: boolean };
    expect(res).toMatchObject({ kind: 'blackhole', restored: true, interrupted: false });
    // Wall ms around a 200 ms timer: Node's timers run on the monotonic clock with 1 ms
    // granularity, so two Date.now() readings may show up to a few ms less.
    expect(res.endMs - res.startMs).toBeGreaterThanOrEqual(195);
    expect(rec.ran.slice(2)[0]).toEqual(['nft', blackholeScript('10.9.0.0/24')]);
    expect(rec.ran.slice(2)[1]?.slice(0, 5)).toEqual(['nft', 'add', 'table', 'inet', 'backhaul_fault_10_9_0_0_len24']);
  });

  it('the agent refuses the management interface (exit 6, its message); bad token exits 6', async () => {
    const rec = recorder();
    const url = await agent(rec);
    const r = await run(['fault', 'link-down', '--dev', 'mgmt0', '--for', '1s', '--agent', url], token);
    expect(r.code).toBe(6);
    expect(r.err).toMatch(/management path/);
    const bad = await run(['fault', 'link-down', '--dev', 'eth1', '--for', '1s', '--agent', url], { BACKHAUL_TOKEN: 'wrong-token-0123456789abcdef' });
    expect(bad.code).toBe(6);
    expect(rec.ran).toEqual([]);
  });

  it('an interrupt (the SIGINT/SIGTERM signal) stops the fault on the agent at once; list and stop', async () => {
    const rec = recorder();
    const url = await agent(rec);
    const started = Date.now();
    const p = run(['fault', 'flap', '--dev', 'eth1', '--down', '30s', '--up', '1s', '--count', '2', '--agent', url, '--json'], token);
    // Wait until the fault is on, then send SIGINT to ourselves: main() turns it into the abort.
    while (rec.ran.length === 0) await new Promise((r) => setTimeout(r, 20));
    const listed = await run(['fault', 'list', '--agent', url], token);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^ID\s+KIND\s+TARGET\s+STATE/);
    expect(listed.out).toMatch(/f-\S+\s+flap\s+eth1\s+active/);
    process.emit('SIGINT', 'SIGINT');
    const r = await p;
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    const res = JSON.parse(r.out) as { id: string; restored: boolean; interrupted: boolean; periodsDone: number };
    expect(res).toMatchObject({ restored: true, interrupted: true, periodsDone: 1 });
    expect(rec.ran.map((a) => a.at(-1))).toEqual(['down', 'up']);
    const stopped = await run(['fault', 'stop', res.id, '--agent', url, '--json'], token);
    expect(stopped.code).toBe(0);
    expect(JSON.parse(stopped.out)).toMatchObject({ id: res.id, restored: true });
    const missing = await run(['fault', 'stop', 'f-nope', '--agent', url], token);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no fault f-nope/);
    const none = await run(['fault', 'list', '--agent', url, '--json'], token);
    expect((JSON.parse(none.out) as { faults: { state: string }[] }).faults.map((f) => f.state)).toEqual(['ended']);
  });
});
