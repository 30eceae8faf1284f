/**
 * The metric-name catalog (core/metric-names.ts) and its consumers agree: agent-side faults
 * (`backhaul_agent_fault_active`) are annotations on the Fleet and Probe dashboards, and no source
 * file names a `backhaul_*` metric in a string literal instead of importing it from the catalog.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as names from '../../core/metric-names.js';
import { builtDashboards, namesUsedEverywhere } from './support/live.js';
import type { Json } from './support/queries.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SOURCE_DIRS = ['agent', 'campaign', 'cli', 'core', 'dashboards', 'probe', 'profiles'];

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('metric names: catalog, dashboards and sources agree', () => {
  it('uses the agent fault metric in a dashboard', () => {
    expect(namesUsedEverywhere()).toContain(names.AGENT_METRICS.faultActive);
  });

  it.each(['fleet-overview.json', 'probe-detail.json'])('%s annotates agent-side faults by kind and interface', (file) => {
    const dash = builtDashboards().find((d) => d.file === file)!.dash;
    const list = (dash.annotations as Json).list as Json[];
    const fault = list.find((a) => a.name === 'Fault');
    expect(fault, `annotations: ${list.map((a) => String(a.name)).join(', ')}`).toBeDefined();
    expect(String(fault!.expr)).toContain(`${names.AGENT_METRICS.faultActive}{`);
    expect(String(fault!.tagKeys).split(',')).toEqual(expect.arrayContaining(['kind', 'iface']));
    expect(String(fault!.titleFormat)).toMatch(/\{\{kind\}\}.*\{\{iface\}\}/);
  });

  it('names no backhaul_* metric literally outside core/metric-names.ts', async () => {
    const offenders: string[] = [];
    for (const dir of SOURCE_DIRS) {
      for (const file of await sourceFiles(join(ROOT, dir))) {
        const rel = relative(ROOT, file);
        if (rel === join('core', 'metric-names.ts')) continue;
        // Code only: comments may name metrics (and nft tables share the prefix).
        const code = (await readFile(file, 'utf8')).split('\n')
          .filter((l) => !/^\s*(\*|\/\*|\/\/)/.test(l)).join('\n');
        for (const m of code.matchAll(/['"`](backhaul_[a-z0-9_]+)['"`]/g)) offenders.push(`${rel}: ${m[1]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
