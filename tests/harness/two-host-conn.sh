#!/usr/bin/env bash
# two-host-conn.sh: the connection cases of tests/twohost/conn.c (accept,
# reject, level mismatch, peer-to-peer, a peer killed while streaming, and
# the survivor going on) between two qemu guests (tests/harness/rxe-run2).
#
# Usage: tests/harness/two-host-conn.sh    (needs build/tests/twohost_conn)
#   RXE_RUN2_ARGS: extra rxe-run2 options, e.g. "--timeout 600".
#   RXE_RUN_TRANSPORT=siw: the same cases over Soft-iWARP.
# Exit status 0 when every case passed on both hosts.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$ROOT/build/tests/twohost_conn

[[ -x $BIN ]] || { echo "two-host-conn: $BIN is not built" >&2; exit 125; }
# Both guests lock memory for verbs, as the suite does. Over iWARP a host
# that vanished is found when TCP gives up retransmitting: after about 6 s
# with 4 retries (15 minutes by default); rxe does not use TCP.
run='ulimit -l unlimited; sysctl -qw net.ipv4.tcp_retries2=4; exec "$0" "$@"'
# shellcheck disable=SC2086  # RXE_RUN2_ARGS is a list of options
exec "$HERE/rxe-run2" --timeout 900 ${RXE_RUN2_ARGS:-} \
    -- bash -c "$run" "$BIN" server 10.78.0.2 \
    -- bash -c "$run" "$BIN" client 10.78.0.1
