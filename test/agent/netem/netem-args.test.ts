import { describe, expect, it } from 'vitest';
import type { Impairment } from '../../../core/profile.js';
import { classParams, leafNeedsRecreate, needsNetem, renderLeaf } from '../../../agent/netem/netem-args.js';
import { tcPct, tcRate, tcTime, shellLine } from '../../../agent/netem/tc-format.js';

const R = { seedSupported: true };

describe('tc value formatting (always with units)', () => {
  it.each([[80, '80ms'], [0.5, '500us'], [0.0005, '500ns'], [0, '0ms'], [1500, '1500ms']])('time %d ms -> %s', (ms, s) => expect(tcTime(ms)).toBe(s));
  it.each([[20000, '20000kbit'], [0.5, '500bit'], [1e6, '1000000kbit']])('rate %d kbit -> %s', (k, s) => expect(tcRate(k)).toBe(s));
  it.each([[0.05, '0.05%'], [1e-7, '0.0000001%'], [100, '100%'], [33.3333333, '33.3333333%']])('pct %d -> %s (no exponent)', (p, s) => expect(tcPct(p)).toBe(s));
  it('quotes only where a shell needs it', () => {
    expect(shellLine(['ip', 'link', 'set', 'alias', "it's a b"])).toBe(`ip link set alias 'it'\\''s a b'`);
    expect(shellLine(['tc', 'qdisc', 'add', 'dev', 'eth0', 'handle', 'bac0:', 'netem', 'loss', '1%'])).toBe('tc qdisc add dev eth0 handle bac0: netem loss 1%');
  });
});

describe('what needs netem', () => {
  it.each<[string, Impairment, boolean]>([
    ['rate only', { rateKbit: 1000 }, false],
    ['rate + limit', { rateKbit: 1000, limitPackets: 50 }, false],
    ['empty', {}, false],
    ['delay', { delayMs: 1 }, true],
    ['loss', { loss: { model: 'random', pct: 1 } }, true],
    ['rate with cell size', { rateKbit: 1000, cellSizeBytes: 53 }, true],
    ['slot', { slot: { minDelayMs: 1 } }, true],
  ])('%s -> %s', (_n, imp, want) => expect(needsNetem(imp)).toBe(want));
});

describe('renderLeaf: every field explicit, netem order', () => {
  it('a full random-loss profile', () => {
    expect(renderLeaf({ delayMs: 40, jitterMs: 5, delayCorrelationPct: 10, distribution: 'pareto', loss: { model: 'random', pct: 1 }, duplicatePct: 0.5,
      corruptPct: 0.1, reorderPct: 2, reorderGap: 3, limitPackets: 2000 }, R).args.join(' ')).toBe(
      'netem limit 2000 delay 40ms 5ms 10% distribution pareto loss random 1% 0% duplicate 0.5% 0% corrupt 0.1% 0% reorder 2% 0% gap 3 rate 0bit');
  });
  it('gilbert-elliott defaults as netem fills them (1-h 100%, 1-k 0%)', () => {
    expect(renderLeaf({ loss: { model: 'gilbert-elliott', pPct: 1, rPct: 20 } }, R).args.join(' ')).toContain('loss gemodel 1% 20% 100% 0%');
  });
  it('4-state in tc order p13 p31 p32 p23 p14 with defaults', () => {
    expect(renderLeaf({ loss: { model: '4-state', p13Pct: 2 } }, R).args.join(' ')).toContain('loss state 2% 98% 0% 100% 0%');
  });
  it('rate with overhead/cells goes to netem; the class is then unlimited', () => {
    const imp: Impairment = { rateKbit: 2000, packetOverheadBytes: 20, cellSizeBytes: 100, cellOverheadBytes: 5 };
    expect(renderLeaf(imp, R).args.join(' ')).toContain('rate 2000kbit 20 100 5');
    expect(classParams(imp).limited).toBe(false);
  });
  it('slot with budgets', () => {
    expect(renderLeaf({ slot: { minDelayMs: 0.8, maxDelayMs: 1.2, packets: 32, bytes: 65536 } }, R).args.join(' ')).toContain('slot 800us 1200us packets 32 bytes 65536');
  });
  it('warns instead of emitting what tc would refuse', () => {
    const r = renderLeaf({ reorderPct: 5, distribution: 'normal', jitterMs: 0, ecn: true }, R);
    expect(r.args).not.toContain('distribution');
    expect(r.args).not.toContain('ecn');
    expect(r.args.join(' ')).toContain('reorder 0% 0%');
    expect(r.warnings).toHaveLength(3);
  });
  it('uniform is the kernel default: no table (tc has no uniform.dist)', () => {
    expect(renderLeaf({ delayMs: 10, jitterMs: 2, distribution: 'uniform' }, R).args).not.toContain('distribution');
  });
  it('a rate-only impairment is a pfifo leaf with the effective limit', () => {
    expect(renderLeaf({ rateKbit: 1000 }, R)).toEqual({ kind: 'pfifo', args: ['pfifo', 'limit', '1000'], warnings: [] });
  });
});

describe('leafNeedsRecreate', () => {
  const netem = (imp: Impairment) => renderLeaf(imp, R, true);
  it.each([
    ['same kind, nothing to drop', { handle: 'bac1:', kind: 'netem', distribution: null }, netem({ delayMs: 10 }), false],
    ['kind change', { handle: 'bac1:', kind: 'pfifo' }, netem({ delayMs: 10 }), true],
    ['ecn dropped', { handle: 'bac1:', kind: 'netem', ecn: true, distribution: null }, netem({ delayMs: 10 }), true],
    ['slot dropped', { handle: 'bac1:', kind: 'netem', slot: true, distribution: null }, netem({ delayMs: 10 }), true],
    ['jitter, no table, table unknown', { handle: 'bac1:', kind: 'netem' }, netem({ delayMs: 10, jitterMs: 2 }), true],
    ['jitter, no table, known none', { handle: 'bac1:', kind: 'netem', distribution: null }, netem({ delayMs: 10, jitterMs: 2 }), false],
    ['jitter with its own table', { handle: 'bac1:', kind: 'netem' }, netem({ delayMs: 10, jitterMs: 2, distribution: 'normal' }), false],
    ['no jitter: a stale table does not matter', { handle: 'bac1:', kind: 'netem' }, netem({ delayMs: 10 }), false],
  ])('%s', (_n, live, next, want) => expect(leafNeedsRecreate(live, next)).toBe(want));
});
