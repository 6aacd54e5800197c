#!/usr/bin/env bash
# Fuzz the connection private data parser (mapping/wire.c) with libFuzzer,
# under ASan and UBSan, for a bounded time or number of runs.
#
# Usage: tests/fuzz/run.sh [SECONDS | --runs N]     (default: 60 seconds)
#
# Builds into its own directory, ${FUZZ_BUILD_DIR:-build-fuzz} at the top
# of the tree (not part of the CMake build), with clang (${CC:-clang};
# libFuzzer's runtime is Debian's libclang-rt-14-dev, see
# scripts/install-deps.sh). The seed corpus is written by the target's own
# source built with -DFUZZ_WIRE_SEEDS; what libFuzzer finds on top of it
# stays in BUILD/corpus for the next run, a crashing input lands in
# BUILD/artifacts/. Exits 0 when the target never failed, else non-zero,
# and prints the number of executions either way.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$top/build-fuzz}
cc=${CC:-clang}

usage() {
	echo "usage: $0 [SECONDS | --runs N]" >&2
	exit 2
}

limit=(-max_total_time=60)
case ${1:-} in
'') ;;
--runs)
	[[ ${2:-} =~ ^[0-9]+$ ]] || usage
	limit=(-runs="$2")
	;;
*)
	[[ $1 =~ ^[0-9]+$ ]] || usage
	limit=(-max_total_time="$1")
	;;
esac

log() { printf 'fuzz: %s\n' "$*" >&2; }

# Both programs: the target's source, the parser, nothing else.
sources=("$top/tests/fuzz/fuzz_wire.c" "$top/mapping/wire.c")
cflags=(-std=gnu11 -g -O1 -Wall -Wextra -Werror -I "$top/vipl"
	-I "$top/mapping")

command -v "$cc" >/dev/null || {
	log "no $cc: run scripts/install-deps.sh"
	exit 1
}
mkdir -p "$build/corpus" "$build/artifacts"
log "building in $build with $cc"
"$cc" "${cflags[@]}" -DFUZZ_WIRE_SEEDS "${sources[@]}" -o "$build/wire_seeds"
# -fno-sanitize-recover: a UBSan finding must stop the run like a crash.
"$cc" "${cflags[@]}" -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer \
	"${sources[@]}" -o "$build/fuzz_wire" || {
	log "cannot build the fuzzer; libFuzzer's runtime comes with" \
		"libclang-rt-14-dev (scripts/install-deps.sh)"
	exit 1
}

rm -rf "$build/seeds"
mkdir "$build/seeds"
"$build/wire_seeds" "$build/seeds"

# The header bytes a mutation should keep or vary on purpose (wire.h).
cat >"$build/wire.dict" <<'EOF'
magic="\x56\x49"
request="\x56\x49\x01\x01"
accept="\x56\x49\x01\x02"
reject="\x56\x49\x01\x03"
version="\x01"
disc_max="\x10"
disc_over="\x11"
both_flags="\x03"
EOF

# Private data is at most 56 bytes for a request (196 for a reply); the
# parser reads at most 48 of them, so 64 covers every path and padding.
status=0
"$build/fuzz_wire" -dict="$build/wire.dict" -max_len=64 \
	-use_value_profile=1 -print_final_stats=1 \
	-artifact_prefix="$build/artifacts/" "${limit[@]}" \
	"$build/corpus" "$build/seeds" >"$build/fuzz.log" 2>&1 || status=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz.log")
crashes=$(find "$build/artifacts" -type f -newer "$build/wire.dict" | wc -l)
if [[ $status -ne 0 || $crashes -ne 0 ]]; then
	tail -n 40 "$build/fuzz.log" >&2
	log "FAILED (exit $status) after ${execs:-?} executions;" \
		"inputs in $build/artifacts, log $build/fuzz.log"
	exit "$((status ? status : 1))"
fi
log "ok: ${execs:-?} executions, no crash (log $build/fuzz.log)"
