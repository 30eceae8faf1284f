/**
 * `npm run dashboards`: writes the generated dashboard JSON and rules YAML under the current
 * directory (the repository root when run through npm). Overwrites; idempotent.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { renderAll } from './render.js';

const root = process.cwd();
for (const file of renderAll()) {
  const path = resolve(root, file.path);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, file.content);
  process.stdout.write(`wrote ${file.path}\n`);
}
