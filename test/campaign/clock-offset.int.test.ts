import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateClockOffset } from '../../campaign/clock-offset.js';
import { startReflector, type Reflector } from '../../probe/reflector.js';

describe('estimateClockOffset against a real reflector on loopback', () => {
  let r: Reflector;
  beforeAll(async () => {
    r = await startReflector({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await r.close();
  });
  it('same host: offset within its own uncertainty (plus the anchors\' sub-ms error)', async () => {
    const e = await estimateClockOffset('127.0.0.1', r.address.port, { count: 8 });
    expect(e).not.toBeNull();
    expect(e!.samples).toBe(8);
    // Both ends anchor the same wall clock by waiting for a Date.now() tick (1 ms resolution); on a
    // loaded CPU the tick can be seen late by a scheduling delay on either side: allow 1 ms of
    // resolution per side plus 3 ms of scheduling, on top of the exchange's own uncertainty.
    expect(Math.abs(e!.offsetMs), JSON.stringify(e)).toBeLessThanOrEqual(e!.uncertaintyMs + 5);
  });
  it('no reflector: null after the timeouts', async () => {
    const e = await estimateClockOffset('127.0.0.1', 9, { count: 2, timeoutMs: 100 });
    expect(e).toBeNull();
  });
});
