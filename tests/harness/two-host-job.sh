#!/usr/bin/env bash
# two-host-job.sh: the command rxe-run2 runs in each of its two guests.
#
#   two-host-job.sh server SYNC_DIR WAIT_S -- SERVER_CMD [ARGS...]
#   two-host-job.sh client SYNC_DIR WAIT_S -- CLIENT_CMD [ARGS...]
#
# SYNC_DIR is a host directory both guests mount writable (rxe-run --rw).
# Each role first touches SYNC_DIR/<role>-up (rxe-run2 reports the boot time
# from it). The server starts its command in the background and, once it
# listens (an rdma_cm ID in state LISTEN, or a listening TCP socket: the
# guest runs nothing else), or it exited, or WAIT_S seconds passed, touches
# SYNC_DIR/server-ready; then it waits for the command and exits with its
# status. The client waits for server-ready and then execs its command.
# Messages go to stderr (the command's output stream), prefixed
# "rxe-run2:". Both commands get RXE_RUN2_SYNC=SYNC_DIR, a directory they
# can both write to coordinate later steps (files named server-*/client-*
# and *-up are this script's).
set -uo pipefail

say() { printf 'rxe-run2: %s\n' "$*" >&2; }

if (($# < 5)) || [[ $4 != -- ]]; then
    say "usage: $0 server|client SYNC_DIR WAIT_S -- CMD..."
    exit 125
fi
role=$1 sync=$2 wait_s=$3
shift 4
export RXE_RUN2_SYNC=$sync

: >"$sync/$role-up.tmp" && mv "$sync/$role-up.tmp" "$sync/$role-up"

# Any listening TCP socket (state 0A) in /proc/net/tcp{,6}; builtins only.
tcp_listening() {
    local f st _
    for f in /proc/net/tcp /proc/net/tcp6; do
        [[ -r $f ]] || continue
        while read -r _ _ _ st _; do
            [[ $st == 0A ]] && return 0
        done <"$f"
    done
    return 1
}

server_listening() {
    tcp_listening && return 0
    rdma resource show cm_id 2>/dev/null | grep -q 'state LISTEN'
}

case $role in
    server)
        "$@" &
        pid=$!
        deadline=$((SECONDS + wait_s))
        while kill -0 "$pid" 2>/dev/null && ! server_listening; do
            if ((SECONDS >= deadline)); then
                say "server not seen listening after $wait_s s; starting the client anyway"
                break
            fi
            sleep 0.1
        done
        : >"$sync/server-ready"
        wait "$pid"
        exit
        ;;
    client)
        until [[ -e $sync/server-ready ]]; do
            sleep 0.1
        done
        exec "$@"
        ;;
    *)
        say "unknown role '$role'"
        exit 125
        ;;
esac
