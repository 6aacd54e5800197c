#!/usr/bin/env bash
# tests/bench/trace_cost.sh [BUILD_DIR] [NOTRACE_BUILD_DIR] [N]
#
# What VIPL_TRACE costs when it is off: the instructions executed inside
# VipPostSend and VipSendDone (inclusive: libvipl, the verbs provider, any
# system call wrapper), counted by callgrind for N calls of each on a
# connected VI, in a normal build (exported calls go through the trace
# wrappers, tracing off) and in one configured with -DVIPL_TRACE=OFF (the
# wrappers compiled out). Instruction counts are deterministic, unlike
# times under emulation. Builds both (default build and build-notrace)
# and, where there is no verbs device, runs itself inside
# tests/harness/rxe-run.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
on=${1:-build}
off=${2:-build-notrace}
n=${3:-256}

if [ -z "${VIPL_DEVICE:-}" ]; then
	cmake -S . -B "$on" >/dev/null
	cmake --build "$on" -j2 --target trace_cost >/dev/null
	cmake -S . -B "$off" -DVIPL_TRACE=OFF >/dev/null
	cmake --build "$off" -j2 --target trace_cost >/dev/null
	exec tests/harness/rxe-run --timeout 1200 -- "$0" "$on" "$off" "$n"
fi

ulimit -l unlimited 2>/dev/null || true
unset VIPL_TRACE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# inclusive FUNCTION FILE: callgrind's inclusive instruction count of it.
inclusive() {
	callgrind_annotate --inclusive=yes --auto=no "$2" |
		awk -v f="$1" '$0 ~ (":" f " ") { gsub(",", "", $1); print $1; exit }'
}

# measure LABEL BUILD: one server, one client under callgrind; sets
# post_ir, done_ir, done_calls.
measure() {
	local label=$1 build=$2 out spid
	"$build/tests/trace_cost" server "$VIPL_TEST_ADDR" "$n" &
	spid=$!
	# Every completion counted on the client's thread (see bench.sh).
	out=$(VIPL_PROGRESS=0 valgrind --tool=callgrind \
		--callgrind-out-file="$tmp/cg.$label" \
		--toggle-collect=VipPostSend --toggle-collect=VipSendDone \
		"$build/tests/trace_cost" client "$VIPL_TEST_ADDR" "$n" 2>/dev/null)
	wait "$spid"
	post_ir=$(inclusive VipPostSend "$tmp/cg.$label")
	done_ir=$(inclusive VipSendDone "$tmp/cg.$label")
	done_calls=$(sed -n 's/.*, \([0-9]*\) VipSendDone.*/\1/p' <<<"$out")
	printf '%-18s %12s %9.2f %12s %9.2f %6s\n' "$label" "$post_ir" \
		"$(echo "$post_ir / $n" | bc -l)" "$done_ir" \
		"$(echo "$done_ir / $done_calls" | bc -l)" "$done_calls"
}

echo "# $n VipPostSend and VipSendDone calls on $VIPL_DEVICE:" \
	"instructions inside them (callgrind Ir, inclusive)"
printf '%-18s %12s %9s %12s %9s %6s\n' build VipPostSend per-call \
	VipSendDone per-call calls
measure "tracing-off" "$on"
on_post=$post_ir on_done=$done_ir on_calls=$done_calls
measure "compiled-out" "$off"
printf '%-18s %12s %9.2f %12s %9.2f\n' "difference" \
	"$((on_post - post_ir))" "$(echo "($on_post - $post_ir) / $n" | bc -l)" \
	"$((on_done - done_ir))" \
	"$(echo "$on_done / $on_calls - $done_ir / $done_calls" | bc -l)"
