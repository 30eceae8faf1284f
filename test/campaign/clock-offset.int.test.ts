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
    // Both ends anchor the same wall clock with ~1 ms resolution: |offset| <= uncertainty + 2 ms.
    expect(Math.abs(e!.offsetMs)).toBeLessThanOrEqual(e!.uncertaintyMs + 2);
  });
  it('no reflector: null after the timeouts', async () => {
    const e = await estimateClockOffset('127.0.0.1', 9, { count: 2, timeoutMs: 100 });
    expect(e).toBeNull();
  });
});
