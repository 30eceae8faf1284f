/**
 * `clear --all/--dev --agent` against an in-process agent on a real loopback socket: every matching
 * impairment is tried; one whose lease ended between the list and its delete (404) counts as done;
 * another controller's (409) does not stop the caller's own from being cleared, and is reported
 * at the end with a non-zero exit.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../../agent/api/client.js';
import { main } from '../../../cli/main.js';
import { makeFixture, TOKENS, type Fixture } from '../daemon-fixture.js';

let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

/** A fetch that makes `id` disappear (deleted by its owner) just before the client's own DELETE of it. */
function goneBeforeDelete(url: string, id: () => string): typeof fetch {
  return async (input, init) => {
    if (init?.method === 'DELETE' && String(input).endsWith(`/v1/impairments/${id()}`)) {
      const r = await fetch(`${url}/v1/impairments/${id()}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKENS.alice}` } });
      expect(r.status).toBe(200);
    }
    return fetch(input, init);
  };
}

describe('clear through the agent', () => {
  it('clearAll: a 404 counts as done, a 409 does not stop the rest, failures are reported at the end', async () => {
    fx = await makeFixture();
    const url = await fx.daemon.app.listen({ host: '127.0.0.1', port: 0 });
    const bob = new AgentClient(url, { token: TOKENS.bob });
    const theirs = await bob.createImpairment({ target: { dev: 'eth1' }, profile: 'rate-1m' });
    const alice0 = new AgentClient(url, { token: TOKENS.alice });
    const expiring = await alice0.createImpairment({ target: { dev: 'eth2' }, profile: 'rate-1m' });
    const mine = await alice0.createImpairment({ target: { dev: 'eth3' }, profile: 'rate-1m' });
    const alice = new AgentClient(url, { token: TOKENS.alice, fetch: goneBeforeDelete(url, () => expiring.id) });

    const report = await alice.clearEach('all');
    expect(report).toEqual({
      cleared: [mine.id], gone: [expiring.id],
      failed: [expect.objectContaining({ id: theirs.id, code: 'ERR_LEASE_CONFLICT' })],
    });
    expect((await alice0.listImpairments()).map((i) => i.id)).toEqual([theirs.id]);

    // The throwing form tries everything first, then names what failed.
    const again = await alice0.createImpairment({ target: { dev: 'eth3' }, profile: 'rate-1m' });
    const err = await alice0.clearAll().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_LEASE_CONFLICT', details: { cleared: [again.id], failed: [{ id: theirs.id }] } });
    expect((await alice0.listImpairments()).map((i) => i.id)).toEqual([theirs.id]);
  });

  it('clearDevice: an impairment whose lease ended before its delete is cleared, not an error', async () => {
    fx = await makeFixture();
    const url = await fx.daemon.app.listen({ host: '127.0.0.1', port: 0 });
    const v = await new AgentClient(url, { token: TOKENS.alice }).createImpairment({ target: { dev: 'eth4' }, profile: 'rate-1m' });
    const alice = new AgentClient(url, { token: TOKENS.alice, fetch: goneBeforeDelete(url, () => v.id) });
    expect(await alice.clearDevice('eth4')).toEqual([v.id]);
  });

  it('CLI clear --all --agent: clears the caller\'s own, lists the conflict, exits 5', async () => {
    fx = await makeFixture();
    const url = await fx.daemon.app.listen({ host: '127.0.0.1', port: 0 });
    const theirs = await new AgentClient(url, { token: TOKENS.bob }).createImpairment({ target: { dev: 'eth1' }, profile: 'rate-1m' });
    const alice = new AgentClient(url, { token: TOKENS.alice });
    const mine = await alice.createImpairment({ target: { dev: 'eth2' }, profile: 'rate-1m' });
    let out = '';
    let err = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s), isTTY: false };
    const env = { BACKHAUL_TOKEN: TOKENS.alice, BACKHAUL_PROFILES: join(fx.dir, 'profiles') };
    expect(await main(['node', 'backhaul', 'clear', '--all', '--agent', url, '--json'], io, env), err).toBe(5);
    const r = JSON.parse(out) as { cleared: string[]; failed: { id: string; code: string }[] };
    expect(r.cleared).toEqual([mine.id]);
    expect(r.failed).toMatchObject([{ id: theirs.id, code: 'ERR_LEASE_CONFLICT' }]);
    expect((await alice.listImpairments()).map((i) => i.id)).toEqual([theirs.id]);
    out = '';
    expect(await main(['node', 'backhaul', 'clear', '--all', '--agent', url], io, env)).toBe(5);
    expect(out).toMatch(new RegExp(`NOT cleared ${theirs.id}: .*held by controller "bob"`));
  });
});
