/**
 * `backhaul reflect`: a STAMP (RFC 8762) / TWAMP-Light reflector until Ctrl-C (or --duration).
 */
import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { runAction } from '../context.js';
import { emit, table, usageError } from '../output.js';
import { DEFAULT_REFLECTOR_BURST, DEFAULT_REFLECTOR_RATE_PPS, DEFAULT_STAMP_PORT, parseListen, startReflector, type ReflectorStats } from '../../probe/reflector.js';
import { parseDurationMs } from './probe.js';

interface ReflectFlags {
  listen: string;
  stateful?: boolean;
  maxSize: string;
  allow: string[];
  rate: string;
  burst: string;
  duration?: string;
  metrics?: string;
  json?: boolean;
  clockSynced?: boolean;
  clockError?: string;
}

function num(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw usageError(`${flag} must be an integer ${min}..${max} (got "${v}")`);
  return n;
}

function formatStats(s: ReflectorStats): string {
  return table(['received', 'reflected', 'malformed', 'dropped (too-large/not-allowed/rate-limited/send-error)', 'sessions'], [[
    String(s.received), String(s.reflected), String(s.malformed['too-short']),
    `${s.dropped['too-large']}/${s.dropped['not-allowed']}/${s.dropped['rate-limited']}/${s.dropped['send-error']}`, String(s.sessions),
  ]]);
}

export function registerReflect(program: Command, ctx: CliContext): void {
  program
    .command('reflect')
    .description('answer STAMP (RFC 8762) and TWAMP-Light test packets (unauthenticated) until interrupted')
    .option('-l, --listen <addr:port>', `UDP address to listen on (ports < 1024 need root or CAP_NET_BIND_SERVICE; e.g. 0.0.0.0:8862)`, `0.0.0.0:${DEFAULT_STAMP_PORT}`)
    .option('--stateful', 'number reflected packets per session (gives senders per-direction loss)')
    .option('--max-size <bytes>', 'ignore requests larger than this', '9000')
    .option('--allow <cidr>', 'only answer these sources (repeatable; default everyone)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--rate <pps>', 'per-source rate limit in packets/s (0 = none); the excess is dropped and counted (dropped rate-limited), and a sender sees it as forward loss', String(DEFAULT_REFLECTOR_RATE_PPS))
    .option('--burst <n>', 'per-source burst', String(DEFAULT_REFLECTOR_BURST))
    .option('-d, --duration <dur>', 'stop after this long (default: until Ctrl-C)')
    .option('--clock-synced', 'declare this host clock synchronised to UTC (Error Estimate S bit: senders may then report one-way delays)')
    .option('--clock-error <dur>', 'declared bound of this host clock offset from UTC (Error Estimate)')
    .option('--metrics <addr>', 'serve Prometheus metrics on http://ADDR/metrics')
    .option('--json', 'print the final counters as JSON')
    .addHelpText('after', `
Replies are never larger than the request, except that requests under 44 octets get the 44-octet
STAMP base packet. The Ses-Sender TTL field is always 0: Node cannot read the received TTL.
Rate limit: a source sending faster than --rate (default ${DEFAULT_REFLECTOR_RATE_PPS} pps, i.e. probe intervals
under ${1000 / DEFAULT_REFLECTOR_RATE_PPS} ms) gets its excess dropped here, counted as dropped rate-limited (stats,
--json, backhaul_reflector_dropped_total{reason="rate-limited"}); its probe reports that as loss.
For fast probes use --rate 0 (no limit) or a higher --rate.

Examples:
  sudo backhaul reflect                          # UDP 862 on all IPv4 addresses
  backhaul reflect --listen 0.0.0.0:8862 --stateful --allow 10.0.0.0/8`)
    .action(async (flags: ReflectFlags) => {
      await runAction(ctx, { json: Boolean(flags.json) }, async () => {
        const { host, port } = parseListen(flags.listen);
        const durationMs = flags.duration ? parseDurationMs('--duration', flags.duration) : undefined;
        const reflector = await startReflector({
          host, port, stateful: Boolean(flags.stateful), maxPacketBytes: num('--max-size', flags.maxSize, 14, 65507),
          allow: flags.allow, ratePps: num('--rate', flags.rate, 0, 1e9), burst: num('--burst', flags.burst, 1, 1e9),
          clockSync: {
            synchronized: Boolean(flags.clockSynced),
            ...(flags.clockError ? { clockErrorNs: parseDurationMs('--clock-error', flags.clockError) * 1e6 } : {}),
          },
        });
        // heavy (prom-client): loaded when the command runs, not at start-up
        const [{ Registry }, { registerReflectorMetrics, serveMetrics }] = await Promise.all([import('prom-client'), import('../../probe/exporters/prometheus.js')]);
        const registry = new Registry();
        const server = flags.metrics ? await serveMetrics(flags.metrics, registry) : undefined;
        if (server) registerReflectorMetrics(reflector, registry);
        ctx.io.err(`reflecting on ${reflector.address.address}:${reflector.address.port}${flags.stateful ? ' (stateful)' : ''}${server ? `, metrics ${server.url}` : ''}\n`);
        try {
          await new Promise<void>((resolve) => {
            if (ctx.signal.aborted) return resolve();
            const t = durationMs !== undefined ? setTimeout(resolve, durationMs) : undefined;
            ctx.signal.addEventListener('abort', () => { if (t) clearTimeout(t); resolve(); }, { once: true });
          });
        } finally {
          await reflector.close();
          await server?.close();
        }
        const s = reflector.stats();
        emit(ctx.io, { json: Boolean(flags.json) }, s, () => formatStats(s));
      });
    });
}
