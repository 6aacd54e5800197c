#!/usr/bin/env bash
# Build the Soft-iWARP module (siw.ko) for a kernel that was built without
# it, as Debian 12's are (# CONFIG_RDMA_SIW is not set), from Debian's own
# kernel source and the headers of that exact kernel version.
#
# Usage: mksiw.sh KERNEL_VERSION OUTPUT_FILE
#
# Needs linux-source-<major.minor> (the tarball in /usr/src) and
# linux-headers-KERNEL_VERSION (/lib/modules/KERNEL_VERSION/build):
# scripts/install-deps.sh installs both. About 10 s on two cores. rxe-run
# caches the result (see cached_build there), keyed by the kernel and the
# source tarball, so this runs once per kernel.
set -euo pipefail

work=""
die() { printf 'mksiw: %s\n' "$*" >&2; exit 1; }

main() {
    (($# == 2)) || die "usage: mksiw.sh KERNEL_VERSION OUTPUT_FILE"
    local kver=$1 out=$2 series tarball build dir
    series=$(siw_series "$kver")
    tarball=/usr/src/linux-source-$series.tar.xz
    build=/lib/modules/$kver/build
    [[ -r $tarball ]] ||
        die "$tarball not found (package linux-source-$series): run scripts/install-deps.sh"
    [[ -d $build ]] ||
        die "$build not found (package linux-headers-$kver): run scripts/install-deps.sh"
    # Global: the EXIT trap runs after main has returned.
    work=$(mktemp -d "${TMPDIR:-/tmp}/mksiw.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    # Only the driver's directory: the whole tree is ~1.4 GB unpacked.
    tar -xJf "$tarball" -C "$work" "linux-source-$series/drivers/infiniband/sw/siw" ||
        die "cannot unpack the siw sources from $tarball"
    dir=$work/linux-source-$series/drivers/infiniband/sw/siw
    make -s -C "$build" M="$dir" CONFIG_RDMA_SIW=m modules >"$work/make.log" 2>&1 || {
        tail -n 20 "$work/make.log" >&2
        die "building siw.ko against $build failed"
    }
    install -m 0644 "$dir/siw.ko" "$out"
}

# The source series of a Debian kernel version: 6.1.0-57-amd64 -> 6.1.
siw_series() {
    [[ $1 =~ ^([0-9]+\.[0-9]+) ]] || die "cannot read a kernel series from '$1'"
    printf '%s\n' "${BASH_REMATCH[1]}"
}

main "$@"
