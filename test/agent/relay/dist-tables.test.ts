import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { distTable, erf, parseDistFile, rint, type TableDistribution } from '../../../agent/relay/dist-tables.js';

/** Where Debian's iproute2 ships tc's own tables (override with TC_LIB_DIR, as tc does). */
export const TC_LIB_DIR = process.env['TC_LIB_DIR'] ?? '/usr/lib/x86_64-linux-gnu/tc';

function debianTable(name: TableDistribution): Int16Array {
  const file = `${TC_LIB_DIR}/${name}.dist`;
  if (!existsSync(file)) throw new Error(`${file} is missing: install iproute2 (scripts/install-test-deps.sh) or set TC_LIB_DIR`);
  return parseDistFile(readFileSync(file, 'utf8'));
}

describe('rint / erf', () => {
  it.each([
    [0.5, 0], [1.5, 2], [2.5, 2], [-0.5, -0], [-1.5, -2], [1.4, 1], [-2.6, -3],
  ])('rint(%d) = %d (ties to even, like C)', (x, want) => {
    expect(rint(x)).toBe(want);
  });

  it.each([
    [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
    [2, 0.9953222650189527], [3, 0.9999779095030014], [-1.5, -0.9661051464753108],
  ])('erf(%d) matches reference values to 1e-15', (x, want) => {
    expect(Math.abs(erf(x) - want)).toBeLessThan(1e-15);
  });
});

describe('distribution tables vs the iproute2 tables installed on this machine', () => {
  it.each(['normal', 'pareto', 'paretonormal'] as const)('%s: identical to the installed table, entry for entry', (name) => {
    const ours = distTable(name);
    const theirs = debianTable(name);
    expect(ours.length).toBe(4096);
    expect(ours.length).toBe(theirs.length);
    const differing: string[] = [];
    for (let i = 0; i < theirs.length; i++) if (ours[i] !== theirs[i]) differing.push(`[${i}] ${ours[i]} != ${theirs[i]}`);
    expect(differing).toEqual([]);
  });

  it('tables are monotone inverse CDFs with netem-scale means near 0', () => {
    for (const name of ['normal', 'pareto', 'paretonormal'] as const) {
      const t = distTable(name);
      for (let i = 1; i < t.length; i++) expect(t[i]!).toBeGreaterThanOrEqual(t[i - 1]!);
      const mean = t.reduce((a, b) => a + b, 0) / t.length / 8192;
      expect(Math.abs(mean)).toBeLessThan(0.1);
    }
  });

  it('parseDistFile rejects a token that is not an int16', () => {
    expect(() => parseDistFile('# c\n 1 2 40000\n')).toThrow(/40000/);
    expect(Array.from(parseDistFile('# c\n 1 -2\n 3\n'))).toEqual([1, -2, 3]);
  });
});
