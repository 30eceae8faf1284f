import { describe, expect, it } from 'vitest';
import { renderSummary } from '../../../campaign/reports/terminal.js';
import { renderJson, JSON_REPORT_SCHEMA } from '../../../campaign/reports/json.js';
import { fixtureResult } from '../fixture.js';

describe('terminal summary and JSON', () => {
  it('shows every assertion with its verdict and the campaign verdict', () => {
    const text = renderSummary(fixtureResult({ failing: true }));
    expect(text).toMatch(/FAIL to-dc: rtt\.p99 < 250ms -- rtt\.p99 = /);
    expect(text).toMatch(/PASS to-dc: loss < 5%/);
    expect(text).toMatch(/FAILED: 1 of 6 assertions do not hold \(exit 1\)/);
    expect(text).toMatch(/clock offset 0\.1 ms/);
  });
  it("lists a hook's failed JUnit test cases under it", () => {
    const text = renderSummary(fixtureResult({ hookJunit: true }));
    expect(text).toMatch(/hook pos-smoke: exit 1 in .*, junit 2 tests, 1 failures\n\s+\S*FAIL\S* pos\.Refund\.refund <over> limit -- expected 402 & got 200/);
    expect(text).not.toMatch(/sale completes/);
  });
  it('an unknown clock offset says how to enable the agent\'s reflector (or why it is unknown)', () => {
    const r = fixtureResult();
    r.agents[0] = { ...r.agents[0]!, clockOffsetMs: null, clockUncertaintyMs: null };
    expect(renderSummary(r)).toMatch(/clock offset unknown \(the agent runs no STAMP reflector: enable it with `reflector: \{ listen: "0\.0\.0\.0:862" \}`/);
    r.agents[0] = { ...r.agents[0]!, problems: ['its reflector 10.0.0.1:862 did not answer: clock offset unknown'] };
    expect(renderSummary(r)).not.toMatch(/runs no STAMP reflector/);
  });
  it('JSON keeps the encoded histograms and round-trips', () => {
    const r = fixtureResult();
    const back = JSON.parse(renderJson(r));
    expect(back.schema).toBe(JSON_REPORT_SCHEMA);
    expect(back.steps[0].probes[0].histogramNs).toBe(r.steps[0]!.probes[0]!.histogramNs);
    expect(back.exitCode).toBe(0);
  });
});
