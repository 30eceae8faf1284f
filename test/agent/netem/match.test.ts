import { describe, expect, it } from 'vitest';
import { canonicalCidr, displayCidr, parseCidr, parseMatchRule, u32Selectors } from '../../../agent/netem/match.js';
import { isBackhaulError } from '../../../core/errors.js';

describe('parseMatchRule', () => {
  it.each([
    ['peer=10.0.0.0/8', { peer: '10.0.0.0/8' }],
    ['peer=192.0.2.10,port=22,proto=tcp', { peer: '192.0.2.10', port: 22, proto: 'tcp' }],
    ['peer=2001:db8::/32,port=443', { peer: '2001:db8::/32', port: 443 }],
    ['port=53,peer=::/0', { peer: '::/0', port: 53 }],
  ])('%s', (text, want) => {
    expect(parseMatchRule(text)).toEqual(want);
  });
  it.each([
    ['10.0.0.0/8', /not key=value/],
    ['peer=10.0.0.1/8', /host bits set after \/8 \(did you mean 10.0.0.0\/8\?\)/],
    ['peer=10.0.0.0/33', /prefix length must be 0..32/],
    ['peer=2001:db8::1/32', /host bits/],
    ['peer=example.com', /not an IPv4 or IPv6 address/],
    ['peer=10.0.0.0/8,port=0', /port must be 1..65535/],
    ['peer=10.0.0.0/8,port=70000', /port must be 1..65535/],
    ['peer=10.0.0.0/8,proto=icmp,port=1', /proto must be tcp or udp/],
    ['peer=10.0.0.0/8,proto=tcp', /proto needs a port/],
    ['port=22', /peer=CIDR is required/],
    ['peer=10.0.0.0/8,peer=10.0.0.0/8', /given twice/],
    ['peer=10.0.0.0/8,dev=eth0', /unknown key "dev"/],
  ])('rejects %s', (text, msg) => {
    try {
      parseMatchRule(text);
      expect.unreachable();
    } catch (e) {
      expect(isBackhaulError(e) && e.code).toBe('ERR_INVALID_MATCH');
      expect((e as Error).message).toMatch(msg);
    }
  });
});

describe('CIDRs', () => {
  it('parses v4/v6 with default host prefixes', () => {
    expect(parseCidr('10.1.2.3')).toEqual({ family: 4, address: '10.1.2.3', prefix: 32 });
    expect(parseCidr('fd77::2')).toEqual({ family: 6, address: 'fd77::2', prefix: 128 });
  });
  it('canonicalizes spellings of the same network', () => {
    expect(canonicalCidr('2001:DB8::/32')).toBe(canonicalCidr('2001:db8:0:0::/32'));
    expect(canonicalCidr('::ffff:10.0.0.0/104')).toBe('0:0:0:0:0:ffff:a00:0/104');
  });
});

describe('u32 selectors', () => {
  it('egress: peer is the destination; a port without proto is two selectors (tcp, udp)', () => {
    expect(u32Selectors({ peer: '10.0.0.0/8', port: 443 }, 'egress').map((s) => s.tokens.join(' '))).toEqual([
      'match ip dst 10.0.0.0/8 match ip protocol 6 0xff match ip dport 443 0xffff',
      'match ip dst 10.0.0.0/8 match ip protocol 17 0xff match ip dport 443 0xffff',
    ]);
  });
  it('ingress: peer is the source; IPv6 uses ip6', () => {
    expect(u32Selectors({ peer: '2001:db8::/32', port: 53, proto: 'udp' }, 'ingress')).toEqual([
      { family: 6, tokens: ['match', 'ip6', 'src', '2001:db8::/32', 'match', 'ip6', 'protocol', '17', '0xff', 'match', 'ip6', 'sport', '53', '0xffff'] },
    ]);
  });
});

describe('displayCidr', () => {
  it.each([
    ['2001:db8:1:0:0:0:0:0/48', '2001:db8:1::/48'],
    ['fd00:1:2:3:0:0:0:0/64', 'fd00:1:2:3::/64'],
    ['0:0:0:0:0:0:0:1/128', '::1/128'],
    ['2001:db8:0:1:0:0:0:1/128', '2001:db8:0:1::1/128'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['10.0.0.0/8', '10.0.0.0/8'],
  ])('%s -> %s', (a, b) => expect(displayCidr(a)).toBe(b));
});
