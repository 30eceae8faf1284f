import { describe, expect, it } from 'vitest';
import { blackholeScript, blackholeTable, cidrContains, faultPeriods, faultTotalMs, planFault } from '../../../agent/faults/fault-plan.js';

describe('fault plan', () => {
  it('argv per kind, with and without a namespace (no shell, names as given)', () => {
    expect(planFault({ kind: 'link-down', dev: 'eth1', durationMs: 5 })).toEqual({ start: ['ip', 'link', 'set', 'dev', 'eth1', 'down'], restore: ['ip', 'link', 'set', 'dev', 'eth1', 'up'] });
    expect(planFault({ kind: 'flap', dev: 'r1', netns: 'lab', downMs: 1, upMs: 1, count: 2 })).toEqual({ start: ['ip', '-n', 'lab', 'link', 'set', 'dev', 'r1', 'down'], restore: ['ip', '-n', 'lab', 'link', 'set', 'dev', 'r1', 'up'] });
  });

  it('blackhole: one nft transaction (a single argument) installing a table of its own; the restore deletes it, idempotently', () => {
    const t = 'backhaul_fault_fd00___len64';
    expect(planFault({ kind: 'blackhole', peer: 'fd00::/64', netns: 'lab', durationMs: 5 })).toEqual({
      start: ['ip', 'netns', 'exec', 'lab', 'nft', blackholeScript('fd00::/64')],
      restore: ['ip', 'netns', 'exec', 'lab', 'nft', 'add', 'table', 'inet', t, ';', 'delete', 'table', 'inet', t],
    });
    const root = planFault({ kind: 'blackhole', peer: '10.9.0.2/32', durationMs: 5 });
    expect(root.start).toEqual(['nft', blackholeScript('10.9.0.2/32')]);
    expect(root.restore).toEqual(['nft', 'add', 'table', 'inet', 'backhaul_fault_10_9_0_2_len32', ';', 'delete', 'table', 'inet', 'backhaul_fault_10_9_0_2_len32']);
  });

  it('blackhole script: replaces a leftover table, drops both directions in input, output and forward, per family', () => {
    expect(blackholeScript('10.9.0.0/24').split('\n')).toEqual([
      'add table inet backhaul_fault_10_9_0_0_len24',
      'delete table inet backhaul_fault_10_9_0_0_len24',
      'table inet backhaul_fault_10_9_0_0_len24 {',
      '  chain input {',
      '    type filter hook input priority raw; policy accept;',
      '    ip saddr 10.9.0.0/24 counter drop',
      '  }',
      '  chain output {',
      '    type filter hook output priority raw; policy accept;',
      '    ip daddr 10.9.0.0/24 counter drop',
      '  }',
      '  chain forward {',
      '    type filter hook forward priority raw; policy accept;',
      '    ip saddr 10.9.0.0/24 counter drop',
      '    ip daddr 10.9.0.0/24 counter drop',
      '  }',
      '}',
    ]);
    expect(blackholeScript('fd00::1')).toContain('ip6 saddr fd00::1 counter drop');
    expect(blackholeScript('fd00::1')).not.toMatch(/\bip saddr/);
  });

  it.each([
    ['10.0.0.1', 'backhaul_fault_10_0_0_1'],
    ['10.0.0.1/32', 'backhaul_fault_10_0_0_1_len32'],
    ['1::2/64', 'backhaul_fault_1__2_len64'],
    ['1::2:64', 'backhaul_fault_1__2_64'],
    ['::ffff:10.0.0.1', 'backhaul_fault___ffff_10_0_0_1'],
  ])('table name of %s is %s (a valid nft identifier; distinct CIDRs never share one)', (peer, name) => {
    expect(blackholeTable(peer)).toBe(name);
    expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });

  it('periods: a flap has count down periods and count-1 up periods', () => {
    const flap = { kind: 'flap' as const, dev: 'e', downMs: 100, upMs: 50, count: 3 };
    expect(faultPeriods(flap)).toEqual([{ downMs: 100, upMs: 50 }, { downMs: 100, upMs: 50 }, { downMs: 100, upMs: 0 }]);
    expect(faultTotalMs(flap)).toBe(400);
    expect(faultTotalMs({ kind: 'blackhole', peer: '10.0.0.1', durationMs: 700 })).toBe(700);
  });

  it('CIDR containment, IPv4 and IPv6, mapped addresses, families never mix', () => {
    expect(cidrContains('10.0.0.0/8', '10.200.3.4')).toBe(true);
    expect(cidrContains('10.0.0.0/9', '10.200.3.4')).toBe(false);
    expect(cidrContains('10.1.2.3', '10.1.2.3')).toBe(true);
    expect(cidrContains('10.1.2.3', '10.1.2.4')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '192.0.2.1')).toBe(true);
    expect(cidrContains('10.0.0.0/8', '::ffff:10.0.0.1')).toBe(true);
    expect(cidrContains('fd00::/16', 'fd00:1::5')).toBe(true);
    expect(cidrContains('fd00:1::/32', 'fd00:2::5')).toBe(false);
    expect(cidrContains('::/0', '10.0.0.1')).toBe(false);
    expect(cidrContains('::1', '::1')).toBe(true);
  });
});
