import { describe, expect, it } from 'vitest';
import { parseIproute2Version, requireCapabilities, type Capabilities } from '../../../agent/netem/capabilities.js';
import { isBackhaulError } from '../../../core/errors.js';

const caps = (over: Partial<Capabilities> = {}): Capabilities => ({
  kernel: '6.18.44', iproute2: '6.1.0', ifb: 'yes', u32: 'yes', mirred: 'yes', netemSeed: false, netAdmin: true,
  qdisc: { netem: 'no', htb: 'yes', tbf: 'yes', pfifo: 'yes', ingress: 'yes' }, ...over,
});

function failure(c: Capabilities, needs: { netem: boolean; ifb: boolean }): { code: string; message: string; hint: unknown } | null {
  try {
    requireCapabilities(c, needs);
    return null;
  } catch (e) {
    if (!isBackhaulError(e)) throw e;
    return { code: e.code, message: e.message, hint: e.details['hint'] };
  }
}

describe('requireCapabilities', () => {
  it('a rate-only plan needs no netem', () => {
    expect(failure(caps(), { netem: false, ifb: true })).toBeNull();
  });
  it('netem missing: exit-3 code with the actionable hint (modprobe, distro packages, relay backend)', () => {
    const f = failure(caps(), { netem: true, ifb: false });
    expect(f?.code).toBe('ERR_CAPABILITY_MISSING');
    expect(f?.message).toMatch(/sch_netem is not available in this kernel \(6.18.44\)/);
    expect(f?.hint).toMatch(/modprobe sch_netem/);
    expect(f?.hint).toMatch(/kernel-modules-extra/);
    expect(f?.hint).toMatch(/linux-modules-extra-\$\(uname -r\)/);
    expect(f?.hint).toMatch(/backhaul relay --listen ADDR:PORT --upstream HOST:PORT --profile NAME/);
  });
  it('ifb missing only matters for ingress', () => {
    expect(failure(caps({ ifb: 'no' }), { netem: false, ifb: false })).toBeNull();
    expect(failure(caps({ ifb: 'no' }), { netem: false, ifb: true })?.message).toMatch(/ifb driver/);
  });
  it('no NET_ADMIN is ERR_PERMISSION with how to grant it', () => {
    const f = failure(caps({ netAdmin: false, qdisc: { netem: 'unknown', htb: 'unknown', tbf: 'unknown', pfifo: 'unknown', ingress: 'unknown' } }), { netem: false, ifb: false });
    expect(f?.code).toBe('ERR_PERMISSION');
    expect(f?.hint).toMatch(/NET_ADMIN/);
  });
  it('unknown netem availability does not block (the apply itself will tell)', () => {
    expect(failure(caps({ qdisc: { netem: 'unknown', htb: 'yes', tbf: 'yes', pfifo: 'yes', ingress: 'yes' } }), { netem: true, ifb: false })).toBeNull();
  });
});

describe('parseIproute2Version', () => {
  it.each([
    ['tc utility, iproute2-6.1.0, libbpf 1.1.2', '6.1.0'],
    ['tc utility, iproute2-ss200127', 'ss200127'],
    ['tc utility, iproute2-5.15.0', '5.15.0'],
    ['', 'unknown'],
  ])('%j -> %s', (t, v) => expect(parseIproute2Version(t)).toBe(v));
});
