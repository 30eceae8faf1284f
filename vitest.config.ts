import { defineConfig } from 'vitest/config';

/**
 * Test tiers (by file suffix, tests mirror source paths under test/):
 *   unit        test/**\/*.test.ts           pure, fast
 *   integration test/**\/*.int.test.ts       loopback sockets, in-process servers, real child processes
 *   timing      test/**\/*.timing.test.ts    loopback, measures timing (delay distributions, irtt RTT); serial,
 *                                            in its own run, so the project's other tests do not compete for CPU
 *   privileged  test/**\/*.priv.test.ts      network namespaces, real tc/nft; root on Linux; serial
 * The kernel tier (real netem in a QEMU guest) has its own runner: `npm run test:kernel`.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'test/**/*.priv.test.ts', 'test/**/*.timing.test.ts', 'test/kernel/cases/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'timing',
          include: ['test/**/*.timing.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'privileged',
          include: ['test/**/*.priv.test.ts'],
          globalSetup: ['test/support/privileged-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
