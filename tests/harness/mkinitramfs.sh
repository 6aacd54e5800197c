#!/usr/bin/env bash
# Build the tiny initramfs rxe-run boots its guest with: a static busybox,
# the virtio/9p kernel modules of the guest kernel, and initramfs-init as
# /init. Every other file the guest needs comes from the host's root file
# system over 9p, so the image stays around 3 MB and builds in a second.
#
# Usage: mkinitramfs.sh KERNEL_VERSION OUTPUT_FILE
#   KERNEL_VERSION  a directory name in /lib/modules (e.g. 6.1.0-56-amd64)
#   OUTPUT_FILE     written atomically (temp file + rename), so concurrent
#                   rxe-run invocations sharing a cache never see half a file
#
# Works without root: the archive's owner is forced to 0:0 by cpio and no
# device nodes are needed (the init mounts devtmpfs first).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Modules whose dependency chains give everything needed to mount 9p over
# virtio-pci; modprobe resolves the order (virtio_ring ... netfs fscache 9p).
ROOT_MODULES=(virtio_pci 9pnet_virtio 9p)

die() { printf 'mkinitramfs: %s\n' "$*" >&2; exit 1; }

find_static_busybox() {
    local bb
    for bb in /bin/busybox /usr/bin/busybox; do
        [[ -x $bb ]] || continue
        # ldd prints this (and fails) for static binaries; a dynamic busybox
        # would need its libraries inside the initramfs.
        if [[ $(LC_ALL=C ldd "$bb" 2>&1 || true) == *'not a dynamic executable'* ]]; then
            printf '%s\n' "$bb"
            return 0
        fi
    done
    die "no static busybox found (install busybox-static: scripts/install-deps.sh)"
}

# Print, one per line and in load order, the module files for ROOT_MODULES.
module_files() {
    local kver=$1 mod cmd path
    for mod in "${ROOT_MODULES[@]}"; do
        modprobe --show-depends -S "$kver" "$mod" ||
            die "modprobe --show-depends -S $kver $mod failed"
    done | while read -r cmd path _; do
        # "insmod /lib/modules/.../x.ko [params]" or "builtin x" (nothing to load)
        [[ $cmd == insmod ]] && printf '%s\n' "$path"
    done | awk '!seen[$0]++'   # dedupe, keep first-seen (dependency) order
}

# Copy a module into DIR, decompressing it: busybox insmod may not handle
# .ko.xz/.ko.zst (Debian 12 ships plain .ko, newer releases compress).
install_module() {
    local src=$1 dir=$2 name
    name=$(basename "$src")
    case $src in
        *.ko.xz)  xz -dc "$src" >"$dir/${name%.xz}" ;;
        *.ko.zst) zstd -qdc "$src" >"$dir/${name%.zst}" ;;
        *.ko.gz)  gzip -dc "$src" >"$dir/${name%.gz}" ;;
        *.ko)     cp "$src" "$dir/$name" ;;
        *)        die "unexpected module file $src" ;;
    esac
    printf '%s\n' "${name%.ko*}.ko"
}

main() {
    [[ $# -eq 2 ]] || die "usage: mkinitramfs.sh KERNEL_VERSION OUTPUT_FILE"
    local kver=$1 out=$2
    [[ -d /lib/modules/$kver ]] || die "no /lib/modules/$kver"
    command -v cpio >/dev/null || die "cpio not found (scripts/install-deps.sh)"
    command -v modprobe >/dev/null || die "modprobe not found (install kmod)"

    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/rxe-initramfs.XXXXXX")
    # shellcheck disable=SC2064  # expand $work now, it is local
    trap "rm -rf '$work'" EXIT

    local root=$work/root busybox
    busybox=$(find_static_busybox)
    mkdir -p "$root"/{bin,dev,proc,sys,newroot,lib/modules}
    cp "$busybox" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"   # for the #!/bin/sh of /init
    install -m 0755 "$HERE/initramfs-init" "$root/init"

    local files f
    files=$(module_files "$kver")
    [[ -n $files ]] || die "found no modules for ${ROOT_MODULES[*]} in kernel $kver"
    while read -r f; do
        install_module "$f" "$root/lib/modules"
    done <<<"$files" >"$root/modules.order"

    mkdir -p "$(dirname "$out")"
    # Uncompressed newc: the kernel unpacks it without a decompressor, which
    # matters under TCG where every CPU instruction is emulated.
    (cd "$root" && find . -print0 | LC_ALL=C sort -z |
        cpio --null --create --format=newc --owner=0:0 --quiet) >"$work/initramfs"
    mv -f "$work/initramfs" "$out.tmp.$$"
    mv -f "$out.tmp.$$" "$out"
}

main "$@"; exit
