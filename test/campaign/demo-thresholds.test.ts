/**
 * The bundled demo's loss thresholds against the loss its own profiles produce (unit): a demo step
 * must not fail by chance. Each step's round-trip loss is simulated with the relay's loss model
 * (the kernel's decision rule, seeded: the test is deterministic) for the probes a default step
 * sends, many times over; no run may reach the step's `loss <` threshold. The same simulation with
 * the Gilbert-Elliott state losses swapped (80% outside bursts) must reach it: the threshold still
 * catches a loss model applied inverted.
 */
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../agent/profile-library.js';
import { createLossModel } from '../../agent/relay/stages/loss.js';
import { demoCampaign } from '../../campaign/demo.js';
import type { Loss } from '../../core/profile.js';
import { seededRandom } from '../../core/random.js';
import { effectiveImpairment } from '../../core/schedule.js';

const DEFAULT_STEP_MS = 12_000;
/** Runs per step: with none reaching the threshold, P(reach) < 1.5e-4 at 95% confidence from the sample alone. */
const RUNS = 20_000;

/** Round-trip loss fractions of `runs` probe streams of `probes` probes (egress drop, else ingress drop). */
function simulate(egress: Loss | undefined, ingress: Loss | undefined, probes: number, runs: number, seed: number): number[] {
  const rng = seededRandom(seed);
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const up = createLossModel(egress, rng);
    const down = createLossModel(ingress, rng);
    let lost = 0;
    for (let k = 0; k < probes; k++) if (up.lose() || down.lose()) lost++;
    out.push(lost / probes);
  }
  return out;
}

function swapStateLosses(loss: Loss | undefined): Loss | undefined {
  if (loss?.model !== 'gilbert-elliott') return loss;
  return { ...loss, oneMinusHPct: loss.oneMinusKPct ?? 0, oneMinusKPct: loss.oneMinusHPct ?? 100 };
}

describe('demo loss thresholds', async () => {
  const campaign = await demoCampaign('127.0.0.1:9', DEFAULT_STEP_MS);
  const steps = campaign.steps.flatMap((s) => {
    const limits = s.assertions.filter((a) => a.scope === 'probe' && a.assertion.subject === 'loss' && (a.assertion.op === '<' || a.assertion.op === '<='));
    const imp = s.impairments[0];
    const probe = s.probes[0];
    return limits.length > 0 && imp && 'name' in imp.profile && probe ? [{ step: s, threshold: Math.min(...limits.map((a) => a.assertion.threshold)), profileName: imp.profile.name, intervalMs: probe.intervalMs }] : [];
  });

  it('every step with an impairment states a loss threshold', () => {
    expect(steps.map((s) => s.step.name)).toEqual(['fibre', 'lte-cell-edge', 'geo-satellite']);
  });

  it.each(steps.map((s) => [s.step.name, s] as const))('%s: no simulated run reaches its loss threshold', async (_name, s) => {
    const profile = await loadProfile(s.profileName);
    // the schedule's phases (LTE capacity steps) leave loss alone: the base's loss holds for the whole step
    for (const phase of profile.schedule?.phases ?? []) {
      expect(phase.egress?.loss, phase.name).toBeUndefined();
      expect(phase.ingress?.loss, phase.name).toBeUndefined();
    }
    const egress = effectiveImpairment(profile, null, 'egress')?.loss;
    const ingress = effectiveImpairment(profile, null, 'ingress')?.loss;
    // the measured window is a little shorter than the step (it opens once the apply settled)
    const probes = Math.floor((0.85 * s.step.durationMs) / s.intervalMs);
    const losses = simulate(egress, ingress, probes, RUNS, 20261128);
    const worst = Math.max(...losses);
    expect(worst, `${s.step.name}: worst of ${RUNS} runs of ${probes} probes`).toBeLessThan(s.threshold);
    if (egress?.model === 'gilbert-elliott') {
      const inverted = simulate(swapStateLosses(egress), swapStateLosses(ingress), probes, 200, 7);
      expect(Math.min(...inverted), 'inverted Gilbert-Elliott losses').toBeGreaterThanOrEqual(s.threshold);
    }
  });
});
