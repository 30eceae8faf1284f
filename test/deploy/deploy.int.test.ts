/**
 * The deployment files say what they run: the systemd unit passes `systemd-analyze verify` (with
 * ExecStart pointing at this checkout's CLI), every `backhaul ...` command line in the unit, the
 * Containerfile, the DaemonSet and the compose file uses only subcommands and flags the CLI has,
 * and the example agent configuration parses. No Docker engine or Kubernetes is needed.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseAgentConfig } from '../../agent/config.js';
import { withTempDir } from '../support/promtool.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const cliBin = join(root, 'bin/backhaul.js');
const deployFile = (rel: string): Promise<string> => readFile(join(root, 'deploy', rel), 'utf8');

/** `--help` of `backhaul <path...>`, or null when that is not a command (its usage line must name it). */
async function helpOf(path: string[]): Promise<string | null> {
  const r = await run(process.execPath, [cliBin, ...path, '--help']).catch(() => null);
  return r && r.stdout.startsWith(`Usage: backhaul ${path.join(' ')} `) ? r.stdout : null;
}

/** Checks one argv (without the leading `backhaul`): subcommand path known, every --flag in its help. */
async function expectValidCommand(argv: string[], where: string): Promise<void> {
  const path: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    path.push(a);
  }
  // The longest prefix that is a command (positionals may follow it).
  let help: string | null = null;
  for (let n = path.length; n > 0 && help === null; n--) {
    help = await helpOf(path.slice(0, n));
  }
  expect(help, `${where}: \`backhaul ${argv.join(' ')}\` names no command`).not.toBeNull();
  for (const flag of argv.filter((a) => a.startsWith('--'))) {
    const name = flag.split('=')[0] as string;
    expect(help, `${where}: ${name} is not a flag of \`backhaul ${path.join(' ')}\``).toMatch(new RegExp(`(^|[\\s,])${name}([\\s=<\\[,]|$)`, 'm'));
  }
}

/** The `backhaul ...` command lines of a systemd unit's Exec* settings. */
function unitCommands(unit: string): string[][] {
  return unit
    .split('\n')
    .filter((l) => /^Exec\w+=/.test(l))
    .map((l) => l.slice(l.indexOf('=') + 1).trim().split(/\s+/))
    .filter((argv) => (argv[0] ?? '').endsWith('/backhaul'))
    .map((argv) => argv.slice(1));
}

describe('deploy/', () => {
  it('the systemd unit passes systemd-analyze verify', async () => {
    const unit = await deployFile('backhaul-agent.service');
    await withTempDir(async (dir) => {
      const path = join(dir, 'backhaul-agent.service');
      // The unit names /usr/bin/backhaul; verify checks that the binary exists, so point it here.
      await writeFile(path, unit.replaceAll('/usr/bin/backhaul', cliBin));
      const r = await run('systemd-analyze', ['verify', path]).then(
        (x) => ({ code: 0, stderr: x.stderr }),
        (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? '' }),
      );
      // Other units on the host may warn; ours must not.
      const ours = r.stderr.split('\n').filter((l) => l.includes('backhaul-agent'));
      expect(ours, r.stderr).toEqual([]);
      expect(r.code, r.stderr).toBe(0);
    });
  });

  it('every backhaul command line in the unit, Containerfile, DaemonSet and compose file is one the CLI accepts', async () => {
    const commands: Array<{ argv: string[]; where: string }> = [];
    for (const argv of unitCommands(await deployFile('backhaul-agent.service'))) commands.push({ argv, where: 'backhaul-agent.service' });
    expect(commands.length).toBeGreaterThanOrEqual(2); // ExecStart and ExecStopPost

    const containerfile = await deployFile('Containerfile');
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(containerfile);
    expect(cmd, 'Containerfile CMD').not.toBeNull();
    expect(containerfile).toMatch(/^ENTRYPOINT \["backhaul"\]/m);
    commands.push({ argv: JSON.parse((cmd as RegExpExecArray)[1] as string) as string[], where: 'Containerfile CMD' });

    const ds = parse(await deployFile('daemonset.yaml')) as { spec: { template: { spec: { containers: Array<{ args?: string[] }> } } } };
    for (const c of ds.spec.template.spec.containers) if (c.args) commands.push({ argv: c.args, where: 'daemonset.yaml' });

    const compose = parse(await deployFile('compose/docker-compose.yml')) as { services: Record<string, { command?: string[] }> };
    const agentCmd = compose.services['agent']?.command;
    expect(agentCmd, 'compose agent command').toBeDefined();
    commands.push({ argv: agentCmd as string[], where: 'docker-compose.yml agent' });

    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const c of commands) await expectValidCommand(c.argv, c.where);
  });

  it('a command line with a flag the CLI lacks is caught (the check can fail)', async () => {
    await expect(expectValidCommand(['agent', '--no-such-flag'], 'self-test')).rejects.toThrow(/--no-such-flag is not a flag/);
    await expect(expectValidCommand(['no-such-command'], 'self-test')).rejects.toThrow(/names no command/);
  });

  it('the example agent configuration parses', async () => {
    const cfg = parseAgentConfig(parse(await deployFile('agent.example.yaml')), 'deploy/agent.example.yaml');
    expect(cfg.listenPort).toBe(8470);
    expect(cfg.stateDir).toBe('/var/lib/backhaul');
  });
});
