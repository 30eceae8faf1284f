import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { RelayTarget } from '../../../agent/backend.js';
import type { Profile } from '../../../core/profile.js';
import { RelayBackend } from '../../../agent/relay/backend.js';
import { startSink, waitFor } from './udp-support.js';

const backend = new RelayBackend();
afterEach(async () => {
  await backend.revertAll();
});

const p1: Profile = { name: 'one', description: 'one', egress: { delayMs: 5 } };
const p2: Profile = { name: 'two', description: 'two', egress: { loss: { model: 'random', pct: 100 } } };

describe('RelayBackend', () => {
  it('apply starts, re-apply replaces in place, status reads live, revert stops (idempotent)', async () => {
    const sink = await startSink();
    const target: RelayTarget = { kind: 'relay', proto: 'udp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${sink.port}` };
    expect(await backend.status(target)).toBeNull();
    const a = await backend.apply(target, p1);
    expect(a).toMatchObject({ backend: 'relay', profileName: 'one', egress: { delayMs: 5 } });
    const port = (a.details!['listen'] as { port: number }).port;
    const again = await backend.apply(target, p1);
    expect((again.details!['listen'] as { port: number }).port).toBe(port);
    const c = createSocket('udp4');
    c.send(Buffer.alloc(8), port, '127.0.0.1');
    await waitFor(() => sink.got.length === 1, 'the first datagram');
    await backend.apply(target, p2);
    const st = await backend.status(target);
    expect(st).toMatchObject({ profileName: 'two', egress: { loss: { model: 'random', pct: 100 } } });
    c.send(Buffer.alloc(8), port, '127.0.0.1');
    await waitFor(async () => ((await backend.status(target))!.details!['stats'] as { egress: { packetsIn: number } }).egress.packetsIn === 2, 'the relay to see the second datagram');
    expect(sink.got.length).toBe(1);
    expect((st!.details!['stats'] as { flows: number }).flows).toBe(1);
    await backend.revert(target);
    await backend.revert(target);
    expect(await backend.status(target)).toBeNull();
    c.close();
    await sink.close();
  });

  it('refuses a netem target and an aborted signal without starting anything', async () => {
    await expect(backend.apply({ kind: 'netem', dev: 'eth0', direction: 'egress' }, p1)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
    const target: RelayTarget = { kind: 'relay', proto: 'tcp', listen: '127.0.0.1:0', upstream: '127.0.0.1:9' };
    const ac = new AbortController();
    ac.abort(new Error('cancelled'));
    await expect(backend.apply(target, p1, ac.signal)).rejects.toThrow('cancelled');
    expect(await backend.status(target)).toBeNull();
  });
});
