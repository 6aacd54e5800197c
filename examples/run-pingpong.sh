#!/usr/bin/env bash
# examples/run-pingpong.sh [BUILD_DIR] - both ends of the VIPL ping-pong on
# the rxe device named by $VIPL_DEVICE / $VIPL_TEST_ADDR (scripts/demo.sh
# runs it through tests/harness/rxe-run), then perftest's ib_send_lat on
# the same device for comparison, and a table of the two.
set -euo pipefail

build=${1:-build}
iters=${PINGPONG_ITERS:-500}
sizes="1 64 1024 4096 16384 65536"
dev=${VIPL_DEVICE:?run me through tests/harness/rxe-run}
addr=${VIPL_TEST_ADDR:?run me through tests/harness/rxe-run}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ulimit -l unlimited 2>/dev/null || true

echo "== VIPL ping-pong (libvipl, two processes) on $dev at $addr"
"$build/examples/pingpong" -s -a "$addr" -n "$iters" &
server=$!
"$build/examples/pingpong" -c "$addr" -n "$iters" | tee "$out/vipl.txt"
wait "$server"

echo
echo "== perftest ib_send_lat -R (raw verbs) on the same device"
# One ib_send_lat run (server and client); prints "size typical_us".
perftest_once() {
	local s=$1 n=$2 port=$((18515 + RANDOM % 1000))

	timeout 120 ib_send_lat -R -d "$dev" -s "$n" -n "$iters" -F -p "$port" \
		>/dev/null 2>&1 &
	sleep 1
	timeout 120 ib_send_lat -R -d "$dev" -s "$n" -n "$iters" -F -p "$port" \
		"$addr" 2>/dev/null | awk -v s="$s" '$1 ~ /^[0-9]+$/ && NF >= 5 {
			print s, $5 }'
	wait || true
}

for s in $sizes; do
	# perftest's smallest send is 2 bytes.
	n=$(( s < 2 ? 2 : s ))
	# Under emulation perftest sometimes misreads the CPU clock and
	# prints "inf"; measure again then.
	for try in 1 2 3; do
		line=$(perftest_once "$s" "$n")
		case "$line" in *inf*|"") continue ;; esac
		break
	done
	echo "${line:-$s n/a}" | tee -a "$out/perftest.txt"
done

echo
echo "== one-way latency, typical (median), microseconds"
printf '%-8s %-12s %-14s %s\n' bytes libvipl ib_send_lat ratio
while read -r size typical; do
	vipl=$(awk -v s="$size" '$1 == s { print $4 }' "$out/vipl.txt")
	[ -n "$vipl" ] && [ "$typical" != n/a ] || continue
	awk -v s="$size" -v v="$vipl" -v p="$typical" 'BEGIN {
		printf "%-8s %-12.2f %-14.2f %.2f\n", s, v, p, v / p }'
done <"$out/perftest.txt"
echo "(Soft-RoCE; under qemu TCG the CPU is emulated: compare ratios, not"
echo " absolute times. ib_send_lat runs at 2 bytes where VIPL sends 1."
echo " Method: both post prebuilt work, inline up to the device's limit, and"
echo " busy-poll. libvipl signals every send and polls its completion, as"
echo " VIPL completes every descriptor; ib_send_lat signals one send in many"
echo " and reads the CPU's cycle counter where libvipl's example calls"
echo " clock_gettime.)"
