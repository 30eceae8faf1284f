import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARDS, RULES_FILE, buildDashboard } from '../../dashboards/render.js';
import { backhaulRuleGroups } from '../../dashboards/rules.js';
import { checkExpressions, promtool } from '../support/promtool.js';
import { extractQueries, substitute, templateVariables, type Json } from './support/queries.js';

const root = resolve(import.meta.dirname, '../..');
const TESTS_DIR = 'dashboards/rules/tests';

function dashboardExpressions(): Array<{ where: string; expr: string }> {
  return DASHBOARDS.flatMap((spec) => {
    const dash = JSON.parse(JSON.stringify(buildDashboard(spec))) as Json;
    const vars = templateVariables(dash);
    return extractQueries(spec.file, dash).map((q) => ({ where: q.where, expr: substitute(q.raw, vars) }));
  });
}

describe('PromQL in dashboards and rules (promtool 2.42)', () => {
  it('parses and type-checks every dashboard expression, with Grafana macros replaced', async () => {
    const exprs = dashboardExpressions();
    expect(exprs.length).toBeGreaterThan(40);
    for (const e of exprs) expect(e.expr, e.where).not.toMatch(/\$/);
    expect(await checkExpressions(exprs)).toEqual([]);
  });

  it('rejects an expression with an unreplaced macro (the check can fail)', async () => {
    const failures = await checkExpressions([{ where: 'raw', expr: 'rate(up[$__rate_interval])' }]);
    expect(failures).toHaveLength(1);
  });

  it('passes `promtool check rules` on the rules file', async () => {
    const r = await promtool(['check', 'rules', join(root, RULES_FILE)]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const count = backhaulRuleGroups().reduce((n, g) => n + g.rules.length, 0);
    expect(r.stdout).toContain(`SUCCESS: ${count} rules found`);
  });

  it('passes `promtool test rules`', async () => {
    const files = (await readdir(join(root, TESTS_DIR))).filter((f) => f.endsWith('.yml')).sort();
    expect(files.length).toBeGreaterThan(0);
    const r = await promtool(['test', 'rules', ...files.map((f) => join(root, TESTS_DIR, f))]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  });

  it('has a unit test for every alert (firing and not firing) and every recording rule', async () => {
    const files = (await readdir(join(root, TESTS_DIR))).filter((f) => f.endsWith('.yml'));
    const tested = new Map<string, { firing: boolean; quiet: boolean }>();
    const exprs: string[] = [];
    for (const f of files) {
      const doc = parse(await readFile(join(root, TESTS_DIR, f), 'utf8')) as {
        tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }>; promql_expr_test?: Array<{ expr: string }> }>;
      };
      for (const t of doc.tests) {
        for (const a of t.alert_rule_test ?? []) {
          const s = tested.get(a.alertname) ?? { firing: false, quiet: false };
          if ((a.exp_alerts ?? []).length > 0) s.firing = true; else s.quiet = true;
          tested.set(a.alertname, s);
        }
        for (const e of t.promql_expr_test ?? []) exprs.push(e.expr);
      }
    }
    for (const g of backhaulRuleGroups()) {
      for (const rule of g.rules) {
        if ('alert' in rule) expect(tested.get(rule.alert), rule.alert).toEqual({ firing: true, quiet: true });
        else expect(exprs.some((e) => e.includes(rule.record)), rule.record).toBe(true);
      }
    }
  });
});
