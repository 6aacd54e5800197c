#!/usr/bin/env bash
# scripts/test.sh - the whole test suite, from a fresh clone.
#
# Installs what is missing, builds libvipl twice (a normal build and one
# with AddressSanitizer + UBSan), checks `cmake --install`, the manual
# pages (every function has one, each renders cleanly), programs built
# against the installed copy, and the Debian packages (built, lintian
# clean, installed, consumers built against them), then runs the Criterion suite of both
# builds over a real rxe device: this host's, or, where the kernel has no
# RDMA, one qemu guest booted by tests/harness/rxe-run for the whole run;
# last, a smoke run of the benchmarks (scripts/bench.sh --smoke).
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

step "two hosts: connection cases across two guests"
tests/harness/two-host-conn.sh

# iWARP (issue 13, under way): the tests of the data path, immediate
# data, errors, hostile peers and the examples, over Soft-iWARP. What
# differs there skips, saying why; the connection-timing tests do not pass
# over siw yet (porting.md). One boot, its own.
step "over siw: the data path, RDMA, errors, hostile peers, examples"
tests/harness/rxe-run --transport siw --timeout 900 -- \
	build/tests/vipl_tests --jobs 1 \
	--filter '@(data|rdma|recv_length|compat|examples|hostile|errors|cache)/*'

step "suite over rxe"
export VIPL_INSTALL_BIN=$top/build/install-check/bin
export VIPL_DEB_BIN=$top/build/deb-check/bin
tests/harness/rxe-run --timeout 1500 -- tests/run-suite.sh build build-asan

# Benchmarks are not tests: this only shows that each one still builds and
# runs (once, at tiny sizes, in its own rxe boot); no time is asserted.
step "benchmarks, smoke run"
BENCH_NO_DEPS=1 scripts/bench.sh --smoke
