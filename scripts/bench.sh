#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Benchmarks stromautoconvert against videoconvert (1 thread and one per core), autovideoconvert
# and, for scaling, videoconvertscale, in one run: throughput, CPU per frame for the capture
# formats (UYVY/YUY2/NV12/BGRx/BGRA/RGBA/RGBx into I420/NV12, 1080p and 2160p, net of the
# source, against a memcpy floor), stromautoconvertscale against videoconvertscale (1080p I420
# into 720p and 480p NV12, same threads and one thread), start-up cost, the interop test's time,
# stromgpumonitor overhead, peak memory, a hand-written I420->NV12 converter, and
# stromcompositor against compositor and glvideomixer (4 x 1080p -> 1080p).
# Builds the harness (examples/bench) in release mode and runs it; prints Markdown, or JSON
# with --json.
#
# Usage: scripts/bench.sh [--quick] [--json] [--reps N]
#          [--only throughput,cpu,scaling,monitor,startup,rss,direct,compositor] [--cases SUBSTRING,...]
#   --quick   tiny frame counts and one repetition: a smoke run, the numbers mean nothing
#   --json    machine-readable output on stdout (progress goes to stderr)
#   --cases   only the cases whose id contains one of these (e.g. uyvy-i420,720p)
#        scripts/bench.sh --scaling [--reps N] [--frames N] [--only ladder,pictures,mosaic]
#   the "Scaling and mixing" table of BENCHMARKS.md (scripts/bench_scaling.py)
# Other processes on the machine skew the numbers: the load average is recorded with them.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$STROM_ROOT"

ensure_rust
# Scaling and mixing (issue #28): stromautoconvertscale's fast scaler and stromcompositor against
# videoconvertscale n-threads=1 / compositor, CPU per frame, wall, pictures, floor (Markdown).
if [[ "${1:-}" == "--scaling" ]]; then
  shift
  log "building the plugin (release)" >&2
  cargo build --release --quiet --lib
  GST_PLUGIN_PATH="$STROM_TARGET_DIR/release" exec python3 scripts/bench_scaling.py "$@"
fi
log "building the benchmark harness (release)" >&2
cargo build --release --quiet --example bench
export STROM_BENCH_COMMAND="scripts/bench.sh${*:+ $*}"
exec "$STROM_TARGET_DIR/release/examples/bench" "$@"
