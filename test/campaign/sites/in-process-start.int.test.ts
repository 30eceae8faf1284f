/**
 * InProcessSite honours the agreed start (ApplyRequest.startAtMs): the relay is started at that
 * instant of the site's clock, not when the request arrives; without it, or with one already past,
 * at once. Loopback only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/clock.js';
import { InProcessSite } from '../../../campaign/sites/in-process.js';
import type { ApplyRequest } from '../../../campaign/sites/site.js';

let site: InProcessSite | null = null;
afterEach(async () => {
  await site?.close();
  site = null;
});

const req = (upstream: string, startAtMs?: number): ApplyRequest => ({
  impairment: { name: 'wan', agent: 'a', target: { kind: 'relay', proto: 'udp', listen: '127.0.0.1:0', upstream }, profile: { name: 'p' }, direction: 'both' },
  profile: { name: 'p', description: '', egress: { delayMs: 1 } },
  ttlMs: 10_000,
  campaign: 'c',
  step: 's',
  ...(startAtMs !== undefined ? { startAtMs } : {}),
});

describe('InProcessSite startAtMs', () => {
  it('applies at the agreed instant, and at once when it is past', async () => {
    // The site on Date.now() itself (the default anchors its wall clock once, and a preemption
    // between the two reads of that anchor would put it some ms off the Date.now() checked below).
    site = new InProcessSite('a', { clock: systemClock });
    const refl = await site.start();
    const startAt = Date.now() + 400;
    const a = await site.apply(req(refl, startAt));
    // Timers never fire early by more than 1 ms.
    expect(a.appliedAtMs).toBeGreaterThanOrEqual(startAt - 2);
    expect(Date.now()).toBeGreaterThanOrEqual(startAt - 2);
    const past = Date.now() - 1000;
    const b = await site.apply(req(refl, past));
    expect(b.appliedAtMs).toBeGreaterThanOrEqual(past + 1000 - 2);
    const c = await site.apply(req(refl));
    expect(c.appliedAtMs).toBeGreaterThan(0);
  });
});
