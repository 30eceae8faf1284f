import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeOf, qemuArgs, runScript } from './vm.js';
import { isStaticElf } from './vm-prepare.js';

describe('runScript', () => {
  it('quotes every argument and variable so the guest shell runs exactly the argv', () => {
    const s = runScript(['sh', '-c', "echo 'a b'; exit 3"], '/work/x', { K: "it's" });
    expect(s).toContain("cd '/work/x' || exit 125");
    expect(s).toContain(`export K='it'\\''s'`);
    expect(s.trim().split('\n').at(-1)).toBe(`exec 'sh' '-c' 'echo '\\''a b'\\''; exit 3'`);
  });
  it('rejects an environment name the shell would misread', () => {
    expect(() => runScript(['true'], '/', { 'A;B': '1' })).toThrow(/bad environment variable/);
  });
});

describe('qemuArgs', () => {
  const k = { pkg: 'linux-image-x', version: '6.1.0-56-amd64', root: '/c/root', vmlinuz: '/c/root/boot/vmlinuz', initrd: '/c/initrd.gz' };
  it('uses TCG (never KVM), a status port, and the host root read-only', () => {
    const a = qemuArgs(k, { runScriptPath: '/c/run.sh', statusPath: '/c/status', memoryMb: 2048, cpus: 2, modules: ['sch_netem', 'veth'] });
    expect(a.join(' ')).not.toMatch(/kvm/);
    expect(a[a.indexOf('-accel') + 1]).toBe('tcg,thread=multi');
    expect(a.filter((x) => x === '-serial')).toHaveLength(2);
    expect(a).toContain('file:/c/status');
    expect(a).toContain('local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap');
    const append = a[a.indexOf('-append') + 1];
    expect(append).toContain('bh.run=/c/run.sh');
    expect(append).toContain('bh.mods=sch_netem,veth');
    expect(append).toContain('bh.kroot=/c/root');
  });
  it('shares a read-write folder only when asked', () => {
    const a = qemuArgs(k, { runScriptPath: '/r', statusPath: '/s', memoryMb: 512, cpus: 1, modules: [], shareRw: '/w/out' });
    expect(a[a.indexOf('-accel') + 1]).toBe('tcg');
    expect(a.join(' ')).toContain('local,path=/w/out,mount_tag=bhrw');
    expect(a[a.indexOf('-append') + 1]).toContain('bh.rw=/w/out');
  });
});

describe('exitCodeOf', () => {
  const base = { bootMs: 1, wallMs: 2, kernel: 'k', detail: '' };
  it.each([
    [{ ...base, outcome: 'exited', exitCode: 0 }, 0],
    [{ ...base, outcome: 'exited', exitCode: 7 }, 7],
    [{ ...base, outcome: 'timeout', exitCode: null }, 124],
    [{ ...base, outcome: 'init-failed', exitCode: null }, 125],
    [{ ...base, outcome: 'no-status', exitCode: null }, 125],
  ] as const)('%j -> %d', (r, code) => {
    expect(exitCodeOf(r)).toBe(code);
  });
});

describe('isStaticElf', () => {
  it('tells a dynamic executable from a static one', () => {
    expect(isStaticElf(process.execPath)).toBe(false); // node is dynamically linked
  });
  it.each([
    [[1], true], // PT_LOAD only
    [[1, 3], false], // PT_INTERP present
  ])('synthetic ELF64 with program headers %j: static=%s', (types, want) => {
    const phoff = 64;
    const buf = Buffer.alloc(phoff + 56 * types.length);
    buf.writeUInt32BE(0x7f454c46, 0);
    buf[4] = 2; // ELFCLASS64
    buf.writeBigUInt64LE(BigInt(phoff), 0x20);
    buf.writeUInt16LE(56, 0x36);
    buf.writeUInt16LE(types.length, 0x38);
    types.forEach((t, i) => buf.writeUInt32LE(t, phoff + i * 56));
    const file = join(mkdtempSync(join(tmpdir(), 'bh-elf-')), 'x');
    writeFileSync(file, buf);
    expect(isStaticElf(file)).toBe(want);
  });
});
