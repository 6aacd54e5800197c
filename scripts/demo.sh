#!/usr/bin/env bash
# scripts/demo.sh - the main job: build libvipl and run the VIPL ping-pong
# example between two processes over a real rxe device (this host's, or a
# qemu guest's where the kernel has no RDMA), next to perftest's
# ib_send_lat on the same device.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target pingpong
tests/harness/rxe-run --timeout 900 -- examples/run-pingpong.sh build
