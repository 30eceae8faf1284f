/**
 * Values as tc's parser wants them. Always with an explicit unit: tc reads a bare time as
 * nanoseconds (`delay 50000` is 50 us) and `bps` as bytes per second, and a bare percentage
 * token as percent. Correlation tokens must start with a digit (`.5` is rejected).
 */

function trimFixed(x: number, digits: number): string {
  // toFixed never uses exponent notation for |x| < 1e21; strip trailing zeros.
  const s = x.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/**
 * Milliseconds -> '80ms' | '500us' | '250ns' (rounded to whole nanoseconds), and kbit/s ->
 * '20000kbit', or 'bit' below whole kbit (never 'bps', which tc reads as bytes): the one
 * implementation lives in core/units.ts.
 */
export { formatTcTime as tcTime, formatTcRate as tcRate } from '../../core/units.js';

/** Percent (0..100) -> '0.05%' (no exponent notation, up to 7 decimals: netem's resolution is 2^-32). */
export function tcPct(pct: number): string {
  return `${trimFixed(pct, 7)}%`;
}

/** Bytes -> '1514b' (tc size with explicit unit). */
export function tcSize(bytes: number): string {
  return `${Math.round(bytes)}b`;
}

/** POSIX shell quoting, only where needed: safe words stay bare. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** argv -> one shell command line. */
export function shellLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
