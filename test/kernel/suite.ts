/**
 * The kernel tier's driver: bundled (esbuild) into ONE .mjs that runs inside the guest, so the
 * guest starts one node process. `npm run test:kernel` builds and boots it (see run-tier.ts).
 *
 * To add a case: write `test/kernel/cases/<topic>.ts` exporting `KernelCase[]` (see harness.ts)
 * and append it to CASES below. Run only some cases: `KERNEL_CASES='regex' npm run test:kernel`.
 */
import { execFileSync } from 'node:child_process';
import { runCases, type KernelCase } from './harness.js';
import { rawNetemCases } from './cases/raw-netem.js';
import { profileCases } from './cases/profiles.js';
import { trafficCases } from './cases/traffic.js';
import { scheduleCases } from './cases/schedule.js';
import { agentCases } from './cases/agent.js';
import { demoCases } from './cases/demo.js';
import { verifyCases } from './cases/verify.js';

export const CASES: readonly KernelCase[] = [...rawNetemCases, ...profileCases, ...scheduleCases, ...trafficCases, ...agentCases];

/** Cases too long for the tier's 5-minute budget: they run only when KERNEL_CASES selects them
 *  (`KERNEL_CASES='demo' npm run test:kernel`: `backhaul demo --netns`, ~2-3 min in the guest;
 *  `KERNEL_CASES='verify'`: `backhaul verify --dev` conformant and not-in-effect, ~50 s). */
export const OPTIONAL_CASES: readonly KernelCase[] = [...demoCases, ...verifyCases];

function version(argv: string[]): string {
  try {
    return execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  } catch (e) {
    return `unavailable (${e instanceof Error ? e.message : String(e)})`;
  }
}

async function main(): Promise<number> {
  process.stdout.write(`kernel tier: kernel ${version(['uname', '-r'])}, ${version(['tc', '-V'])}, node ${process.version}\n`);
  const pattern = process.env['KERNEL_CASES'];
  const { failed } = pattern ? await runCases([...CASES, ...OPTIONAL_CASES], { filter: new RegExp(pattern) }) : await runCases(CASES, {});
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stdout.write(`kernel tier driver crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n0 passed, 1 failed\n`);
    process.exit(1);
  },
);
