#!/usr/bin/env bash
# tests/bench/cg_guard.sh BUILD_DIR - fails when libvipl's own instructions
# per message (callgrind, vipl_cg, counted by cg_cost.py) exceed the limits
# below. Instruction counts are deterministic, so this cannot flake on a
# loaded machine; a Done call that finds nothing yet costs a few more, so
# each limit is what was reached plus MARGIN. Run it where a verbs device
# is (tests/run-suite.sh does, inside rxe-run).
set -uo pipefail

build=${1:?usage: cg_guard.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
MARGIN=5
MSGS=200
# path limit, as reached (docs/performance.md, "Instructions")
LIMITS="send 288 recv 260 write 295 empty 72"

if ! command -v valgrind >/dev/null; then
	echo "cg_guard: valgrind not installed" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
addr=${VIPL_TEST_ADDR:?run it through tests/harness/rxe-run}

"$build/tests/bench/vipl_cg" -s -a "$addr" >"$tmp/server.log" 2>&1 &
server=$!
sleep 0.3
# The watcher would take completions on a thread callgrind does not count
# here (scripts/bench.sh says why): every completion on the client's.
VIPL_PROGRESS=0 timeout 600 valgrind --tool=callgrind --collect-atstart=no \
	--compress-strings=no --compress-pos=no \
	--callgrind-out-file="$tmp/callgrind.out.%p" \
	"$build/tests/bench/vipl_cg" -c "$addr" -n "$MSGS" >"$tmp/client.log" 2>&1
rc=$?
wait "$server" || rc=1
if ((rc)); then
	echo "cg_guard: vipl_cg failed" >&2
	cat "$tmp/client.log" "$tmp/server.log" >&2
	exit 1
fi
python3 "$top/tests/bench/cg_cost.py" "$MSGS" "$tmp"/callgrind.out.*.[0-9]* \
	>"$tmp/cost.csv" || exit 1

# A Done that found nothing yet (the machine was slow to deliver) is
# counted in its path: take each off at the empty poll's cost, so that
# the count is the path's own whatever the load.
empty=$(awk -F, '$1 == "empty" { print $3 }' "$tmp/cost.csv")
misses() {
	sed -n "s/^vipl_cg: $1: [0-9]* messages, \([0-9]*\) Done.*/\1/p" \
		"$tmp/client.log"
}

fail=0
set -- $LIMITS
while (($#)); do
	path=$1 limit=$(($2 + MARGIN))
	shift 2
	got=$(awk -F, -v p="$path" -v m="$(misses "$path")" -v e="$empty" \
		-v n="$MSGS" '$1 == p { printf "%.1f", $3 - m * e / n }' \
		"$tmp/cost.csv")
	if [[ -z $got ]]; then
		echo "cg_guard: no count for $path" >&2
		fail=1
	elif awk -v g="$got" -v l="$limit" 'BEGIN { exit !(g > l) }'; then
		echo "cg_guard: $path: $got instructions, more than $limit"
		fail=1
	else
		echo "cg_guard: $path: $got instructions (limit $limit)"
	fi
done
exit "$fail"
