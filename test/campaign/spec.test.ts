import { describe, expect, it } from 'vitest';
import { BackhaulError } from '../../core/errors.js';
import { parseCampaign, type Campaign } from '../../campaign/spec.js';

const base = (): Record<string, unknown> => ({
  name: 'gate',
  agents: [
    { name: 'store17', url: 'http://10.0.0.7:9870', tokenEnv: 'TOK17' },
    { name: 'dc', url: 'http://10.0.0.1:9870' },
  ],
  prometheus: 'http://127.0.0.1:9090',
  steps: [
    {
      name: 'lte',
      duration: '30s',
      impairments: [{ name: 'uplink', agent: 'store17', dev: 'eth0', profile: 'lte-cell-edge', exclude: [{ peer: '10.0.0.0/24', port: 22, proto: 'tcp' }] }],
      faults: [{ kind: 'link-down', agent: 'store17', dev: 'eth0', at: '10s', duration: '3s' }],
      probes: [{ name: 'to-dc', from: 'store17', to: 'agent:dc', interval: '10ms', crosses: ['uplink'] }],
      hooks: [{ name: 'pos', run: 'true', junit: 'out.xml' }],
      assertions: [
        'rtt.p99 < 250ms',
        { probe: 'to-dc', assert: 'loss < 1%' },
        { hook: 'pos' },
        { promql: 'histogram_quantile(0.99, sum by (le) (rate(pos_seconds_bucket[1m])))', assert: '< 0.3' },
      ],
    },
  ],
});

function parse(raw: unknown, env: NodeJS.ProcessEnv = { TOK17: 'secret' }, readJson?: (p: string) => unknown): Campaign {
  return parseCampaign(raw, 'gate.yaml', { env, ...(readJson ? { readJson } : {}), baseDir: '/etc/backhaul' });
}

function problems(raw: unknown, env: NodeJS.ProcessEnv = { TOK17: 'secret' }, readJson?: (p: string) => unknown): string[] {
  try {
    parse(raw, env, readJson);
  } catch (e) {
    expect(e).toBeInstanceOf(BackhaulError);
    const err = e as BackhaulError;
    expect(err.code).toBe('ERR_CAMPAIGN_INVALID');
    expect(err.exitCode).toBe(2);
    return err.details['problems'] as string[];
  }
  throw new Error('expected the campaign to be refused');
}

describe('parseCampaign', () => {
  it('converts to base units and parses assertions', () => {
    const c = parse(base());
    expect(c.leaseTtlMs).toBe(30_000);
    expect(c.startDelayMs).toBe(2_000);
    expect(c.agents).toEqual([
      { name: 'store17', url: 'http://10.0.0.7:9870', tokenEnv: 'TOK17', token: 'secret' },
      { name: 'dc', url: 'http://10.0.0.1:9870' },
    ]);
    const s = c.steps[0]!;
    expect(s.durationMs).toBe(30_000);
    expect(s.impairments[0]).toMatchObject({ name: 'uplink', target: { kind: 'netem', dev: 'eth0' }, profile: { name: 'lte-cell-edge' }, direction: 'both' });
    expect(s.faults[0]).toMatchObject({ kind: 'link-down', atMs: 10_000, durationMs: 3_000 });
    expect(s.probes[0]).toMatchObject({ kind: 'stamp', intervalMs: 10, timeoutMs: 1000, outageMinLost: 3, crosses: ['uplink'] });
    expect(s.hooks[0]).toMatchObject({ on: 'controller', atMs: 0, timeoutMs: 60_000, junit: 'out.xml' });
    expect(s.assertions.map((a) => a.scope)).toEqual(['probe', 'probe', 'hook', 'promql']);
    expect(s.assertions[0]).toMatchObject({ probe: null, assertion: { subject: 'rtt.p99', threshold: 250 } });
    expect(s.assertions[2]).toMatchObject({ hook: 'pos', assertion: { subject: 'exit', op: '==', threshold: 0 } });
    expect(s.assertions[3]).toMatchObject({ scope: 'promql', assertion: { threshold: 0.3 } });
  });

  it('agent hooks name a declared hook; agent faults may name the agent-side namespace', () => {
    const raw = base();
    const step = (raw['steps'] as Record<string, unknown>[])[0]!;
    step['hooks'] = [{ name: 'till', on: 'store17', hook: 'pos-smoke', timeout: '2m' }, { name: 'pos-smoke', on: 'dc' }];
    step['assertions'] = [{ hook: 'till' }];
    step['faults'] = [{ kind: 'blackhole', agent: 'store17', agentNetns: 'pos', peer: '10.9.0.0/24', duration: '3s' }];
    const s = parse(raw).steps[0]!;
    expect(s.hooks).toEqual([
      { name: 'till', on: 'agent', agent: 'store17', hook: 'pos-smoke', atMs: 0, timeoutMs: 120_000, expectExit: 0 },
      { name: 'pos-smoke', on: 'agent', agent: 'dc', hook: 'pos-smoke', atMs: 0, timeoutMs: 60_000, expectExit: 0 },
    ]);
    expect(s.faults[0]).toMatchObject({ kind: 'blackhole', agentNetns: 'pos', peer: '10.9.0.0/24' });
  });

  it('refuses agent hooks with a command, controller hooks without one, unknown agents, netns with agentNetns', () => {
    const raw = base();
    const step = (raw['steps'] as Record<string, unknown>[])[0]!;
    step['hooks'] = [
      { name: 'a', on: 'store17', run: 'rm -rf /' },
      { name: 'b' },
      { name: 'c', on: 'nowhere' },
      { name: 'd', hook: 'pos-smoke' },
    ];
    step['assertions'] = [];
    step['faults'] = [{ kind: 'link-down', agent: 'store17', dev: 'eth0', netns: 'x', agentNetns: 'y', duration: '1s' }];
    const ps = problems(raw);
    expect(ps).toEqual(expect.arrayContaining([
      expect.stringMatching(/hooks\[0\]\.run: an agent hook runs what the agent's config declares/),
      expect.stringMatching(/hooks\[1\]\.run: a controller hook needs 'run'/),
      expect.stringMatching(/hooks\[2\]\.on: unknown agent 'nowhere'/),
      expect.stringMatching(/hooks\[3\]\.hook: 'hook' names an agent's hook/),
      expect.stringMatching(/faults\[0\]\.agentNetns: give 'netns'/),
    ]));
  });

  it('reports every shape problem with its path, all at once', () => {
    const raw = base();
    const step = (raw['steps'] as Record<string, unknown>[])[0]!;
    step['duration'] = 'soon';
    (step['probes'] as Record<string, unknown>[])[0]!['interval'] = 5;
    (step['impairments'] as Record<string, unknown>[])[0]!['direction'] = 'up';
    raw['bogus'] = 1;
    const ps = problems(raw);
    expect(ps).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^gate\.yaml: steps\[0\]\.duration: must be a duration/),
        expect.stringMatching(/^gate\.yaml: steps\[0\]\.probes\[0\]\.interval: /),
        expect.stringMatching(/^gate\.yaml: steps\[0\]\.impairments\[0\]\.direction: /),
        expect.stringMatching(/^gate\.yaml: \(top level\): Unrecognized key: "bogus"/),
      ]),
    );
    expect(ps).toHaveLength(4);
  });

  it('reports cross-reference and semantic problems with paths, all at once', () => {
    const raw = base();
    const step = (raw['steps'] as Record<string, unknown>[])[0]!;
    (step['impairments'] as Record<string, unknown>[])[0]!['agent'] = 'store18';
    (step['faults'] as Record<string, unknown>[])[0]!['at'] = '29s';
    (step['probes'] as Record<string, unknown>[])[0]!['crosses'] = ['downlink'];
    (step['probes'] as Record<string, unknown>[])[0]!['to'] = 'agent:nowhere';
    step['assertions'] = ['rtt.p99 < 250', { probe: 'nope', assert: 'loss < 1%' }, { hook: 'ghost' }, 'loss < 7'];
    const ps = problems(raw, {});
    expect(ps).toEqual([
      "gate.yaml: agents[0].tokenEnv: environment variable TOK17 is not set",
      "gate.yaml: steps[0].impairments[0].agent: unknown agent 'store18' (known: store17, dc)",
      'gate.yaml: steps[0].faults[0]: ends at 32000 ms, after the step\'s 30000 ms',
      "gate.yaml: steps[0].probes[0].to: unknown agent 'nowhere' (known: store17, dc)",
      "gate.yaml: steps[0].probes[0].crosses[0]: no impairment 'downlink' in this step (known: uplink)",
      "gate.yaml: steps[0].assertions[0]: 'rtt.p99 < 250': a duration needs a unit (us, ms, s, m), e.g. 'rtt.p99 < 250ms'",
      "gate.yaml: steps[0].assertions[1].probe: no probe 'nope' in this step",
      "gate.yaml: steps[0].assertions[2].hook: no hook 'ghost' in this step",
      "gate.yaml: steps[0].assertions[3]: 'loss < 7': a bare ratio must be a fraction 0..1 (did you mean 7%?)",
    ]);
  });

  it('requires exactly one target per impairment, and a Prometheus URL for PromQL', () => {
    const raw = base();
    delete raw['prometheus'];
    const step = (raw['steps'] as Record<string, unknown>[])[0]!;
    (step['impairments'] as Record<string, unknown>[])[0]!['relay'] = { listen: '127.0.0.1:1', upstream: '127.0.0.1:2' };
    const ps = problems(raw);
    expect(ps).toEqual([expect.stringMatching(/steps\[0\]\.impairments\[0\]: give exactly one target/)]);
    (step['impairments'] as Record<string, unknown>[])[0]!['dev'] = undefined;
    delete (step['impairments'] as Record<string, unknown>[])[0]!['dev'];
    expect(problems(raw)).toEqual([expect.stringMatching(/steps\[0\]\.assertions\[3\]\.promql: a PromQL assertion needs 'prometheus: URL'/)]);
  });

  it('refuses duplicate names', () => {
    const raw = base();
    const steps = raw['steps'] as Record<string, unknown>[];
    steps.push({ ...steps[0]!, faults: [] });
    raw['agents'] = [...(raw['agents'] as unknown[]), { name: 'dc', url: 'http://10.0.0.2:9870' }];
    expect(problems(raw)).toEqual(["gate.yaml: agents: agent 'dc' is listed twice", "gate.yaml: steps[1].name: step 'lte' is defined twice"]);
  });

  it('reads agents from a Prometheus file_sd file, names from a label, tokens from env', () => {
    const raw = base();
    raw['agents'] = [{ fileSd: 'sites.json', nameLabel: 'site', tokenEnv: 'TOK17' }, { name: 'dc', url: 'http://10.0.0.1:9870' }];
    const seen: string[] = [];
    const c = parse(raw, { TOK17: 't' }, (p) => {
      seen.push(p);
      return [{ targets: ['10.0.0.7:9870', '10.0.0.8:9870'], labels: { site: 'store17' } }];
    });
    expect(seen).toEqual(['/etc/backhaul/sites.json']);
    expect(c.agents.map((a) => [a.name, a.url, a.token])).toEqual([
      ['store17', 'http://10.0.0.7:9870', 't'],
      ['store17-2', 'http://10.0.0.8:9870', 't'],
      ['dc', 'http://10.0.0.1:9870', undefined],
    ]);
  });

  it('reports a malformed file_sd file with its path', () => {
    const raw = base();
    raw['agents'] = [{ fileSd: 'sites.json' }, { name: 'store17', url: 'http://10.0.0.7:9870' }, { name: 'dc', url: 'http://10.0.0.1:9870' }];
    const ps = problems(raw, {}, () => [{ targets: ['no-port', 7] }]);
    expect(ps).toEqual([
      `/etc/backhaul/sites.json[0].targets[0]: must be 'host:port' (got "no-port")`,
      `/etc/backhaul/sites.json[0].targets[1]: must be 'host:port' (got 7)`,
      'gate.yaml: agents[0].fileSd: /etc/backhaul/sites.json lists no targets',
    ]);
    expect(problems(raw, {}, () => {
      throw new Error('ENOENT');
    })).toEqual(['gate.yaml: agents[0].fileSd: cannot read /etc/backhaul/sites.json: ENOENT']);
  });

  it('refuses a document that is not a mapping', () => {
    expect(problems('just text')[0]).toMatch(/^gate\.yaml: \(top level\): /);
    expect(problems(null)[0]).toMatch(/^gate\.yaml: \(top level\): /);
  });
  it('refuses a probe kind that does not match the scheme of to (it would run as the other kind)', () => {
    const raw = base();
    const step = (raw['steps'] as Record<string, unknown>[])[0]!;
    step['probes'] = [
      { name: 'web', from: 'store17', to: '127.0.0.1:1', kind: 'http' },
      { name: 'svc', from: 'store17', to: 'http://10.0.0.1/', kind: 'tcp' },
      { name: 'refl', from: 'store17', to: 'agent:dc', kind: 'tcp' },
    ];
    const ps = problems(raw);
    expect(ps).toContainEqual(expect.stringMatching(/steps\[0\]\.probes\[0\]\.kind: 'http' does not match to '127\.0\.0\.1:1', which is a stamp target \(http needs http\(s\):\/\/URL\)/));
    expect(ps).toContainEqual(expect.stringMatching(/steps\[0\]\.probes\[1\]\.kind: 'tcp' does not match .* which is a http target/));
    expect(ps).toContainEqual(expect.stringMatching(/steps\[0\]\.probes\[2\]\.kind: 'tcp' does not match to 'agent:dc'/));
  });

  it('accepts a probe kind that agrees with to', () => {
    const raw = base();
    const step = (raw['steps'] as Record<string, unknown>[])[0]!;
    step['probes'] = [
      { name: 'web', from: 'store17', to: 'https://10.0.0.1/health', kind: 'http' },
      { name: 'svc', from: 'store17', to: 'tcp://10.0.0.1:443', kind: 'tcp' },
      { name: 'to-dc', from: 'store17', to: 'agent:dc', kind: 'stamp' },
    ];
    expect(parse(raw).steps[0]!.probes.map((x) => x.kind)).toEqual(['http', 'tcp', 'stamp']);
  });
});
