/**
 * `scripts/kernel-vm.sh [options] -- COMMAND [ARG...]`: run one command as root in a QEMU guest
 * whose kernel has sch_netem (see vm.ts). Exits with the command's status; 124 if the guest was
 * killed at the time limit; 125 if no status came back (init failure, panic, crash); 3 when a
 * prerequisite is missing (the message names the package to install).
 */
import { exitCodeOf, prepareKernel, runInVm, VmPrereqError } from './vm.js';

const HELP = `usage: scripts/kernel-vm.sh [options] -- COMMAND [ARG...]

Boot a Debian kernel that has sch_netem under QEMU (software emulation, ~15-30 s to the command),
with this machine's root file system read-only (writes go to a throw-away overlay), load
sch_netem sch_htb sch_tbf sch_ingress cls_u32 act_mirred ifb veth, run COMMAND as root in the
current directory, stream its output, and exit with its status.

options:
  --timeout SECONDS   kill the guest after this long, boot included (default 300); exit 124
  --cpus N            virtual CPUs (default 2)
  --memory MIB        guest memory (default 2048)
  --share-rw DIR      mount host DIR read-write at the same path in the guest (bring files back)
  --modules LIST      comma-separated modules to load instead of the default set
  --env K=V           extra environment variable for COMMAND (repeatable)
  --prepare           only fetch and cache the kernel and initramfs (.cache/kernel/), then exit
  -h, --help          this help

exit: COMMAND's status; 124 guest timed out; 125 no status (init failed, panic); 3 missing prerequisite

example:
  scripts/kernel-vm.sh -- sh -c 'ip netns add x; ip netns exec x tc qdisc add dev lo root netem delay 10ms; ip netns exec x tc -j qdisc show dev lo'
`;

function fail(msg: string, code: number): never {
  process.stderr.write(`kernel-vm: ${msg}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<number> {
  const sep = argv.indexOf('--');
  const opts = sep === -1 ? argv : argv.slice(0, sep);
  const command = sep === -1 ? [] : argv.slice(sep + 1);
  let timeoutMs = 300_000;
  let cpus = 2;
  let memoryMb = 2048;
  let shareRw: string | undefined;
  let modules: string[] | undefined;
  let prepareOnly = false;
  const env: Record<string, string> = {};
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) fail(`${flag} needs an integer >= ${min} (got ${JSON.stringify(v)})`, 2);
    return n;
  };
  for (let i = 0; i < opts.length; i++) {
    const a = opts[i] as string;
    const next = (): string | undefined => opts[++i];
    if (a === '-h' || a === '--help') { process.stdout.write(HELP); return 0; }
    else if (a === '--timeout') timeoutMs = num(a, next(), 1) * 1000;
    else if (a === '--cpus') cpus = num(a, next(), 1);
    else if (a === '--memory') memoryMb = num(a, next(), 256);
    else if (a === '--share-rw') shareRw = next() ?? fail('--share-rw needs a folder', 2);
    else if (a === '--modules') modules = (next() ?? '').split(',').filter(Boolean);
    else if (a === '--env') {
      const kv = next() ?? '';
      const eq = kv.indexOf('=');
      if (eq <= 0) fail(`--env needs K=V (got ${JSON.stringify(kv)})`, 2);
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a === '--prepare') prepareOnly = true;
    else fail(`unknown option ${JSON.stringify(a)} (the command goes after \`--\`; see --help)`, 2);
  }
  if (prepareOnly) {
    const k = prepareKernel();
    process.stdout.write(`kernel ${k.pkg} (${k.version})\n  vmlinuz ${k.vmlinuz}\n  initrd  ${k.initrd}\n  modules ${k.root}/lib/modules/${k.version}\n`);
    return 0;
  }
  if (command.length === 0) fail('no command: put it after `--` (see --help)', 2);
  const ac = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => ac.abort());
  const r = await runInVm({ argv: command, timeoutMs, cpus, memoryMb, env, signal: ac.signal, ...(shareRw ? { shareRw } : {}), ...(modules ? { modules } : {}) });
  const boot = r.bootMs === null ? 'never started' : `${(r.bootMs / 1000).toFixed(1)} s`;
  process.stderr.write(`kernel-vm: ${r.detail} (boot to command ${boot}, total ${(r.wallMs / 1000).toFixed(1)} s)\n`);
  return exitCodeOf(r);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof VmPrereqError) fail(e.message, 3);
    fail(e instanceof Error ? (e.stack ?? e.message) : String(e), 70);
  },
);
