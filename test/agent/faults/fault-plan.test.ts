import { describe, expect, it } from 'vitest';
import { cidrContains, faultPeriods, faultTotalMs, planFault } from '../../../agent/faults/fault-plan.js';

describe('fault plan', () => {
  it('argv per kind, with and without a namespace (no shell, names as given)', () => {
    expect(planFault({ kind: 'link-down', dev: 'eth1', durationMs: 5 })).toEqual({ start: ['ip', 'link', 'set', 'dev', 'eth1', 'down'], restore: ['ip', 'link', 'set', 'dev', 'eth1', 'up'] });
    expect(planFault({ kind: 'blackhole', peer: 'fd00::/64', netns: 'lab', durationMs: 5 })).toEqual({ start: ['ip', '-n', 'lab', 'route', 'add', 'blackhole', 'fd00::/64'], restore: ['ip', '-n', 'lab', 'route', 'del', 'blackhole', 'fd00::/64'] });
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
