#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# meson.build's bridge to cargo.
#   meson-cargo.sh build OUTDIR SOURCE_ROOT DEFAULT_TARGET_DIR [OPTION_TARGET_DIR]
#     cargo build --release, then copies libgststrom.so and strom-doctor into OUTDIR
#   meson-cargo.sh test  OUTDIR SOURCE_ROOT DEFAULT_TARGET_DIR [OPTION_TARGET_DIR]
#     cargo test (the crate's unit and integration tests)
# The target dir is OPTION_TARGET_DIR (-Dcargo-target-dir), else $CARGO_TARGET_DIR, else
# DEFAULT_TARGET_DIR, so an existing target/ can be reused instead of a second full build.
set -euo pipefail

[[ $# -ge 4 ]] || {
    echo "usage: $0 build|test OUTDIR SOURCE_ROOT DEFAULT_TARGET_DIR [OPTION_TARGET_DIR]" >&2
    exit 2
}
mode=$1 outdir=$2 source_root=$3 default_target_dir=$4 option_target_dir=${5:-}
outdir=$(cd "$outdir" && pwd)
target_dir=${option_target_dir:-${CARGO_TARGET_DIR:-$default_target_dir}}
cd "$source_root"

case $mode in
build)
    cargo build --release --lib --bins --target-dir "$target_dir"
    for artifact in libgststrom.so strom-doctor; do
        # Copy only when changed, so ninja sees no new output after a no-op cargo run.
        if ! cmp -s "$target_dir/release/$artifact" "$outdir/$artifact"; then
            cp -p "$target_dir/release/$artifact" "$outdir/$artifact"
        fi
    done
    ;;
test) cargo test --features testing --target-dir "$target_dir" ;;
*)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
