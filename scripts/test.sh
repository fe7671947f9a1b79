#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Installs what is missing (Debian 12 or 13), then runs every check and test of gst-strom:
# formatting, clippy (-D warnings), all Rust tests (release), shell lint, and the outside-in tests
# (gst-inspect-1.0, gst-launch-1.0 with the leaks tracer, Python GI). Exits non-zero on any failure.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$STROM_ROOT"

ensure_rust
ensure_packages "${STROM_BUILD_PACKAGES[@]}" "${STROM_RUNTIME_PACKAGES[@]}" "${STROM_TEST_PACKAGES[@]}"

failures=()
step() {
  local name="$1"; shift
  log "$name"
  local start=$SECONDS
  if "$@"; then
    log "$name: ok ($((SECONDS - start)) s)"
  else
    log "$name: FAILED ($((SECONDS - start)) s)"
    failures+=("$name")
  fi
}

step "cargo fmt --check" cargo fmt --all -- --check
# The plugin, strom-doctor and the examples, as users get them (the outside-in tests load these).
step "cargo build (release)" cargo build --release --lib --bins --examples
# The plugin alone, without strom-doctor (Cargo feature `doctor`), as a lean build would take it.
step "plugin without the doctor feature" cargo clippy --release --lib --no-default-features --quiet -- -D warnings
# `testing`: the test hooks some tests read (Cargo.toml); without it those tests are not built.
step "cargo clippy -D warnings" cargo clippy --release --all-targets --features testing --quiet -- -D warnings
# Tests that cannot run a check (no plugin, no GPU, not root) write "SKIP: <test>: <why>" to
# stderr, which libtest does not capture: they are counted and listed after cargo test, so that a
# skip is never read as a pass.
cargo_test() {
  local out rc=0 skips lines
  out="$(mktemp)"
  cargo test --release --all-targets --features testing --no-fail-fast 2>&1 | tee "$out" || rc=$?
  skips="$(grep -o 'SKIP: .*' "$out" | sed 's/^SKIP: //' || true)"
  rm -f "$out"
  if [ -n "$skips" ]; then
    mapfile -t lines <<<"$skips"
    log "cargo test: ${#lines[@]} skipped:"
    printf '    %s\n' "${lines[@]}"
  else
    log "cargo test: 0 skipped"
  fi
  return "$rc"
}
step "cargo test (release)" cargo_test
step "valgrind memcheck on the converter paths" tests/memcheck.sh
step "packaging (install scripts, Dockerfile, hadolint)" tests/packaging.sh
step "meson build, install, gst-inspect" tests/meson.sh
step "GPU bundle with the host GStreamer hidden" tests/bundle.sh
step "shellcheck" bash -c 'shellcheck -x scripts/*.sh tests/*.sh'
step "outside-in tests" tests/outside-in.sh "$STROM_PLUGIN_DIR"

if [ "${#failures[@]}" -gt 0 ]; then
  log "failed: ${failures[*]}"
  exit 1
fi
log "all checks passed"
