#!/usr/bin/env bash
# Quick end-to-end check of tests/harness/rxe-run: in ONE rxe-run call (one
# guest boot in qemu mode) it checks that
#   1. ibv_devinfo sees $VIPL_DEVICE with an active port (libibverbs),
#   2. the memlock limit allows verbs memory registration,
#   3. rping server + client exchange data over rdma_cm on $VIPL_TEST_ADDR,
#   4. ib_send_lat -R (perftest, rdma_cm connection setup) completes.
#
# Usage: tests/harness/selftest.sh [--full]
#   --full   also check, with two more rxe-run calls, that a command's exit
#            code comes back unchanged and that --timeout ends a hung
#            command with 124
# Exit status 0 when everything passed.
#
# (Internally, the checks run as `selftest.sh --inner` under rxe-run.)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RXE_RUN=$HERE/rxe-run

step() { printf '\n=== selftest: %s\n' "$*"; }
fail() { printf 'selftest: FAIL: %s\n' "$*"; exit 1; }

# --------------------------------------------- inside rxe-run (--inner)

# Wait until an rdma_cm listener on PORT exists (the server is ready), so
# the client never races the server. Falls back to a fixed delay where the
# rdma tool cannot list CM IDs.
wait_listen() { # port seconds
    local port=$1 i
    if ! rdma resource show cm_id >/dev/null 2>&1; then
        sleep 3
        return 0
    fi
    for ((i = 0; i < $2 * 10; i++)); do
        rdma resource show cm_id 2>/dev/null |
            grep -Eq "state LISTEN .*src-addr [^ ]*:$port( |\$)" && return 0
        sleep 0.1
    done
    return 1
}

# Run a server in the background and a client in the foreground, both with
# a time limit; print the server's output after the client's; fail unless
# both exit 0.
client_server() { # name port seconds -- server-cmd... -- client-cmd...
    local name=$1 port=$2 secs=$3
    shift 3
    [[ $1 == -- ]] || fail "client_server: bad arguments"
    shift
    local -a server=()
    while [[ $1 != -- ]]; do server+=("$1"); shift; done
    shift

    local log srv rc=0
    log=$(mktemp)
    timeout "$secs" "${server[@]}" >"$log" 2>&1 &
    srv=$!
    wait_listen "$port" 30 || {
        cat "$log"
        fail "$name: server is not listening on port $port after 30 s"
    }
    timeout "$secs" "$@" || rc=$?
    local src=0
    wait "$srv" || src=$?
    sed 's/^/[server] /' "$log"
    rm -f "$log"
    ((rc == 0)) || fail "$name: client exited with $rc (124 = timed out after $secs s)"
    ((src == 0)) || fail "$name: server exited with $src (124 = timed out after $secs s)"
}

inner() {
    : "${VIPL_DEVICE:?rxe-run did not set VIPL_DEVICE}"
    : "${VIPL_TEST_ADDR:?rxe-run did not set VIPL_TEST_ADDR}"
    echo "selftest: mode=${RXE_RUN_MODE:-?} device=$VIPL_DEVICE addr=$VIPL_TEST_ADDR"

    step "ibv_devinfo -d $VIPL_DEVICE"
    local info
    info=$(timeout 30 ibv_devinfo -d "$VIPL_DEVICE") || fail "ibv_devinfo failed"
    printf '%s\n' "$info"
    grep -q 'PORT_ACTIVE' <<<"$info" || fail "port of $VIPL_DEVICE is not active"

    step "memlock limit"
    local memlock
    memlock=$(ulimit -l)
    echo "ulimit -l: $memlock (uid $(id -u))"
    # Root registers memory regardless (CAP_IPC_LOCK); others need room.
    if [[ $(id -u) -ne 0 && $memlock != unlimited ]] && ((memlock < 65536)); then
        fail "memlock limit $memlock KiB is too small for verbs tests"
    fi

    step "rdma_cm: rping, 3 iterations, client and server on $VIPL_TEST_ADDR"
    client_server rping 7174 60 \
        -- rping -s -a "$VIPL_TEST_ADDR" -C 3 -v \
        -- rping -c -a "$VIPL_TEST_ADDR" -C 3 -v

    step "rdma_cm: ib_send_lat -R, 1000 iterations"
    client_server ib_send_lat 18515 120 \
        -- ib_send_lat -R -d "$VIPL_DEVICE" -F -n 1000 \
        -- ib_send_lat -R -d "$VIPL_DEVICE" -F -n 1000 "$VIPL_TEST_ADDR"

    step "all checks passed"
}

# ------------------------------------------------------- on the caller

# --full: exit codes and --timeout travel through rxe-run unchanged.
check_exit_codes() {
    local rc=0 t0 secs
    step "exit code propagation: a command exiting with 42"
    # shellcheck disable=SC2016  # expanded by the inner shell, on purpose
    "$RXE_RUN" --timeout 300 -- sh -c 'echo "in: $VIPL_DEVICE"; exit 42' || rc=$?
    ((rc == 42)) || fail "expected exit code 42 from rxe-run, got $rc"
    echo "ok: 42"

    step "--timeout 20 on a command that sleeps forever"
    rc=0
    t0=$SECONDS
    "$RXE_RUN" --timeout 20 -- sleep 100000 || rc=$?
    secs=$((SECONDS - t0))
    ((rc == 124)) || fail "expected exit code 124 on timeout, got $rc"
    ((secs < 60)) || fail "--timeout 20 took $secs s"
    echo "ok: 124 after $secs s"
}

main() {
    if [[ ${1:-} == --inner ]]; then
        inner
        return
    fi
    local t0=$SECONDS
    "$RXE_RUN" --timeout 600 -- "$HERE/selftest.sh" --inner ||
        fail "the checks under rxe-run failed (exit $?)"
    if [[ ${1:-} == --full ]]; then
        check_exit_codes
    fi
    printf '\nselftest: PASS (%d s)\n' $((SECONDS - t0))
}

# main and exit on one line: bash reads a script as it runs it, so the file
# can then be edited (e.g. by a git checkout) without breaking this run.
main "$@"; exit
