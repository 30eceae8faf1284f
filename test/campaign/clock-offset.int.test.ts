import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateClockOffset } from '../../campaign/clock-offset.js';
import { startReflector, type Reflector } from '../../probe/reflector.js';
import { anchoredClock } from '../../campaign/sites/in-process.js';

describe('estimateClockOffset against a real reflector on loopback', () => {
  let r: Reflector;
  // One time base for both ends (as two hosts with perfectly synchronised clocks): each end's own
  // Date.now() anchor would add its anchoring error (tens of ms on a loaded host).
  const clock = anchoredClock();
  beforeAll(async () => {
    r = await startReflector({ host: '127.0.0.1', port: 0 }, { clock });
  });
  afterAll(async () => {
    await r.close();
  });
  it('same time base: the offset is within the exchange\'s own uncertainty', async () => {
    const e = await estimateClockOffset('127.0.0.1', r.address.port, { count: 8, clock });
    expect(e).not.toBeNull();
    expect(e!.samples).toBe(8);
    expect(Math.abs(e!.offsetMs), JSON.stringify(e)).toBeLessThanOrEqual(e!.uncertaintyMs + 0.001);
  });
  it('no reflector: null after the timeouts', async () => {
    const e = await estimateClockOffset('127.0.0.1', 9, { count: 2, timeoutMs: 100 });
    expect(e).toBeNull();
  });
});
