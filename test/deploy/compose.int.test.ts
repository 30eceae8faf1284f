import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROVISIONED_DATASOURCE_UID } from '../../dashboards/common.js';
import { DASHBOARDS, RULES_FILE } from '../../dashboards/render.js';
import { AGENT_JOB, backhaulRuleGroups } from '../../dashboards/rules.js';
import { promtool, withTempDir } from '../support/promtool.js';

const root = resolve(import.meta.dirname, '../..');
const composeDir = join(root, 'deploy/compose');

// Parsed YAML, navigated freely: the assertions are the type checks.
type Doc = Record<string, any>;
const load = async (rel: string): Promise<Doc> => parse(await readFile(join(composeDir, rel), 'utf8')) as Doc;

/** `host:container[:ro]` volume entries of a service, bind mounts only. */
function binds(service: Doc): Array<{ host: string; container: string }> {
  return (service.volumes as string[])
    .map((v) => v.split(':'))
    .filter(([host]) => host!.startsWith('.'))
    .map(([host, container]) => ({ host: host!, container: container! }));
}

describe('deploy/compose', () => {
  it('defines prometheus, grafana and an agent whose bind mounts exist in the repository', async () => {
    const compose = await load('docker-compose.yml');
    expect(Object.keys(compose.services).sort()).toEqual(['agent', 'grafana', 'prometheus']);
    for (const name of ['prometheus', 'grafana']) {
      for (const b of binds(compose.services[name])) {
        expect(existsSync(join(composeDir, b.host)), `${name}: ${b.host}`).toBe(true);
      }
    }
    expect(existsSync(join(composeDir, compose.services.agent.build.context, compose.services.agent.build.dockerfile))).toBe(true);
    expect(compose.services.agent.cap_add).toContain('NET_ADMIN');
    // The agent refuses a non-loopback listen address without a token.
    const cmd = compose.services.agent.command as string[];
    expect(cmd[cmd.indexOf('--listen') + 1]).not.toMatch(/^127\./);
    expect(String(compose.services.agent.environment.BACKHAUL_TOKEN)).toMatch(/^\$\{BACKHAUL_TOKEN:\?/);
  });

  it('provisions the datasource with the fixed uid the dashboards default to', async () => {
    const compose = await load('docker-compose.yml');
    const prom = await load('prometheus/prometheus.yml');
    const ds = await load('grafana/provisioning/datasources/backhaul.yaml');
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources).toHaveLength(1);
    const d = ds.datasources[0];
    expect(d).toMatchObject({ type: 'prometheus', uid: PROVISIONED_DATASOURCE_UID, access: 'proxy', isDefault: true });
    expect(typeof d.name).toBe('string');
    const url = new URL(d.url as string);
    expect(Object.keys(compose.services)).toContain(url.hostname);
    expect(compose.services[url.hostname].ports).toContain(`${url.port}:${url.port}`);
    // $__rate_interval is only right when Grafana knows the real scrape interval.
    expect(d.jsonData.timeInterval).toBe(prom.global.scrape_interval);
  });

  it('provisions the generated dashboards through a file provider at the mounted path', async () => {
    const compose = await load('docker-compose.yml');
    const dp = await load('grafana/provisioning/dashboards/backhaul.yaml');
    expect(dp.apiVersion).toBe(1);
    expect(dp.providers).toHaveLength(1);
    const p = dp.providers[0];
    expect(p).toMatchObject({ type: 'file', allowUiUpdates: false });
    expect(typeof p.name).toBe('string');
    const mounts = binds(compose.services.grafana);
    expect(mounts).toContainEqual({ host: './grafana/provisioning', container: '/etc/grafana/provisioning' });
    const dashMount = mounts.find((m) => m.host === '../../dashboards/generated');
    expect(dashMount).toBeDefined();
    // The mount lies under the provider path; with foldersFromFilesStructure the subfolder names the folder.
    expect(posix.dirname(dashMount!.container)).toBe(p.options.path);
    if (p.options.foldersFromFilesStructure) {
      expect(p.folder ?? '').toBe('');
      expect(p.folderUid ?? '').toBe('');
    }
    for (const spec of DASHBOARDS) expect(existsSync(join(root, 'dashboards/generated', spec.file))).toBe(true);
  });

  it('scrapes the agent under the job the alerts watch, at the port the agent listens on', async () => {
    const compose = await load('docker-compose.yml');
    const prom = await load('prometheus/prometheus.yml');
    const job = (prom.scrape_configs as Doc[]).find((j) => j.job_name === AGENT_JOB);
    expect(job).toBeDefined();
    const target = job!.static_configs[0].targets[0] as string;
    const cmd = compose.services.agent.command as string[];
    const listen = cmd[cmd.indexOf('--listen') + 1]!;
    expect(target.split(':')[1]).toBe(listen.split(':')[1]);
    // The rules file is mounted where rule_files looks for it.
    const cfgArg = (compose.services.prometheus.command as string[]).find((c) => c.startsWith('--config.file='))!;
    const cfgPath = cfgArg.slice('--config.file='.length);
    const mounts = binds(compose.services.prometheus);
    expect(mounts).toContainEqual({ host: './prometheus/prometheus.yml', container: cfgPath });
    const rules = mounts.find((m) => m.host === `../../${RULES_FILE}`);
    expect(rules).toBeDefined();
    const globs = (prom.rule_files as string[]).map((g) => posix.join(posix.dirname(cfgPath), g));
    const globToRegExp = (g: string): RegExp =>
      new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
    expect(globs.some((g) => globToRegExp(g).test(rules!.container)), `${rules!.container} vs ${globs.join(', ')}`).toBe(true);
  });

  it('passes `promtool check config`, rules included', async () => {
    await withTempDir(async (dir) => {
      await copyFile(join(composeDir, 'prometheus/prometheus.yml'), join(dir, 'prometheus.yml'));
      await mkdir(join(dir, 'rules'));
      await copyFile(join(root, RULES_FILE), join(dir, 'rules/backhaul.rules.yml'));
      const r = await promtool(['check', 'config', join(dir, 'prometheus.yml')]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/SUCCESS: 1 rule files found/);
      const count = backhaulRuleGroups().reduce((n, g) => n + g.rules.length, 0);
      expect(r.stdout).toContain(`SUCCESS: ${count} rules found`);
    });
  });
});
