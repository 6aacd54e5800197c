#!/usr/bin/env bash
# scripts/test.sh - the whole test suite, from a fresh clone.
#
# Installs what is missing, builds libvipl twice (a normal build and one
# with AddressSanitizer + UBSan), checks `cmake --install`, the manual
# pages (every function has one, each renders cleanly), programs built
# against the installed copy, and the Debian packages (built, lintian
# clean, installed, consumers built against them), the connection cases
# between two guests, then the Criterion suite: the normal build over
# Soft-iWARP (siw), then both builds over rxe (this host's device, or,
# where the kernel has no RDMA, a qemu guest booted by
# tests/harness/rxe-run for each); last, a smoke run of the benchmarks
# (scripts/bench.sh --smoke).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

# Each step says when it starts, in seconds since the run began, so that a
# CI log shows where its time goes (the whole run aims at 25 minutes).
step() { printf '\n== [%ds] %s\n' "$SECONDS" "$*"; }

step "dependencies"
scripts/install-deps.sh

step "build (warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

step "build with AddressSanitizer and UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVIPL_SANITIZE=ON \
	-DVIPL_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-asan -j "$jobs" --target vipl_tests

step "fuzz the connection wire parser (bounded)"
tests/fuzz/run.sh 30

step "install check"
tests/install/check.sh build build/install-check

step "Debian packages: build, lintian, install, consumers"
tests/packages/check.sh build/deb-check
# Installed into this machine for the suite below; purged when we leave.
trap 'tests/packages/check.sh --remove' EXIT

step "manual pages"
tests/man/check.sh build build/man-check

step "two hosts: connection cases across two guests, over rxe and siw"
tests/harness/two-host-conn.sh
RXE_RUN_TRANSPORT=siw tests/harness/two-host-conn.sh

# iWARP: the whole device suite of the normal build over Soft-iWARP, in a
# boot of its own; what cannot apply there skips, saying why (porting.md).
# The sanitizer build and valgrind run over rxe only, for time.
step "suite over siw (normal build)"
if ! tests/harness/rxe-run --transport siw --timeout 1500 -- \
	build/tests/vipl_tests --jobs 1 --short-filename 2>&1 |
	tee build/siw-suite.log; then
	# Said again last: a CI log is often read from its tail.
	echo "== what failed over siw"
	grep -E '^\[(FAIL|----)\]' build/siw-suite.log ||
		echo "(no failed test: the run itself failed)"
	exit 1
fi

step "suite over rxe"
export VIPL_INSTALL_BIN=$top/build/install-check/bin
export VIPL_DEB_BIN=$top/build/deb-check/bin
tests/harness/rxe-run --timeout 1500 -- tests/run-suite.sh build build-asan

# Benchmarks are not tests: this only shows that each one still builds and
# runs (once, at tiny sizes, in its own rxe boot); no time is asserted.
step "benchmarks, smoke run"
BENCH_NO_DEPS=1 scripts/bench.sh --smoke
