import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackhaulError } from '../../core/errors.js';
import type { Schedule } from '../../core/profile.js';
import { parseProfile } from '../../core/profile-parse.js';
import { DIRECTION_FIELDS } from '../../core/profile-schema.js';
import { seededRandom } from '../../core/random.js';
import { describe as describeProfile } from '../../core/describe.js';
import { effectiveImpairment, timelineUntil } from '../../core/schedule.js';

/** Either a Profile, or a BackhaulError ERR_PROFILE_INVALID listing at least one problem; never anything else. */
function parseOrProblems(raw: unknown): 'ok' | 'invalid' {
  try {
    const p = parseProfile(raw, 'fuzz.yaml');
    // whatever parses must also describe and merge without throwing
    describeProfile(p);
    for (let i = 0; i < (p.schedule?.phases.length ?? 0); i++) effectiveImpairment(p, i, 'egress');
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(BackhaulError);
    expect((e as BackhaulError).code).toBe('ERR_PROFILE_INVALID');
    const problems = (e as BackhaulError).details['problems'] as string[];
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p).toMatch(/^fuzz\.yaml: /);
    return 'invalid';
  }
}

const token = fc.constantFrom(
  '80ms', '0ms', '1.5s', '500us', '2m', '61s', '20mbit', '8mbps', '750kbit', '0.5%', '100%', '140%', '64k', 'none',
  'normal', 'pareto', 'gauss', '', '30s..90s', '90s..30s', 'random', 'gilbert-elliott', 'bursty', '4-state',
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    token,
    fc.integer({ min: -5, max: 5000 }),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('model', 'pct', 'p', 'r', '1-h', '1-k', 'average', 'burst', 'min', 'max', 'packets', 'gap', 'correlation', 'x', '__proto__', 'hasOwnProperty'), tie('v'), { maxKeys: 4 }),
  ),
})).v;
const direction = fc.dictionary(fc.constantFrom(...DIRECTION_FIELDS, 'delai', '__proto__', 'constructor', 'toString'), value, { maxKeys: 6 });
const phase = fc.record(
  { name: fc.constantFrom('a', 'b'), duration: fc.oneof(token, value), egress: direction, ingress: direction },
  { requiredKeys: [] },
);
const profile = fc.record(
  {
    name: fc.constantFrom('ok-name', '../bad', 'x'),
    description: fc.oneof(fc.constant('d'), value),
    egress: fc.oneof(direction, value),
    ingress: direction,
    schedule: fc.oneof(
      fc.record({ loop: fc.oneof(fc.boolean(), value), tail: fc.constantFrom('base', 'last', 'x'), align: fc.oneof(token, value), phases: fc.array(phase, { maxLength: 4 }) }, { requiredKeys: [] }),
      value,
    ),
  },
  { requiredKeys: [] },
);

describe('parseProfile never crashes', () => {
  it('on arbitrary JSON values', () => {
    // Seeded like the others here (CI sees the same inputs every run); unseeded, these properties
    // held over 20 000 runs each.
    fc.assert(fc.property(fc.jsonValue(), (raw) => void parseOrProblems(raw)), { numRuns: 200, seed: 1 });
  }, 120_000);

  it('on profile-shaped input with plausible and implausible values', () => {
    let ok = 0;
    fc.assert(
      fc.property(profile, (raw) => {
        if (parseOrProblems(raw) === 'ok') ok++;
      }),
      { numRuns: 400, seed: 1 },
    );
    expect(ok).toBeGreaterThan(0); // the generator does reach valid profiles
  }, 120_000);
});

describe('timeline properties', () => {
  const duration = fc.oneof(
    fc.integer({ min: 1, max: 20_000 }),
    fc.tuple(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 })).map(([a, b]) => ({ minMs: a, maxMs: a + b })),
  );
  const schedule: fc.Arbitrary<Schedule> = fc.record({
    phases: fc.array(fc.record({ durationMs: duration }), { minLength: 1, maxLength: 5 }),
    loop: fc.boolean(),
    alignMs: fc.option(fc.integer({ min: 1, max: 30_000 }), { nil: undefined }),
  }).map((s) => {
    const out: Schedule = { phases: s.phases, loop: s.loop };
    if (s.alignMs !== undefined) out.alignMs = s.alignMs;
    if (!s.loop) out.tail = 'base';
    return out;
  });

  it('segments are contiguous, durations within bounds, passes start on alignment boundaries', () => {
    fc.assert(
      fc.property(schedule, fc.integer({ min: 0, max: 2 ** 40 }), fc.integer(), (s, start, seed) => {
        const segs = timelineUntil(s, start, seededRandom(seed), start + 200_000);
        expect(segs[0]?.startMs).toBe(start);
        for (let i = 1; i < segs.length; i++) expect(segs[i]?.startMs).toBe(segs[i - 1]?.endMs);
        for (const seg of segs) {
          if (seg.phaseIndex === null) continue;
          const d = s.phases[seg.phaseIndex]?.durationMs;
          const len = seg.endMs - seg.startMs;
          if (seg.endMs === Infinity) continue;
          if (typeof d === 'number') expect(len).toBe(d);
          else if (d) {
            expect(len).toBeGreaterThanOrEqual(d.minMs);
            expect(len).toBeLessThanOrEqual(d.maxMs);
          }
          if (seg.phaseIndex === 0 && s.alignMs !== undefined) expect(seg.startMs % s.alignMs).toBe(0);
        }
        if (!s.loop) expect(segs.at(-1)?.endMs === Infinity || segs.at(-1)!.endMs >= start + 200_000).toBe(true);
      }),
      { numRuns: 150, seed: 1 },
    );
  }, 120_000);
});
