/**
 * Relay counters: plain in-process numbers (always kept, read with `snapshot()`), mirrored into
 * prom-client metrics when a registry is given. Names come from RELAY_METRICS; labels follow the
 * contract in core/metric-names.ts: `relay`, `direction` (egress|ingress); packets/bytes add
 * `stage` (in|out); drops add `cause` (loss|queue|send-error|flow-limit|stopped|outage).
 *
 * Several relays may share one registry (the agent runs many): metrics are registered once per
 * registry and each relay gets its own label children; queue depth and flow gauges are read at
 * scrape time from every live relay. `close()` removes this relay's series.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { RELAY_METRICS } from '../../core/metric-names.js';
import type { Direction } from '../../core/profile.js';
import type { DropCause, PipeEvents } from './release-pipe.js';

export type RelayDropCause = DropCause | 'outage';

export interface DirectionCounters {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  drops: Partial<Record<RelayDropCause, number>>;
  duplicates: number;
  corrupted: number;
  reordered: number;
  queueDepth: number;
}

export interface RelayStatsSnapshot {
  flows: number;
  egress: DirectionCounters;
  ingress: DirectionCounters;
}

interface LiveSource {
  relay: string;
  depth(direction: Direction): number;
  flows(): number;
}

interface Shared {
  packets: Counter<'relay' | 'direction' | 'stage'>;
  bytes: Counter<'relay' | 'direction' | 'stage'>;
  drops: Counter<'relay' | 'direction' | 'cause'>;
  duplicates: Counter<'relay' | 'direction'>;
  sources: Set<LiveSource>;
}

const shared = new WeakMap<Registry, Shared>();

function sharedFor(registry: Registry): Shared {
  let s = shared.get(registry);
  if (s) return s;
  const sources = new Set<LiveSource>();
  s = {
    packets: new Counter({ name: RELAY_METRICS.packetsTotal, help: 'Datagrams (UDP) or chunks (TCP) seen by the relay, by stage: in = arrived, out = sent on.', labelNames: ['relay', 'direction', 'stage'], registers: [registry] }),
    bytes: new Counter({ name: RELAY_METRICS.bytesTotal, help: 'Payload bytes seen by the relay, by stage (in|out).', labelNames: ['relay', 'direction', 'stage'], registers: [registry] }),
    drops: new Counter({ name: RELAY_METRICS.dropsTotal, help: 'Datagrams the relay dropped, by cause (loss = loss model, queue = queue limit full, outage, flow-limit, send-error, stopped).', labelNames: ['relay', 'direction', 'cause'], registers: [registry] }),
    duplicates: new Counter({ name: RELAY_METRICS.duplicatesTotal, help: 'Extra copies the duplicate stage made.', labelNames: ['relay', 'direction'], registers: [registry] }),
    sources,
  };
  new Gauge({
    name: RELAY_METRICS.queueDepthPackets,
    help: 'Packets (UDP) or chunks (TCP) held in the relay queue now.',
    labelNames: ['relay', 'direction'],
    registers: [registry],
    collect() {
      this.reset();
      for (const src of sources) for (const d of ['egress', 'ingress'] as const) this.set({ relay: src.relay, direction: d }, src.depth(d));
    },
  });
  new Gauge({
    name: RELAY_METRICS.flows,
    help: 'Client flows (UDP) or connections (TCP) open now.',
    labelNames: ['relay'],
    registers: [registry],
    collect() {
      this.reset();
      for (const src of sources) this.set({ relay: src.relay }, src.flows());
    },
  });
  shared.set(registry, s);
  return s;
}

function emptyCounters(): DirectionCounters {
  return { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0, drops: {}, duplicates: 0, corrupted: 0, reordered: 0, queueDepth: 0 };
}

export class RelayStats {
  private readonly c: Record<Direction, DirectionCounters> = { egress: emptyCounters(), ingress: emptyCounters() };
  private readonly s: Shared | null;
  private readonly source: LiveSource;

  /** `live` reads the queue depths and flow count at scrape / snapshot time. */
  constructor(
    readonly relay: string,
    registry: Registry | undefined,
    private readonly live: { depth(direction: Direction): number; flows(): number },
  ) {
    this.s = registry ? sharedFor(registry) : null;
    this.source = { relay, depth: (d) => live.depth(d), flows: () => live.flows() };
    this.s?.sources.add(this.source);
  }

  /** Event sink for one direction's pipe (cheap: label children are resolved once). */
  events(direction: Direction): PipeEvents & { droppedOutage(bytes: number): void } {
    const c = this.c[direction];
    const s = this.s;
    const relay = this.relay;
    const pin = s?.packets.labels({ relay, direction, stage: 'in' });
    const pout = s?.packets.labels({ relay, direction, stage: 'out' });
    const bin = s?.bytes.labels({ relay, direction, stage: 'in' });
    const bout = s?.bytes.labels({ relay, direction, stage: 'out' });
    const dup = s?.duplicates.labels({ relay, direction });
    const drop = (cause: RelayDropCause): void => {
      c.drops[cause] = (c.drops[cause] ?? 0) + 1;
      s?.drops.inc({ relay, direction, cause });
    };
    return {
      arrived(bytes) {
        c.packetsIn++;
        c.bytesIn += bytes;
        pin?.inc();
        bin?.inc(bytes);
      },
      released(bytes) {
        c.packetsOut++;
        c.bytesOut += bytes;
        pout?.inc();
        bout?.inc(bytes);
      },
      dropped: drop,
      droppedOutage: () => drop('outage'),
      duplicated() {
        c.duplicates++;
        dup?.inc();
      },
      corrupted() {
        c.corrupted++;
      },
      reordered() {
        c.reordered++;
      },
    };
  }

  snapshot(): RelayStatsSnapshot {
    const copy = (d: Direction): DirectionCounters => ({ ...this.c[d], drops: { ...this.c[d].drops }, queueDepth: this.live.depth(d) });
    return { flows: this.live.flows(), egress: copy('egress'), ingress: copy('ingress') };
  }

  /** Stop exporting this relay's live gauges (counters keep their last values until restart). */
  close(): void {
    this.s?.sources.delete(this.source);
  }
}
