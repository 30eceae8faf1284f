/**
 * Host side of `npm run test:kernel`: bundle the driver (suite.ts and its imports) into one .mjs,
 * boot the guest, run it there, stream its output, and exit with the suite's result.
 *
 * Pass = the guest reported exit status 0 AND the driver printed `N passed, 0 failed` with N > 0.
 * Anything else (a failed case, a guest killed at the limit, no status, no summary) fails.
 * Environment: KERNEL_CASES (regex of case names), KERNEL_TIMEOUT_S (the whole tier's limit in
 * seconds, default 300: bundling, boot and every case; the guest is killed when what is left of it
 * runs out, and the tier fails with 124).
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { guestBudgetMs, tierLimitS } from './tier-limit.js';
import { defaultCacheDir, exitCodeOf, runInVm, VmPrereqError } from './vm.js';

async function main(): Promise<number> {
  const t0 = Date.now();
  const limitS = tierLimitS(process.env['KERNEL_TIMEOUT_S']);
  const cache = defaultCacheDir();
  const outfile = join(cache, 'suite.mjs');
  await build({
    entryPoints: [join(process.cwd(), 'test/kernel/suite.ts')],
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'warning',
    // CommonJS dependencies bundled into ESM call require() for node builtins.
    banner: { js: "import { createRequire as __bhCreateRequire } from 'node:module'; const require = __bhCreateRequire(import.meta.url);" },
  });
  // The CLI as one file too, for cases that start `backhaul agent` as its own process: one file
  // loads in seconds over the guest's 9p root, where dist/'s hundreds of modules take a minute.
  const cli = join(cache, 'backhaul-cli.mjs');
  await build({
    stdin: { contents: "import { main } from './cli/main.js';\nprocess.exitCode = await main(process.argv);\n", resolveDir: process.cwd(), sourcefile: 'kernel-cli.ts', loader: 'ts' },
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: cli, logLevel: 'warning',
    banner: { js: "import { createRequire as __bhCreateRequire } from 'node:module'; const require = __bhCreateRequire(import.meta.url);" },
  });
  // The child processes the CLI starts inside namespaces (`demo --netns`), where the bundled CLI
  // resolves them: next to it, as in dist/ relative to campaign/ and campaign/sites/.
  for (const [entry, out] of [['campaign/sites/netns-probe-child.ts', 'netns-probe-child.js'], ['campaign/sites/netns-reflector-child.ts', 'sites/netns-reflector-child.js']] as const) {
    await build({
      entryPoints: [join(process.cwd(), entry)],
      bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: join(cache, out), logLevel: 'warning',
      banner: { js: "import { createRequire as __bhCreateRequire } from 'node:module'; const require = __bhCreateRequire(import.meta.url);" },
    });
  }
  // The guest gets what is left of the tier's budget after bundling.
  const guestMs = guestBudgetMs(limitS, Date.now() - t0);
  const env: Record<string, string> = { BH_KERNEL_CLI: cli };
  if (process.env['KERNEL_CASES']) env['KERNEL_CASES'] = process.env['KERNEL_CASES'];
  let out = '';
  const r = await runInVm({
    argv: ['node', outfile], env, timeoutMs: guestMs,
    onOutput: (s) => { out += s; process.stdout.write(s); },
  });
  const summary = /^(\d+) passed, (\d+) failed$/m.exec(out);
  const secs = (ms: number | null): string => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);
  const totalMs = Date.now() - t0;
  process.stderr.write(`test:kernel: ${r.detail}; boot to driver ${secs(r.bootMs)}, guest ${secs(r.wallMs)}, tier total ${secs(totalMs)} of the ${limitS} s limit\n`);
  if (r.outcome === 'timeout') process.stderr.write(`test:kernel: FAILED: the tier ran past its ${limitS} s limit (KERNEL_TIMEOUT_S)\n`);
  if (r.outcome !== 'exited') return exitCodeOf(r);
  if (!summary) {
    process.stderr.write('test:kernel: FAILED: the driver printed no "N passed, N failed" summary\n');
    return 1;
  }
  if (r.exitCode === 0 && (summary[2] !== '0' || summary[1] === '0')) {
    process.stderr.write(`test:kernel: FAILED: exit status 0 but summary "${summary[0]}"\n`);
    return 1;
  }
  return r.exitCode ?? 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`test:kernel: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof VmPrereqError ? 3 : 70);
  },
);
