/**
 * The `order` field (YAML `order: keep | any`) -> `keepOrder`: parsing, the cross-field rule with
 * `reorder`, schedule phases overriding it, and describe().
 */
import { describe, expect, it } from 'vitest';
import { BackhaulError } from '../../core/errors.js';
import { describe as describeProfile, describePatch } from '../../core/describe.js';
import { parseProfile } from '../../core/profile-parse.js';
import { effectiveImpairment } from '../../core/schedule.js';

function problems(raw: unknown): string[] {
  try {
    parseProfile(raw, 'p.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(BackhaulError);
    return (e as BackhaulError).details['problems'] as string[];
  }
  throw new Error('expected the profile to be refused');
}

describe('order: keep | any', () => {
  it('keep -> keepOrder true; any (the default) and none -> no field', () => {
    const p = parseProfile({ name: 'o', description: 'd', egress: { delay: '20ms', jitter: '15ms', order: 'keep' }, ingress: { delay: '5ms', order: 'any' } });
    expect(p.egress).toEqual({ delayMs: 20, jitterMs: 15, keepOrder: true });
    expect(p.ingress).toEqual({ delayMs: 5 });
    expect(parseProfile({ name: 'o', description: 'd', egress: { delay: '1ms', order: 'none' } }).egress).toEqual({ delayMs: 1 });
  });

  it.each([['fifo'], [true], [1], [{ keep: true }]])('refuses %j naming the path and the accepted values', (v) => {
    expect(problems({ description: 'd', egress: { delay: '1ms', order: v } })).toEqual([
      expect.stringMatching(/^p\.yaml: egress\.order: must be keep \(in-order delivery.*\) or any .*\(got /),
    ]);
  });

  it('keep with reorder above 0% is contradictory: refused at egress.order', () => {
    expect(problems({ description: 'd', egress: { delay: '20ms', order: 'keep', reorder: '5%' } })).toEqual([
      'p.yaml: egress.order: keep contradicts reorder (reorder sends packets ahead of the ones queued before them): remove reorder, or write order: any',
    ]);
  });

  it('keep with reorder 0% is not a contradiction', () => {
    expect(parseProfile({ name: 'o', description: 'd', egress: { delay: '20ms', order: 'keep', reorder: '0%' } }).egress.keepOrder).toBe(true);
  });

  it('a phase inherits keep; a phase adding reorder must also say order: any', () => {
    const base = { name: 'o', description: 'd', egress: { delay: '20ms', jitter: '10ms', order: 'keep' } };
    expect(problems({ ...base, schedule: { phases: [{ duration: '1s', egress: { reorder: '5%' } }] } })).toEqual([
      'p.yaml: schedule.phases[0].egress.order: with the base merged in, keep contradicts reorder (reorder sends packets ahead of the ones queued before them): remove reorder, or write order: any',
    ]);
    const p = parseProfile({ ...base, schedule: { phases: [{ duration: '1s' }, { duration: '1s', egress: { order: 'any', reorder: '5%' } }] } });
    expect(effectiveImpairment(p, 0, 'egress')?.keepOrder).toBe(true);
    expect(effectiveImpairment(p, 1, 'egress')).toEqual({ delayMs: 20, jitterMs: 10, reorderPct: 5 });
  });

  it('a phase may turn it on over a base without it', () => {
    const p = parseProfile({ name: 'o', description: 'd', egress: { delay: '20ms', jitter: '10ms' }, schedule: { phases: [{ duration: '1s', egress: { order: 'keep' } }] } });
    expect(effectiveImpairment(p, null, 'egress')?.keepOrder).toBeUndefined();
    expect(effectiveImpairment(p, 0, 'egress')?.keepOrder).toBe(true);
  });

  it('describe() says so, and a phase that drops it says jitter may reorder', () => {
    const p = parseProfile({ name: 'o', description: 'd', egress: { delay: '20ms', jitter: '10ms', order: 'keep' } });
    expect(describeProfile(p)).toBe('Uplink (egress): adds 20 ms +/- 10 ms delay, keeps packets in order (a late packet holds back those behind it); the downlink is left untouched.');
    expect(describePatch({ keepOrder: null })).toBe('jitter may reorder');
  });
});
