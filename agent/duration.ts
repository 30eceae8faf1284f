/**
 * Durations in requests and config: '500ms', '30s', '10m', '1h30m', '2d', or a number of
 * milliseconds. Pure; throws BackhaulError(ERR_BAD_REQUEST) naming the field and the bad text.
 */
import { BackhaulError } from '../core/errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parse a duration into milliseconds (>= 0, finite). `field` names the input in the error. */
export function parseDurationMs(input: string | number, field = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) {
      throw new BackhaulError('ERR_BAD_REQUEST', `${field}: must be a non-negative number of milliseconds (got ${input})`, { field });
    }
    return Math.round(input);
  }
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text));
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || text.length === 0) {
    throw new BackhaulError('ERR_BAD_REQUEST', `${field}: not a duration (got ${JSON.stringify(input).slice(0, 40)}); use e.g. 500ms, 30s, 10m, 1h30m`, { field });
  }
  return Math.round(total);
}

/** Render milliseconds compactly: 90000 -> '1m30s'. */
export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}
