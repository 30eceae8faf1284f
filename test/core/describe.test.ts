import { describe as suite, expect, it } from 'vitest';
import { describe, describeLoss, describePatch } from '../../core/describe.js';
import { parseProfile } from '../../core/profile-parse.js';

suite('describe', () => {
  it('one direction only', () => {
    const p = parseProfile({ name: 'a', description: 'd', egress: { delay: '80ms', loss: '0.5%' } });
    expect(describe(p)).toBe('Uplink (egress): adds 80 ms delay, drops 0.5% of packets at random; the downlink is left untouched.');
  });

  it('symmetric profiles say "both directions"', () => {
    const link = { delay: '4ms', jitter: '1ms', distribution: 'normal', rate: '500mbit' };
    expect(describe(parseProfile({ name: 'a', description: 'd', egress: link, ingress: link }))).toBe(
      'Both directions: adds 4 ms +/- 1 ms delay (normal), rate limited to 500 Mbit/s.',
    );
  });

  it('asymmetric with bursty loss, extras and a looping aligned schedule', () => {
    const p = parseProfile({
      name: 'a',
      description: 'd',
      egress: { delay: '90ms', jitter: '40ms', distribution: 'paretonormal', correlation: '25%', loss: { model: 'bursty', average: '2%', burst: 5 }, rate: '750kbit' },
      ingress: { delay: '70ms', duplicate: '0.05%', corrupt: '0.01%', reorder: { pct: '1%', gap: 5 }, slot: { min: '800us', max: '10ms', packets: 42 }, limit: 420 },
      schedule: {
        align: '15s',
        phases: [
          { name: 'steady', duration: '14s' },
          { name: 'handover', duration: '50ms..300ms', egress: { loss: '100%' }, ingress: { loss: '100%' } },
          { name: 'spike', duration: '1s', egress: { delay: '120ms', rate: 'none' } },
        ],
      },
    });
    expect(describe(p)).toBe(
      'Uplink (egress): adds 90 ms +/- 40 ms delay (paretonormal, 25% correlated), bursty loss averaging about 2% in bursts of ~5 packets, rate limited to 750 kbit/s. ' +
        'Downlink (ingress): adds 70 ms delay, duplicates 0.05%, corrupts 0.01% (one bit flipped), sends 1% of packets ahead of the delay (reordering, every 5th packet), ' +
        'releases packets in slots every 800 us-10 ms (at most 42 packets each), queue limit 420 packets. ' +
        'Repeats a 15.05 s to 15.3 s cycle, starting on wall-clock multiples of 15 s: steady for 14 s (the base); handover for 50-300 ms (total loss); spike for 1 s (up: delay 120 ms, no rate limit).',
    );
  });

  it('one-shot schedules say what stays afterwards', () => {
    const p = parseProfile({
      name: 'a',
      description: 'd',
      egress: { delay: '25ms' },
      schedule: { loop: false, tail: 'last', phases: [{ name: 'cut', duration: '150ms..900ms', egress: { loss: '100%' } }] },
    });
    expect(describe(p)).toBe(
      'Uplink (egress): adds 25 ms delay; the downlink is left untouched. Runs once (150 ms to 900 ms): cut for 150-900 ms (up: total loss); then stays in the last phase.',
    );
  });

  it('describes loss models', () => {
    expect(describeLoss({ model: 'random', pct: 100 })).toBe('drops every packet');
    expect(describeLoss({ model: 'random', pct: 1, correlationPct: 25 })).toBe('drops 1% of packets at random (25% correlated)');
    expect(describeLoss({ model: 'gilbert-elliott', pPct: 0.5, rPct: 25, oneMinusHPct: 100, oneMinusKPct: 0 })).toBe('bursty loss averaging about 2% in bursts of ~4 packets');
    expect(describeLoss({ model: '4-state', p13Pct: 10, p31Pct: 50 })).toBe('bursty loss (4-state) averaging about 17% in bursts of ~2 packets');
    expect(describePatch({ loss: null, jitterMs: 3 })).toBe('jitter 3 ms, no loss');
    expect(describePatch(undefined)).toBe('');
  });
});
