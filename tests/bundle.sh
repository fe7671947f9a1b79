#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Builds the GPU bundle (scripts/gpu-bundle.sh) into a temporary folder and runs it with this
# machine's GStreamer hidden: in a private mount namespace the system plugin dirs are emptied and
# every host libgst*, gst-* tool and host copy of a bundled library is replaced by /dev/null, so a
# library missing from the bundle fails here rather than on the GPU machine (which has no
# GStreamer). Then gpu-validate.sh runs there with a few frames and its log is checked.
# Set STROM_BUNDLE_NO_BUILD=1 to skip `cargo build --release` (use the existing build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/harness.sh
source "$ROOT/tests/lib/harness.sh"
cd "$ROOT"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BUNDLE=$WORK/moved/bundle

build_args=(--out "$WORK/bundle")
[[ ${STROM_BUNDLE_NO_BUILD:-0} == 1 ]] && build_args+=(--no-build)
if out=$(scripts/gpu-bundle.sh "${build_args[@]}" 2>&1); then
    pass "gpu-bundle.sh builds the bundle ($(grep -o '[0-9]* MiB ([0-9]* bytes), [0-9]* files' <<<"$out"))"
else
    fail "gpu-bundle.sh builds the bundle" "$out"
    finish
    exit 1
fi
# Relocatable: everything below runs from another path than the one it was built at.
mkdir -p "$WORK/moved"
mv "$WORK/bundle" "$BUNDLE"

bytes=$(du -sb "$BUNDLE" | cut -f1)
check "bundle is at most 60 MiB ($((bytes / 1024 / 1024)) MiB)" test "$bytes" -le $((60 * 1024 * 1024))
for f in run.sh bin/gst-launch-1.0 bin/gst-inspect-1.0 bin/strom-doctor libexec/gst-plugin-scanner \
    plugins/libgststrom.so plugins/libgstcoreelements.so plugins/libgstvideotestsrc.so \
    plugins/libgstvideoconvertscale.so plugins/libgstopengl.so plugins/libgstnvcodec.so plugins/libgstapp.so \
    gpu-validate.sh MANIFEST; do
    check "bundle has $f" test -e "$BUNDLE/$f"
done
leaked=$(find "$BUNDLE/lib" -type f | grep -E '/(libcuda|libnvidia-|libEGL_nvidia|libEGL\.so|libGL\.so|libGLX|libGLdispatch|libOpenGL|libc\.so|libm\.so|ld-linux)' || true)
expect_output "bundle leaves out driver, GLVND and glibc libraries" '^$' "$leaked"

# mount itself needs libraries the bundle also carries (libblkid, libmount, ...): it runs with
# copies of them, so hiding the host's copies does not break the mounts that follow.
MOUNT_LIBS=$WORK/mount-libs
mkdir -p "$MOUNT_LIBS"
ldd "$(command -v mount)" | awk '$2 == "=>" {print $3}' | xargs -r cp -L -t "$MOUNT_LIBS"

# Every host library the host's GStreamer tools and the bundled plugins' host originals need,
# worked out here from the host (not from the bundle, so a library the bundle forgot is hidden
# too), less what the bundle deliberately leaves to the host (driver, GLVND, glibc, GCC runtime).
HOST_CLOSURE=$WORK/host-closure
PLUGINSDIR=$(pkg-config --variable=pluginsdir gstreamer-1.0)
for f in "$BUNDLE"/plugins/*.so; do
    [[ -f $PLUGINSDIR/$(basename "$f") ]] && printf '%s\n' "$PLUGINSDIR/$(basename "$f")"
done | xargs ldd "$(command -v gst-launch-1.0)" "$(command -v gst-inspect-1.0)" "$BUNDLE/plugins/libgststrom.so" 2>/dev/null |
    awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' |
    grep -vE '^(libcuda|libnvidia-|libEGL|libGL|libOpenGL|libstdc\+\+|libgcc_s|libc\.so|libm\.so|libdl\.so|libpthread|librt\.so|ld-linux)' |
    awk '{print $2}' | sort -u >"$HOST_CLOSURE"
pass "host libraries to hide: $(wc -l <"$HOST_CLOSURE")"

# The commands run inside the namespace, after the host's GStreamer is hidden.
hide_host_gstreamer() {
    local path
    mount() { LD_LIBRARY_PATH=$MOUNT_LIBS command mount "$@"; }
    for path in /usr/lib/x86_64-linux-gnu/gstreamer-1.0 /usr/lib/x86_64-linux-gnu/gstreamer1.0; do
        [[ -d $path ]] && mount -t tmpfs tmpfs "$path"
    done
    for path in /usr/bin/gst-* /usr/lib/x86_64-linux-gnu/libgst*.so*; do
        [[ -f $path ]] && mount --bind /dev/null "$path"
    done
    while read -r path; do
        [[ -f $path ]] && mount --bind /dev/null "$path"
    done <"$HOST_CLOSURE"
    return 0
}

in_hidden_namespace() {
    unshare --mount --propagation private bash -c "$(declare -f hide_host_gstreamer); BUNDLE=$BUNDLE MOUNT_LIBS=$MOUNT_LIBS HOST_CLOSURE=$HOST_CLOSURE; hide_host_gstreamer && \"\$@\"" hidden "$@"
}

if ! unshare --mount --propagation private true 2>/dev/null; then
    skip "bundle runs with the host GStreamer hidden" "unshare --mount is not permitted here (needs root or CAP_SYS_ADMIN)"
    finish
    exit $?
fi

# shellcheck disable=SC2016 # expanded inside the namespace
check "host GStreamer is hidden in the namespace" in_hidden_namespace bash -c \
    '! /usr/bin/gst-inspect-1.0 --version >/dev/null 2>&1 && [[ -z $(ls /usr/lib/x86_64-linux-gnu/gstreamer-1.0) ]]'

PLUGINS=(strom coreelements videotestsrc videoconvertscale opengl nvcodec app debugutilsbad compositor videoparsersbad)
# shellcheck disable=SC2016 # expanded by the inner shell
inspect=$(in_hidden_namespace "$BUNDLE/run.sh" bash -c 'gst-inspect-1.0; for p in "$@"; do gst-inspect-1.0 "$p"; done' \
    inspect "${PLUGINS[@]}" 2>&1 || true)
for plugin in "${PLUGINS[@]}"; do
    expect_output "hidden host: plugin $plugin loads from the bundle" "Filename +$BUNDLE/plugins/libgst$plugin.so" "$inspect"
done
expect_output "hidden host: stromautoconvert registered" '^strom: +stromautoconvert' "$inspect"
refute_output "hidden host: no plugin failed to load" 'Failed to load plugin|BLACKLIST|cannot open shared object|error while loading' "$inspect"
registries_before=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'gst-strom-bundle.*' | wc -l)

LOG=$WORK/gpu-validation.log
check "hidden host: gpu-validate.sh runs to the end" in_hidden_namespace "$BUNDLE/run.sh" "$BUNDLE/gpu-validate.sh" --frames 3 --log "$LOG"
log=$(cat "$LOG" 2>/dev/null || true)
expect_output "log: strom-doctor --json gives a tier" '"tier" *: *"(gpu-interop|software-convert-nvenc|software)"' "$log"
expect_output "log: GL context through egl-device (GL_RENDERER)" '^GL_RENDERER: ' "$log"
expect_output "log: stromautoconvert posts its decision for a GL+system consumer" \
    "^stromautoconvert for 'video/x-raw\(memory:GLMemory\),format=NV12;video/x-raw,format=NV12': strom-autoconvert, path=" "$log"
expect_output "log: per-device interop section recorded (no GPU here)" \
    '^per-device interop: skipped \(no NVIDIA GPU\)|^device 0, ' "$log"
expect_output "log: nvcodec elements listed" '^nvcodec present: ' "$log"
expect_output "log: stromgpumonitor step recorded" '^stromgpumonitor: ' "$log"
expect_output "log: stromautoconvertscale decision recorded" '^stromautoconvertscale 1080p -> 720p: strom-autoconvert, path=' "$log"
# Auto mixing follows the GL renderer: software on a CPU rasteriser (llvmpipe without a GPU); on
# a hardware renderer the reason says it is a GPU (gpu-validate.sh's mosaic neither scales nor
# blends, so software there too, by cost).
if grep -E '^GL_RENDERER: ' <<<"$log" | grep -qvE 'llvmpipe|softpipe|swrast|[Ss]oftware [Rr]asterizer'; then
    expect_output "log: stromcompositor decision recorded (on a GPU renderer, named)" \
        '^stromcompositor \(auto\): strom-compositor, path=\(string\)(gl|software), reason=\(string\)"the\\ GL\\ renderer\\ .*is\\ a\\ GPU' "$log"
else
    expect_output "log: stromcompositor decision recorded (software on llvmpipe)" \
        '^stromcompositor \(auto\): strom-compositor, path=\(string\)software' "$log"
fi
expect_output "log: stromautoenc step recorded" '^stromautoenc \(auto\): (strom-autoenc, encoder=|no decision)' "$log"
for size in 1920x1080 3840x2160; do
    expect_output "log: $size GL-path conversion measured" "^$size glupload ! glcolorconvert x2 +3 frames .* fps$" "$log"
    expect_output "log: $size stromautoconvert mode=gl measured" "^$size stromautoconvert mode=gl +3 frames .* fps$" "$log"
done
refute_output "log: no step failed" 'FAILED exit' "$log"
refute_output "log: no missing library" 'cannot open shared object file: No such file or directory.*libgst' "$log"
registries_after=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'gst-strom-bundle.*' | wc -l)
check "run.sh removes its temporary registry" test "$registries_after" -le "$registries_before"

finish
