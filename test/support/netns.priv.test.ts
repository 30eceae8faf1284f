import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twoHosts, type TwoHosts } from './netns.js';

describe('test topology helpers', () => {
  let topo: TwoHosts;
  beforeAll(async () => {
    topo = await twoHosts();
  });
  afterAll(async () => {
    await topo?.destroy();
  });

  it('connects two namespaces over IPv4 and IPv6', async () => {
    const v4 = await topo.a.exec(['ping', '-c', '1', '-W', '2', topo.bIp], { allowFail: true });
    expect(v4.exitCode).toBe(0);
    const v6 = await topo.a.exec(['ping', '-6', '-c', '1', '-W', '2', topo.bIp6], { allowFail: true });
    expect(v6.exitCode).toBe(0);
  });
});
