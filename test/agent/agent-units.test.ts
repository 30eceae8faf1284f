/**
 * Unit tables for the agent's pure pieces: durations, request validation, management excludes,
 * link-monitor lines, tc counters, config, tokens.
 */
import { describe, expect, it } from 'vitest';
import { authenticate, isLoopbackHost, makeToken, parseTokensFile } from '../../agent/api/auth.js';
import { matchFromString, validateCreate } from '../../agent/api/validate.js';
import { parseAgentConfig, parseHostPort } from '../../agent/config.js';
import { formatDurationMs, parseDurationMs } from '../../agent/duration.js';
import { managementExcludes, mergeRules, normalisePeer } from '../../agent/impairments/management.js';
import { linkNameOf } from '../../agent/link-monitor.js';
import { countersFromQdiscJson } from '../../agent/netem-agent-backend.js';
import { u32Selectors } from '../../agent/netem/match.js';

describe('durations', () => {
  it.each([
    ['500ms', 500], ['30s', 30_000], ['10m', 600_000], ['1h30m', 5_400_000], ['2d', 172_800_000], ['1.5s', 1500], ['250', 250], [750, 750],
  ] as const)('%j -> %d ms', (input, ms) => expect(parseDurationMs(input)).toBe(ms));

  it.each(['', 'soon', '10x', '5 m', '-1s', 's', '1h30'])('%j is rejected with the field name', (input) => {
    expect(() => parseDurationMs(input, 'ttl')).toThrow(/^ttl: /);
  });

  it('formats compactly', () => {
    expect([formatDurationMs(90_000), formatDurationMs(500), formatDurationMs(3_661_000)]).toEqual(['1m30s', '500ms', '1h1m1s']);
  });
});

describe('request validation', () => {
  it('normalises a create request, defaults included', () => {
    const v = validateCreate({ target: { dev: 'eth0', netns: 'site-1' }, profile: 'lte', ttl: '5m', match: ['peer=10.0.0.0/8,port=443,proto=tcp'] });
    expect(v).toEqual({
      target: { kind: 'netem', dev: 'eth0', netns: 'site-1', direction: 'both' }, profile: 'lte', direction: 'both',
      match: [{ peer: '10.0.0.0/8', port: 443, proto: 'tcp' }], exclude: [], ttlMs: 300_000, controller: null, force: false,
      allowManagementInterface: false, labels: {},
    });
  });

  it('parses the CLI rule form', () => {
    expect(matchFromString('peer=::/0,localPort=22')).toEqual({ peer: '::/0', localPort: 22 });
  });

  it('lists every problem with its path', () => {
    try {
      validateCreate({ target: { dev: 'x'.repeat(16) }, profile: 7, direction: 'sideways', ttl: 'forever', extra: 1 });
      expect.unreachable();
    } catch (e) {
      const problems = (e as { details: { problems: string[] } }).details.problems;
      expect(problems.some((p) => p.startsWith('target'))).toBe(true);
      expect(problems.some((p) => p.startsWith('profile'))).toBe(true);
      expect(problems.some((p) => p.startsWith('direction'))).toBe(true);
      expect(problems.some((p) => p.includes('extra'))).toBe(true);
    }
  });

  it('takes relay targets', () => {
    expect(validateCreate({ target: { kind: 'relay', proto: 'udp', listen: '127.0.0.1:9000', upstream: '[::1]:9001' }, profile: 'x' }).target)
      .toEqual({ kind: 'relay', proto: 'udp', listen: '127.0.0.1:9000', upstream: '[::1]:9001' });
  });
});

describe('management excludes', () => {
  it.each([
    ['::ffff:10.0.0.5', '10.0.0.5'], ['fe80::1%eth0', 'fe80::1'], ['2001:db8::1', '2001:db8::1'], ['nonsense', null], [undefined, null],
  ] as const)('peer %j -> %j', (input, out) => expect(normalisePeer(input)).toBe(out));

  it('protects the API port, SSH and the peer, both families', () => {
    const rules = managementExcludes({ apiPort: 8470, sshPorts: [22, 2222], extra: [{ peer: '192.0.2.9/32' }] }, '::ffff:10.1.2.3');
    expect(rules).toEqual([
      { peer: '0.0.0.0/0', localPort: 8470, proto: 'tcp' }, { peer: '0.0.0.0/0', localPort: 22, proto: 'tcp' }, { peer: '0.0.0.0/0', localPort: 2222, proto: 'tcp' },
      { peer: '::/0', localPort: 8470, proto: 'tcp' }, { peer: '::/0', localPort: 22, proto: 'tcp' }, { peer: '::/0', localPort: 2222, proto: 'tcp' },
      { peer: '10.1.2.3/32' }, { peer: '192.0.2.9/32' },
    ]);
    expect(managementExcludes({ apiPort: 1, sshPorts: [], extra: [] }, '2001:db8::7').at(-1)).toEqual({ peer: '2001:db8::7/128' });
  });

  it('merges without duplicates', () => {
    expect(mergeRules([{ peer: '10.0.0.0/8' }], [{ peer: '10.0.0.0/8' }, { peer: '10.0.0.0/8', port: 1 }])).toEqual([{ peer: '10.0.0.0/8' }, { peer: '10.0.0.0/8', port: 1 }]);
  });

  it('localPort selects this node\'s port: source on egress, destination on ingress', () => {
    const [eg] = u32Selectors({ peer: '0.0.0.0/0', localPort: 8470, proto: 'tcp' }, 'egress');
    const [ig] = u32Selectors({ peer: '0.0.0.0/0', localPort: 8470, proto: 'tcp' }, 'ingress');
    expect(eg?.tokens).toEqual(['match', 'ip', 'dst', '0.0.0.0/0', 'match', 'ip', 'protocol', '6', '0xff', 'match', 'ip', 'sport', '8470', '0xffff']);
    expect(ig?.tokens).toEqual(['match', 'ip', 'src', '0.0.0.0/0', 'match', 'ip', 'protocol', '6', '0xff', 'match', 'ip', 'dport', '8470', '0xffff']);
  });
});

describe('link monitor lines', () => {
  it.each([
    ['7: veth0@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP', 'veth0'],
    ['Deleted 7: veth0@if6: <BROADCAST,MULTICAST> mtu 1500', 'veth0'],
    ['12: wwan0: <POINTOPOINT,NOARP> mtu 1500 qdisc fq_codel', 'wwan0'],
    ['[LINK]3: ppp0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1492', 'ppp0'],
    ['    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff', null],
    ['', null],
  ])('%j -> %j', (line, dev) => expect(linkNameOf(line)).toBe(dev));
});

describe('tc counters', () => {
  it('reads the leaf under our class and our htb\'s overlimits', () => {
    const json = JSON.stringify([
      { kind: 'htb', handle: 'bac0:', root: true, bytes: 9000, packets: 90, drops: 0, overlimits: 17 },
      { kind: 'netem', handle: 'bac1:', parent: 'bac0:10', bytes: 5000, packets: 50, drops: 4, overlimits: 0 },
    ]);
    expect(countersFromQdiscJson(json)).toEqual({ packets: 50, bytes: 5000, drops: 4, overlimits: 17 });
    expect(countersFromQdiscJson(JSON.stringify([{ kind: 'noqueue', handle: '0:', root: true }]))).toBeNull();
    expect(countersFromQdiscJson('garbage')).toBeNull();
  });
});

describe('config', () => {
  it('defaults', () => {
    const c = parseAgentConfig({});
    expect(c).toMatchObject({ listenHost: '127.0.0.1', listenPort: 8470, defaultTtlMs: 1_800_000, maxTtlMs: 86_400_000, sshPorts: [22], metricsAuth: false, tls: null });
  });

  it('a full file', () => {
    const c = parseAgentConfig({
      listen: '0.0.0.0:9000', tls: { selfSigned: true }, leases: { defaultTtl: '10m', maxTtl: '2h' },
      management: { sshPorts: [2222], exclude: ['peer=192.0.2.0/24'] }, reconcile: { interval: '2s', reapply: false },
      reflector: { listen: ':8862' }, probes: [{ name: 'b', target: '10.0.0.2:862', interval: '500ms' }],
    });
    expect(c).toMatchObject({
      listenHost: '0.0.0.0', listenPort: 9000, tls: { selfSigned: true }, defaultTtlMs: 600_000, maxTtlMs: 7_200_000, sshPorts: [2222],
      extraExcludes: [{ peer: '192.0.2.0/24' }], reconcileIntervalMs: 2000, reapply: false, reflector: { host: '0.0.0.0', port: 8862 },
      probes: [{ name: 'b', target: '10.0.0.2:862', intervalMs: 500 }],
    });
  });

  it('every problem, with the file name', () => {
    try {
      parseAgentConfig({ leases: { defaultTtl: '2d', maxTtl: '1h' }, management: { exclude: ['peer=300.0.0.0/8'] } }, 'agent.yaml');
      expect.unreachable();
    } catch (e) {
      const problems = (e as { details: { problems: string[] } }).details.problems;
      expect(problems.join('\n')).toMatch(/agent.yaml: leases.defaultTtl must not exceed/);
      expect(problems.join('\n')).toMatch(/management.exclude.0/);
    }
    expect(() => parseAgentConfig({ listen: 'nope', bogus: 1 }, 'a.yaml')).toThrow(/a.yaml/);
  });

  it.each([['[::1]:8470', '::1', 8470], [':9000', '0.0.0.0', 9000], ['9000', '0.0.0.0', 9000], ['10.0.0.1:1', '10.0.0.1', 1]] as const)('%j', (t, h, p) => {
    expect(parseHostPort(t, '0.0.0.0', 'x')).toEqual({ host: h, port: p });
  });
});

describe('tokens', () => {
  it('parses names, roles, and refuses short tokens', () => {
    const t = parseTokensFile('ci: 0123456789abcdef0\ngrafana: { token: fedcba9876543210x, role: read }\n', 'tokens.yaml');
    expect(t.map((x) => [x.name, x.role])).toEqual([['ci', 'control'], ['grafana', 'read']]);
    expect(() => parseTokensFile('ci: short\n', 'tokens.yaml')).toThrow(/too short/);
    expect(() => parseTokensFile('ci: { token: 0123456789abcdef0, role: admin }\n', 'tokens.yaml')).toThrow(/role/);
    expect(() => parseTokensFile('- a\n', 'tokens.yaml')).toThrow(/mapping/);
  });

  it('authenticates by constant-time digest comparison', () => {
    const cfg = { tokens: [makeToken('a', 'aaaaaaaaaaaaaaaa1'), makeToken('b', 'bbbbbbbbbbbbbbbb2', 'read')] };
    expect(authenticate(cfg, 'Bearer bbbbbbbbbbbbbbbb2')).toEqual({ name: 'b', role: 'read' });
    expect(authenticate(cfg, 'bearer aaaaaaaaaaaaaaaa1')).toEqual({ name: 'a', role: 'control' });
    expect(() => authenticate(cfg, 'Bearer aaaaaaaaaaaaaaaa')).toThrow(/wrong/);
    expect(() => authenticate(cfg, undefined)).toThrow(/missing/);
    expect(authenticate({ tokens: null }, undefined)).toEqual({ name: 'anonymous', role: 'control' });
  });

  it.each([['127.0.0.1', true], ['127.9.9.9', true], ['::1', true], ['[::1]', true], ['localhost', true], ['0.0.0.0', false], ['10.0.0.1', false], ['::', false]] as const)(
    'loopback %j -> %j', (h, v) => expect(isLoopbackHost(h)).toBe(v));
});
