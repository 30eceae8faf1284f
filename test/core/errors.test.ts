import { describe, expect, it } from 'vitest';
import { BackhaulError, ERROR_CATALOG, toBackhaulError } from '../../core/errors.js';

describe('error catalog', () => {
  it.each(Object.keys(ERROR_CATALOG) as (keyof typeof ERROR_CATALOG)[])('%s maps to an HTTP status and exit code', (code) => {
    const e = new BackhaulError(code, 'x');
    expect(e.httpStatus).toBe(ERROR_CATALOG[code].http);
    expect(e.exitCode).toBe(ERROR_CATALOG[code].exit);
    expect(e.toJSON()).toEqual({ code, message: 'x', details: {} });
  });

  it('wraps unknown errors as internal, keeping the cause', () => {
    const cause = new TypeError('boom');
    const e = toBackhaulError(cause);
    expect(e.code).toBe('ERR_INTERNAL');
    expect(e.exitCode).toBe(70);
    expect(e.cause).toBe(cause);
  });
});
