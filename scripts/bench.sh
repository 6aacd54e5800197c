#!/usr/bin/env bash
# scripts/bench.sh [--smoke] [--reps N] [--out DIR] - what libvipl costs.
#
# Builds the benchmarks (tests/bench), then, in one boot of the rxe device
# (tests/harness/rxe-run: this host's, or a qemu guest's), runs:
#   - vipl_bench and its raw-verbs twin verbs_bench, alternated, N times:
#     send/receive and RDMA-write ping-pong latency, send and RDMA-write
#     bandwidth, 1 B to 1 MiB; connect/accept/disconnect cycles
#   - perftest (ib_send_lat, ib_write_lat, ib_send_bw, ib_write_bw) and
#     libfabric's fi_pingpong (verbs provider) on the same sizes, and an
#     attempt at UCX's ucx_perftest
#   - vipl_scale and its raw-verbs twin verbs_scale, back to back at each
#     N: 1 to 256 VIs (queue pairs) through one CQ
#   - vipl_cg under callgrind: libvipl's instructions per message
# and writes CSV files, a ratio table (summary.txt, also printed) and, with
# gnuplot, PNG plots into DIR (default build/bench). docs/performance.md
# explains them.
#
#   --smoke    each benchmark once at tiny sizes, no plots (CI; ~1 minute)
#   --reps N   VIPL/twin alternations per test (default 5)
#   --factor F sizes grow by F (default 4: 1 B, 4 B, ... 1 MiB)
#   --transport siw   the same over Soft-iWARP (rxe-run --transport; the
#              default DIR is then build/bench-siw)
# BENCH_SIZES="1 1024" replaces the sizes; BENCH_NO_DEPS=1 skips
# scripts/install-deps.sh.
# Benchmarks are not tests: nothing here asserts a time. The exit status is
# non-zero only when a benchmark failed to run.
set -euo pipefail

top=${BENCH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
smoke=0 reps=5 factor=4 inside=0 out="" transport=rxe
while (($#)); do
	case $1 in
	--smoke) smoke=1; shift ;;
	--reps) reps=$2; shift 2 ;;
	--factor) factor=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--transport) transport=$2; shift 2 ;;
	--inside) inside=1; shift ;;
	*) echo "usage: scripts/bench.sh [--smoke] [--reps N] [--factor F] [--transport rxe|siw] [--out DIR]" >&2
	   exit 2 ;;
	esac
done
# (Each suffix's test is inside an if: a false test there would end the
# script under set -e.)
suffix=
if [[ $transport != rxe ]]; then suffix=-$transport; fi
if ((smoke)); then suffix+=-smoke; fi
out=${out:-$top/build/bench$suffix}

# ------------------------------------------------------------------ host
if ((!inside)); then
	out=$(realpath -m "$out")
	cd "$top"
	[[ ${BENCH_NO_DEPS:-0} == 1 ]] || scripts/install-deps.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target \
		vipl_bench verbs_bench vipl_scale verbs_scale vipl_cg
	rm -rf "$out"
	mkdir -p "$out"
	((smoke)) && reps=1
	args=(--inside --out "$out" --reps "$reps" --factor "$factor")
	((smoke)) && args+=(--smoke)
	timeout=$( ((smoke)) && echo 600 || echo 5400)
	# The guest runs a copy, so that editing this file meanwhile is safe
	# (bash reads a script as it goes).
	cp "$top/scripts/bench.sh" "$out/bench-inside.sh"
	echo "host load before: $(cat /proc/loadavg)" >"$out/host.txt"
	rc=0
	BENCH_TOP=$top RXE_RUN_PASS_ENV="BENCH_TOP BENCH_SIZES ${RXE_RUN_PASS_ENV:-}" \
		tests/harness/rxe-run --transport "$transport" \
		--timeout "$timeout" --rw "$out" \
		-- bash "$out/bench-inside.sh" "${args[@]}" || rc=$?
	echo "host load after: $(cat /proc/loadavg)" >>"$out/host.txt"
	python3 tests/bench/summary.py "$out" | tee "$out/summary.txt"
	if ((!smoke)) && command -v gnuplot >/dev/null; then
		gnuplot -e "dir='$out'" tests/bench/plot.gp &&
			echo "plots: $out/*.png"
	fi
	exit "$rc"
fi

# ----------------------------------------------------------------- guest
ulimit -l unlimited 2>/dev/null || true
cd "$top"
bin=$top/build/tests/bench
addr=${VIPL_TEST_ADDR:?run me through tests/harness/rxe-run}
dev=${VIPL_DEVICE:?run me through tests/harness/rxe-run}
log=$out/log
mkdir -p "$log"
failures=0
port=18600

# The same sizes and iterations for the tools, from common.c's rule.
sizes() { # MIN MAX FACTOR
	local s=$1
	while :; do
		echo "$s"
		((s >= $2)) && break
		s=$((s * $3))
		((s > $2)) && s=$2
	done
}
iters() { # SIZE MAX MIN BUDGET
	local n=$(($4 / $1))
	((n > $2)) && n=$2
	((n < $3)) && n=$3
	echo "$n"
}

if ((smoke)); then
	size_list="1 64"
	lat=(-n 20 -m 4 -w 2)
	bw=(-n 50 -m 4 -w 2 -d 8 -r 64)
	conn=(-n 3 -w 1)
	scale_n="2" scale_msgs=200 cg_msgs=5
else
	size_list=${BENCH_SIZES:-$(sizes 1 1048576 "$factor")}
	lat=(-n 1000 -m 8 -B $((4 << 20)) -w 100)
	bw=(-n 5000 -m 16 -B $((16 << 20)) -w 100 -d 64 -r 512)
	conn=(-n 200 -w 5)
	scale_n="1 4 16 64 256" scale_msgs=20000 cg_msgs=200
fi

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel: $(uname -r)"
	echo "device: $dev ($addr), mode ${RXE_RUN_MODE:-?}"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs"
	echo "libvipl: $(git -C "$top" describe --always --dirty 2>/dev/null || echo ?)"
	echo "perftest: $(dpkg-query -W -f='${Version}' perftest 2>/dev/null || echo ?)"
	echo "libfabric: $(dpkg-query -W -f='${Version}' libfabric1 2>/dev/null || echo ?)"
	echo "ucx: $(dpkg-query -W -f='${Version}' libucx0 2>/dev/null || echo ?)"
	echo "reps: $reps, smoke: $smoke"
} >"$out/env.txt"
cat "$out/env.txt"

fail() {
	echo "bench: FAILED: $*" | tee -a "$out/failures.txt" >&2
	failures=$((failures + 1))
}

# reap PID: a tool's server ends by itself once its client is done; one
# whose client never came (it started too early) is stopped after 10 s.
reap() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# pair REP PROG ARGS...: one server and one client; the client's CSV lines
# (after its header) go to raw.csv, prefixed with the rep.
pair() {
	local rep=$1 prog=$2 server rc=0 name
	shift 2
	port=$((port + 1))
	name="$prog.$*"
	name=${name// /_}
	"$bin/$prog" -s -a "$addr" -p "$port" "$@" \
		>"$log/$name.server" 2>&1 &
	server=$!
	sleep 0.1 # a client that comes too early tries again
	timeout 900 "$bin/$prog" -c "$addr" -p "$port" "$@" \
		2>"$log/$name.$rep.client.err" |
		tail -n +2 | sed "s/^/$rep,/" >>"$out/raw.csv" || rc=$?
	wait "$server" || rc=$?
	((rc == 0)) || fail "$prog $* (exit $rc)"
	cat "$log/$name.$rep.client.err" >&2
}

echo "== libvipl and its raw-verbs twin, alternated $reps times"
echo "rep,impl,test,size,iters,min_us,median_us,avg_us,p99_us,MBps,msg_per_s" \
	>"$out/raw.csv"
# Each size is its own pair of runs, VIPL and twin back to back (which
# goes first alternates), so that both see the same moment of a noisy
# emulated machine; the reps repeat the whole set.
k=0
for ((rep = 1; rep <= reps; rep++)); do
	for t in lat_send lat_write bw_send bw_write conn; do
		case $t in
		lat_*) a=("${lat[@]}") ;;
		bw_*) a=("${bw[@]}") ;;
		conn) a=("${conn[@]}") ;;
		esac
		for s in $( [[ $t == conn ]] && echo 1 || echo $size_list); do
			k=$((k + 1))
			if ((k % 2)); then order="vipl_bench verbs_bench"; else
				order="verbs_bench vipl_bench"; fi
			for prog in $order; do
				echo "-- rep $rep: $prog $t $s"
				pair "$rep" "$prog" -t "$t" "${a[@]}" -S "$s" -M "$s"
			done
		done
	done
done

if ((!smoke)); then
	echo "== perftest (ib_*_lat: t_typical; ib_*_bw: BW average), one run"
	echo "tool,test,size,value" >"$out/tools.csv"
	for s in $size_list; do
		n=$(( s < 2 ? 2 : s ))
		for tool in ib_send_lat ib_write_lat ib_send_bw ib_write_bw; do
			case $tool in
			*lat) it=$(iters "$s" 1000 8 $((4 << 20))) col=5
			      extra=() ;;
			*bw) it=$(iters "$s" 5000 16 $((16 << 20))) col=4
			     extra=(-t 64) ;;
			esac
			# Under emulation perftest sometimes misreads the clock
			# and prints "inf" or nothing: measure again then.
			v=""
			for try in 1 2 3; do
				port=$((port + 1))
				timeout 300 "$tool" -R -d "$dev" -s "$n" -n "$it" \
					-F -p "$port" "${extra[@]}" \
					>"$log/$tool.$s.server" 2>&1 &
				server=$!
				sleep 1
				v=$(timeout 300 "$tool" -R -d "$dev" -s "$n" \
					-n "$it" -F -p "$port" "${extra[@]}" \
					"$addr" 2>"$log/$tool.$s.err" |
					awk -v c=$col '$1 ~ /^[0-9]+$/ &&
						NF >= c { print $c }' | tail -1 || true)
				reap "$server"
				# ib_send_bw's sender may print 0.00 where the
				# receiver has the figure.
				case $v in "" | 0.00) v=$(awk -v c=$col \
					'$1 ~ /^[0-9]+$/ && NF >= c { print $c }' \
					"$log/$tool.$s.server" | tail -1) ;; esac
				case $v in *inf* | "" | *nan* | 0.00) continue ;; esac
				break
			done
			case $v in *inf* | "" | *nan* | 0.00) fail "$tool -s $n" ;;
			*) echo "$tool,${tool#ib_},$s,$v" >>"$out/tools.csv"
			   echo "$tool $s: $v" ;;
			esac
		done
		# libfabric: fi_pingpong over the verbs provider (MSG endpoints,
		# rdma_cm), one-way latency averaged over the run (usec/xfer); it
		# prints sizes from 1 KiB on as 1k, 4k, ... 1m.
		it=$(iters "$s" 1000 8 $((4 << 20)))
		port=$((port + 1))
		timeout 120 fi_pingpong -p verbs -e msg -d "$dev" -I "$it" \
			-S "$s" -B "$port" >"$log/fi_pingpong.$s.server" 2>&1 &
		server=$!
		sleep 1
		v=$(timeout 120 fi_pingpong -p verbs -e msg -d "$dev" -I "$it" \
			-S "$s" -P "$port" "$addr" 2>"$log/fi_pingpong.$s.err" |
			awk '$1 ~ /^[0-9]+[kmg]?$/ && NF >= 8 { print $7 }' |
			tail -1 || true)
		reap "$server"
		if [[ -n $v ]]; then
			echo "fi_pingpong,fi_lat,$s,$v" >>"$out/tools.csv"
			echo "fi_pingpong $s: $v"
		else
			fail "fi_pingpong -S $s"
		fi
	done

	# UCP (tag_lat) wires its endpoints up over UD, which times out on
	# rxe here; UCT's rc_verbs transport needs no wire-up: try both.
	echo "== UCX ucx_perftest, 8 bytes: does it run over rxe?"
	{
		for t in "tag_lat" "tag_lat UCX_TLS=rc_verbs,self" \
			"am_lat -x rc_verbs -d $dev:1"; do
			port=$((port + 1))
			set -- $t
			test=$1
			shift
			envs=() opts=()
			for a in "$@"; do
				case $a in UCX_*) envs+=("$a") ;; *) opts+=("$a") ;; esac
			done
			echo "--- ucx_perftest -t $test ${opts[*]} ${envs[*]}"
			env UCX_NET_DEVICES="$dev:1" "${envs[@]}" timeout 60 \
				ucx_perftest -p "$port" -t "$test" "${opts[@]}" \
				-s 8 -n 1000 -w 100 >/dev/null 2>&1 &
			sleep 2
			env UCX_NET_DEVICES="$dev:1" "${envs[@]}" timeout 60 \
				ucx_perftest "$addr" -p "$port" -t "$test" \
				"${opts[@]}" -s 8 -n 1000 -w 100 -f 2>&1 |
				grep -v '^ *[0-9][0-9]* .*(+0x\|^====\|backtrace' |
				tail -6 || true
			wait || true
		done
	} >"$out/ucx.txt" 2>&1
	cat "$out/ucx.txt"
fi

echo "== scale: VIs through one CQ, libvipl and its raw-verbs twin"
echo "impl,test,vis,messages,msg_per_s,vsz_kib_per_vi,rss_kib_per_vi,heap_kib_per_vi" \
	>"$out/scale.csv"
# At each N the two run back to back, which one first alternating, as in
# the main loop.
k=0
for n in $scale_n; do
	k=$((k + 1))
	if ((k % 2)); then order="vipl_scale verbs_scale"; else
		order="verbs_scale vipl_scale"; fi
	for prog in $order; do
		echo "-- $prog -N $n"
		port=$((port + 1))
		"$bin/$prog" -s -a "$addr" -N "$n" -n "$scale_msgs" \
			-p "$port" >"$log/$prog.$n.server" 2>&1 &
		server=$!
		sleep 0.3
		rc=0
		timeout 600 "$bin/$prog" -c "$addr" -N "$n" \
			-n "$scale_msgs" -p "$port" 2>"$log/$prog.$n.err" |
			tee -a "$out/scale.csv" || rc=$?
		wait "$server" || rc=$?
		((rc == 0)) || fail "$prog -N $n (exit $rc)"
	done
done

echo "== callgrind: libvipl's instructions per message"
if command -v valgrind >/dev/null; then
	cg=$out/callgrind
	mkdir -p "$cg"
	"$bin/vipl_cg" -s -a "$addr" >"$log/cg.server" 2>&1 &
	server=$!
	sleep 0.3
	rc=0
	# The watcher (vipl/progress.c) would take completions the client
	# leaves while it sleeps, on its own uncounted thread: count them all
	# on the client's (with it on, the code of these calls is the same).
	VIPL_PROGRESS=0 timeout 600 valgrind --tool=callgrind \
		--collect-atstart=no \
		--compress-strings=no --compress-pos=no \
		--callgrind-out-file="$cg/callgrind.out.%p" \
		"$bin/vipl_cg" -c "$addr" -n "$cg_msgs" >"$log/cg.client" 2>&1 ||
		rc=$?
	wait "$server" || rc=$?
	grep -v '^==' "$log/cg.client" || true
	if ((rc == 0)); then
		python3 tests/bench/cg_cost.py --detail "$out/callgrind.txt" \
			--atomics "$top/build/libvipl.so" \
			"$cg_msgs" "$cg"/callgrind.out.*.[0-9]* |
			tee "$out/callgrind.csv"
	else
		fail "vipl_cg under callgrind (exit $rc)"
	fi
else
	echo "valgrind not installed: skipped"
fi

echo "bench: done, $failures failures"
((failures == 0))
