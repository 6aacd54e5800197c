#!/bin/bash
# PID 1 of the rxe-run guest, started by the initramfs after switch_root
# into the host's (read-only) root file system. rxe-run copies this file into
# its writable share, mounted here at /run/rxe-run, next to:
#   guest.conf  settings (bash): RXE_DEV, RXE_ADDR, RXE_ADDR6, RXE_PREFIX, RXE_TYPE
#               (rxe or siw), SIW_KO (siw: the module rxe-run built),
#               RW_TAGS/RW_PATHS
#   lib-rxe.sh  the rxe setup helpers shared with rxe-run's host mode
#   job.sh      the caller's environment, cwd and command (bash)
#   output      where the command's stdout+stderr go (rxe-run tails it)
# and answers through the same share:
#   started         touched as soon as this script runs (boot succeeded)
#   status          the command's exit code, written once it has finished
#   harness-error   a message, if the guest could not set up rxe
#
# Its own messages go to the serial console, which rxe-run keeps out of the
# command's output and prints only when something fails.
#
# No `set -e`: PID 1 must never exit (the kernel would panic); every failure
# is reported through the share and ends with a power-off.
set -uo pipefail

SHARE=/run/rxe-run
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Messages carry the guest's uptime, to see where a slow boot spends time.
say() {
    local up
    read -r up _ </proc/uptime
    printf 'rxe-run-guest: [%7s] %s\n' "$up" "$*"
}

power_off() {
    sync
    # sysrq 'o' powers off at once; qemu then exits. The sleep stops bash
    # (PID 1) from exiting before the kernel acts on it.
    echo o >/proc/sysrq-trigger
    sleep 60
}

fail() {
    say "ERROR: $*"
    # The kernel's view (quiet keeps it off the console): rxe-run prints
    # the console tail on failure.
    dmesg 2>/dev/null | tail -n 15
    printf '%s\n' "$*" >"$SHARE/harness-error"
    power_off
}

# Load every module the guest needs in one modprobe call: each exec costs
# ~0.1 s under TCG. overlay is optional (see mount_scratch).
# siw is not among the kernel's modules (Debian builds it out): its
# dependencies come from modprobe, the module itself from SIW_KO.
load_modules() {
    local mod
    local -a mods=(veth ib_uverbs rdma_ucm)
    if [[ ${RXE_TYPE:-rxe} == siw ]]; then
        mods+=(libcrc32c)
    else
        mods+=(rdma_rxe)
    fi
    [[ -z ${RXE_NIC_MAC:-} ]] || mods+=(virtio_net)
    if ! modprobe -a overlay "${mods[@]}" 2>/dev/null; then
        for mod in "${mods[@]}"; do
            modprobe "$mod" || fail "modprobe $mod failed"
        done
    fi
    if [[ ${RXE_TYPE:-rxe} == siw ]]; then
        # An unsigned out-of-tree module: it loads and taints the kernel.
        insmod "$SIW_KO" || fail "insmod $SIW_KO failed"
    fi
}

# The root file system is the host's, read-only: give programs the usual
# writable scratch places. /run is already a tmpfs (set up by the initramfs).
# /tmp and /var/tmp become overlays of the host's directories with a tmpfs
# on top, so files the caller put there (scripts, binaries) stay visible
# while writes stay in the guest; plain tmpfs if overlayfs is unavailable.
mount_scratch() {
    local dir top
    for dir in /tmp /var/tmp; do
        top=/run/rxe-run-scratch$dir
        mkdir -p "$top/upper" "$top/work" && chmod 1777 "$top/upper"
        mount -t overlay overlay \
            -o "lowerdir=$dir,upperdir=$top/upper,workdir=$top/work" "$dir" 2>/dev/null ||
            mount -t tmpfs -o mode=1777 tmpfs "$dir" ||
            fail "cannot mount a writable $dir"
    done
    # What udev/systemd would add to /dev: bash process substitution needs
    # /dev/fd, POSIX shared memory needs /dev/shm.
    ln -sfn /proc/self/fd /dev/fd
    ln -sf /proc/self/fd/0 /dev/stdin
    ln -sf /proc/self/fd/1 /dev/stdout
    ln -sf /proc/self/fd/2 /dev/stderr
    mkdir -p /dev/shm /dev/pts
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "mount tmpfs on /dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts || true
}

# Extra writable host directories (rxe-run --rw, or the caller's cwd when it
# lies under /tmp or /var/tmp, so that files written there reach the host).
# Mounted after the scratch file systems, which would hide them.
mount_rw_shares() {
    local i
    for i in "${!RW_TAGS[@]}"; do
        mkdir -p "${RW_PATHS[i]}" 2>/dev/null
        mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 \
            "${RW_TAGS[i]}" "${RW_PATHS[i]}" ||
            fail "cannot mount writable share ${RW_PATHS[i]}"
    done
}

# The name of the netdev with MAC address MAC (the virtio NIC, rxe-run2),
# waiting up to 10 s for it to appear.
find_nic() { # var mac
    local dir mac i
    for ((i = 0; i < 100; i++)); do
        for dir in /sys/class/net/*; do
            rxe_read mac "$dir/address"
            if [[ $mac == "$2" ]]; then
                printf -v "$1" '%s' "${dir##*/}"
                return 0
            fi
        done
        sleep 0.1
    done
    return 1
}

# Build the loopback rxe setup (see lib-rxe.sh), or, with RXE_NIC_MAC set,
# rxe on the guest's NIC (rxe-run2: the peer guest is on the other end).
setup_rxe() {
    local err nic
    # lo must be up: rdma_cm resolving the device's own address routes
    # through it (the kernel leaves lo down when there is no init system).
    ip link set lo up || fail "ip link set lo up failed"
    if [[ -n ${RXE_NIC_MAC:-} ]]; then
        find_nic nic "$RXE_NIC_MAC" || fail "no network interface with MAC $RXE_NIC_MAC"
        ip addr add "$RXE_ADDR/$RXE_PREFIX" dev "$nic" || fail "cannot add $RXE_ADDR to $nic"
        ip link set "$nic" up || fail "cannot bring $nic up"
        rdma link add "$RXE_DEV" type "${RXE_TYPE:-rxe}" netdev "$nic" ||
            fail "rdma link add $RXE_DEV type ${RXE_TYPE:-rxe} netdev $nic failed"
        RXE_ON=$nic
    else
        err=$(rxe_setup_veth vipl0 vipl1 "$RXE_DEV" "$RXE_ADDR" "$RXE_PREFIX" \
            "${RXE_TYPE:-rxe}" 2>&1) || fail "${RXE_TYPE:-rxe} setup failed: $err"
        RXE_ON=vipl0
    fi
    say "$RXE_DEV created, waiting for it to become ready"
    err=$(rxe_wait_ready "$RXE_DEV" "$RXE_ADDR" 30 "${RXE_TYPE:-rxe}" 2>&1) || fail "$err"
    # An IPv6 address beside the IPv4 one, for the tests of IPv6 (RoCEv2
    # GIDs of both families on one port); siw finds it by the netdev.
    if [[ -n ${RXE_ADDR6:-} ]]; then
        if [[ ${RXE_TYPE:-rxe} == rxe ]]; then
            err=$(rxe_add_ipv6 "$RXE_ON" "$RXE_ADDR6" "$RXE_DEV" 30 2>&1) || fail "$err"
        else
            echo 1 >"/proc/sys/net/ipv6/conf/$RXE_ON/keep_addr_on_down" 2>/dev/null
            ip -6 addr add "$RXE_ADDR6/64" dev "$RXE_ON" nodad ||
                fail "cannot add $RXE_ADDR6 to $RXE_ON"
        fi
    fi
}

run_job() {
    # The command gets a clean environment: only what job.sh exports.
    # stdin is /dev/null, as for rxe-run's other modes.
    env -i /bin/bash --noprofile --norc "$SHARE/job.sh" \
        >>"$SHARE/output" 2>&1 </dev/null
}

main() {
    : >"$SHARE/started"
    # shellcheck source=/dev/null
    source "$SHARE/guest.conf" || fail "cannot read guest.conf"
    # shellcheck source=lib-rxe.sh
    source "$SHARE/lib-rxe.sh" || fail "cannot read lib-rxe.sh"
    if [[ ${TRACE:-0} == 1 ]]; then
        # RXE_RUN_TRACE=1: trace every step to the console, with timestamps.
        PS4='+ [${EPOCHREALTIME}] '
        set -x
    fi
    say "started"
    load_modules
    say "modules loaded"
    mount_scratch
    mount_rw_shares
    hostname vipl-guest 2>/dev/null || true
    # Verbs memory registration pins pages. Root has CAP_IPC_LOCK so this is
    # not strictly needed, but the command may drop privileges, and the
    # kernel's default limit (8 MiB) is small.
    ulimit -l unlimited || say "warning: cannot raise the memlock limit"
    setup_rxe
    say "$RXE_DEV ready on $RXE_ON ($RXE_ADDR); running the command"

    local rc=0
    run_job || rc=$?
    say "command exited with $rc"
    # Write then rename, so rxe-run never reads a half-written status.
    printf '%s\n' "$rc" >"$SHARE/status.tmp" && mv "$SHARE/status.tmp" "$SHARE/status"
    power_off
}

main "$@"
