import { describe, expect, it } from 'vitest';
import { evaluateStep, type StepMeasurements } from '../../campaign/evaluate.js';
import { queryPrometheus } from '../../campaign/promql.js';
import { parseJunit } from '../../campaign/hooks.js';
import { parseCampaign } from '../../campaign/spec.js';
import { summaryOf } from './fixture.js';

const step = parseCampaign(
  {
    name: 'e',
    agents: [{ name: 'a', url: 'in-process' }],
    prometheus: 'http://127.0.0.1:9090',
    steps: [
      {
        name: 's',
        duration: '10s',
        probes: [
          { name: 'p1', from: 'a', to: '10.0.0.1:862' },
          { name: 'p2', from: 'a', to: '10.0.0.2:862' },
        ],
        hooks: [{ name: 'h', run: 'true' }],
        assertions: ['loss < 1%', { probe: 'p2', assert: 'outage.count == 0' }, { hook: 'h' }, { hook: 'h', assert: 'junit.failures == 0' }, { promql: 'up', assert: '== 1', name: 'up' }],
      },
    ],
  },
  'e.yaml',
  { env: {} },
).steps[0]!;

function measurements(over: Partial<StepMeasurements> = {}): StepMeasurements {
  return {
    step,
    startMs: 0,
    endMs: 10_000,
    profiles: new Map(),
    impairments: [],
    faults: [],
    probes: [
      { spec: step.probes[0]!, target: '10.0.0.1:862', summary: summaryOf({ sent: 1000, received: 995, lost: 5 }), histogramNs: null, ticks: [], clockUncertaintyMs: 0 },
      { spec: step.probes[1]!, target: '10.0.0.2:862', summary: summaryOf({ sent: 1000, received: 980, lost: 20, outages: [{ startMs: 10, endMs: 100, durationMs: 90, lost: 5, boundMs: 20 } as never] }), histogramNs: null, ticks: [], clockUncertaintyMs: 0 },
    ],
    hooks: [{ step: 's', name: 'h', exitCode: 0, timedOut: false, durationMs: 5, outputTail: '', junit: { tests: 3, failures: 1, errors: 0, skipped: 0, cases: [] } }],
    promql: [{ name: 'up', values: [1, 1, 0] }],
    ...over,
  };
}

describe('evaluateStep', () => {
  it('a probe assertion without probe: applies to every probe; hooks and PromQL are judged', () => {
    const r = evaluateStep(measurements());
    expect(r.assertions.map((a) => [a.scope, a.target, a.text, a.passed])).toEqual([
      ['probe', 'p1', 'loss < 1%', true],
      ['probe', 'p2', 'loss < 1%', false],
      ['probe', 'p2', 'outage.count == 0', false],
      ['hook', 'h', 'exit == 0', true],
      ['hook', 'h', 'junit.failures == 0', false],
      ['promql', 'up', 'up == 1', false],
    ]);
    expect(r.assertions[5]!.message).toMatch(/value = 0, expected == 1 \(3 series\)/);
    expect(r.spans.filter((s) => s.kind === 'outage')).toHaveLength(1);
  });

  it('no data fails: a hook that did not run, a query without samples, a probe that failed', () => {
    const r = evaluateStep(
      measurements({
        hooks: [],
        promql: [{ name: 'up', values: null, error: 'cannot query http://127.0.0.1:9090: connection refused' }],
        probes: [{ spec: step.probes[0]!, target: '10.0.0.1:862', summary: null, histogramNs: null, ticks: [], clockUncertaintyMs: 0, error: 'no route' }],
      }),
    );
    expect(r.assertions.every((a) => !a.passed)).toBe(true);
    expect(r.assertions.find((a) => a.scope === 'promql')!.message).toMatch(/query failed: cannot query/);
    expect(r.assertions.find((a) => a.scope === 'probe')!.message).toBe('probe failed: no route');
  });
});

describe('evaluateStep: every hook is checked for its exit code', () => {
  const hookStep = parseCampaign(
    {
      name: 'h',
      agents: [{ name: 'a', url: 'in-process' }],
      steps: [
        {
          name: 's',
          duration: '10s',
          hooks: [
            { name: 'plain', run: 'false' },
            { name: 'any', run: 'exit 3', expectExit: 'any' },
            { name: 'two', run: 'exit 2', expectExit: 2 },
            { name: 'explicit', run: 'exit 5' },
            { name: 'junit-only', run: 'false', junit: 'x.xml' },
            { name: 'never', run: 'true' },
          ],
          assertions: [{ hook: 'explicit', assert: 'exit == 5' }, { hook: 'junit-only', assert: 'junit.failures == 0' }],
        },
      ],
    },
    'h.yaml',
    { env: {} },
  ).steps[0]!;
  const ran = (name: string, exitCode: number) => ({ step: 's', name, exitCode, timedOut: false, durationMs: 5, outputTail: 'boom\n' });

  it('a failing hook fails its step without an assertion; expectExit and explicit exit assertions replace the automatic one', () => {
    const r = evaluateStep({
      step: hookStep,
      startMs: 0,
      endMs: 10_000,
      profiles: new Map(),
      impairments: [],
      faults: [],
      probes: [],
      hooks: [ran('plain', 1), ran('any', 3), ran('two', 2), ran('explicit', 5), { ...ran('junit-only', 1), junit: { tests: 2, failures: 0, errors: 0, skipped: 0, cases: [] } }],
      promql: [],
    });
    expect(r.assertions.map((a) => [a.scope, a.target, a.text, a.passed])).toEqual([
      ['hook', 'explicit', 'exit == 5', true],
      ['hook', 'junit-only', 'junit.failures == 0', true],
      ['hook', 'plain', 'exit == 0', false],
      ['hook', 'two', 'exit == 2', true],
      ['hook', 'junit-only', 'exit == 0', false],
      ['hook', 'never', 'exit == 0', false],
    ]);
    expect(r.assertions[2]!.message).toMatch(/exit = 1.*-- output: boom$/);
    expect(r.assertions[5]!.message).toMatch(/\(the hook did not run\)$/);
  });

  it('expectExit must be an exit code or any', () => {
    expect(() =>
      parseCampaign({ name: 'h', agents: [{ name: 'a', url: 'in-process' }], steps: [{ name: 's', duration: '1s', hooks: [{ name: 'x', run: 'true', expectExit: 'sometimes' }] }] }, 'h.yaml', { env: {} }),
    ).toThrow(expect.objectContaining({ details: expect.objectContaining({ problems: [expect.stringMatching(/^h\.yaml: steps\[0\]\.hooks\[0\]\.expectExit: /)] }) }));
  });
});

describe('evaluateStep: a flap is one event per down period', () => {
  const flapStep = parseCampaign(
    {
      name: 'f',
      agents: [{ name: 'a', url: 'http://127.0.0.1:1' }],
      steps: [
        {
          name: 's',
          duration: '10s',
          faults: [{ kind: 'flap', agent: 'a', dev: 'eth0', at: '1s', downFor: '1s', upFor: '2s', count: 3 }],
          probes: [{ name: 'p', from: 'a', to: '10.0.0.1:862', interval: '20ms' }],
          assertions: [{ probe: 'p', assert: 'failover.unmatched == 0' }],
        },
      ],
    },
    'f.yaml',
    { env: {} },
  ).steps[0]!;
  const outage = (startMs: number, endMs: number) => ({ startMs, endMs, durationMs: endMs - startMs, lost: Math.round((endMs - startMs) / 20), boundMs: 20 }) as never;
  const run = (outages: never[], fault = { name: 'flap-0', kind: 'flap', agent: 'a', startMs: 1000, endMs: 10_000 }) =>
    evaluateStep({
      step: flapStep,
      startMs: 0,
      endMs: 10_000,
      profiles: new Map(),
      impairments: [],
      faults: [fault],
      probes: [{ spec: flapStep.probes[0]!, target: '10.0.0.1:862', summary: summaryOf({ sent: 500, received: 400, lost: 100, outages }), histogramNs: null, ticks: [], clockUncertaintyMs: 0 }],
      hooks: [],
      promql: [],
    });

  it('each down period is matched to its own outage, with its own timings', () => {
    // Periods (from the actual start 1000): 1000-2000, 4000-5000, 7000-8000.
    const r = run([outage(1030, 1990), outage(4050, 4980), outage(7010, 7700)]);
    const f = r.probes[0]!.failover!;
    expect(f.matches.map((x) => [x.event.name, x.event.startMs, x.event.endMs, x.matched, x.onsetMs, x.outageMs])).toEqual([
      ['flap-0#1', 1000, 2000, true, 30, 960],
      ['flap-0#2', 4000, 5000, true, 50, 930],
      ['flap-0#3', 7000, 8000, true, 10, 690],
    ]);
    expect(f.values['failover.unmatched']).toBe(0);
    expect(f.values['failover.outage']).toBe(960);
    expect(r.assertions[0]!.passed).toBe(true);
    expect(r.spans.filter((s) => s.kind === 'fault').map((s) => [s.label, s.startMs, s.endMs])).toEqual([
      ['flap-0#1', 1000, 2000], ['flap-0#2', 4000, 5000], ['flap-0#3', 7000, 8000],
    ]);
  });

  it('a down period without an outage is unmatched (failover.unmatched fails)', () => {
    const r = run([outage(1030, 1990), outage(4050, 4980)]);
    const f = r.probes[0]!.failover!;
    expect(f.matches.map((x) => x.matched)).toEqual([true, true, false]);
    expect(f.values['failover.unmatched']).toBe(1);
    expect(r.assertions[0]).toMatchObject({ passed: false, actual: 1 });
  });

  it('a flap stopped early: the periods it never began are not expected', () => {
    const r = run([outage(1030, 1990), outage(4050, 4980)], { name: 'flap-0', kind: 'flap', agent: 'a', startMs: 1000, endMs: 4600 });
    const f = r.probes[0]!.failover!;
    expect(f.matches.map((x) => [x.event.name, x.event.endMs])).toEqual([['flap-0#1', 2000], ['flap-0#2', 4600]]);
    expect(f.values['failover.unmatched']).toBe(0);
  });
});

describe('queryPrometheus', () => {
  const reply = (status: number, body: unknown): typeof fetch => (async () => new Response(JSON.stringify(body), { status })) as unknown as typeof fetch;
  it('vector and scalar results; the query and time are sent', async () => {
    let seen = '';
    const f = (async (u: URL) => {
      seen = String(u);
      return new Response(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, '0.25'] }] } }));
    }) as unknown as typeof fetch;
    expect(await queryPrometheus('http://p:9090', 'sum(up)', 1_700_000_000_500, { fetchImpl: f })).toEqual({ values: [0.25] });
    expect(seen).toBe('http://p:9090/api/v1/query?query=sum%28up%29&time=1700000000.500');
    expect(await queryPrometheus('http://p:9090', '1', 0, { fetchImpl: reply(200, { status: 'success', data: { resultType: 'scalar', result: [0, '3'] } }) })).toEqual({ values: [3] });
  });
  it('errors are reported, never a value', async () => {
    expect((await queryPrometheus('http://p:9090', 'x{', 0, { fetchImpl: reply(400, { status: 'error', error: 'parse error' }) })).error).toMatch(/400: parse error/);
    expect((await queryPrometheus('http://p:9090', 'x', 0, { fetchImpl: reply(200, { status: 'success', data: { resultType: 'matrix', result: [] } }) })).error).toMatch(/unsupported result type 'matrix'/);
  });
});

describe('parseJunit', () => {
  it('counts cases, failures, errors, skipped from the cases themselves', () => {
    const j = parseJunit(`<?xml version="1.0"?><testsuites><testsuite name="a"><testcase name="ok" classname="c"/><testcase name="bad" classname="c"><failure message="boom">x</failure></testcase></testsuite><testsuite name="b"><testcase name="err"><error message="E"/></testcase><testcase name="sk"><skipped/></testcase></testsuite></testsuites>`);
    expect([j.tests, j.failures, j.errors, j.skipped]).toEqual([4, 1, 1, 1]);
    expect(j.cases.find((c) => c.name === 'bad')).toMatchObject({ failed: true, message: 'boom' });
  });
  it('a single <testsuite> root works; no suite is an error', () => {
    expect(parseJunit('<testsuite name="x"><testcase name="t"/></testsuite>').tests).toBe(1);
    expect(() => parseJunit('<html/>')).toThrow(/no <testsuite>/);
  });
});
