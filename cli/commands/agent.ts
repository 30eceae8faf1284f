/**
 * `backhaul agent`: run the per-node daemon (HTTP API + event stream, leases, revert guard,
 * schedules, reconciliation, metrics). `backhaul agent revert-journal`: revert what a dead agent
 * left (systemd ExecStopPost, or by hand).
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { loadAgentConfig, parseHostPort, type AgentConfig } from '../../agent/config.js';
import { parseDurationMs } from '../../agent/duration.js';
import { revertJournalOnly, startAgent } from '../../agent/main.js';
import { runAction, type CliContext } from '../context.js';
import { emit, usageError } from '../output.js';

interface AgentFlags {
  config?: string;
  listen?: string;
  stateDir?: string;
  tokens?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsSelfSigned?: boolean;
  allowManagementInterface?: boolean;
  defaultTtl?: string;
  maxTtl?: string;
  profiles?: string[];
  json?: boolean;
}

const HELP = `
The agent applies profiles on request (POST /v1/impairments), each under a lease that it reverts
when it ends; a revert guard process reverts if the agent dies (even SIGKILL), and a journal in
--state-dir lets a restarted agent (or \`backhaul agent revert-journal\`) revert what was left.
By default every impairment leaves the agent's API port, SSH and the controlling peer unimpaired.

Examples:
  backhaul agent                                         # 127.0.0.1:8470, no token needed on loopback
  BACKHAUL_TOKEN=$(openssl rand -hex 32) backhaul agent --listen 0.0.0.0:8470 --tls-self-signed
  backhaul agent --config /etc/backhaul/agent.yaml
  backhaul apply lte-cell-edge --dev eth1 --agent https://site17:8470 --ttl 30m
  backhaul agent revert-journal --state-dir /var/lib/backhaul

Exit codes: 0 stopped cleanly (everything reverted), 2 bad flags/config, 3 missing tool or
privilege, 4 a revert failed at shutdown (the guard retries it as the agent exits).`;

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

async function configFrom(flags: AgentFlags): Promise<AgentConfig> {
  const cfg = await loadAgentConfig(flags.config);
  if (flags.listen) {
    const l = parseHostPort(flags.listen, '0.0.0.0', '--listen');
    cfg.listenHost = l.host;
    cfg.listenPort = l.port;
  }
  if (flags.stateDir) {
    if (cfg.auditLog === `${cfg.stateDir}/audit.jsonl`) cfg.auditLog = `${flags.stateDir}/audit.jsonl`;
    cfg.stateDir = flags.stateDir;
  }
  if (flags.tokens) cfg.tokensFile = flags.tokens;
  if (flags.tlsSelfSigned && (flags.tlsCert || flags.tlsKey)) throw usageError('--tls-self-signed and --tls-cert/--tls-key exclude each other');
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw usageError('--tls-cert and --tls-key go together');
  if (flags.tlsCert && flags.tlsKey) cfg.tls = { cert: flags.tlsCert, key: flags.tlsKey };
  if (flags.tlsSelfSigned) cfg.tls = { selfSigned: true };
  if (flags.allowManagementInterface) cfg.allowManagementInterface = true;
  if (flags.defaultTtl) cfg.defaultTtlMs = parseDurationMs(flags.defaultTtl, '--default-ttl');
  if (flags.maxTtl) cfg.maxTtlMs = parseDurationMs(flags.maxTtl, '--max-ttl');
  if (cfg.defaultTtlMs > cfg.maxTtlMs) throw usageError('--default-ttl must not exceed --max-ttl');
  if (flags.profiles) cfg.profileDirs = [...cfg.profileDirs, ...flags.profiles];
  return cfg;
}

export function registerAgent(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('agent')
    .description('run the per-node agent daemon (HTTP API, leases, crash-safe revert, schedules, metrics)')
    .option('--config <file>', 'agent config file (YAML; see docs/agent.md)')
    .option('--listen <addr:port>', 'API address (default 127.0.0.1:8470; anything but loopback needs a token)')
    .option('--state-dir <dir>', 'journal, guard log, audit log, self-signed certificate (default /var/lib/backhaul)')
    .option('--tokens <file>', 'bearer tokens file (name: token); BACKHAUL_TOKEN adds one named "default"')
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--tls-self-signed', 'serve HTTPS with a generated self-signed certificate; prints its SHA-256 fingerprint to pin')
    .option('--allow-management-interface', 'do not exclude the API port, SSH and the controller from impairments by default')
    .option('--default-ttl <duration>', 'lease when a request gives none (default 30m)')
    .option('--max-ttl <duration>', 'longest lease a request may ask for (default 24h)')
    .option('--profiles <dir>', 'extra profile directory (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .option('--json', 'print the start-up line as JSON')
    .addHelpText('after', HELP)
    .action(async (flags: AgentFlags) => {
      await runAction(ctx, flags, async () => {
        const cfg = await configFrom(flags);
        const log = (line: string): void => ctx.io.err(`backhaul agent: ${line}\n`);
        const agent = await startAgent(cfg, { version: version(), env: ctx.env, log });
        const r = agent.recovery;
        if (r.reverted.length || r.failed.length) log(`journal: reverted ${r.reverted.length} impairment(s) a previous agent left${r.failed.length ? `, ${r.failed.length} could not be reverted` : ''}`);
        emit(ctx.io, flags, { listening: agent.url, fingerprint256: agent.tls?.fingerprint256 ?? null, guardPid: agent.guard.pid, pid: process.pid }, () =>
          [`backhaul agent listening on ${agent.url} (pid ${process.pid}, revert guard pid ${agent.guard.pid})`,
            ...(agent.tls ? [`TLS certificate SHA-256 fingerprint: ${agent.tls.fingerprint256}`, `  pin it: --agent-fingerprint ${agent.tls.fingerprint256}`] : [])].join('\n'));
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        log('stopping: reverting every impairment');
        const ok = await agent.stop();
        log(ok ? 'stopped; everything reverted' : 'stopped; some reverts failed (the revert guard retries them now)');
        return ok ? 0 : 4;
      });
    });

  cmd
    .command('revert-journal')
    .description('revert what the journal lists (a dead agent\'s impairments); for systemd ExecStopPost')
    .option('--config <file>', 'agent config file')
    .option('--state-dir <dir>', 'state directory holding journal.json (default /var/lib/backhaul)')
    .option('--json', 'machine-readable output')
    .action(async (own: AgentFlags, sub: Command) => {
      // `agent revert-journal --state-dir X`: the parent `agent` declares the same options and
      // commander hands them to it, so read both.
      const flags = sub.optsWithGlobals<AgentFlags>();
      await runAction(ctx, flags, async () => {
        void own;
        const cfg = await configFrom(flags);
        const r = await revertJournalOnly(cfg, (line) => ctx.io.err(`backhaul agent revert-journal: ${line}\n`));
        emit(ctx.io, flags, { reverted: r.reverted.map((e) => e.id), failed: r.failed.map((f) => ({ id: f.entry.id, error: f.error })), skipped: r.skipped.map((e) => e.id) },
          () => `reverted ${r.reverted.length}, failed ${r.failed.length}, skipped ${r.skipped.length} (in-process relays)`);
        return r.failed.length ? 4 : 0;
      });
    });
}
