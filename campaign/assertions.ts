/**
 * Assertion expressions: a tiny, strict grammar, parsed once at the edge (campaign load) and
 * evaluated against measured values.
 *
 *   assertion := subject OP number [unit]      e.g.  rtt.p99 < 250ms   loss < 1%   outage.count <= 1
 *              | OP number [unit]              (PromQL assertions: the subject is the query's value)
 *   OP        := '<' | '<=' | '>' | '>=' | '==' | '!='
 *   unit      := 'us' | 'ms' | 's' | 'm' (durations)  |  '%' (ratios)
 *
 * Every subject has a kind that fixes what the number means:
 *   duration  (ms inside; a unit is required: 'rtt.p99 < 250' is refused as ambiguous)
 *   ratio     (fraction inside; '1%' or a bare fraction 0..1: 'loss < 0.01')
 *   count     (bare number, no unit)
 *   value     (PromQL: bare number, or a duration, which is compared in seconds as Prometheus does)
 *
 * Evaluation is pure: `evaluate(assertion, values)` looks the subject up in a flat record of
 * measured values in base units (ms, fractions, counts). A subject with no measured value (no
 * replies, no outage to match, hook not run) fails with "no data": an assertion never passes
 * vacuously.
 */

export type Op = '<' | '<=' | '>' | '>=' | '==' | '!=';
export type SubjectKind = 'duration' | 'ratio' | 'count' | 'value';

/** Probe subjects (values from a probe's summary). */
export const PROBE_SUBJECTS: Record<string, SubjectKind> = {
  'rtt.min': 'duration',
  'rtt.p50': 'duration',
  'rtt.p90': 'duration',
  'rtt.p99': 'duration',
  'rtt.p999': 'duration',
  'rtt.max': 'duration',
  'rtt.mean': 'duration',
  'rtt.stddev': 'duration',
  jitter: 'duration',
  loss: 'ratio',
  'loss.count': 'count',
  sent: 'count',
  received: 'count',
  late: 'count',
  duplicates: 'count',
  reordered: 'count',
  'outage.count': 'count',
  'outage.max': 'duration',
  'outage.total': 'duration',
  'outage.unexpected': 'count',
  'failover.detect': 'duration',
  'failover.outage': 'duration',
  'failover.recover': 'duration',
  'failover.unmatched': 'count',
};

/** Hook subjects. */
export const HOOK_SUBJECTS: Record<string, SubjectKind> = {
  exit: 'count',
  'duration': 'duration',
  'junit.tests': 'count',
  'junit.failures': 'count',
  'junit.errors': 'count',
};

export interface Assertion {
  /** The text as written (shown in reports). */
  text: string;
  /** Subject path, e.g. 'rtt.p99'; 'value' for PromQL assertions. */
  subject: string;
  kind: SubjectKind;
  op: Op;
  /** Threshold in base units: ms for durations, a fraction for ratios, seconds for PromQL durations. */
  threshold: number;
  /** How to render the threshold (the unit the user wrote, or the subject's default). */
  unit: string;
}

export type ParseResult = { ok: true; assertion: Assertion } | { ok: false; problem: string };

const EXPR_RE = /^\s*(?:([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*)\s*)?(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)\s*([a-zµ%]*)\s*$/i;

const DURATION_UNIT_MS: Record<string, number> = { us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000 };

/**
 * Parse an assertion against a subject catalog. `subjects` maps allowed subjects to their kinds;
 * pass `{ value: 'value' }` with `implicitSubject: 'value'` for PromQL (`< 0.3`).
 */
export function parseAssertion(
  text: string,
  subjects: Record<string, SubjectKind>,
  implicitSubject?: string,
): ParseResult {
  const m = EXPR_RE.exec(text);
  if (!m) {
    return { ok: false, problem: `cannot parse '${text}': expected SUBJECT OP NUMBER[UNIT], e.g. 'rtt.p99 < 250ms'` };
  }
  const subject = m[1] ?? implicitSubject;
  if (subject === undefined) return { ok: false, problem: `'${text}' names no subject (e.g. 'loss < 1%')` };
  const kind = subjects[subject];
  if (kind === undefined) {
    return { ok: false, problem: `unknown subject '${subject}' (known: ${Object.keys(subjects).join(', ')})` };
  }
  const op = m[2] as Op;
  const n = Number(m[3]);
  const unitText = (m[4] ?? '').toLowerCase();
  const fail = (problem: string): ParseResult => ({ ok: false, problem: `'${text}': ${problem}` });
  switch (kind) {
    case 'duration': {
      if (unitText === '') return fail(`a duration needs a unit (us, ms, s, m), e.g. '${subject} ${op} ${n}ms'`);
      const f = DURATION_UNIT_MS[unitText];
      if (f === undefined) return fail(`unknown duration unit '${unitText}' (us, ms, s, m)`);
      if (n < 0) return fail('a duration cannot be negative');
      return { ok: true, assertion: { text: text.trim(), subject, kind, op, threshold: n * f, unit: unitText } };
    }
    case 'ratio': {
      if (unitText === '%') {
        if (n < 0 || n > 100) return fail('a percentage must be 0..100');
        return { ok: true, assertion: { text: text.trim(), subject, kind, op, threshold: n / 100, unit: '%' } };
      }
      if (unitText !== '') return fail(`a ratio takes '%' or a bare fraction 0..1, not '${unitText}'`);
      if (n < 0 || n > 1) return fail(`a bare ratio must be a fraction 0..1 (did you mean ${n}%?)`);
      return { ok: true, assertion: { text: text.trim(), subject, kind, op, threshold: n, unit: '' } };
    }
    case 'count': {
      if (unitText !== '') return fail(`'${subject}' is a count and takes no unit`);
      return { ok: true, assertion: { text: text.trim(), subject, kind, op, threshold: n, unit: '' } };
    }
    case 'value': {
      if (unitText === '') return { ok: true, assertion: { text: text.trim(), subject, kind, op, threshold: n, unit: '' } };
      const f = DURATION_UNIT_MS[unitText];
      if (f === undefined) return fail(`unknown unit '${unitText}' (a PromQL value is a bare number or a duration)`);
      // Prometheus measures time in seconds: '< 300ms' means '< 0.3'.
      return { ok: true, assertion: { text: text.trim(), subject, kind, op, threshold: (n * f) / 1000, unit: unitText } };
    }
  }
}

export interface AssertionOutcome {
  passed: boolean;
  /** The measured value in base units, or null when there was none. */
  actual: number | null;
  /** One line for humans: 'rtt.p99 = 312 ms, expected < 250 ms'. */
  message: string;
}

export function compare(actual: number, op: Op, threshold: number): boolean {
  switch (op) {
    case '<':
      return actual < threshold;
    case '<=':
      return actual <= threshold;
    case '>':
      return actual > threshold;
    case '>=':
      return actual >= threshold;
    case '==':
      return actual === threshold;
    case '!=':
      return actual !== threshold;
  }
}

/** Render a base-unit value the way the assertion was written. */
export function renderValue(a: Pick<Assertion, 'kind' | 'unit'>, v: number): string {
  const trim = (x: number): string => String(Number(x.toPrecision(4)));
  switch (a.kind) {
    case 'duration': {
      const f = DURATION_UNIT_MS[a.unit] ?? 1;
      return `${trim(v / f)} ${a.unit || 'ms'}`;
    }
    case 'ratio':
      return a.unit === '%' ? `${trim(v * 100)}%` : trim(v);
    case 'count':
      return trim(v);
    case 'value': {
      const f = DURATION_UNIT_MS[a.unit];
      return f === undefined ? trim(v) : `${trim((v * 1000) / f)} ${a.unit}`;
    }
  }
}

/** Evaluate against measured values (base units). Missing or non-finite values fail with "no data". */
export function evaluate(a: Assertion, values: Readonly<Record<string, number | null | undefined>>): AssertionOutcome {
  const v = values[a.subject];
  const expected = `${a.op} ${renderValue(a, a.threshold)}`;
  if (v === undefined || v === null || !Number.isFinite(v)) {
    return { passed: false, actual: null, message: `${a.subject}: no data, expected ${expected}` };
  }
  const passed = compare(v, a.op, a.threshold);
  return { passed, actual: v, message: `${a.subject} = ${renderValue(a, v)}, expected ${expected}` };
}
