/**
 * `backhaul relay`: run the userspace relay in the foreground until Ctrl-C (or `--duration`).
 * Thin: parse flags -> loadProfile -> startRelay -> print phases and final counters.
 */
import { createServer, type Server } from 'node:http';
import { Option, type Command } from 'commander';
import type { Registry } from 'prom-client';
import { parseHostPort } from '../../agent/relay/plan.js';
import type { RelayHandle } from '../../agent/relay/relay.js';
import type { PhaseState } from '../../agent/relay/phases.js';
import type { RelayStatsSnapshot } from '../../agent/relay/metrics.js';
import { BackhaulError } from '../../core/errors.js';
import type { Impairment } from '../../core/profile.js';
import { formatDuration, formatPct, formatRate, parseDurationMs } from '../../core/units.js';
import { TIMER_MODES, DEFAULT_TIMER_MODE, type TimerMode } from '../../probe/timer.js';
import { runAction, type CliContext } from '../context.js';
import { collect, PROFILES_OPTION_FLAGS, PROFILES_OPTION_HELP } from '../profile-options.js';
import { table, usageError } from '../output.js';

interface RelayFlags {
  listen: string;
  upstream: string;
  profile: string;
  proto: 'udp' | 'tcp';
  seed?: string;
  timer: TimerMode;
  metrics?: string;
  json?: boolean;
  tcpOutage: 'blackhole' | 'reset';
  slowClose?: string;
  lenient?: boolean;
  idleTimeout: string;
  maxFlows: string;
  duration?: string;
  profiles?: string[];
}

const HELP = `
The relay applies a WAN profile in user space, between --listen and --upstream, for hosts where
netem is unavailable (containers without NET_ADMIN, WSL2, macOS, CI). Point your client at
--listen instead of the server.

  UDP: per datagram, netem's semantics: loss (random, gemodel, 4-state), duplicate, corrupt (one
       bit), delay + jitter (uniform/normal/pareto/paretonormal, iproute2's tables; jitter
       reorders unless the profile says order: keep), reorder + gap, rate (order kept) with a
       queue limit, slot. egress = client -> upstream, ingress = replies.
  TCP: per direction: delay per chunk (byte order kept), rate; a loss-100% phase is an outage
       (--tcp-outage blackhole holds data, reset sends RST both ways). Other packet-level fields
       are refused unless --lenient (then listed as ignored).

Examples:
  backhaul relay --listen 127.0.0.1:5353 --upstream 10.0.0.53:53 --profile lte-cell-edge
  backhaul relay --proto tcp --listen 0.0.0.0:8443 --upstream api.internal:443 --profile failover-vrrp --tcp-outage reset --lenient
  backhaul relay --listen 0.0.0.0:9000 --upstream 127.0.0.1:9001 --profile ./my.yaml --seed 42 --metrics 127.0.0.1:9464

Timer modes (how packets are released on time): sleep (cheapest, ~1 ms late), hybrid (default:
sleep then spin the last stretch, tens of us), busy (spin, a full core, a few us).
`;

function describeImpairment(imp: Impairment): string {
  const parts: string[] = [];
  if (imp.delayMs) parts.push(`delay ${formatDuration(imp.delayMs)}${imp.jitterMs ? ` ±${formatDuration(imp.jitterMs)}${imp.distribution ? ` ${imp.distribution}` : ''}` : ''}`);
  if (imp.loss) parts.push(imp.loss.model === 'random' ? `loss ${formatPct(imp.loss.pct)}` : `loss ${imp.loss.model}`);
  if (imp.duplicatePct) parts.push(`duplicate ${formatPct(imp.duplicatePct)}`);
  if (imp.corruptPct) parts.push(`corrupt ${formatPct(imp.corruptPct)}`);
  if (imp.reorderPct) parts.push(`reorder ${formatPct(imp.reorderPct)}${imp.reorderGap ? ` gap ${imp.reorderGap}` : ''}`);
  if (imp.keepOrder) parts.push('order kept');
  if (imp.rateKbit) parts.push(`rate ${formatRate(imp.rateKbit)}`);
  if (imp.slot) parts.push(`slot ${formatDuration(imp.slot.minDelayMs)}`);
  return parts.length ? parts.join(', ') : 'none';
}

function phaseLine(s: PhaseState): string {
  const name = s.phaseIndex === null ? 'base' : `phase ${s.phaseIndex}${s.phaseName ? ` (${s.phaseName})` : ''}`;
  return `${new Date(s.sinceMs).toISOString()}  ${name}: egress ${describeImpairment(s.egress)}; ingress ${describeImpairment(s.ingress)}`;
}

function statsTable(s: RelayStatsSnapshot): string {
  const row = (d: 'egress' | 'ingress'): string[] => {
    const c = s[d];
    const drops = Object.entries(c.drops).map(([k, v]) => `${k}=${v}`).join(' ') || '0';
    return [d, String(c.packetsIn), String(c.packetsOut), String(c.bytesIn), String(c.bytesOut), drops, String(c.duplicates), String(c.queueDepth)];
  };
  return table(['direction', 'pkts in', 'pkts out', 'bytes in', 'bytes out', 'drops', 'dups', 'queued'], [row('egress'), row('ingress')]);
}

function intFlag(v: string, flag: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw usageError(`${flag}: expected an integer ${min}..${max} (got '${v}')`);
  return n;
}

function durationFlag(v: string, flag: string): number {
  try {
    return parseDurationMs(v);
  } catch (e) {
    throw usageError(`${flag}: ${(e as Error).message} (e.g. 30s, 500ms)`);
  }
}

async function serveMetrics(addr: string, registry: Registry): Promise<Server> {
  const hp = parseHostPort(addr, '--metrics', true);
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('see /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new BackhaulError('ERR_USAGE', `--metrics: cannot listen on ${addr}: ${e.code ?? String(e)}`, { addr })));
    server.listen(hp.port, hp.host, () => resolve());
  });
  return server;
}

export function registerRelay(program: Command, ctx: CliContext): void {
  program
    .command('relay')
    .summary('apply a WAN profile in user space between a listen address and an upstream (UDP or TCP)')
    .description('run a userspace impairment relay in the foreground until Ctrl-C (or --duration)')
    .requiredOption('--listen <addr:port>', 'where clients connect (port 0 picks one; [::1]:port for IPv6)')
    .requiredOption('--upstream <host:port>', 'where traffic goes')
    .requiredOption('--profile <name|file>', 'profile name from the library, or a .yaml file')
    .addOption(new Option('--proto <proto>', 'protocol to relay').choices(['udp', 'tcp']).default('udp'))
    .option('--seed <n>', 'seed for every random draw (printed when not given), to repeat a run')
    .addOption(new Option('--timer <mode>', 'how packets are released on time').choices([...TIMER_MODES]).default(DEFAULT_TIMER_MODE))
    .option('--metrics <addr:port>', 'serve Prometheus metrics on http://ADDR:PORT/metrics (port 0 picks one)')
    .addOption(new Option('--tcp-outage <mode>', 'TCP: what a loss-100% phase does').choices(['blackhole', 'reset']).default('blackhole'))
    .option('--slow-close <duration>', 'TCP: pass a FIN on this long after the data (e.g. 2s)')
    .option('--lenient', 'TCP: drop (and list) fields TCP cannot express instead of refusing the profile')
    .option('--idle-timeout <duration>', 'UDP: close a client flow after this long without traffic', '60s')
    .option('--max-flows <n>', 'UDP: most client flows at once', '4096')
    .option('--duration <duration>', 'stop after this long (default: until Ctrl-C)')
    .option(PROFILES_OPTION_FLAGS, PROFILES_OPTION_HELP, collect)
    .option('--json', 'JSON output (one object per line: started, phase, stopped)')
    .addHelpText('after', HELP)
    .action(async (flags: RelayFlags) => {
      await runAction(ctx, flags, async () => {
        const seed = flags.seed !== undefined ? intFlag(flags.seed, '--seed', 0, 0x7fffffff) : undefined;
        const idleTimeoutMs = durationFlag(flags.idleTimeout, '--idle-timeout');
        const maxFlows = intFlag(flags.maxFlows, '--max-flows', 1, 1_000_000);
        const slowCloseMs = flags.slowClose !== undefined ? durationFlag(flags.slowClose, '--slow-close') : undefined;
        const durationMs = flags.duration !== undefined ? durationFlag(flags.duration, '--duration') : undefined;
        // heavy (profile library, relay engine, prom-client): loaded when the command runs, not at start-up
        const [{ Registry }, { loadProfile }, { startRelay }] = await Promise.all([
          import('prom-client'),
          import('../../agent/profile-library.js'),
          import('../../agent/relay/relay.js'),
        ]);
        const profile = await loadProfile(flags.profile, { env: ctx.env, ...(flags.profiles ? { dirs: flags.profiles } : {}) });
        const registry = new Registry();
        const relay: RelayHandle = await startRelay(
          {
            proto: flags.proto,
            listen: flags.listen,
            upstream: flags.upstream,
            profile,
            timer: flags.timer,
            idleTimeoutMs,
            maxFlows,
            tcpOutage: flags.tcpOutage,
            ...(seed !== undefined ? { seed } : {}),
            ...(slowCloseMs !== undefined ? { slowCloseMs } : {}),
            ...(flags.lenient ? { lenient: true } : {}),
          },
          { registry },
        );
        let metricsServer: Server | undefined;
        let metricsUrl: string | undefined;
        try {
          if (flags.metrics) {
            metricsServer = await serveMetrics(flags.metrics, registry);
            const a = metricsServer.address() as { address: string; port: number };
            metricsUrl = `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}/metrics`;
          }
        } catch (e) {
          await relay.stop();
          throw e;
        }
        const line = (v: unknown, human: string): void => ctx.io.out(`${flags.json ? JSON.stringify(v) : human}\n`);
        const listen = `${relay.listen.host}:${relay.listen.port}`;
        line(
          { event: 'started', proto: relay.proto, listen, upstream: flags.upstream, profile: profile.name, seed: relay.seed, ingressSeed: relay.ingressSeed, timer: relay.timer, warnings: relay.warnings(), ...(metricsUrl ? { metrics: metricsUrl } : {}) },
          [
            `relay ${relay.proto} ${listen} -> ${flags.upstream}, profile ${profile.name}, seed ${relay.seed} (repeat with --seed ${relay.seed})${relay.ingressSeed !== null ? `, ingress seed ${relay.ingressSeed} (profile)` : ''}, timer ${relay.timer}`,
            ...relay.warnings().map((w) => `  warning: ${w}`),
            ...(metricsUrl ? [`  metrics on ${metricsUrl}`] : []),
          ].join('\n'),
        );
        const report = (s: PhaseState): void => line({ event: 'phase', phase: s.phaseIndex, name: s.phaseName ?? null, at: new Date(s.sinceMs).toISOString(), egress: s.egress, ingress: s.ingress }, phaseLine(s));
        report(relay.phase());
        const off = relay.onPhase(report);
        await new Promise<void>((resolve) => {
          const t = durationMs !== undefined ? setTimeout(resolve, durationMs) : undefined;
          const onAbort = (): void => {
            if (t) clearTimeout(t);
            resolve();
          };
          if (ctx.signal.aborted) onAbort();
          ctx.signal.addEventListener('abort', onAbort, { once: true });
        });
        off();
        const stats = relay.stats();
        await relay.stop();
        if (metricsServer) await new Promise<void>((r) => metricsServer!.close(() => r()));
        line({ event: 'stopped', stats }, statsTable(stats));
        return 0;
      });
    });
}
