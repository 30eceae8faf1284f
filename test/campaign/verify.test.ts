import { describe, expect, it } from 'vitest';
import { stepName } from '../../campaign/verify.js';
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
