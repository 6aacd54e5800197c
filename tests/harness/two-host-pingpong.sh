#!/usr/bin/env bash
# two-host-pingpong.sh: the VIPL pingpong example between two qemu guests
# (tests/harness/rxe-run2), then perftest's ib_send_lat -R between the same
# two guests in the same boot, for comparison.
#
# Usage: tests/harness/two-host-pingpong.sh [ITERS] [MAX_BYTES]
#   defaults 200 and 4096; needs build/examples/pingpong (built).
#   RXE_RUN2_ARGS: extra rxe-run2 options, e.g. "--timeout 600".
# Exit status 0 when both programs passed on both sides.
#
# Guest A: pingpong -s -a $VIPL_TEST_ADDR -n ITERS -M MAX_BYTES
#          then ib_send_lat -R server, one run per size 2..MAX_BYTES (x4)
# Guest B: pingpong -c $VIPL_PEER_ADDR -n ITERS -M MAX_BYTES
#          then the matching ib_send_lat -R clients (each started once
#          the server's run listens, via $RXE_RUN2_SYNC)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

lat_sizes() { # max: 2 8 32 ... up to max (x4), and max itself
    local s=2 max=$1
    while ((s < max)); do printf '%s ' "$s"; s=$((s * 4)); done
    printf '%s\n' "$max"
}

case ${1-} in
    --server)
        iters=$2 max=$3
        echo "=== pingpong server on $VIPL_TEST_ADDR ($VIPL_DEVICE)"
        rc=0
        "$ROOT/build/examples/pingpong" -s -a "$VIPL_TEST_ADDR" -n "$iters" -M "$max" || rc=$?
        echo "=== pingpong server exited $rc"
        # A connection of a new run is now and then rejected (CM event 8,
        # REJECTED) and both sides fail: each size gets up to 3 attempts,
        # numbered through $RXE_RUN2_SYNC so that client and server agree.
        for s in $(lat_sizes "$max"); do
            for ((try = 1; try <= 3; try++)); do
                timeout 60 ib_send_lat -R -F -d "$VIPL_DEVICE" -n "$iters" -s "$s" \
                    >"/tmp/lat-$s.out" 2>&1 &
                pid=$!
                # Tell the client once this run listens (rdma_cm ID in
                # LISTEN; the previous run has exited, so it is this one's).
                for ((i = 0; i < 300; i++)); do
                    rdma resource show cm_id 2>/dev/null | grep -q 'state LISTEN' && break
                    kill -0 "$pid" 2>/dev/null || break
                    sleep 0.1
                done
                : >"$RXE_RUN2_SYNC/lat-$s-$try"
                wait "$pid" && break
                echo "ib_send_lat server (size $s) attempt $try failed:"
                grep -v '^ *-*$' "/tmp/lat-$s.out" | tail -n 4
                sleep 1
            done
            ((try <= 3)) || rc=1
        done
        exit "$rc"
        ;;
    --client)
        iters=$2 max=$3
        echo "=== pingpong client -> $VIPL_PEER_ADDR ($VIPL_DEVICE), $iters iterations per size"
        rc=0
        t0=$SECONDS
        "$ROOT/build/examples/pingpong" -c "$VIPL_PEER_ADDR" -n "$iters" -M "$max" || rc=$?
        echo "=== pingpong client exited $rc after $((SECONDS - t0)) s"
        echo "=== ib_send_lat -R -> $VIPL_PEER_ADDR, $iters iterations per size"
        first=1
        for s in $(lat_sizes "$max"); do
            ok=0
            for ((try = 1; try <= 3; try++)); do
                # Start once the server's run for this attempt listens.
                for ((i = 0; i < 900; i++)); do
                    [[ -e $RXE_RUN2_SYNC/lat-$s-$try ]] && break
                    sleep 0.1
                done
                if out=$(timeout 60 ib_send_lat -R -F -d "$VIPL_DEVICE" -n "$iters" -s "$s" \
                    "$VIPL_PEER_ADDR" 2>&1); then
                    ok=1
                    break
                fi
                echo "ib_send_lat client (size $s) attempt $try failed:"
                grep -v '^ *-*$' <<<"$out" | tail -n 4
            done
            if ((!ok)); then
                rc=1
                continue
            fi
            # Header once, then the result line of each size.
            if ((first)); then
                grep -E '#bytes' <<<"$out" || true
                first=0
            fi
            grep -E '^ *[0-9]+ +[0-9]+ ' <<<"$out" || echo "$out"
        done
        exit "$rc"
        ;;
esac

iters=${1:-200} max=${2:-4096}
cd "$ROOT"
[[ -x build/examples/pingpong ]] || { echo "two-host-pingpong: build/examples/pingpong is not built" >&2; exit 125; }
# shellcheck disable=SC2086  # RXE_RUN2_ARGS is a list of options
exec "$HERE/rxe-run2" ${RXE_RUN2_ARGS:-} \
    -- "$HERE/two-host-pingpong.sh" --server "$iters" "$max" \
    -- "$HERE/two-host-pingpong.sh" --client "$iters" "$max"
