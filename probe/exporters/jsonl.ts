/**
 * `--jsonl`: one JSON object per line per snapshot interval, then the final summary. Writes never
 * wait: when the stream is backed up (a slow pipe), the snapshot is dropped and counted instead of
 * delaying anything (`dropped`, also exported as backhaul_exporter_dropped_total{exporter="jsonl"}
 * by callers that have a registry).
 *
 *   {"type":"snapshot", ...ProbeSummary}   every interval while running
 *   {"type":"summary",  ...ProbeSummary}   once, at the end (with the encoded histogram)
 */
import type { ProbeSummary } from '../stats/summary.js';

export interface JsonlExporter {
  readonly dropped: number;
  /** Write a snapshot unless the stream is backed up. */
  snapshot(s: ProbeSummary): void;
  /** Write the final summary (always written; it is the result). */
  summary(s: ProbeSummary): void;
}

/** Where lines go: a Writable, or anything with write() and an optional back-pressure flag. */
export interface LineSink {
  write(line: string): unknown;
  readonly writableNeedDrain?: boolean;
}

export function createJsonlExporter(out: LineSink): JsonlExporter {
  let dropped = 0;
  return {
    get dropped() {
      return dropped;
    },
    snapshot(s) {
      if (out.writableNeedDrain) {
        dropped += 1;
        return;
      }
      out.write(JSON.stringify({ type: 'snapshot', ...s }) + '\n');
    },
    summary(s) {
      out.write(JSON.stringify({ type: 'summary', ...s, exporterDropped: dropped }) + '\n');
    },
  };
}
