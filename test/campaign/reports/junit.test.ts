import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderJunit } from '../../../campaign/reports/junit.js';
import { fixtureResult } from '../fixture.js';

const parse = (xml: string): any =>
  new XMLParser({ ignoreAttributes: false, isArray: (name) => ['testsuite', 'testcase'].includes(name) }).parse(xml);

describe('renderJunit', () => {
  it('one testcase per assertion, failures carry the measured value', () => {
    const r = fixtureResult({ failing: true });
    const doc = parse(renderJunit(r));
    const suites = doc.testsuites.testsuite;
    expect(suites.map((s: any) => s['@_name'])).toEqual(['fixture.fibre', 'fixture.lte <&> "edge"']);
    const cases = suites.flatMap((s: any) => s.testcase);
    expect(cases).toHaveLength(r.steps.reduce((n, s) => n + s.assertions.length, 0));
    const failed = cases.filter((c: any) => c.failure);
    expect(failed).toHaveLength(1);
    expect(failed[0]['@_name']).toBe('to-dc: rtt.p99 < 250ms');
    expect(failed[0].failure['@_message']).toMatch(/^rtt\.p99 = /);
    expect(doc.testsuites['@_tests']).toBe('6');
    expect(doc.testsuites['@_failures']).toBe('1');
  });

  it("a hook's JUnit test cases are in the file: a testsuite per hook, failures kept, totals include them", () => {
    const r = fixtureResult({ hookJunit: true });
    const doc = parse(renderJunit(r));
    const suites = doc.testsuites.testsuite;
    expect(suites.map((s: any) => s['@_name'])).toEqual(['fixture.fibre', 'fixture.lte <&> "edge"', 'fixture.fibre.hook.pos-smoke']);
    const hook = suites[2];
    expect([hook['@_tests'], hook['@_failures'], hook['@_errors']]).toEqual(['2', '1', '0']);
    expect(hook.testcase.map((c: any) => [c['@_classname'], c['@_name'], Boolean(c.failure)])).toEqual([
      ['pos.Checkout', 'sale completes', false],
      ['pos.Refund', 'refund <over> limit', true],
    ]);
    expect(hook.testcase[1].failure['@_message']).toBe('expected 402 & got 200');
    expect(doc.testsuites['@_tests']).toBe('8');
    expect(doc.testsuites['@_failures']).toBe('1');
  });

  it('a step that could not run reports errors on its cases', () => {
    const doc = parse(renderJunit(fixtureResult({ stepError: 'agent site lost' })));
    const lte = doc.testsuites.testsuite[1];
    expect(lte['@_errors']).toBe('3');
    expect(lte.testcase.every((c: any) => c.error?.['@_message'] === 'agent site lost')).toBe(true);
  });

  it('a campaign that never started has one errored pre-flight case', () => {
    const r = { ...fixtureResult(), steps: [], error: 'agent a unreachable', verdict: 'error' as const, exitCode: 2 as const };
    const doc = parse(renderJunit(r));
    expect(doc.testsuites.testsuite[0].testcase[0].error['@_message']).toBe('agent a unreachable');
  });
});
