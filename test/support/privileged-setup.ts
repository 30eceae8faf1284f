/**
 * Global setup of the privileged tier: fail loudly, with what to do, when the machine cannot run
 * it. The only way to not run this tier is to not select it (`npm run test:fast`), a named opt-out.
 */
import { execFileSync } from 'node:child_process';

const TOOLS: [string, string][] = [
  ['ip', 'iproute2'],
  ['tc', 'iproute2'],
  ['nft', 'nftables'],
  ['iperf3', 'iperf3'],
  ['irtt', 'irtt'],
  ['curl', 'curl'],
  ['ping', 'iputils-ping'],
];

export default function setup(): void {
  if (process.platform !== 'linux') {
    throw new Error('The privileged tier needs Linux (network namespaces). Run `npm run test:fast` for the other tiers.');
  }
  if (process.getuid?.() !== 0) {
    throw new Error('The privileged tier needs root (network namespaces, tc, nft). Run it as root, or `npm run test:fast` to run only the unit and integration tiers.');
  }
  const missing = TOOLS.filter(([tool]) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, p]) => p))].join(' ');
    throw new Error(`The privileged tier needs: ${missing.map(([t]) => t).join(', ')}. Install with: apt-get install -y ${pkgs} (or run scripts/install-test-deps.sh).`);
  }
}
