#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Builds bundle/: a relocatable folder with the release libgststrom.so, strom-doctor, the
# GStreamer tools, libraries and plugins the GPU validation needs, their shared-library closure,
# and run.sh, which runs a command against this GStreamer only. Made for machines that have an
# NVIDIA driver but no GStreamer (the device machine); see docs/gpu-validation.md.
#
# Left out on purpose, because the host must provide its own: what the NVIDIA driver installs
# (libcuda, libnvidia-*, libEGL_nvidia, libnvcuvid), the GLVND loaders that pick the driver's GL
# (libEGL, libGL, libGLX, libGLdispatch, libOpenGL, libGLES*), glibc's core libraries, and the
# C++/GCC runtimes (libstdc++, libgcc_s): every host has them, newer ones are backward
# compatible, and an older bundled copy loaded first would break host libraries needing newer.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/gpu-bundle.sh [--no-build] [--out DIR] [--help]

  --no-build  use the existing release build ($CARGO_TARGET_DIR or target/) instead of running
              cargo build --release
  --out DIR   where to build the bundle (default: bundle/ in the repository; replaced)
USAGE
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR=$ROOT/bundle
BUILD=1
while [[ $# -gt 0 ]]; do
    case $1 in
    --no-build) BUILD=0 ;;
    --out)
        [[ $# -ge 2 ]] || { echo "--out needs a directory" >&2; exit 2; }
        OUT_DIR=$2
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "unknown option: $1 (see --help)" >&2
        exit 2
        ;;
    esac
    shift
done

MAX_BYTES=$((60 * 1024 * 1024))
# x264 (the software encoder of the fallback tiers) is included while it stays this small.
X264_MAX_BYTES=$((4 * 1024 * 1024))
PLUGINS=(coreelements app videotestsrc videoconvertscale opengl nvcodec debugutilsbad compositor videoparsersbad)
# Never bundled: provided by the NVIDIA driver, GLVND (chooses the driver's GL), glibc or GCC.
EXCLUDED='^(libcuda\.so|libnvidia-|libnvcuvid|libEGL_nvidia|libGLX_nvidia|libEGL\.so|libGL\.so|libGLX\.so|libGLdispatch\.so|libOpenGL\.so|libGLESv[12]|libstdc\+\+\.so|libgcc_s\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|ld-linux|linux-vdso)'

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PLUGINSDIR=$(pkg-config --variable=pluginsdir gstreamer-1.0)
SCANNER=$(pkg-config --variable=pluginscannerdir gstreamer-1.0)/gst-plugin-scanner

build_release() {
    if [[ $BUILD -eq 1 ]]; then
        (cd "$ROOT" && cargo build --release --lib --bins)
    fi
    local artifact
    for artifact in libgststrom.so strom-doctor; do
        [[ -f $TARGET_DIR/release/$artifact ]] || {
            echo "missing $TARGET_DIR/release/$artifact: run cargo build --release first" >&2
            exit 1
        }
    done
}

copy_payload() {
    rm -rf "$OUT_DIR"
    mkdir -p "$OUT_DIR"/{bin,lib,plugins,libexec,gio-modules}
    cp -L "$(command -v gst-launch-1.0)" "$(command -v gst-inspect-1.0)" "$OUT_DIR/bin/"
    cp -L "$TARGET_DIR/release/strom-doctor" "$OUT_DIR/bin/"
    cp -L "$SCANNER" "$OUT_DIR/libexec/"
    cp -L "$TARGET_DIR/release/libgststrom.so" "$OUT_DIR/plugins/"
    local plugin
    for plugin in "${PLUGINS[@]}"; do
        cp -L "$PLUGINSDIR/libgst$plugin.so" "$OUT_DIR/plugins/"
    done
    cp "$ROOT/scripts/gpu-validate.sh" "$OUT_DIR/"
}

add_x264_if_small() {
    local size
    size=$(ldd "$PLUGINSDIR/libgstx264.so" | awk '/libx264/ {print $3}' | xargs stat -L -c %s)
    size=$((size + $(stat -L -c %s "$PLUGINSDIR/libgstx264.so")))
    if [[ $size -le $X264_MAX_BYTES ]]; then
        cp -L "$PLUGINSDIR/libgstx264.so" "$OUT_DIR/plugins/"
        echo "x264 included ($((size / 1024)) KiB)"
    else
        echo "x264 left out: $((size / 1024)) KiB is over $((X264_MAX_BYTES / 1024)) KiB"
    fi
}

# Copies the shared-library closure of every ELF file in the bundle into lib/, breadth first.
copy_library_closure() {
    local queue=() seen=" " file name path
    while IFS= read -r -d '' file; do queue+=("$file"); done < <(find "$OUT_DIR/bin" "$OUT_DIR/libexec" "$OUT_DIR/plugins" -type f -print0)
    while [[ ${#queue[@]} -gt 0 ]]; do
        file=${queue[0]}
        queue=("${queue[@]:1}")
        while read -r name path; do
            [[ $name =~ $EXCLUDED ]] && continue
            [[ $seen == *" $name "* ]] && continue
            seen+="$name "
            if [[ $path == "not" || ! -f $path ]]; then
                echo "unresolved dependency $name of $file" >&2
                exit 1
            fi
            cp -L "$path" "$OUT_DIR/lib/$name"
            queue+=("$OUT_DIR/lib/$name")
        done < <(ldd "$file" | awk '$2 == "=>" {print $1, $3}')
    done
}

write_run_sh() {
    cat >"$OUT_DIR/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs a command with this bundle's GStreamer and nothing from the host's: its libraries first
# on LD_LIBRARY_PATH (the host's path stays behind them for the NVIDIA driver), its plugins
# only, its plugin scanner, and a fresh registry in a temporary directory.
# Usage: run.sh COMMAND [ARGS...]      e.g. run.sh gst-inspect-1.0 strom
set -euo pipefail
BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -gt 0 ]] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
REGISTRY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gst-strom-bundle.XXXXXX")
trap 'rm -rf "$REGISTRY_DIR"' EXIT
export STROM_BUNDLE=$BUNDLE
export PATH=$BUNDLE/bin:$PATH
export LD_LIBRARY_PATH=$BUNDLE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export GST_PLUGIN_SYSTEM_PATH_1_0=$BUNDLE/plugins
export GST_PLUGIN_SYSTEM_PATH=$BUNDLE/plugins
export GST_PLUGIN_PATH_1_0=$BUNDLE/plugins
export GST_PLUGIN_PATH=$BUNDLE/plugins
export GST_PLUGIN_SCANNER_1_0=$BUNDLE/libexec/gst-plugin-scanner
export GST_PLUGIN_SCANNER=$BUNDLE/libexec/gst-plugin-scanner
export GST_REGISTRY_1_0=$REGISTRY_DIR/registry.bin
export GST_REGISTRY=$REGISTRY_DIR/registry.bin
# GIO would otherwise load the host's modules, built against the host's GLib.
export GIO_MODULE_DIR=$BUNDLE/gio-modules
"$@"
RUN
    chmod +x "$OUT_DIR/run.sh"
}

# What is inside and where it came from, and the newest glibc symbol version it needs (glibc is
# the host's, so a host older than that cannot run the bundle).
write_manifest() {
    local file source_pkg glibc
    if command -v objdump >/dev/null; then
        glibc=$(find "$OUT_DIR" -type f \( -name '*.so*' -o -path '*/bin/*' -o -path '*/libexec/*' \) -exec objdump -T {} + 2>/dev/null |
            grep -oE 'GLIBC_2\.[0-9]+(\.[0-9]+)?' | sort -uV | tail -n 1)
    else
        glibc="unknown (install binutils for objdump)"
    fi
    {
        echo "gst-strom GPU bundle"
        echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
        echo "gst-strom commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        echo "gstreamer: $(gst-launch-1.0 --version | sed -n 's/^GStreamer //p')"
        echo "glibc needed: ${glibc#GLIBC_} or newer (host provides glibc)"
        echo "size: $(du -sb "$OUT_DIR" | cut -f1) bytes"
        echo "files:"
        (cd "$OUT_DIR" && find . -type f ! -name MANIFEST | sort) | while read -r file; do
            source_pkg=""
            case $file in
            ./lib/* | ./plugins/* | ./bin/gst-* | ./libexec/*)
                source_pkg=$(dpkg -S "$(basename "$file")" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
                ;;
            esac
            echo "  $file${source_pkg:+ ($source_pkg $(dpkg-query -W -f='${Version}' "$source_pkg" 2>/dev/null || true))}"
        done
    } >"$OUT_DIR/MANIFEST"
}

check_size() {
    local bytes
    bytes=$(du -sb "$OUT_DIR" | cut -f1)
    echo "bundle: $OUT_DIR, $((bytes / 1024 / 1024)) MiB ($bytes bytes), $(find "$OUT_DIR" -type f | wc -l) files"
    if [[ $bytes -gt $MAX_BYTES ]]; then
        echo "bundle is over $((MAX_BYTES / 1024 / 1024)) MiB" >&2
        exit 1
    fi
}

build_release
copy_payload
add_x264_if_small
copy_library_closure
write_run_sh
write_manifest
check_size
