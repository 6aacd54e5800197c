#!/usr/bin/env bash
# netns-check.sh BUILD_DIR - libvipl inside a network namespace, as in a
# container with a network of its own: run as root where rxe-run put a
# device (the guest), e.g.
#   tests/harness/rxe-run -- tests/harness/netns-check.sh build
#
# Builds, beside the harness's own device, a namespace "vipl-ns" holding a
# veth pair with an rxe device and an address of its own, then checks:
#   - in the namespace, VIPL_IFACE and VIPL_DEVICE open the namespace's
#     device (its address is the namespace's);
#   - a server and a client in the namespace (vipl_send_lat): they connect
#     and measure, or, where the kernel's rxe and rdma_cm do not serve a
#     namespace (Linux 6.1 and 6.12, measured), the client ends with a
#     VIPL error within its timeout, and nothing hangs; which of the two
#     is printed;
#   - the root namespace's device, which shared mode lists there too,
#     opens but cannot connect from the namespace: an error, no hang.
# Prints one line per check; exit 0 when every one passed. The namespace
# and its devices are removed at the end, whatever happened.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(realpath "${1:?usage: netns-check.sh BUILD_DIR}")
tool=$build/tools/perf/vipl_send_lat
ns=vipl-ns dev=rxens0 veth=vns-a peer=vns-b addr=10.79.0.1
# shellcheck source=lib-rxe.sh
. "$here/lib-rxe.sh"

fail=0
check() { # name status
	if [[ $2 == 0 ]]; then echo "netns: $1: ok"; else echo "netns: $1: FAILED"; fail=1; fi
}
cleanup() {
	ip netns exec "$ns" rdma link delete "$dev" 2>/dev/null
	ip netns delete "$ns" 2>/dev/null
}
trap cleanup EXIT

[[ -x $tool ]] || { echo "netns: $tool is not built" >&2; exit 1; }
echo "netns: rdma subsystem mode: $(rdma system show 2>/dev/null | tr -s ' ')"
ip netns add "$ns" || exit 1
ip netns exec "$ns" bash -c "
	. '$here/lib-rxe.sh'
	ip link set lo up
	rxe_setup_veth $veth $peer $dev $addr 24 &&
	rxe_wait_ready $dev $addr 60" || { echo "netns: no device in $ns" >&2; exit 1; }

in_ns() { # "VAR=value ..." command...
	local vars=$1
	shift
	# shellcheck disable=SC2086  # vars is a list of assignments
	ip netns exec "$ns" env $vars "$@"
}

# Which device a setting opens there: the client's first line names it
# (the connection itself is the next check). VIPL_DEVICE, which the
# harness sets, would win over VIPL_IFACE: emptied for that one.
opens() { # settings
	local out
	out=$(in_ns "$1" timeout 30 "$tool" -n 1 -p 18700 "$addr" 2>&1)
	[[ $out == *"device $dev,"* ]] || { printf '%s\n' "$out" >&2; return 1; }
}
opens "VIPL_DEVICE= VIPL_IFACE=$veth"
check "in $ns, VIPL_IFACE=$veth opens $dev" $?
opens "VIPL_DEVICE=$dev"
check "in $ns, VIPL_DEVICE=$dev opens $dev" $?

# A server and a client in the namespace, as a container's programs.
in_ns "VIPL_DEVICE=$dev" timeout 90 "$tool" -s 64 -n 50 -p 18701 \
	>/dev/null 2>&1 &
srv=$!
out=$(in_ns "VIPL_DEVICE=$dev" timeout 90 "$tool" -s 64 -n 50 -p 18701 \
	"$addr" 2>&1)
rc=$?
if [[ $rc == 0 ]]; then
	wait "$srv"
	check "server and client in $ns connect and measure" $?
else
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	echo "netns: server and client in $ns do not connect here:" \
		"$(grep -o 'VIP_RETURN [0-9]*' <<<"$out")"
	# 124 is timeout(1)'s: the client hung.
	[[ $rc == 1 ]]
	check "the client in $ns ends with a VIPL error, no hang" $?
fi

# The root namespace's device, seen from the namespace: it opens (shared
# mode lists every device everywhere), but its address is not there.
root_dev=${VIPL_DEVICE:-rxe0}
in_ns "VIPL_DEVICE=$root_dev" timeout 60 "$tool" -s 64 -n 5 -p 18703 "$addr" \
	>/dev/null 2>"/tmp/netns-root.$$"
rc=$?
echo "netns: $root_dev from $ns: exit $rc: $(tr '\n' ' ' <"/tmp/netns-root.$$")"
rm -f "/tmp/netns-root.$$"
[[ $rc == 1 ]]
check "the root namespace's $root_dev in $ns fails to connect, no hang" $?
exit "$fail"
