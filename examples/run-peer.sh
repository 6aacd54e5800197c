#!/usr/bin/env bash
# examples/run-peer.sh [BUILD_DIR] [N] - a full mesh of N peer processes on
# the rxe device named by $VIPL_DEVICE/$VIPL_TEST_ADDR (run it through
# tests/harness/rxe-run); fails unless every rank exits 0.
set -uo pipefail
build=${1:-build}
n=${2:-4}
addr=${VIPL_TEST_ADDR:?run me through tests/harness/rxe-run}
ulimit -l unlimited 2>/dev/null || true
pids=()
for ((r = 0; r < n; r++)); do
	timeout 120 "$build/examples/peer" -r "$r" -N "$n" -a "$addr" &
	pids+=($!)
done
status=0
for p in "${pids[@]}"; do
	wait "$p" || status=1
done
echo "peer mesh of $n: $([ $status = 0 ] && echo ok || echo FAILED)"
exit $status
