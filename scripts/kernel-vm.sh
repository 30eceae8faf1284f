#!/usr/bin/env bash
# Run one command as root in a QEMU guest whose kernel has sch_netem. See docs/kernel.md, or --help.
#   scripts/kernel-vm.sh -- sh -c 'ip netns add x; ip netns exec x tc qdisc add dev lo root netem delay 10ms'
# The command runs in the current directory; the kernel cache is <repo>/.cache/kernel/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export BACKHAUL_KERNEL_CACHE="${BACKHAUL_KERNEL_CACHE:-$root/.cache/kernel}"
mkdir -p "$BACKHAUL_KERNEL_CACHE"
"$root/node_modules/.bin/esbuild" "$root/test/kernel/vm-cli.ts" --bundle --platform=node --format=esm \
  --target=node20 --outfile="$BACKHAUL_KERNEL_CACHE/vm-cli.mjs" --log-level=warning
exec node "$BACKHAUL_KERNEL_CACHE/vm-cli.mjs" "$@"
