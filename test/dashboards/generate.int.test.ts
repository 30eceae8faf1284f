import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { renderAll } from '../../dashboards/render.js';
import { ROOT, buildCli } from '../support/cli.js';
import { withTempDir } from '../support/promtool.js';

describe('npm run dashboards (dist/dashboards/generate.js)', () => {
  it('writes every generated file, byte-identical to the committed ones, into the current directory', async () => {
    await buildCli();
    await withTempDir(async (dir) => {
      const r = await execa('node', [join(ROOT, 'dist/dashboards/generate.js')], { cwd: dir, reject: false });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      for (const file of renderAll()) {
        expect(String(r.stdout)).toContain(`wrote ${file.path}`);
        const written = await readFile(join(dir, file.path), 'utf8');
        expect(written).toBe(await readFile(join(ROOT, file.path), 'utf8'));
      }
    });
  });
});
