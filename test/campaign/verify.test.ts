import { describe, expect, it } from 'vitest';
import { requireConformance, stepName } from '../../campaign/verify.js';
import type { CampaignResult } from '../../campaign/result.js';
import { parseCampaign } from '../../campaign/spec.js';

describe('verify stepName', () => {
  it('a bundled name stays as it is', () => {
    expect(stepName('lte-cell-edge')).toBe('lte-cell-edge');
  });
  it('an absolute or relative profile file becomes its base name (a valid step name)', () => {
    expect(stepName('/work/repo/test/kernel/fixtures/verify-delay-loss.yaml')).toBe('verify-delay-loss');
    expect(stepName('./my profile.yml')).toBe('my_profile');
    expect(stepName('..\\dir\\_x.yaml')).toBe('x');
    expect(stepName('/')).toBe('profile');
    expect(stepName(`/${'a'.repeat(100)}.yaml`)).toHaveLength(63);
  });
  it('the campaign parser accepts the step names it makes (and rejects the old path-derived ones)', () => {
    const problems = (name: string): string => {
      try {
        parseCampaign({ name: 'v', agents: [{ name: 'l', url: 'in-process' }], steps: [{ name, duration: '1s', impairments: [], probes: [] }] }, 'v', { env: {} });
        return '';
      } catch (e) {
        return JSON.stringify((e as { details?: unknown }).details ?? String(e));
      }
    };
    expect(problems('_work_x.yaml')).toMatch(/steps\[0\]\.name/); // what a path used to become
    for (const p of ['/abs/_odd name.yaml', './-x.yml', 'lte-good']) expect(problems(stepName(p))).not.toMatch(/steps\[0\]\.name/);
  });
});

describe('verify requireConformance', () => {
  const result = (probe: Record<string, unknown> | undefined, exitCode: 0 | 1 | 2 = 0): CampaignResult =>
    ({ campaign: 'verify', verdict: exitCode === 0 ? 'passed' : 'failed', exitCode, agents: [], reverts: [], steps: [{ probes: probe ? [probe] : [] }] }) as unknown as CampaignResult;
  it('a passed campaign whose probe has no conformance is "could not run" (2), with the probe error', () => {
    const r = requireConformance(result({ conformance: [], error: 'probe start timed out' }));
    expect(r.exitCode).toBe(2);
    expect(r.verdict).toBe('error');
    expect(r.error).toMatch(/nothing was compared.*probe start timed out/);
    expect(requireConformance(result(undefined)).exitCode).toBe(2);
  });
  it('a compared result, and a failed one, are left as they are', () => {
    const ok = result({ conformance: [{ impairment: 'verify', profile: 'p', result: { ok: true, checks: [] } }] });
    expect(requireConformance(ok)).toBe(ok);
    const failed = result({ conformance: [] }, 1);
    expect(requireConformance(failed)).toBe(failed);
  });
});
