import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderAll } from '../../dashboards/render.js';

const root = resolve(import.meta.dirname, '../..');

describe('committed generated files', () => {
  const files = renderAll();

  it('renders the three dashboards and the rules file', () => {
    expect(files.map((f) => f.path).sort()).toEqual([
      'dashboards/generated/agent.json',
      'dashboards/generated/fleet-overview.json',
      'dashboards/generated/probe-detail.json',
      'dashboards/rules/backhaul.rules.yml',
    ]);
  });

  it('renders deterministically', () => {
    expect(renderAll()).toEqual(files);
  });

  it.each(files)('$path matches the source (run `npm run dashboards` after changing dashboards/*.ts)', async ({ path, content }) => {
    const committed = await readFile(resolve(root, path), 'utf8');
    expect(committed).toBe(content);
  });
});
