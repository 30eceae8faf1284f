/**
 * `backhaul probe TARGET`: measure a path with STAMP (UDP), TCP connect time or HTTP TTFB.
 * Thin: parse flags -> startProbeSession -> format (table, --json, --jsonl, live line, --metrics).
 */
import { Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { runAction } from '../context.js';
import { emit, usageError } from '../output.js';
import type { ProbeSessionConfig } from '../../probe/session.js';
import { TIMER_MODES, DEFAULT_TIMER_MODE, type TimerMode } from '../../probe/timer.js';

/** The action's heavy modules (prom-client, the probe engine), loaded when the command runs, not at start-up. */
const loadImpl = async () => {
  const [{ Registry }, { startProbeSession }, { formatLiveLine, formatSummary }, { createJsonlExporter }, { registerProbeMetrics, serveMetrics }] =
    await Promise.all([
      import('prom-client'),
      import('../../probe/session.js'),
      import('../../probe/exporters/human.js'),
      import('../../probe/exporters/jsonl.js'),
      import('../../probe/exporters/prometheus.js'),
    ]);
  return { Registry, startProbeSession, formatLiveLine, formatSummary, createJsonlExporter, registerProbeMetrics, serveMetrics };
};

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** '10ms', '1.5s', '500us', '2m' (a bare number is ms) -> ms. */
export function parseDurationMs(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw usageError(`${flag}: "${v}" is not a duration`, 'use e.g. 10ms, 1.5s, 500us, 2m');
  return Number(m[1]) * (UNITS[m[2] ?? 'ms'] as number);
}

function parseInt10(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw usageError(`${flag} must be an integer ${min}..${max} (got "${v}")`);
  return n;
}

interface ProbeFlags {
  interval: string;
  duration?: string;
  count?: string;
  size: string;
  timeout: string;
  timer: TimerMode;
  outageMin: string;
  window?: string;
  statefulReflector?: boolean;
  name?: string;
  ssid?: string;
  clockSynced?: boolean;
  clockError?: string;
  insecure?: boolean;
  json?: boolean;
  jsonl?: boolean;
  metrics?: string;
}

export function registerProbe(program: Command, ctx: CliContext): void {
  program
    .command('probe')
    .argument('<target>', 'HOST[:PORT] (STAMP/UDP, default port 862), [IPv6]:PORT, tcp://HOST:PORT, http(s)://URL')
    .description('measure latency distribution, loss, jitter, reordering, duplicates and outage windows to a target')
    .option('-i, --interval <dur>', 'probe interval (slots at start + k*interval)', '10ms')
    .option('-d, --duration <dur>', 'run length (default 10s unless --count; "inf" runs until Ctrl-C)')
    .option('-c, --count <n>', 'stop after n probes')
    .option('-s, --size <bytes>', 'STAMP packet size (>= 44)', '44')
    .option('-t, --timeout <dur>', 'a reply after this is lost (and counted late)', '1s')
    .addOption(new Option('--timer <mode>', 'waiting strategy: sleep (~0 CPU, ~1 ms error), hybrid (sleep + short spin, at most 10 % of a core), busy (one core)').choices(TIMER_MODES).default(DEFAULT_TIMER_MODE))
    .option('--outage-min <n>', 'consecutive lost probes that make an outage window', '3')
    .option('--window <n>', 'declared sequence window for duplicates/reordering/late (default max(4096, 4 x timeout/interval)); reordering extents use at most 65536 of it')
    .option('--stateful-reflector', 'the reflector numbers packets itself (RFC 8762 stateful): per-direction loss')
    .option('--name <name>', 'session name, the `probe` metric label (default: the probe kind)')
    .option('--ssid <n>', 'STAMP Session-Sender Identifier 1..65535 (default random)')
    .option('--clock-synced', 'declare this host clock synchronised to UTC (sets the Error Estimate S bit; with a synchronised reflector, one-way delays are reported)')
    .option('--clock-error <dur>', 'declared bound of this host clock offset from UTC (Error Estimate)')
    .option('--insecure', 'https: accept any certificate')
    .option('--json', 'print the summary as JSON (schema in docs/probe.md)')
    .option('--jsonl', 'print one JSON snapshot per second, then the summary, as JSON lines')
    .option('--metrics <addr>', 'serve Prometheus metrics on http://ADDR/metrics while running (e.g. 127.0.0.1:9464)')
    .addHelpText('after', `
Examples:
  backhaul probe 10.0.0.2                         STAMP to UDP 862, 10 ms for 10 s
  backhaul probe 10.0.0.2:8862 -i 2ms -d 60s --stateful-reflector --json
  backhaul probe tcp://db.internal:5432 -i 1s -d inf --metrics 127.0.0.1:9464
  backhaul probe https://api.internal/health -i 500ms -c 100

Outage windows: a run of >= --outage-min lost probes; duration = send time of the first answered
probe after it - send time of the last answered before it - one interval (± one interval).
Missed slots (the sender was late) are counted separately and never as loss.
Reflector rate limit: \`backhaul reflect\` answers at most 2000 packets/s per source by default
(--rate); at intervals under 0.5 ms the excess is dropped there (its stats count it as
dropped rate-limited) and shows here as loss. Run that reflector with --rate 0 for fast probes.`)
    .action(async (target: string, flags: ProbeFlags) => {
      await runAction(ctx, { json: Boolean(flags.json || flags.jsonl) }, async () => {
        const cfg: ProbeSessionConfig = {
          target,
          intervalMs: parseDurationMs('--interval', flags.interval),
          timeoutMs: parseDurationMs('--timeout', flags.timeout),
          sizeBytes: parseInt10('--size', flags.size, 44, 65507),
          timer: flags.timer,
          outageMinLost: parseInt10('--outage-min', flags.outageMin, 1, 1_000_000),
          statefulReflector: Boolean(flags.statefulReflector),
          insecure: Boolean(flags.insecure),
          clockSync: {
            synchronized: Boolean(flags.clockSynced),
            ...(flags.clockError ? { clockErrorNs: parseDurationMs('--clock-error', flags.clockError) * 1e6 } : {}),
          },
        };
        if (flags.count !== undefined) cfg.count = parseInt10('--count', flags.count, 1, Number.MAX_SAFE_INTEGER);
        if (flags.duration !== undefined && flags.duration !== 'inf') cfg.durationMs = parseDurationMs('--duration', flags.duration);
        if (flags.duration === undefined && flags.count === undefined) cfg.durationMs = 10_000;
        if (flags.window !== undefined) cfg.windowSize = parseInt10('--window', flags.window, 1, 16_777_216);
        if (flags.ssid !== undefined) cfg.ssid = parseInt10('--ssid', flags.ssid, 1, 65535);
        if (flags.name !== undefined) cfg.name = flags.name;

        const { Registry, startProbeSession, formatLiveLine, formatSummary, createJsonlExporter, registerProbeMetrics, serveMetrics } = await loadImpl();
        const registry = new Registry();
        const server = flags.metrics ? await serveMetrics(flags.metrics, registry) : undefined;
        const session = await startProbeSession(cfg);
        const metrics = server ? registerProbeMetrics(session, registry) : undefined;
        if (server) ctx.io.err(`metrics: ${server.url}\n`);
        const onAbort = (): void => void session.stop();
        ctx.signal.addEventListener('abort', onAbort, { once: true });

        const jsonl = flags.jsonl
          ? createJsonlExporter({ write: (line) => ctx.io.out(line), get writableNeedDrain() { return process.stdout.writableNeedDrain; } })
          : undefined;
        const live = !flags.json && !flags.jsonl && ctx.io.isTTY;
        session.on('snapshot', (s) => {
          if (s.done) return;
          if (jsonl) jsonl.snapshot(s);
          else if (live) ctx.io.err(`\r\x1b[K${formatLiveLine(s)}`);
        });
        try {
          const summary = await session.done;
          if (live) ctx.io.err('\r\x1b[K');
          if (jsonl) jsonl.summary(summary);
          else emit(ctx.io, { json: Boolean(flags.json) }, summary, () => formatSummary(summary));
        } finally {
          ctx.signal.removeEventListener('abort', onAbort);
          metrics?.unregister();
          await server?.close();
        }
      });
    });
}
