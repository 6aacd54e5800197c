#!/usr/bin/env bash
# Unpack the ELF kernel (vmlinux) from a compressed bzImage (/boot/vmlinuz-*).
#
# Why: under TCG every instruction is emulated, and a stock Debian kernel
# spends ~3 s decompressing itself (xz) before it even starts its clock.
# qemu can boot an uncompressed vmlinux directly through its PVH entry point
# (CONFIG_PVH=y), which roughly halves rxe-run's boot time. rxe-run caches
# the result and falls back to the bzImage when this script fails.
#
# Usage: mkvmlinux.sh BZIMAGE OUTPUT_FILE
#
# Uses only fields of the documented x86 boot protocol (>= 2.08): the
# payload starts at (setup_sects + 1) * 512 + payload_offset, spans
# payload_length bytes, and its last 4 bytes hold the uncompressed size
# (little endian; the gzip trailer or the kernel build's appended size).
set -euo pipefail

die() { printf 'mkvmlinux: %s\n' "$*" >&2; exit 1; }

# Unsigned little-endian integer of SIZE bytes at OFFSET in FILE.
read_le() { # file offset size
    od -An -tu"$3" -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# Decompressor command for the payload, chosen by its magic bytes.
decompressor_for() { # payload-file
    local magic
    magic=$(od -An -tx1 -N6 "$1" | tr -d ' \n')
    case $magic in
        fd377a585a00*) echo "xz -dc" ;;
        1f8b*)         echo "gzip -dc" ;;
        28b52ffd*)     echo "zstd -qdc" ;;
        425a68*)       echo "bzip2 -dc" ;;
        5d0000*)       echo "xz -dc --format=lzma" ;;
        02214c18*)     echo "lz4 -dc" ;;
        *) return 1 ;;
    esac
}

main() {
    [[ $# -eq 2 ]] || die "usage: mkvmlinux.sh BZIMAGE OUTPUT_FILE"
    local bz=$1 out=$2
    [[ -r $bz ]] || die "cannot read $bz"
    [[ $(od -An -c -j 514 -N4 "$bz" | tr -d ' \n') == HdrS ]] || die "$bz is not a bzImage"
    (($(read_le "$bz" 518 2) >= 0x208)) || die "$bz: boot protocol too old (no payload fields)"

    local setup_sects payload_off payload_len
    setup_sects=$(read_le "$bz" 497 1)
    ((setup_sects != 0)) || setup_sects=4   # 0 means 4, says the protocol
    payload_off=$(((setup_sects + 1) * 512 + $(read_le "$bz" 584 4)))
    payload_len=$(read_le "$bz" 588 4)

    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/rxe-vmlinux.XXXXXX")
    # shellcheck disable=SC2064  # expand $work now, it is local
    trap "rm -rf '$work'" EXIT
    dd if="$bz" of="$work/payload" iflag=skip_bytes,count_bytes \
        skip="$payload_off" count="$payload_len" bs=1M status=none

    local size decomp
    size=$(read_le "$work/payload" $((payload_len - 4)) 4)
    decomp=$(decompressor_for "$work/payload") || die "unknown compression in $bz"
    command -v "${decomp%% *}" >/dev/null || die "${decomp%% *} not found"
    # The xz/zstd payloads end with the appended size, which the tools see
    # as trailing garbage: decompress without it (gzip keeps it: its own
    # trailer). Either way the size check below proves the output complete.
    if ! $decomp <"$work/payload" >"$work/vmlinux" 2>/dev/null; then
        truncate -s $((payload_len - 4)) "$work/payload"
        $decomp <"$work/payload" >"$work/vmlinux" ||
            die "decompressing the payload of $bz failed"
    fi
    [[ $(od -An -tx1 -N4 "$work/vmlinux" | tr -d ' \n') == 7f454c46 ]] ||
        die "payload of $bz is not an ELF file"
    (($(stat -c %s "$work/vmlinux") % 4294967296 == size)) ||
        die "payload of $bz decompressed to the wrong size"

    mkdir -p "$(dirname "$out")"
    mv -f "$work/vmlinux" "$out.tmp.$$"
    mv -f "$out.tmp.$$" "$out"
}

main "$@"; exit
