import { describe, expect, it } from 'vitest';
import { BackhaulError } from '../../core/errors.js';
import { parseProfile } from '../../core/profile-parse.js';

function problemsOf(raw: unknown, file?: string): string[] {
  try {
    parseProfile(raw, file);
  } catch (e) {
    expect(e).toBeInstanceOf(BackhaulError);
    const err = e as BackhaulError;
    expect(err.code).toBe('ERR_PROFILE_INVALID');
    expect(err.exitCode).toBe(2);
    return err.details['problems'] as string[];
  }
  throw new Error('expected the profile to be rejected');
}

describe('parseProfile: valid input', () => {
  it('converts human units into fields with units in their names', () => {
    const p = parseProfile(
      {
        description: 'LTE at the cell edge',
        source: '[LH]',
        egress: {
          delay: '90ms',
          jitter: '40ms',
          correlation: '25%',
          distribution: 'paretonormal',
          loss: { model: 'gilbert-elliott', p: '0.5%', r: '20%', '1-h': '80%', '1-k': '0.1%' },
          duplicate: { pct: '0.05%', correlation: '10%' },
          corrupt: '0.01%',
          reorder: { pct: '1%', correlation: '5%', gap: 5 },
          rate: '750kbit',
          overhead: 20,
          'cell-size': 53,
          'cell-overhead': 5,
          slot: { min: '800us', max: '10ms', packets: 42, bytes: '64k' },
          limit: 5000,
          seed: 42,
        },
        ingress: { delay: '70ms', loss: '0.5%', ecn: true, rate: '1.6mbit' },
      },
      'profiles/lte-cell-edge.yaml',
    );
    expect(p).toEqual({
      name: 'lte-cell-edge',
      description: 'LTE at the cell edge',
      source: '[LH]',
      egress: {
        delayMs: 90,
        jitterMs: 40,
        delayCorrelationPct: 25,
        distribution: 'paretonormal',
        loss: { model: 'gilbert-elliott', pPct: 0.5, rPct: 20, oneMinusHPct: 80, oneMinusKPct: 0.1 },
        duplicatePct: 0.05,
        duplicateCorrelationPct: 10,
        corruptPct: 0.01,
        reorderPct: 1,
        reorderCorrelationPct: 5,
        reorderGap: 5,
        rateKbit: 750,
        packetOverheadBytes: 20,
        cellSizeBytes: 53,
        cellOverheadBytes: 5,
        slot: { minDelayMs: 0.8, maxDelayMs: 10, packets: 42, bytes: 65_536 },
        limitPackets: 5000,
        seed: 42,
      },
      ingress: { delayMs: 70, loss: { model: 'random', pct: 0.5 }, ecn: true, rateKbit: 1600 },
    });
  });

  it.each([
    [{ model: 'random', pct: '1%', correlation: '25%' }, { model: 'random', pct: 1, correlationPct: 25 }],
    ['2%', { model: 'random', pct: 2 }],
    // netem's defaults for gemodel p alone: r = 1 - p (1-h, 1-k left to tc's defaults)
    [{ model: 'gilbert-elliott', p: '1%' }, { model: 'gilbert-elliott', pPct: 1, rPct: 99 }],
    // bursty: 2% average in bursts of 4 -> r = 25%, p = 0.25 * 0.02 / 0.98
    [{ model: 'bursty', average: '2%', burst: 4 }, { model: 'gilbert-elliott', pPct: 0.510204, rPct: 25, oneMinusHPct: 100, oneMinusKPct: 0 }],
    [{ model: '4-state', p13: '1%', p31: '90%' }, { model: '4-state', p13Pct: 1, p31Pct: 90 }],
  ])('loss %j', (loss, expected) => {
    expect(parseProfile({ name: 'x', description: 'd', egress: { loss } }).egress.loss).toEqual(expected);
  });

  it('treats `none` in the base as absent and takes the name from the file name', () => {
    expect(parseProfile({ description: 'd', egress: { loss: 'none', delay: '5ms' } }, '/tmp/dir/my-link.yml')).toEqual({
      name: 'my-link',
      description: 'd',
      egress: { delayMs: 5 },
    });
  });

  it('parses a schedule: fixed and random durations, patches with removals, one-shot tail, alignment', () => {
    const p = parseProfile({
      name: 's',
      description: 'd',
      egress: { delay: '20ms', jitter: '5ms', distribution: 'normal', rate: '8mbit', overhead: 20 },
      schedule: {
        loop: false,
        tail: 'last',
        align: '15s',
        phases: [
          { name: 'calm', duration: '30s..90s' },
          { duration: '50ms', egress: { loss: '100%' }, ingress: { loss: '100%' } },
          { duration: '1s', egress: { delay: 'none', rate: 'none' } },
        ],
      },
    });
    expect(p.schedule).toEqual({
      loop: false,
      tail: 'last',
      alignMs: 15_000,
      phases: [
        { name: 'calm', durationMs: { minMs: 30_000, maxMs: 90_000 } },
        { durationMs: 50, egress: { loss: { model: 'random', pct: 100 } }, ingress: { loss: { model: 'random', pct: 100 } } },
        {
          durationMs: 1000,
          egress: {
            delayMs: null,
            jitterMs: null,
            delayCorrelationPct: null,
            distribution: null,
            reorderPct: null,
            reorderCorrelationPct: null,
            reorderGap: null,
            rateKbit: null,
            packetOverheadBytes: null,
            cellSizeBytes: null,
            cellOverheadBytes: null,
          },
        },
      ],
    });
  });

  it('an empty block (YAML `ingress:` with nothing under it) is an empty impairment', () => {
    expect(parseProfile({ name: 'a', description: 'd', egress: null, ingress: null })).toEqual({ name: 'a', description: 'd', egress: {}, ingress: {} });
  });

  it('defaults loop to true and a one-shot tail to base', () => {
    expect(parseProfile({ name: 'a', description: 'd', schedule: { phases: [{ duration: '1s' }] } }).schedule).toEqual({
      loop: true,
      phases: [{ durationMs: 1000 }],
    });
    expect(parseProfile({ name: 'a', description: 'd', schedule: { loop: false, phases: [{ duration: '1s' }] } }).schedule?.tail).toBe('base');
  });
});

describe('parseProfile: every problem at once, with its path and the accepted range', () => {
  it('lists all the structural errors of a wrong profile', () => {
    const problems = problemsOf(
      {
        description: 'wrong on purpose',
        colour: 'blue',
        egress: {
          delai: '80ms',
          delay: 80,
          loss: { model: 'gilbert-elliott', p: '140%', r: '30%', '1-x': '1%' },
          rate: '8mbps',
          duplicate: 'x',
          reorder: { pct: '1%', gap: 0 },
          slot: { min: '5ms', max: '1ms' },
        },
        ingress: { loss: { model: 'ge' }, ecn: true, overhead: 20, distribution: 'gauss', limit: 0, seed: -1 },
        schedule: { tail: 'last', phases: [{ duration: '90s..30s' }, { egress: {} }] },
      },
      'profiles/lte.yaml',
    );
    expect(problems).toEqual([
      'profiles/lte.yaml: colour: unknown field (expected one of: name, description, source, egress, ingress, schedule)',
      'profiles/lte.yaml: egress.delai: unknown field (did you mean "delay"?)',
      'profiles/lte.yaml: egress.delay: needs a unit, e.g. 80ms or 80s (got bare number 80)',
      'profiles/lte.yaml: egress.loss.p: must be 0..100% (got 140%)',
      'profiles/lte.yaml: egress.loss.1-x: unknown field (did you mean "1-h"?)',
      'profiles/lte.yaml: egress.rate: "8mbps" is ambiguous: tc reads "bps" as BYTES per second (8x 8mbit); write bits per second with "bit", e.g. 8mbit',
      'profiles/lte.yaml: egress.duplicate: expected a percentage such as 0.5% (got "x"); or a mapping {pct, correlation}',
      'profiles/lte.yaml: egress.reorder.gap: must be 1..4294967295 (got 0)',
      'profiles/lte.yaml: ingress.loss.model: must be "random", "gilbert-elliott", "bursty" or "4-state" (got ge)',
      'profiles/lte.yaml: ingress.distribution: must be one of uniform, normal, pareto, paretonormal (got gauss)',
      'profiles/lte.yaml: ingress.limit: must be 1..4294967295 (got 0)',
      'profiles/lte.yaml: ingress.seed: must be 0..9007199254740991 (got -1)',
      'profiles/lte.yaml: egress.slot.max: must be at least slot.min (got max 1 ms < min 5 ms)',
      'profiles/lte.yaml: ingress.overhead: needs rate (it adjusts how rate counts each packet)',
      'profiles/lte.yaml: schedule.tail: only applies to a one-shot schedule (loop: false)',
      'profiles/lte.yaml: schedule.phases[0].duration: min must be below max (got 90s..30s); for a fixed duration write one value',
      'profiles/lte.yaml: schedule.phases[1].duration: required: a duration such as 30s, or a random range such as 30s..90s',
    ]);
  });

  it.each([
    [{ delay: '61s' }, 'egress.delay: must be 0ms..60s (got 61s)'],
    [{ loss: '100.5%' }, 'egress.loss: must be 0..100% (got 100.5%)'],
    [{ rate: '2tbit' }, 'egress.rate: must be 8bit..1tbit (got 2tbit)'],
    [{ rate: '1bit' }, 'egress.rate: must be 8bit..1tbit (got 1bit)'],
    [{ overhead: 2000, rate: '1mbit' }, 'egress.overhead: must be -1024..1024 (got 2000)'],
    [{ 'cell-size': 1.5, rate: '1mbit' }, 'egress.cell-size: expected a whole number 1..65535 (got 1.5)'],
    [{ ecn: 'yes', loss: '1%' }, 'egress.ecn: must be true or false (got yes)'],
    [{ loss: { model: 'bursty', average: '60%', burst: 1 } }, 'egress.loss.burst: average 60% with bursts of 1 packets needs P(good->bad) above 100%: use longer bursts or a lower average'],
    [{ loss: { model: 'bursty', average: '2%', burst: 0.5 } }, 'egress.loss.burst: must be 1..1000000 packets (got 0.5)'],
    [{ loss: { p: '1%' } }, 'egress.loss: needs model: "random", "gilbert-elliott", "bursty" or "4-state"'],
    [{ loss: { model: 'random' } }, 'egress.loss.pct: required'],
    [{ slot: { max: '1ms' } }, 'egress.slot.min: required'],
    [{ slot: '2m' }, 'egress.slot: must be 0ms..60s (got 2m)'],
  ])('%j', (egress, message) => {
    expect(problemsOf({ name: 'p', description: 'd', egress })).toEqual([message]);
  });

  it('reports hostile keys such as __proto__ as unknown fields (no crash, no prototype games)', () => {
    const raw = JSON.parse('{"__proto__": {"x": 1}, "name": "x", "description": "d", "egress": {"__proto__": {"delay": "1ms"}, "loss": {"model": "random", "pct": "1%", "__proto__": 1}}}') as unknown;
    expect(problemsOf(raw)).toEqual([
      '__proto__: unknown field (expected one of: name, description, source, egress, ingress, schedule)',
      'egress.__proto__: unknown field (expected one of: delay, jitter, correlation, distribution, loss, ecn, duplicate, corrupt, reorder, order, rate, overhead, cell-size, cell-overhead, slot, limit, seed)',
      'egress.loss.__proto__: unknown field (expected one of: model, pct, correlation)',
    ]);
  });

  it('reports top-level shape errors', () => {
    expect(problemsOf('hello', 'a.yaml')).toEqual(['a.yaml: expected a mapping with description and egress/ingress (got "hello")']);
    expect(problemsOf({ egress: 5 }, 'a.yaml')).toEqual([
      'a.yaml: description: must be a non-empty text (one line saying what link this emulates)',
      'a.yaml: egress: expected a mapping of delay, jitter, correlation, distribution, loss, ... (got 5)',
    ]);
    expect(problemsOf({ description: 'd' })).toEqual(['name: required (no file name to take it from)']);
    expect(problemsOf({ name: '../etc', description: 'd' })).toEqual([
      `name: must be 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit (got "../etc")`,
    ]);
    expect(problemsOf({ name: 'x', description: 'd', extends: 'lte-good' })).toEqual([
      'extends: is resolved when a profile is loaded by name or path (backhaul profiles/--profiles); here it cannot be',
    ]);
    expect(problemsOf({ name: 'x', description: 'd', schedule: { phases: [] } })).toEqual(['schedule.phases: needs at least 1 entry']);
    expect(problemsOf({ name: 'x', description: 'd', schedule: { phases: [{ duration: '1s', egres: {} }], align: '0s' } })).toEqual([
      'schedule.align: must be 1ms..24h (got 0s)',
      'schedule.phases[0].egres: unknown field (did you mean "egress"?)',
    ]);
  });
});

describe('parseProfile: cross-field rules (netem refuses or ignores these)', () => {
  it.each([
    [{ jitter: '5ms' }, ['egress.jitter: needs delay (jitter varies the delay; write delay: 0ms to jitter around zero)']],
    [{ delay: '5ms', correlation: '25%' }, ['egress.correlation: needs a jitter above 0 (the delay correlation only shapes the jitter)']],
    [
      { delay: '5ms', distribution: 'normal' },
      ['egress.distribution: needs delay and a jitter above 0 (netem: "distribution specified but no latency and jitter values")'],
    ],
    [{ reorder: '1%' }, ['egress.reorder: needs a delay above 0 (netem: "reordering not possible without specifying some delay")']],
    [{ delay: '0ms', reorder: '1%' }, ['egress.reorder: needs a delay above 0 (netem: "reordering not possible without specifying some delay")']],
    [{ delay: '5ms', reorder: { pct: '0%', gap: 5 } }, ['egress.reorder.gap: needs reorder.pct above 0% (netem: "gap specified without reorder probability")']],
    [{ duplicate: { pct: '0%', correlation: '5%' } }, ['egress.duplicate.correlation: needs duplicate.pct above 0%']],
    [{ ecn: true }, ['egress.ecn: needs a loss model (ECN marks the packets the loss model would drop; netem: "ecn requested without loss model")']],
    [{ overhead: 20 }, ['egress.overhead: needs rate (it adjusts how rate counts each packet)']],
    [
      { rate: '1mbit', 'cell-overhead': 5 },
      ['egress.cell-overhead: needs cell-size'],
    ],
    [{ slot: { min: '10ms', max: '5ms' } }, ['egress.slot.max: must be at least slot.min (got max 5 ms < min 10 ms)']],
    [{ loss: { model: '4-state', p13: '60%', p14: '50%' } }, ['egress.loss: p13 + p14 must be at most 100% (got 110%)']],
    [{ loss: { model: '4-state', p13: '10%', p31: '80%', p32: '30%' } }, ['egress.loss: p31 + p32 must be at most 100% (got 110%)']],
  ])('%j', (egress, messages) => {
    expect(problemsOf({ name: 'p', description: 'd', egress })).toEqual(messages);
  });

  it('accepts what netem accepts: jitter around zero, jitter above delay, ecn with gemodel', () => {
    expect(() => parseProfile({ name: 'a', description: 'd', egress: { delay: '0ms', jitter: '5ms' } })).not.toThrow();
    expect(() => parseProfile({ name: 'a', description: 'd', egress: { delay: '3ms', jitter: '25ms', distribution: 'pareto' } })).not.toThrow();
    expect(() => parseProfile({ name: 'a', description: 'd', egress: { loss: { model: 'gilbert-elliott', p: '1%' }, ecn: true } })).not.toThrow();
  });

  it('skips a rule whose input is itself invalid (one problem, not two)', () => {
    expect(problemsOf({ name: 'p', description: 'd', egress: { delay: 'soon', jitter: '5ms' } })).toEqual([
      'egress.delay: expected a duration such as 80ms, 1.5s, 500us or 2m (got "soon")',
    ]);
  });

  it('checks every phase merged with the base, once per problem', () => {
    const problems = problemsOf({
      name: 'p',
      description: 'd',
      egress: { delay: '10ms', jitter: '5ms', distribution: 'normal', reorder: '1%' },
      schedule: {
        phases: [
          { duration: '1s', egress: { delay: 'none' } }, // cascades: jitter, distribution, reorder go too
          { duration: '1s', egress: { delay: 'none', jitter: '3ms' } },
          { duration: '1s', egress: { jitter: '0ms' } },
          { duration: '1s', ingress: { ecn: true } },
        ],
      },
    });
    expect(problems).toEqual([
      'schedule.phases[1].egress.jitter: with the base merged in, needs delay (jitter varies the delay; write delay: 0ms to jitter around zero)',
      'schedule.phases[2].egress.distribution: with the base merged in, needs delay and a jitter above 0 (netem: "distribution specified but no latency and jitter values")',
      'schedule.phases[3].ingress.ecn: with the base merged in, needs a loss model (ECN marks the packets the loss model would drop; netem: "ecn requested without loss model")',
    ]);
  });

  it('does not repeat a base problem for every phase', () => {
    expect(
      problemsOf({ name: 'p', description: 'd', egress: { ecn: true }, schedule: { phases: [{ duration: '1s', egress: { rate: '1mbit' } }] } }),
    ).toEqual(['egress.ecn: needs a loss model (ECN marks the packets the loss model would drop; netem: "ecn requested without loss model")']);
  });
});
