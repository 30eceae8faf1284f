import { describe, expect, it } from 'vitest';
import { HOOK_SUBJECTS, PROBE_SUBJECTS, evaluate, parseAssertion, type Assertion } from '../../campaign/assertions.js';

function ok(text: string, subjects = PROBE_SUBJECTS, implicit?: string): Assertion {
  const r = parseAssertion(text, subjects, implicit);
  if (!r.ok) throw new Error(r.problem);
  return r.assertion;
}

function problem(text: string, subjects = PROBE_SUBJECTS, implicit?: string): string {
  const r = parseAssertion(text, subjects, implicit);
  if (r.ok) throw new Error(`expected a problem for ${text}`);
  return r.problem;
}

describe('parseAssertion', () => {
  it.each([
    ['rtt.p99 < 250ms', 'rtt.p99', '<', 250],
    ['rtt.p50<=1.5s', 'rtt.p50', '<=', 1500],
    ['jitter < 30ms', 'jitter', '<', 30],
    ['rtt.max < 500us', 'rtt.max', '<', 0.5],
    ['outage.max < 3s', 'outage.max', '<', 3000],
    ['outage.total <= 2m', 'outage.total', '<=', 120000],
    ['loss < 1%', 'loss', '<', 0.01],
    ['loss <= 0.005', 'loss', '<=', 0.005],
    ['outage.count <= 1', 'outage.count', '<=', 1],
    ['duplicates == 0', 'duplicates', '==', 0],
    ['received != 0', 'received', '!=', 0],
    ['  sent >= 100  ', 'sent', '>=', 100],
    ['failover.recover < 2.5s', 'failover.recover', '<', 2500],
  ])('%s', (text, subject, op, threshold) => {
    const a = ok(text);
    expect(a.subject).toBe(subject);
    expect(a.op).toBe(op);
    expect(a.threshold).toBeCloseTo(threshold, 9);
  });

  it('PromQL values: bare numbers, and durations compared in seconds', () => {
    expect(ok('< 0.3', { value: 'value' }, 'value')).toMatchObject({ subject: 'value', op: '<', threshold: 0.3 });
    expect(ok('< 300ms', { value: 'value' }, 'value').threshold).toBeCloseTo(0.3, 12);
    expect(ok('>= 1e3', { value: 'value' }, 'value').threshold).toBe(1000);
  });

  it('hook subjects', () => {
    expect(ok('exit == 0', HOOK_SUBJECTS)).toMatchObject({ subject: 'exit', op: '==', threshold: 0 });
    expect(ok('junit.failures == 0', HOOK_SUBJECTS).subject).toBe('junit.failures');
  });

  it.each([
    ['rtt.p99 < 250', /needs a unit/],
    ['rtt.p99 < 250kb', /unknown duration unit 'kb'/],
    ['loss < 5', /fraction 0..1 \(did you mean 5%\?\)/],
    ['loss < 101%', /0..100/],
    ['loss < 1ms', /takes '%'/],
    ['outage.count <= 1s', /count and takes no unit/],
    ['rtt.p98 < 1ms', /unknown subject 'rtt.p98'/],
    ['rtt.p99 =< 1ms', /cannot parse/],
    ['rtt.p99 < ', /cannot parse/],
    ['< 1ms', /names no subject/],
    ['rtt.p99 < -1ms', /cannot be negative/],
    ['', /cannot parse/],
  ])('refuses %j', (text, re) => {
    expect(problem(text)).toMatch(re);
  });
});

describe('evaluate', () => {
  it.each([
    ['rtt.p99 < 250ms', 249.9, true],
    ['rtt.p99 < 250ms', 250, false],
    ['rtt.p99 <= 250ms', 250, true],
    ['loss < 1%', 0.0099, true],
    ['loss < 1%', 0.01, false],
    ['outage.count <= 1', 1, true],
    ['outage.count <= 1', 2, false],
    ['outage.count == 0', 0, true],
    ['received > 10', 10, false],
    ['received >= 10', 10, true],
    ['duplicates != 0', 0, false],
  ])('%s with %d -> %s', (text, actual, passed) => {
    const a = ok(text);
    expect(evaluate(a, { [a.subject]: actual }).passed).toBe(passed);
  });

  it('renders the measured value in the unit the assertion was written in', () => {
    expect(evaluate(ok('rtt.p99 < 0.25s'), { 'rtt.p99': 312.4 }).message).toBe('rtt.p99 = 0.3124 s, expected < 0.25 s');
    expect(evaluate(ok('loss < 1%'), { loss: 0.0234 }).message).toBe('loss = 2.34%, expected < 1%');
  });

  it('fails with "no data" rather than passing vacuously', () => {
    for (const v of [undefined, null, Number.NaN]) {
      const out = evaluate(ok('rtt.p99 < 250ms'), { 'rtt.p99': v });
      expect(out.passed).toBe(false);
      expect(out.actual).toBeNull();
      expect(out.message).toMatch(/no data/);
    }
    // A "not equal" assertion must not pass on missing data either.
    expect(evaluate(ok('duplicates != 5'), {}).passed).toBe(false);
  });
});
