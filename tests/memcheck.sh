#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The converter paths under valgrind memcheck: the fast converter's and the buffer check's unit
# tests (random layouts included), then lying buffers through a short pipeline per element
# (tests/hostile.rs's child_lies). GStreamer, GLib and Mesa report their own noise (one-time
# allocations, uninitialised padding handed to the GL driver); an error fails this script only
# when a frame of its stack is ours (gststrom), and every other error is counted and listed.
# Run from scripts/test.sh; alone: tests/memcheck.sh. Measured on the shared 2-core machine (loaded
# by other builds): 100 s under valgrind (unit tests 4 s, each software pipeline 3-5 s, the GL one
# through llvmpipe 84 s), plus building the two test binaries when they are not built yet.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"
cd "$STROM_ROOT"

command -v valgrind >/dev/null || die "valgrind not found: apt-get install valgrind"
# The first line of each kind of memcheck error.
ERROR_START='^==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function)'
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# The test binary cargo builds for a target (its path is on the "Executable" line).
test_binary() {
  cargo test --release "$@" --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -n 1
}

# The errors of valgrind log $1 with a gststrom:: frame, each headed "==pid== ERROR".
errors_in_our_code() {
  awk -v start="$ERROR_START" '
    $0 ~ start { block = $0; next }
    /^==[0-9]+== $/ { if (block ~ /gststrom::/) print "==0== ERROR\n" block "\n"; block = ""; next }
    block != "" { block = block "\n" $0 }' "$1"
}

# Runs "$@" under memcheck into log $1; fails on an error with one of our frames in its stack.
memcheck() {
  local name="$1"; shift
  local log="$logs/$name.log"
  local start=$SECONDS
  valgrind --tool=memcheck --error-exitcode=0 --leak-check=no --num-callers=40 \
    --suppressions=/usr/share/glib-2.0/valgrind/glib.supp \
    --suppressions=tests/valgrind/gstreamer.supp \
    --log-file="$log" "$@" >"$logs/$name.out" 2>&1 || {
    tail -n 40 "$logs/$name.out"; die "$name failed under valgrind (the test itself, not memcheck)"
  }
  # One error per paragraph of the log, from its first line ("==pid== Invalid read ...") to the
  # blank "==pid== " line; ours when a frame is a gststrom:: function.
  local ours others
  ours=$(errors_in_our_code "$log" | grep -c '^==[0-9]*== ERROR' || true)
  others=$(grep -Ec "$ERROR_START" "$log" || true)
  log "$name: $((SECONDS - start)) s under memcheck, $ours error(s) in our code, $others in all"
  if [ "$ours" -gt 0 ]; then
    errors_in_our_code "$log"
    die "$name: memcheck found errors in gststrom"
  fi
}

unit="$(test_binary --lib)"
[ -x "$unit" ] || die "no unit test binary"
memcheck unit "$unit" framecheck:: convert::frame::tests::every_layout convert::planes \
  convert::packed convert::rgb --test-threads=1

hostile="$(test_binary --test hostile)"
[ -x "$hostile" ] || die "no tests/hostile.rs binary"
for element in "stromautoconvert mode=software" "stromautoconvertscale mode=software" \
  "stromcompositor mode=software" "stromautoconvert mode=gl"; do
  STROM_TEST_CHILD=1 STROM_HOSTILE_ELEMENT="$element" \
    memcheck "${element// /-}" "$hostile" child_lies --exact --ignored --test-threads=1
done
log "memcheck: no error in gststrom"
