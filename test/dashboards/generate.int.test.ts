import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { renderAll } from '../../dashboards/render.js';
import { CLI_BUILD_DIR, ROOT, buildCli, removeCliBuild } from '../support/cli.js';
import { withTempDir } from '../support/promtool.js';

describe('npm run dashboards (dashboards/generate.ts, compiled)', () => {
  afterAll(removeCliBuild);

  it('writes every generated file, byte-identical to the committed ones, into the current directory', async () => {
    await buildCli();
    await withTempDir(async (dir) => {
      const r = await execa('node', [join(CLI_BUILD_DIR, 'dashboards/generate.js')], { cwd: dir, reject: false });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      for (const file of renderAll()) {
        expect(String(r.stdout)).toContain(`wrote ${file.path}`);
        const written = await readFile(join(dir, file.path), 'utf8');
        expect(written).toBe(await readFile(join(ROOT, file.path), 'utf8'));
      }
    });
  });
});
