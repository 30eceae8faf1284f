/**
 * One error catalog for the whole product.
 *
 * Every failure a user can see is a `BackhaulError` with a catalogued `code`. The catalog maps each
 * code to an HTTP status (agent API) and a CLI exit code, so the two surfaces agree.
 *
 *   throw new BackhaulError('ERR_TC_FAILED', 'tc refused the plan', { argv, exitCode, stderr }, { cause });
 *
 * CLI exit codes (documented in the README):
 *   0  success
 *   1  what was checked does not hold (campaign assertion failed, verify found a deviation)
 *   2  bad input: flag, profile, campaign file, request
 *   3  the environment lacks something (no netem, no root / NET_ADMIN, missing tool)
 *   4  a system command failed (tc, ip, nft)
 *   5  conflict: a target is owned by another lease or a foreign configuration
 *   6  a remote agent or target could not be reached or refused us (auth)
 *   70 internal error (a bug: please report it)
 */

export const ERROR_CATALOG = {
  ERR_USAGE: { http: 400, exit: 2, summary: 'bad command-line usage' },
  ERR_PROFILE_INVALID: { http: 400, exit: 2, summary: 'the profile is not valid' },
  ERR_PROFILE_NOT_FOUND: { http: 404, exit: 2, summary: 'no profile by that name or path' },
  ERR_CAMPAIGN_INVALID: { http: 400, exit: 2, summary: 'the campaign file is not valid' },
  ERR_BAD_REQUEST: { http: 400, exit: 2, summary: 'the request is malformed' },
  ERR_BODY_TOO_LARGE: { http: 413, exit: 2, summary: 'the request body is too large' },
  ERR_INVALID_INTERFACE: { http: 400, exit: 2, summary: 'not a valid interface name' },
  ERR_INVALID_NETNS: { http: 400, exit: 2, summary: 'not a valid network namespace name' },
  ERR_INVALID_MATCH: { http: 400, exit: 2, summary: 'not a valid match/exclude rule' },
  ERR_INTERFACE_NOT_FOUND: { http: 404, exit: 2, summary: 'the interface does not exist' },
  ERR_NETNS_NOT_FOUND: { http: 404, exit: 2, summary: 'the network namespace does not exist' },
  ERR_NOT_FOUND: { http: 404, exit: 2, summary: 'no such resource' },
  ERR_UNSUPPORTED: { http: 422, exit: 2, summary: 'the backend cannot express this' },
  ERR_CAPABILITY_MISSING: { http: 501, exit: 3, summary: 'a kernel feature or tool is missing' },
  ERR_PERMISSION: { http: 403, exit: 3, summary: 'not permitted (root or CAP_NET_ADMIN needed)' },
  ERR_TC_FAILED: { http: 500, exit: 4, summary: 'a tc/ip/nft command failed' },
  ERR_COMMAND_TIMEOUT: { http: 504, exit: 4, summary: 'a system command timed out' },
  ERR_FOREIGN_ROOT: { http: 409, exit: 5, summary: 'the interface has a root qdisc we do not own' },
  ERR_LEASE_CONFLICT: { http: 409, exit: 5, summary: 'another controller holds the lease on this target' },
  ERR_UNAUTHORIZED: { http: 401, exit: 6, summary: 'missing or wrong bearer token' },
  ERR_FORBIDDEN: { http: 403, exit: 6, summary: 'the token may not do this' },
  ERR_UNREACHABLE: { http: 502, exit: 6, summary: 'the agent or target could not be reached' },
  ERR_REMOTE: { http: 502, exit: 6, summary: 'the remote agent returned an error' },
  ERR_ASSERTION_FAILED: { http: 200, exit: 1, summary: 'an assertion does not hold' },
  ERR_INTERNAL: { http: 500, exit: 70, summary: 'internal error' },
} as const satisfies Record<string, { http: number; exit: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class BackhaulError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackhaulError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_CATALOG[this.code].http;
  }

  get exitCode(): number {
    return ERROR_CATALOG[this.code].exit;
  }

  /** The JSON body used by the API and by `--json` CLI output: `{ code, message, details }`. */
  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isBackhaulError(e: unknown): e is BackhaulError {
  return e instanceof BackhaulError;
}

/** Wrap anything thrown into a BackhaulError (unknown errors become ERR_INTERNAL, keeping the cause). */
export function toBackhaulError(e: unknown): BackhaulError {
  if (e instanceof BackhaulError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new BackhaulError('ERR_INTERNAL', message, {}, { cause: e });
}

export function exitCodeFor(code: ErrorCode): number {
  return ERROR_CATALOG[code].exit;
}

export function httpStatusFor(code: ErrorCode): number {
  return ERROR_CATALOG[code].http;
}
