import { describe, expect, it } from 'vitest';
import { checkUdpImpairment, formatHostPort, parseHostPort, planTcpDirection } from '../../../agent/relay/plan.js';

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:9000', { host: '127.0.0.1', port: 9000 }],
    ['[::1]:53', { host: '::1', port: 53 }],
    ['example.internal:443', { host: 'example.internal', port: 443 }],
  ])('%s', (s, want) => {
    expect(parseHostPort(s, '--upstream')).toEqual(want);
  });

  it.each([
    ['127.0.0.1', /expected HOST:PORT/],
    [':9000', /expected HOST:PORT/],
    ['127.0.0.1:70000', /port must be 1\.\.65535/],
    ['127.0.0.1:0', /port must be 1\.\.65535/],
    ['::1:53', /expected HOST:PORT/],
  ])('refuses %s with a message naming the flag', (s, msg) => {
    expect(() => parseHostPort(s, '--upstream')).toThrow(msg);
    expect(() => parseHostPort(s, '--upstream')).toThrow(/--upstream/);
  });

  it('allows port 0 where asked (listen) and formats IPv6 with brackets', () => {
    expect(parseHostPort('0.0.0.0:0', '--listen', true).port).toBe(0);
    expect(formatHostPort({ host: '::1', port: 5 })).toBe('[::1]:5');
    expect(formatHostPort({ host: '10.0.0.1', port: 5 })).toBe('10.0.0.1:5');
  });
});

describe('checkUdpImpairment', () => {
  it('accepts every netem field but ecn', () => {
    expect(() =>
      checkUdpImpairment(
        { delayMs: 10, jitterMs: 2, distribution: 'pareto', loss: { model: '4-state', p13Pct: 1 }, duplicatePct: 1, corruptPct: 1, reorderPct: 5, reorderGap: 3, rateKbit: 1000, slot: { minDelayMs: 1 } },
        'egress',
      ),
    ).not.toThrow();
    expect(() => checkUdpImpairment({ ecn: true }, 'egress')).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED' }));
  });
});

describe('planTcpDirection (TCP mapping rules)', () => {
  it('maps delay, jitter, distribution and rate', () => {
    const p = planTcpDirection({ delayMs: 20, jitterMs: 5, distribution: 'normal', delayCorrelationPct: 25, rateKbit: 5000, seed: 3 }, 'egress');
    expect(p).toMatchObject({ delayMs: 20, jitterMs: 5, distribution: 'normal', delayCorrelationPct: 25, rateKbit: 5000, outage: false, seed: 3, ignored: [], notes: [] });
  });

  it('loss 100 % is an outage; limitPackets becomes a note', () => {
    const p = planTcpDirection({ loss: { model: 'random', pct: 100 }, limitPackets: 500 }, 'ingress');
    expect(p.outage).toBe(true);
    expect(p.notes).toEqual(['ingress.limitPackets: a byte stream is not dropped; the relay applies backpressure instead']);
  });

  it.each([
    [{ loss: { model: 'random' as const, pct: 1 } }, 'egress.loss'],
    [{ loss: { model: 'gilbert-elliott' as const, pPct: 1, rPct: 100 } }, 'egress.loss'],
    [{ duplicatePct: 1 }, 'egress.duplicatePct'],
    [{ corruptPct: 1 }, 'egress.corruptPct'],
    [{ reorderPct: 1, delayMs: 1 }, 'egress.reorderPct'],
    [{ slot: { minDelayMs: 1 } }, 'egress.slot'],
    [{ ecn: true }, 'egress.ecn'],
    [{ packetOverheadBytes: 4 }, 'egress.packetOverheadBytes/cellSizeBytes/cellOverheadBytes'],
  ])('refuses %o naming %s; lenient lists it instead', (imp, field) => {
    expect(() => planTcpDirection(imp, 'egress')).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED', details: expect.objectContaining({ fields: [field] }) }));
    expect(planTcpDirection(imp, 'egress', true).ignored).toEqual([field]);
  });

  it('names the phase when planning a schedule phase', () => {
    expect(() => planTcpDirection({ duplicatePct: 1 }, 'egress', false, 'schedule.phases[2].')).toThrow(/schedule\.phases\[2\]\.egress\.duplicatePct/);
  });
});
