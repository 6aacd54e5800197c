#!/usr/bin/env bash
# tests/run-suite.sh BUILD_DIR... - run each build's Criterion suite on the
# verbs device named by $VIPL_DEVICE (run it through tests/harness/rxe-run)
# and end with one line totalling them all.
set -uo pipefail

# Verbs pin registered memory; allow it where we may (root in the guest).
ulimit -l unlimited 2>/dev/null || true
# Leak checking is on in the sanitizer build; the suite forks on purpose.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0 status=0
for build in "$@"; do
	echo "== $build: Criterion suite on ${VIPL_DEVICE:-?} (${VIPL_TEST_ADDR:-?})"
	# One test at a time: tests run two processes each, and the emulated
	# machine has two cores.
	out=$("$build/tests/vipl_tests" --jobs 1 --short-filename 2>&1)
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -n1)
	p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
	f=$(sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' \
		<<<"$line")
	f=${f:-0 0}
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f% *} + ${f#* }))
	if [ -z "$line" ] || [ "$rc" -ne 0 ]; then
		status=1
		[ -n "$line" ] || failed=$((failed + 1))
	fi
done
echo "vipl: $passed passed, $failed failed"
exit "$status"
