/**
 * `promtool` (Debian package `prometheus`, 2.42) as the authority on PromQL, rules, configs and
 * exposition text. Every helper runs the real binary (no shell) and returns its exit code and
 * output; a missing binary fails loudly with what to install.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';

export interface ToolResult { exitCode: number; stdout: string; stderr: string }

const INSTALL_HINT = 'promtool not found: install Debian package `prometheus` ' +
  '(apt-get install -y --no-install-recommends prometheus, see scripts/install-test-deps.sh)';

export async function promtool(args: string[], input?: string): Promise<ToolResult> {
  const r = await execa('promtool', args, { reject: false, timeout: 60_000, ...(input !== undefined ? { input } : {}) });
  if ((r as { code?: string }).code === 'ENOENT') throw new Error(INSTALL_HINT);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Runs `fn` with a fresh temporary directory, removed afterwards even on failure. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'backhaul-promtool-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface NamedExpr { where: string; expr: string }

/**
 * Parses and type-checks expressions with `promtool check rules`, each written as a recording rule
 * (`check:e<i>`). Checks one expression per group so a failure names the expression; returns the
 * failures (empty when all pass).
 */
export async function checkExpressions(exprs: readonly NamedExpr[]): Promise<Array<NamedExpr & { error: string }>> {
  return withTempDir(async (dir) => {
    const file = join(dir, 'exprs.rules.yml');
    const groups = exprs.map((e, i) => ({ name: `g${i}`, rules: [{ record: `check:e${i}`, expr: e.expr }] }));
    await writeFile(file, stringify({ groups }, { lineWidth: 0 }));
    const r = await promtool(['check', 'rules', file]);
    if (r.exitCode === 0) return [];
    // promtool stops at the first bad group; find each failing expression individually.
    const failures: Array<NamedExpr & { error: string }> = [];
    for (const e of exprs) {
      const one = join(dir, 'one.rules.yml');
      await writeFile(one, stringify({ groups: [{ name: 'g', rules: [{ record: 'check:e', expr: e.expr }] }] }, { lineWidth: 0 }));
      const single = await promtool(['check', 'rules', one]);
      if (single.exitCode !== 0) failures.push({ ...e, error: `${single.stdout}\n${single.stderr}`.trim() });
    }
    if (failures.length === 0) failures.push({ where: 'all', expr: '', error: `${r.stdout}\n${r.stderr}`.trim() });
    return failures;
  });
}

/** `promtool check metrics` on exposition text; exit 0 and no output means clean. */
export async function checkMetrics(text: string): Promise<ToolResult> {
  return promtool(['check', 'metrics'], text);
}
