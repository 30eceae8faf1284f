import { describe, expect, it } from 'vitest';
import { formatIfbAlias, ifbNameFor, parseIfbAlias, validateInterfaceName, validateNetnsName } from '../../../agent/netem/names.js';
import { isBackhaulError } from '../../../core/errors.js';

const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return isBackhaulError(e) ? e.code : 'not a BackhaulError';
  }
};

describe('interface names (kernel rules, plus no shell/option lookalikes)', () => {
  it.each(['eth0', 'enp3s0f1', 'wlan0.100', 'veth-a_b', 'br@1', 'a', 'x23456789012345'])('accepts %j', (n) => {
    expect(validateInterfaceName(n)).toBe(n);
  });
  it.each([
    ['', 'empty'], ['x234567890123456', '16 characters'], ['eth0;reboot', 'shell metacharacter'], ['eth 0', 'space'], ['a/b', 'slash'],
    ['eth0:1', 'colon'], ['.', 'dot'], ['..', 'dotdot'], ['-eth0', 'option lookalike'], ['eth0\n', 'newline'], ['$(reboot)', 'substitution'],
    ['ethé', 'non-ASCII'],
  ])('rejects %j (%s) with ERR_INVALID_INTERFACE', (n) => {
    expect(code(() => validateInterfaceName(n))).toBe('ERR_INVALID_INTERFACE');
  });
  it('rejects non-strings', () => {
    expect(code(() => validateInterfaceName(42))).toBe('ERR_INVALID_INTERFACE');
  });
});

describe('netns names', () => {
  it.each(['site17', 'bt1a2b', 'router.lab_1-x'])('accepts %j', (n) => expect(validateNetnsName(n)).toBe(n));
  it.each(['', '../etc', 'a/b', 'a b', '-n', 'x'.repeat(65), '..'])('rejects %j', (n) => {
    expect(code(() => validateNetnsName(n))).toBe('ERR_INVALID_NETNS');
  });
});

describe('IFB naming and alias', () => {
  it('is bh + 8 hex (10 chars <= 15), stable, and distinct per device and namespace', () => {
    const a = ifbNameFor('eth0');
    expect(a).toMatch(/^bh[0-9a-f]{8}$/);
    expect(ifbNameFor('eth0')).toBe(a);
    expect(ifbNameFor('eth1')).not.toBe(a);
    expect(ifbNameFor('eth0', 'ns1')).not.toBe(a);
    expect(validateInterfaceName(a)).toBe(a);
  });
  it('round-trips the alias and refuses foreign ones', () => {
    const s = formatIfbAlias({ dev: 'eth0', ownsIngressQdisc: true });
    expect(parseIfbAlias(s)).toEqual({ dev: 'eth0', ownsIngressQdisc: true });
    expect(parseIfbAlias(formatIfbAlias({ dev: 'r1', ownsIngressQdisc: false }))).toEqual({ dev: 'r1', ownsIngressQdisc: false });
    expect(parseIfbAlias('hello world')).toBeNull();
    expect(parseIfbAlias(undefined)).toBeNull();
  });
});
