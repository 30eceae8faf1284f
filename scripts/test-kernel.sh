#!/usr/bin/env bash
# `npm run test:kernel`: the kernel tier (real netem in a QEMU guest). See docs/kernel.md.
#   KERNEL_CASES='regex' npm run test:kernel     # only the matching cases
set -euo pipefail
cd "$(dirname "$0")/.."
export BACKHAUL_KERNEL_CACHE="${BACKHAUL_KERNEL_CACHE:-$PWD/.cache/kernel}"
mkdir -p "$BACKHAUL_KERNEL_CACHE"
node_modules/.bin/esbuild test/kernel/run-tier.ts --bundle --platform=node --format=esm --target=node20 \
  --packages=external --outfile="$BACKHAUL_KERNEL_CACHE/run-tier.mjs" --log-level=warning
exec node "$BACKHAUL_KERNEL_CACHE/run-tier.mjs"
