#!/usr/bin/env bash
# examples/run-cq-server.sh [BUILD_DIR] - one cq_server serving N clients
# (CQ_CLIENTS, default 4) at once through its single completion queue, on
# the rxe device named by $VIPL_TEST_ADDR (run it through
# tests/harness/rxe-run). Every process must exit 0.
set -euo pipefail

build=${1:-build}
clients=${CQ_CLIENTS:-4}
messages=${CQ_MESSAGES:-200}
addr=${VIPL_TEST_ADDR:?run me through tests/harness/rxe-run}
bin=$build/examples/cq_server
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ulimit -l unlimited 2>/dev/null || true

echo "== cq_server: 1 server, $clients clients, $messages requests each," \
	"on ${VIPL_DEVICE:-?} at $addr"
timeout 300 "$bin" -s -a "$addr" -N "$clients" >"$out/server" 2>&1 &
pids=($!)
names=(server)
# Clients may start before the server listens: they retry until it does.
for i in $(seq "$clients"); do
	timeout 300 "$bin" -c "$addr" -n "$messages" >"$out/client$i" 2>&1 &
	pids+=($!)
	names+=("client$i")
done

status=0
for i in "${!pids[@]}"; do
	rc=0
	wait "${pids[$i]}" || rc=$?
	echo "-- ${names[$i]} (exit $rc)"
	cat "$out/${names[$i]}"
	[ "$rc" -eq 0 ] || status=1
done
if [ "$status" -eq 0 ]; then
	echo "== all $((clients + 1)) processes exited 0"
else
	echo "== FAILED: some process exited non-zero"
fi
exit "$status"
