import { describe, expect, it } from 'vitest';
import { guestBudgetMs, TIER_LIMIT_S, tierLimitS } from './tier-limit.js';

describe('the kernel tier budget', () => {
  it('is 300 s unless KERNEL_TIMEOUT_S overrides it', () => {
    expect(TIER_LIMIT_S).toBe(300);
    expect(tierLimitS(undefined)).toBe(300);
    expect(tierLimitS('')).toBe(300);
    expect(tierLimitS('600')).toBe(600);
    expect(tierLimitS('90.5')).toBe(90.5);
  });
  it.each(['0', '-5', 'abc', '5m', 'Infinity'])('refuses KERNEL_TIMEOUT_S=%s with a message naming it', (raw) => {
    expect(() => tierLimitS(raw)).toThrow(/KERNEL_TIMEOUT_S must be a positive number of seconds/);
  });
  it('gives the guest what bundling left of the budget', () => {
    expect(guestBudgetMs(300, 4_000)).toBe(296_000);
    expect(() => guestBudgetMs(1, 1_500)).toThrow(/bundling alone took 1.5 s of the 1 s limit/);
  });
});
