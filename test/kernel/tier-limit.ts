/**
 * The kernel tier's time budget (issue 3: "the tier takes at most 5 minutes"): bundling, boot and
 * every case, enforced by run-tier.ts (the guest is killed when it runs out: exit 124).
 */
import { VmPrereqError } from './vm-prepare.js';

export const TIER_LIMIT_S = 300;

/** KERNEL_TIMEOUT_S as a positive number of seconds, else the default; throws on anything else. */
export function tierLimitS(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return TIER_LIMIT_S;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new VmPrereqError(`KERNEL_TIMEOUT_S must be a positive number of seconds (got ${JSON.stringify(raw)})`);
  return n;
}

/** What is left of the budget for the guest after `elapsedMs` (bundling); throws when nothing is. */
export function guestBudgetMs(limitS: number, elapsedMs: number): number {
  const left = limitS * 1000 - elapsedMs;
  if (left <= 0) throw new Error(`bundling alone took ${(elapsedMs / 1000).toFixed(1)} s of the ${limitS} s limit (KERNEL_TIMEOUT_S)`);
  return left;
}
