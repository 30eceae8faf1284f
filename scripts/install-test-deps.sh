#!/usr/bin/env bash
# Install the system packages the test tiers use (Debian/Ubuntu, as root). Idempotent.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: run as root (apt-get)" >&2
  exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  iproute2 iputils-ping nftables iperf3 irtt ethtool kmod procps psmisc curl openssl systemd \
  qemu-system-x86 busybox-static cpio \
  prometheus \
  chromium >/dev/null
echo "install-test-deps: done"
