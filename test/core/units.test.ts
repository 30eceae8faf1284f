import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatPct,
  formatRate,
  formatSize,
  formatTcPct,
  formatTcRate,
  formatTcTime,
  parseDurationMs,
  parsePct,
  parseRateKbit,
  parseSizeBytes,
  UnitError,
} from '../../core/units.js';

describe('parseDurationMs', () => {
  it.each([
    ['80ms', 80],
    ['1.5s', 1500],
    ['500us', 0.5],
    ['500µs', 0.5],
    ['250ns', 0.00025],
    ['2m', 120_000],
    ['2min', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['0ms', 0],
    ['.5s', 500],
    [' 15s ', 15_000],
    ['0.1s', 100],
  ])('%j -> %d ms', (input, ms) => {
    expect(parseDurationMs(input)).toBe(ms);
  });

  it.each([
    [80, 'needs a unit, e.g. 80ms or 80s (got bare number 80)'],
    ['80', 'expected a duration such as 80ms, 1.5s, 500us or 2m (got "80")'],
    ['80 mbit', 'expected a duration such as 80ms, 1.5s, 500us or 2m (got "80 mbit")'],
    ['-5ms', 'expected a duration such as 80ms, 1.5s, 500us or 2m (got "-5ms")'],
    ['1e3ms', 'expected a duration such as 80ms, 1.5s, 500us or 2m (got "1e3ms")'],
    [true, 'expected a duration such as 80ms (got true)'],
  ])('rejects %j', (input, message) => {
    expect(() => parseDurationMs(input)).toThrow(new UnitError(message));
  });
});

describe('parseRateKbit', () => {
  it.each([
    ['20mbit', 20_000],
    ['1.6mbit', 1600],
    ['750kbit', 750],
    ['1gbit', 1_000_000],
    ['9600bit', 9.6],
    ['1tbit', 1e9],
    ['20Mbit', 20_000],
    ['100 kbit', 100],
  ])('%j -> %d kbit', (input, kbit) => {
    expect(parseRateKbit(input)).toBe(kbit);
  });

  it.each([
    ['8mbps', '"8mbps" is ambiguous: tc reads "bps" as BYTES per second (8x 8mbit); write bits per second with "bit", e.g. 8mbit'],
    ['8MBps', '"8MBps" is ambiguous: tc reads "bps" as BYTES per second (8x 8mbit); write bits per second with "bit", e.g. 8mbit'],
    ['100kbps', '"100kbps" is ambiguous: tc reads "bps" as BYTES per second (8x 100kbit); write bits per second with "bit", e.g. 100kbit'],
    ['56bps', '"56bps" is ambiguous: tc reads "bps" as BYTES per second (8x 56bit); write bits per second with "bit", e.g. 56bit'],
    ['5Mb/s', '"5Mb/s" is ambiguous: tc reads "bps" as BYTES per second (8x 5mbit); write bits per second with "bit", e.g. 5mbit'],
    [20, 'needs a unit, e.g. 20kbit or 20mbit (got bare number 20)'],
    ['fast', 'expected a rate such as 20mbit, 750kbit or 1gbit (got "fast")'],
    ['10%', 'expected a rate such as 20mbit, 750kbit or 1gbit (got "10%")'],
  ])('rejects %j', (input, message) => {
    expect(() => parseRateKbit(input)).toThrow(new UnitError(message));
  });
});

describe('parsePct', () => {
  it.each([
    ['0.5%', 0.5],
    ['100%', 100],
    ['0%', 0],
    ['0.01%', 0.01],
    ['140%', 140], // range is the caller's business
  ])('%j -> %d', (input, pct) => {
    expect(parsePct(input)).toBe(pct);
  });

  it.each([
    [0.5, 'needs a percent sign, e.g. 0.5% (got bare number 0.5)'],
    ['0.5', 'expected a percentage such as 0.5% (got "0.5")'],
    ['-1%', 'expected a percentage such as 0.5% (got "-1%")'],
    [null, 'expected a percentage such as 0.5% (got null)'],
  ])('rejects %j', (input, message) => {
    expect(() => parsePct(input)).toThrow(new UnitError(message));
  });
});

describe('parseSizeBytes', () => {
  it.each([
    ['1500b', 1500],
    ['1500', 1500],
    [1500, 1500],
    ['64k', 65_536],
    ['64kb', 65_536],
    ['1m', 1_048_576],
    ['1.5k', 1536],
  ])('%j -> %d bytes', (input, bytes) => {
    expect(parseSizeBytes(input)).toBe(bytes);
  });

  it.each([
    ['1.3k', 'must be a whole number of bytes (got "1.3k")'],
    [1.5, 'expected a whole number of bytes (got 1.5)'],
    ['lots', 'expected a size such as 1500b or 64k (got "lots")'],
  ])('rejects %j', (input, message) => {
    expect(() => parseSizeBytes(input)).toThrow(new UnitError(message));
  });
});

describe('formatters', () => {
  it.each([
    [80, '80 ms'],
    [1500, '1.5 s'],
    [0.5, '500 us'],
    [120_000, '2 min'],
    [250_000, '4.17 min'],
    [7_200_000, '2 h'],
    [0, '0 ms'],
  ])('formatDuration(%d) = %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([
    [20_000, '20 Mbit/s'],
    [750, '750 kbit/s'],
    [1_000_000, '1 Gbit/s'],
    [1600, '1.6 Mbit/s'],
    [0.5, '500 bit/s'],
  ])('formatRate(%d) = %j', (kbit, text) => {
    expect(formatRate(kbit)).toBe(text);
  });

  it('formats percent and sizes', () => {
    expect(formatPct(0.5)).toBe('0.5%');
    expect(formatPct(1.23456)).toBe('1.23%');
    expect(formatSize(65_536)).toBe('64 KiB');
    expect(formatSize(1500)).toBe('1500 B');
  });

  it.each([
    [80, '80ms'],
    [0.5, '500us'],
    [0.0005, '500ns'],
    [1500, '1500ms'],
  ])('formatTcTime(%d) = %j (always a unit: tc reads bare numbers as ns)', (ms, text) => {
    expect(formatTcTime(ms)).toBe(text);
  });

  it('formats tc rates in bits, never bps, and round-trips through the parser', () => {
    expect(formatTcRate(20_000)).toBe('20000kbit');
    expect(formatTcRate(9.6)).toBe('9600bit');
    for (const kbit of [20_000, 9.6, 1600, 0.008]) expect(parseRateKbit(formatTcRate(kbit))).toBe(kbit);
    for (const ms of [80, 0.5, 1500, 0.001]) expect(parseDurationMs(formatTcTime(ms))).toBe(ms);
    expect(formatTcPct(0.05)).toBe('0.05%');
  });
});
