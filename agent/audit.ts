/**
 * Append-only audit log, one JSON object per line, of every change made through the API:
 *   {"atMs":..., "token":"ci", "peer":"10.0.0.5", "method":"POST", "route":"/v1/impairments",
 *    "what":{...}, "status":201, "result":"ok"|"error", "code":"ERR_..."}
 * Opened with O_APPEND; lines are written in order; a write failure is reported to `onError` and
 * never fails the request (the change itself already happened or failed).
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AuditRecord {
  atMs: number;
  token: string;
  peer: string | null;
  method: string;
  route: string;
  what: Record<string, unknown>;
  status: number;
  result: 'ok' | 'error';
  code?: string;
}

export interface AuditSink {
  append(rec: AuditRecord): Promise<void>;
}

export class FileAuditLog implements AuditSink {
  private chain: Promise<void> = Promise.resolve();
  private dirReady: Promise<unknown> | null = null;

  constructor(readonly path: string, private readonly onError: (e: Error) => void = () => undefined) {}

  append(rec: AuditRecord): Promise<void> {
    const line = JSON.stringify(rec) + '\n';
    this.dirReady ??= mkdir(dirname(this.path), { recursive: true }).catch(() => undefined);
    this.chain = this.chain
      .then(() => this.dirReady)
      .then(() => appendFile(this.path, line, { flag: 'a', mode: 0o600 }))
      .catch((e: Error) => this.onError(e));
    return this.chain;
  }
}

/** In-memory sink (tests, or when no audit file is configured: keeps the last `keep`). */
export class MemoryAuditLog implements AuditSink {
  readonly records: AuditRecord[] = [];
  constructor(private readonly keep = 1000) {}
  async append(rec: AuditRecord): Promise<void> {
    this.records.push(rec);
    if (this.records.length > this.keep) this.records.shift();
  }
}
