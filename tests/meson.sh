#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The meson build end to end: meson setup, compile, install --destdir into a temporary root, then
# gst-inspect-1.0 finds stromautoconvert in the installed plugin dir and the installed
# strom-doctor runs. Cargo reuses $CARGO_TARGET_DIR (default: this repository's target/) so the
# release build is not done twice; set STROM_MESON_OWN_TARGET=1 to build in the meson dir instead.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/harness.sh
source "$ROOT/tests/lib/harness.sh"
cd "$ROOT"

if [[ ${STROM_MESON_OWN_TARGET:-0} != 1 ]]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BUILD=$WORK/build
DESTDIR=$WORK/root

check "meson setup" meson setup "$BUILD" --prefix=/usr/local
check "meson compile" meson compile -C "$BUILD"
check "meson install --destdir" meson install -C "$BUILD" --destdir "$DESTDIR"

PLUGINSDIR=$(pkg-config --variable=pluginsdir gstreamer-1.0)
check "libgststrom.so installed into pkg-config's pluginsdir ($PLUGINSDIR)" test -f "$DESTDIR$PLUGINSDIR/libgststrom.so"
check "strom-doctor installed into bindir" test -x "$DESTDIR/usr/local/bin/strom-doctor"

# A registry of its own, so the host's cache neither helps nor hides anything.
inspect=$(GST_REGISTRY=$WORK/registry.bin gst-inspect-1.0 --gst-plugin-path="$DESTDIR$PLUGINSDIR" stromautoconvert 2>&1 || true)
expect_output "gst-inspect-1.0 finds stromautoconvert in the installed plugin" 'Filename +.*/root/.*/libgststrom\.so' "$inspect"
expect_output "the installed plugin is named strom" '^ +Name +strom$' "$inspect"

doctor_json=$("$DESTDIR/usr/local/bin/strom-doctor" --json 2>&1 || true)
expect_output "installed strom-doctor --json prints a tier" '"tier" *: *"(gpu-interop|software-convert-nvenc|software)"' "$doctor_json"

tests=$(meson test -C "$BUILD" --list 2>&1 || true)
expect_output "meson test lists the cargo test suite" 'cargo-test' "$tests"
check "meson test --suite quick (gst-inspect of the built plugin)" meson test -C "$BUILD" --suite quick --print-errorlogs

finish
