/**
 * CLI output helpers: human text by default, `--json` everywhere, errors with codes.
 * Commands stay thin: parse flags -> call the library -> format with these.
 */
import { BackhaulError, toBackhaulError } from '../core/errors.js';

export interface OutputOptions {
  json?: boolean;
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stdout.isTTY),
};

/** Print a value: JSON with `--json`, else the human rendering. */
export function emit(io: Io, opts: OutputOptions, value: unknown, human: () => string): void {
  if (opts.json) io.out(JSON.stringify(value, null, 2) + '\n');
  else {
    const text = human();
    io.out(text.endsWith('\n') || text === '' ? text : text + '\n');
  }
}

/** Report an error and return the exit code it maps to. */
export function reportError(io: Io, opts: OutputOptions, e: unknown): number {
  const err = toBackhaulError(e);
  if (opts.json) {
    io.err(JSON.stringify({ error: err.toJSON() }, null, 2) + '\n');
  } else {
    io.err(`backhaul: ${err.message}${err.code === 'ERR_INTERNAL' ? ' (internal error; please report it)' : ''}\n`);
    const hint = err.details['hint'];
    if (typeof hint === 'string') io.err(`  hint: ${hint}\n`);
    const problems = err.details['problems'];
    if (Array.isArray(problems)) for (const p of problems) io.err(`  - ${String(p)}\n`);
    if (err.code === 'ERR_INTERNAL' && err.cause instanceof Error && process.env['BACKHAUL_DEBUG']) {
      io.err(`${err.cause.stack ?? ''}\n`);
    }
  }
  return err.exitCode;
}

/** Format rows as an aligned table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function usageError(message: string, hint?: string): BackhaulError {
  return new BackhaulError('ERR_USAGE', message, hint ? { hint } : {});
}
