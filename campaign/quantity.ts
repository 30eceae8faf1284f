/**
 * Quantities as written in campaign files, converted once at the edge to base units used inside
 * the campaign code: durations in milliseconds, ratios as fractions 0..1.
 *
 *   '250ms' -> 250    '1.5s' -> 1500    '2m' -> 120000    '500us' -> 0.5    '1h' -> 3600000    '0' -> 0
 *   '1%' -> 0.01      '0.5%' -> 0.005
 */

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)\s*$/;

/** Parse a duration such as '250ms', '1.5s', '2m'. Returns milliseconds, or null when malformed. */
export function parseDurationMs(text: string): number | null {
  if (/^\s*0\s*$/.test(text)) return 0;
  const m = DURATION_RE.exec(text);
  if (!m) return null;
  const unit = DURATION_UNITS_MS[m[2] as string];
  if (unit === undefined) return null;
  return Number(m[1]) * unit;
}

/** Render milliseconds for humans: '850 us', '12.3 ms', '4.20 s'. */
export function formatMs(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '-';
  const a = Math.abs(ms);
  if (a < 1) return `${(ms * 1000).toFixed(0)} us`;
  if (a < 100) return `${ms.toFixed(1)} ms`;
  if (a < 10_000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Render a ratio (0..1) as a percentage: '0.52%'. */
export function formatRatio(r: number | undefined | null): string {
  if (r === undefined || r === null || !Number.isFinite(r)) return '-';
  const pct = r * 100;
  return `${pct < 1 && pct > 0 ? pct.toFixed(2) : pct.toFixed(1)}%`;
}
