#!/usr/bin/env bash
# Install everything libvipl needs on a fresh Debian 12 machine: the build
# tool chain, rdma-core (verbs + rdma_cm) with its tools, the test libraries,
# and what tests/harness/rxe-run needs to boot a Soft-RoCE guest (qemu, a
# distro kernel that ships rdma_rxe, busybox for the initramfs).
#
# Idempotent: when every package is already installed it only runs
# dpkg-query and exits, so it is cheap to call at the start of every CI job.
#
# Usage: scripts/install-deps.sh [--list]
#   --list   print the package list and exit (for caches / documentation)
set -euo pipefail

# One package per line so diffs stay readable. Grouped by purpose.
PACKAGES=(
    # build tools
    cmake gcc g++ make pkg-config
    # verbs + rdma_cm: headers, runtime, providers (rxe), and the CLI tools
    libibverbs-dev librdmacm-dev rdma-core ibverbs-providers
    ibverbs-utils rdmacm-utils perftest
    # tests
    libcriterion-dev valgrind
    # tests/packages: Debian packages built, checked and installed
    dpkg-dev debhelper lintian
    # tests/man: groff renders the pages (-ww), man-db finds them
    groff-base man-db
    # tests/fuzz: clang, and libFuzzer's runtime (only a Recommends of clang)
    clang libclang-rt-14-dev
    # tests/harness/rxe-run: guest kernel with rdma_rxe, emulator, initramfs
    qemu-system-x86 linux-image-amd64 busybox-static kmod cpio iproute2
    # scripts/bench.sh: the other stacks compared, plots, the CSV summary
    libfabric-bin ucx-utils gnuplot-nox python3
)

log() { printf 'install-deps: %s\n' "$*" >&2; }

# What tests/harness/mksiw.sh needs to build Soft-iWARP (siw) for the guest
# kernel, which Debian builds without it: that kernel's headers, and the
# kernel source of the same package version. Printed as apt arguments
# (name=version), for the newest kernel in /lib/modules with a /boot image
# (the one rxe-run boots); nothing before linux-image-amd64 is installed.
siw_packages() {
    local kver version series
    kver=$(for d in /lib/modules/*/; do
        d=${d%/}
        [[ -f /boot/vmlinuz-${d##*/} ]] && printf '%s\n' "${d##*/}"
    done | sort -rV | head -n1)
    [[ -n $kver ]] || return 0
    version=$(dpkg-query -W -f='${Version}' "linux-image-$kver" 2>/dev/null ||
        dpkg-query -W -f='${Version}' "linux-image-$kver-unsigned" 2>/dev/null) || return 0
    series=${kver%%-*}
    series=${series%.*}
    printf '%s\n' "linux-headers-$kver=$version" "linux-source-$series=$version"
}

# Print the packages named (name or name=version) that are not fully
# installed.
# dpkg-query exits non-zero for unknown packages, hence the `|| true`:
# an unknown package simply counts as missing.
missing_packages() {
    local pkg status
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "${pkg%%=*}" 2>/dev/null || true)
        [[ $status == installed ]] || printf '%s\n' "$pkg"
    done
}

# Run a command as root: directly if we are root, else through sudo.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n true 2>/dev/null || log "sudo may ask for a password"
        sudo "$@"
    else
        log "not root and sudo is not available; cannot run: $*"
        exit 1
    fi
}

main() {
    if [[ ${1:-} == --list ]]; then
        printf '%s\n' "${PACKAGES[@]}"
        siw_packages
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        log "this script supports Debian/Ubuntu (dpkg + apt) only"
        exit 1
    fi

    install_missing "${PACKAGES[@]}"
    # Second round: these depend on the kernel the first one installed.
    local -a siw
    mapfile -t siw < <(siw_packages)
    ((${#siw[@]} == 0)) || install_missing "${siw[@]}"
    log "done"
}

# Install those of the packages named that are missing, or fail.
install_missing() {
    local -a missing
    mapfile -t missing < <(missing_packages "$@")
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "all $# packages already installed"
        return 0
    fi

    log "installing: ${missing[*]}"
    # env is passed through sudo explicitly: sudo would drop a plain export.
    local -a apt_env=(env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a)
    as_root "${apt_env[@]}" apt-get update -q
    as_root "${apt_env[@]}" apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" </dev/null

    # Double-check: apt can "succeed" while leaving a package half-configured.
    mapfile -t missing < <(missing_packages "$@")
    if [[ ${#missing[@]} -ne 0 ]]; then
        log "still missing after install: ${missing[*]}"
        exit 1
    fi
}

main "$@"; exit
