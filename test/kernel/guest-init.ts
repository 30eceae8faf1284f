/**
 * The guest's /init (busybox sh), embedded in the initramfs by `prepareInitramfs`.
 *
 * Contract with the host (see vm.ts):
 *   - kernel command line: `bh.kver=<uname -r> bh.kroot=<host path of the unpacked kernel package>
 *     bh.run=<host path of a sh script> bh.mods=<comma-separated modules to modprobe>`
 *     [bh.rw=<host path>] (shared read-write over 9p tag `bhrw`, mounted at the same path)
 *     [bh.keep=<host paths under /tmp, comma-separated>] (kept visible over the fresh /tmp).
 *   - the host's root is shared read-only over 9p (tag `hostroot`); the guest sees it through an
 *     overlay whose upper layer is a tmpfs, so writes succeed but vanish at poweroff; /run and /tmp
 *     are fresh tmpfs (the host's /run/netns must not show through).
 *   - the run script's output goes to the console (ttyS0 = the host's stdout);
 *   - `BH_START` goes to the second serial port (ttyS1 = a host file) when the command starts;
 *   - the run script's exit status is written to the second serial port (ttyS1 = a host file) as
 *     one line `BH_EXIT <status>`; an init failure writes `BH_INIT_FAILED <step>`. Nothing else
 *     writes ttyS1, so the host never mistakes command output for a result. No line = failure.
 *   - the guest powers off (`poweroff -f`); the host kills it at its time limit otherwise.
 */
export const GUEST_INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
fail() {
  echo "bh-init: FAILED: $1" >/dev/ttyS0
  echo "BH_INIT_FAILED $1" >/dev/ttyS1
  sync
  poweroff -f
  sleep 60
}
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "\${w#*=}";; esac; done; }
KVER=$(arg bh.kver); KROOT=$(arg bh.kroot); RUN=$(arg bh.run); MODS=$(arg bh.mods); RW=$(arg bh.rw); KEEP=$(arg bh.keep)
[ -n "$KVER" ] && [ -n "$KROOT" ] && [ -n "$RUN" ] || fail "kernel command line lacks bh.kver/bh.kroot/bh.run"
for m in $(cat /lib/bh-modules.order); do
  insmod "/lib/bh-modules/$m.ko" || fail "insmod $m"
done
mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755 upper /upper || fail "mount tmpfs upper"
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot || fail "mount overlay"
mount -t proc proc /newroot/proc || fail "mount proc"
mount -t sysfs sys /newroot/sys || fail "mount sysfs"
mount -t devtmpfs dev /newroot/dev || fail "mount devtmpfs"
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs shm /newroot/dev/shm
mount -t tmpfs -o mode=0755 run /newroot/run || fail "mount /run"
# Host paths under /tmp that the guest needs (bh.keep: a checkout in /tmp, its kernel cache) would
# be hidden by the fresh /tmp: hold the overlay's view of each and bind it back afterwards.
i=0
for p in $(echo "$KEEP" | tr , ' '); do
  i=$((i+1)); mkdir -p "/keep/$i"; mount -o bind "/newroot$p" "/keep/$i" || fail "hold $p"
done
mount -t tmpfs -o mode=1777 tmp /newroot/tmp || fail "mount /tmp"
i=0
for p in $(echo "$KEEP" | tr , ' '); do
  i=$((i+1)); mkdir -p "/newroot$p"; mount -o bind "/keep/$i" "/newroot$p" || fail "keep $p"
done
if [ -n "$RW" ]; then
  mkdir -p "/newroot$RW"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 bhrw "/newroot$RW" || fail "mount 9p bhrw at $RW"
fi
# Modules for the kernel's own autoload (modprobe from the host's kmod, with the guest kernel's tree).
mkdir -p "/newroot/lib/modules/$KVER"
mount -o bind "/newroot$KROOT/lib/modules/$KVER" "/newroot/lib/modules/$KVER" || fail "bind modules"
# The kernel's own module autoload (e.g. \`ip link add type dummy\`) runs its helper in the
# initramfs root, not in the chroot: point it at the host's modprobe inside the new root.
printf '#!/bin/sh\nexec chroot /newroot /sbin/modprobe "$@"\n' > /bin/bh-modprobe
chmod 755 /bin/bh-modprobe
echo /bin/bh-modprobe > /proc/sys/kernel/modprobe
if [ -n "$MODS" ]; then
  chroot /newroot /sbin/modprobe -a $(echo "$MODS" | tr , ' ') || fail "modprobe $MODS"
fi
ip link set lo up 2>/dev/null
echo BH_START >/dev/ttyS1
chroot /newroot /bin/sh "$RUN"
rc=$?
echo "BH_EXIT $rc" >/dev/ttyS1
sync
poweroff -f
sleep 60
`;

/** Modules insmod'ed by /init, in dependency order (they are not autoloaded before the root exists). */
export const INITRAMFS_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'netfs',
  'fscache',
  '9pnet',
  '9pnet_virtio',
  '9p',
  'overlay',
] as const;

/** Modules loaded in the guest before the command runs (netem and what the tc backend uses). */
export const DEFAULT_GUEST_MODULES = [
  'sch_netem',
  'sch_htb',
  'sch_tbf',
  'sch_ingress',
  'cls_u32',
  'act_mirred',
  'ifb',
  'veth',
] as const;
