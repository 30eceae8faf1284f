/**
 * The runner against fake sites (unit tier): ordering, verdicts, exit codes, and that it always
 * reverts: a site lost mid-step stops the campaign with exit 2 and every other site's impairments
 * are reverted; an impairment the site reports not in effect fails its step (exit 1).
 */
import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { BackhaulError } from '../../core/errors.js';
import type { Profile } from '../../core/profile.js';
import { runCampaign } from '../../campaign/runner.js';
import { HOOK_SUBJECTS, parseAssertion } from '../../campaign/assertions.js';
import type { ApplyRequest, InEffectReading, SiteDriver, SitePreflight, SiteProbeRun } from '../../campaign/sites/site.js';
import { parseCampaign, type AgentSpec } from '../../campaign/spec.js';
import { summaryOf } from './fixture.js';

const PROFILES: Record<string, Profile> = {
  slow: { name: 'slow', description: '', egress: { delayMs: 50 }, ingress: { delayMs: 50 } },
  clean: { name: 'clean', description: '', egress: {} },
};

class FakeSite implements SiteDriver {
  log: string[] = [];
  applied = new Set<string>();
  lostAfterMs: number | null = null;
  inEffectValue: boolean | null = true;
  gaps: InEffectReading['gaps'] | undefined;
  rttMs = 100.5;
  applyDelayMs = 0;
  /** One-way delay of the path to the site (the request, then the reply). */
  pathDelayMs = 0;
  requests: ApplyRequest[] = [];
  appliedAtMs: number[] = [];
  probeDurationsMs: number[] = [];
  private n = 0;
  private started = Date.now();
  constructor(readonly name: string) {}
  private check(): void {
    if (this.lostAfterMs !== null && Date.now() - this.started > this.lostAfterMs) throw new BackhaulError('ERR_UNREACHABLE', `cannot reach ${this.name}`);
  }
  async preflight(): Promise<SitePreflight> {
    this.started = Date.now();
    return { reachable: true, authorised: true, backends: ['netem'], faults: [], reflector: null, problems: [] };
  }
  async apply(req: ApplyRequest): Promise<{ id: string; appliedAtMs: number }> {
    this.check();
    this.requests.push(req);
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    if (this.pathDelayMs) await sleep(this.pathDelayMs);
    // Like an agent: wait for the agreed start, then apply.
    if (req.startAtMs !== undefined && req.startAtMs > Date.now()) await sleep(req.startAtMs - Date.now());
    if (this.applyDelayMs) await sleep(this.applyDelayMs);
    const id = `${this.name}-${++this.n}`;
    this.applied.add(id);
    this.log.push(`apply ${req.step} ${req.profile.name}`);
    const appliedAtMs = Date.now();
    this.appliedAtMs.push(appliedAtMs);
    if (this.pathDelayMs) await sleep(this.pathDelayMs);
    return { id, appliedAtMs };
  }
  async renew(): Promise<void> {
    this.check();
  }
  async inEffect(): Promise<InEffectReading> {
    this.check();
    return { now: this.inEffectValue, ...(this.gaps ? { gaps: this.gaps } : {}) };
  }
  async phases() {
    return [];
  }
  async revert(id: string): Promise<void> {
    this.check();
    if (this.applied.delete(id)) this.log.push(`revert ${id}`);
  }
  async clearAll(): Promise<number> {
    return 0;
  }
  async fault(): Promise<{ startMs: number; endMs: number }> {
    throw new Error('no faults');
  }
  async startProbe(_p: unknown, _target: string, durationMs: number): Promise<SiteProbeRun> {
    this.check();
    this.probeDurationsMs.push(durationMs);
    const h = hdr.build();
    for (let i = 0; i < 200; i++) h.recordValue(Math.round((this.rttMs + (i % 10) * 0.1) * 1e6));
    const rep = { summary: summaryOf({ sent: 200, received: 200, lost: 0, rttMs: { count: 200, min: this.rttMs, p50: this.rttMs + 0.4, p90: this.rttMs + 0.8, p99: this.rttMs + 0.9, p999: this.rttMs + 0.9, max: this.rttMs + 0.9, mean: this.rttMs + 0.45, stddev: 0.3 } }), histogramNs: hdr.encodeIntoCompressedBase64(h) };
    return {
      snapshot: async () => {
        this.check();
        return rep;
      },
      stop: async () => {
        this.check();
        return rep;
      },
    };
  }
  async close(): Promise<void> {}
}

function campaign(steps = 2): ReturnType<typeof parseCampaign> {
  return parseCampaign(
    {
      name: 't',
      agents: [
        { name: 'a', url: 'http://127.0.0.1:1' },
        { name: 'b', url: 'http://127.0.0.1:2' },
      ],
      startDelay: '10ms',
      leaseTtl: '900ms',
      steps: Array.from({ length: steps }, (_, i) => ({
        name: `s${i}`,
        duration: '1200ms',
        impairments: [
          { name: 'wan-a', agent: 'a', dev: 'eth0', profile: 'slow' },
          { name: 'wan-b', agent: 'b', dev: 'eth0', profile: 'clean' },
        ],
        probes: [{ name: 'p', from: 'a', to: '10.0.0.1:862', crosses: ['wan-a'] }],
        assertions: ['rtt.p50 < 200ms'],
      })),
    },
    't.yaml',
    { env: {} },
  );
}

const deps = (sites: Record<string, FakeSite>) => ({
  connect: (a: AgentSpec) => sites[a.name] as FakeSite,
  resolveProfile: async (ref: { name: string } | { inline: Record<string, unknown> }) => PROFILES[(ref as { name: string }).name] as Profile,
  baselineMs: 0,
});

describe('runCampaign with fake sites', () => {
  it('all assertions hold: exit 0, every impairment applied then reverted, in order', async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    const r = await runCampaign(campaign(), deps(sites));
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(0);
    expect(sites.a.log).toEqual(['apply s0 slow', 'revert a-1', 'apply s1 slow', 'revert a-2']);
    expect(sites.b.log).toEqual(['apply s0 clean', 'revert b-1', 'apply s1 clean', 'revert b-2']);
    const s0 = r.steps[0]!;
    expect(s0.assertions.map((a) => [a.scope, a.target, a.passed])).toEqual([
      ['probe', 'p', true],
      ['in-effect', 'wan-a', true],
      ['in-effect', 'wan-b', true],
      ['conformance', 'p x wan-a', true],
    ]);
    expect(Object.keys(s0.skewMs).sort()).toEqual(['a', 'b']);
    expect(s0.probes[0]!.latency!.count).toBe(200);
  });

  it("results list a step's impairments in the file's order, whichever apply completed first", async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    sites.a.applyDelayMs = 200; // wan-a (first in the file) completes after wan-b
    const r = await runCampaign(campaign(1), deps(sites));
    expect(r.exitCode).toBe(0);
    const s0 = r.steps[0]!;
    expect(s0.assertions.filter((a) => a.scope === 'in-effect').map((a) => a.target)).toEqual(['wan-a', 'wan-b']);
    expect(s0.impairments.map((i) => i.name)).toEqual(['wan-a', 'wan-b']);
    // The skew per site too: keyed in the campaign's agent order, not as the applies completed.
    expect(Object.keys(s0.skewMs)).toEqual(['a', 'b']);
  });

  it("the final reverts are listed in the file's order, whichever apply completed first", async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    sites.a.applyDelayMs = 200; // wan-a (first in the file) is held after wan-b
    // Both sites lost mid-step (well after both applies): neither the step nor the runner can
    // revert, and the runner reports both.
    sites.a.lostAfterMs = 600;
    sites.b.lostAfterMs = 600;
    const r = await runCampaign(campaign(1), deps(sites));
    expect(r.exitCode).toBe(2);
    expect(r.reverts.map((x) => [x.agent, x.impairment, x.ok])).toEqual([
      ['a', 'wan-a', false],
      ['b', 'wan-b', false],
    ]);
  });

  it('a slow apply does not eat the window: the step measures for its full duration after every apply settled', async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    sites.b.applyDelayMs = 700; // more than half of the 1200 ms step
    const events: string[] = [];
    const r = await runCampaign(campaign(1), { ...deps(sites), onProgress: (e) => void (e.type === 'step-window' && events.push(e.step)) });
    expect(r.exitCode).toBe(0);
    const s0 = r.steps[0]!;
    expect(s0.startMs - s0.plannedStartMs).toBeGreaterThanOrEqual(700);
    // The probe is asked for the window, and the step lasts it (measuring from the agreed start
    // would leave about 1200 - 700 = 500 ms of both).
    expect(sites.a.probeDurationsMs[0]).toBeGreaterThan(900);
    expect(s0.endMs - s0.startMs).toBeGreaterThan(1150);
    expect(events).toEqual(['s0']);
  });

  it('sites apply at the agreed start: the request carries it, a slow path does not delay the switch', async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    sites.b.pathDelayMs = 1000; // sent at the agreed start, the apply would land 1000 ms after it
    const c = campaign(1);
    c.startDelayMs = 2000;
    const r = await runCampaign(c, deps(sites));
    expect(r.exitCode).toBe(0);
    const s0 = r.steps[0]!;
    expect(sites.a.requests[0]!.startAtMs).toBe(s0.plannedStartMs);
    expect(sites.b.requests[0]!.startAtMs).toBe(s0.plannedStartMs);
    // Each site switched at the agreed instant: late only by its own timer (bounded here by half the
    // path delay, which is what the skew would be without an agreed start: 1000 ms on b).
    for (const [n, site] of Object.entries(sites)) {
      expect(site.appliedAtMs[0]! - s0.plannedStartMs, n).toBeGreaterThanOrEqual(-1);
      expect(s0.skewMs[n]!, n).toBeLessThan(500);
      expect(s0.skewMs[n]!, n).toBeGreaterThanOrEqual(-1);
    }
    // The window opens once the replies are in (b's reply takes its path delay).
    expect(s0.startMs - s0.plannedStartMs).toBeGreaterThanOrEqual(990);
  });

  it('an impairment not in effect (and a path without its delay) fails: exit 1', async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    sites.a.inEffectValue = false;
    sites.a.rttMs = 0.3;
    const r = await runCampaign(campaign(1), deps(sites));
    expect(r.exitCode).toBe(1);
    const failed = r.steps[0]!.assertions.filter((a) => !a.passed).map((a) => a.scope);
    expect(failed).toEqual(['in-effect', 'conformance']);
    expect(r.steps[0]!.probes[0]!.conformance[0]!.result.checks.find((c) => c.quantity === 'delay')!.status).toBe('not-in-effect');
  });

  it('an impairment that vanished mid-step and was re-applied (in effect at the end) fails its step, with how long', async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    sites.b.gaps = { count: 2, totalMs: 1234, lastAtMs: Date.now() + 500 };
    const r = await runCampaign(campaign(1), deps(sites));
    expect(r.exitCode).toBe(1);
    const a = r.steps[0]!.assertions.find((x) => x.scope === 'in-effect' && x.target === 'wan-b')!;
    expect(a.passed).toBe(false);
    expect(a.message).toMatch(/^not in effect 2 times during the step, 1234 ms from detection to re-apply in all, the last detected -?\d+\.\d s into the window \(in effect again at the end\)$/);
    expect(r.steps[0]!.impairments.find((i) => i.name === 'wan-b')).toMatchObject({ inEffect: true, notInEffect: { count: 2, totalMs: 1234 } });
    // A site with an empty history passes.
    expect(r.steps[0]!.assertions.find((x) => x.scope === 'in-effect' && x.target === 'wan-a')!.passed).toBe(true);
  });

  it('a site lost mid-campaign: reported, the other site reverted, exit 2', async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    sites.a.lostAfterMs = 600; // during the first step
    const r = await runCampaign(campaign(), deps(sites));
    expect(r.exitCode).toBe(2);
    expect(r.verdict).toBe('error');
    expect(r.steps).toHaveLength(1);
    expect(r.steps[0]!.error).toMatch(/agent a was lost: cannot reach a/);
    expect(sites.b.applied.size).toBe(0);
    expect(sites.b.log).toEqual(['apply s0 clean', 'revert b-1']);
    // the lost site's impairment could not be reverted by us: reported, left to its lease
    expect(r.reverts).toEqual([expect.objectContaining({ agent: 'a', impairment: 'wan-a', ok: false })]);
  });

  it("several sites lost: the step's error names each, in the agents' order, whichever was detected first", async () => {
    // a's failed requests answer 50 ms late, so b's loss is always detected first.
    class SlowToFail extends FakeSite {
      override async renew(): Promise<void> {
        try {
          await super.renew();
        } catch (e) {
          await new Promise((r) => setTimeout(r, 50));
          throw e;
        }
      }
    }
    const sites = { a: new SlowToFail('a'), b: new FakeSite('b') };
    sites.a.lostAfterMs = 600;
    sites.b.lostAfterMs = 600;
    const r = await runCampaign(campaign(1), deps(sites));
    expect(r.exitCode).toBe(2);
    expect(r.steps[0]!.error).toBe('agent a was lost: cannot reach a; agent b was lost: cannot reach b');
  });

  it('progress ticks do not overlap: a snapshot slower than a second never gives a tick negative counts', async () => {
    // Each snapshot reports 100 more probes sent; the first answers after 1.5 s, past the next tick.
    class SlowFirstSnapshot extends FakeSite {
      override async startProbe(p: unknown, target: string, durationMs: number): Promise<SiteProbeRun> {
        const run = await super.startProbe(p, target, durationMs);
        let calls = 0;
        return {
          snapshot: async () => {
            const n = ++calls;
            const rep = await run.snapshot();
            if (n === 1) await new Promise((r) => setTimeout(r, 1500));
            return { ...rep, summary: { ...rep.summary, sent: n * 100 } };
          },
          stop: run.stop,
        };
      }
    }
    const sites = { a: new SlowFirstSnapshot('a'), b: new FakeSite('b') };
    const c = campaign(1);
    c.steps[0]!.durationMs = 4500;
    const r = await runCampaign(c, deps(sites));
    expect(r.exitCode).toBe(0);
    const ticks = r.steps[0]!.probes[0]!.ticks;
    expect(ticks.length).toBeGreaterThan(1);
    expect(ticks.filter((t) => t.sent < 0)).toEqual([]);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]!.tMs).toBeGreaterThan(ticks[i - 1]!.tMs);
  });

  it('interrupted (Ctrl-C): reverts everything, exit 2', async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('SIGINT')), 500);
    const r = await runCampaign(campaign(), { ...deps(sites), signal: ac.signal });
    expect(r.exitCode).toBe(2);
    expect(r.error ?? r.steps[0]!.error).toMatch(/interrupted/);
    expect(sites.a.applied.size + sites.b.applied.size).toBe(0);
  });

  it('a profile the agent does not know fails pre-flight: exit 2, nothing touched', async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    (sites.a as FakeSite & { missingProfiles(n: string[]): Promise<string[]> }).missingProfiles = async (names) => names.filter((n) => n !== 'clean');
    const r = await runCampaign(campaign(), deps(sites));
    expect(r.exitCode).toBe(2);
    expect(r.error).toMatch(/agent a does not know profile\(s\) slow/);
    expect(sites.a.log).toEqual([]);
    expect(sites.b.log).toEqual([]);
  });

  it('agent hooks: pre-flight refuses a hook the agent does not declare; a declared one runs through the site and is asserted', async () => {
    const withHook = (hook: string) => {
      const c = campaign(1);
      c.steps[0]!.hooks.push({ name: 'till', on: 'agent', agent: 'b', hook, atMs: 0, timeoutMs: 5000 });
      const a = parseAssertion('exit == 0', HOOK_SUBJECTS);
      if (!a.ok) throw new Error(a.problem);
      c.steps[0]!.assertions.push({ scope: 'hook', hook: 'till', assertion: a.assertion });
      return c;
    };
    const declare = (site: FakeSite): FakeSite => {
      const pf = site.preflight.bind(site);
      site.preflight = async () => ({ ...(await pf()), hooks: ['pos-smoke'] });
      return site;
    };
    const refused = { a: new FakeSite('a'), b: declare(new FakeSite('b')) };
    const r1 = await runCampaign(withHook('missing'), deps(refused));
    expect(r1.exitCode).toBe(2);
    expect(r1.error).toMatch(/hook till: agent b declares no hook 'missing' \(it has: pos-smoke\)/);
    expect(refused.a.log).toEqual([]);

    const sites = { a: new FakeSite('a'), b: declare(new FakeSite('b')) };
    const ran: string[] = [];
    (sites.b as FakeSite & Required<Pick<SiteDriver, 'runHook'>>).runHook = async (h, ctx) => {
      ran.push(`${h.hook} ${ctx.step}`);
      return { step: ctx.step, name: 'whatever', exitCode: 4, timedOut: false, durationMs: 1, outputTail: 'no till' };
    };
    const r2 = await runCampaign(withHook('pos-smoke'), deps(sites));
    expect(ran).toEqual(['pos-smoke s0']);
    expect(r2.exitCode).toBe(1);
    expect(r2.steps[0]!.hooks).toMatchObject([{ name: 'till', exitCode: 4 }]);
    expect(r2.steps[0]!.assertions.find((a) => a.scope === 'hook')).toMatchObject({ target: 'till', passed: false });
  });

  it('pre-flight failure touches nothing: exit 2', async () => {
    const sites = { a: new FakeSite('a'), b: new FakeSite('b') };
    sites.b.preflight = async () => ({ reachable: false, authorised: false, backends: [], faults: [], reflector: null, problems: ['connection refused'] });
    const r = await runCampaign(campaign(), deps(sites));
    expect(r.exitCode).toBe(2);
    expect(r.error).toMatch(/pre-flight failed, no site was touched: agent b .* is not reachable: connection refused/);
    expect(sites.a.log).toEqual([]);
  });
});
