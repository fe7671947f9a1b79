#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# GPU validation kit: records, in one log, what gst-strom does on this machine's GPU: the host's
# driver libraries, strom-doctor --json, CUDA-GL interop through stromautoconvert with
# egl-device GL (GL_VENDOR, GL_RENDERER, interop result, path chosen), the verdict per CUDA device
# against nvcodec's own consumers (cudaupload, nvh264enc), the nvcodec elements,
# stromgpumonitor messages for 3 s and GL-path conversion speed at 1080p and 2160p.
# Runs inside the bundle from scripts/gpu-bundle.sh (it re-runs itself through bundle/run.sh).
# It never stops at a failing step: each step's output and exit code go to the log.
set -uo pipefail

usage() {
    cat <<'USAGE'
Usage: gpu-validate.sh [--log FILE] [--frames N] [--bundle DIR] [--help]

  --log FILE    the log to write (default: gpu-validation.log in the current directory)
  --frames N    frames per throughput run (default 300)
  --bundle DIR  the bundle to run in (default: the folder of this script when it holds run.sh,
                else bundle/ of the repository)
USAGE
}

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
LOG=$PWD/gpu-validation.log
FRAMES=300
BUNDLE_DIR=""
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case $1 in
    --log) LOG=$2; shift ;;
    --frames) FRAMES=$2; shift ;;
    --bundle) BUNDLE_DIR=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [[ -z ${STROM_BUNDLE:-} ]]; then
    if [[ -z $BUNDLE_DIR ]]; then
        BUNDLE_DIR=$(dirname "$SELF")
        [[ -x $BUNDLE_DIR/run.sh ]] || BUNDLE_DIR=$(dirname "$SELF")/../bundle
    fi
    [[ -x $BUNDLE_DIR/run.sh ]] || { echo "no bundle at $BUNDLE_DIR: run scripts/gpu-bundle.sh first" >&2; exit 2; }
    exec "$BUNDLE_DIR/run.sh" "$SELF" "${ARGS[@]}"
fi

mkdir -p "$(dirname "$LOG")"
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1

STEP_TIMEOUT=180
HEADLESS_GL=(GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl)
SUMMARY=()

section() { printf '\n===== %s =====\n' "$*"; }

# Runs one step with a time limit and records the command and its exit code.
step() {
    printf '$ %s\n' "$*"
    timeout -k 5 "$STEP_TIMEOUT" "$@"
    local rc=$?
    printf '[exit %d]\n' "$rc"
    return "$rc"
}

find_library() {
    local name=$1 dir
    local IFS=:
    for dir in ${LD_LIBRARY_PATH:-}; do
        [[ -e $dir/$name ]] && { printf '%s\n' "$dir/$name"; return 0; }
    done
    ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n {print $NF; found=1; exit} END {exit !found}'
}

host_section() {
    section "host"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel: $(uname -srm)"
    echo "os: $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")"
    echo "host glibc: $(ldd --version 2>/dev/null | head -n 1)"
    sed -n 's/^\(glibc needed\|gstreamer\|gst-strom commit\|built\): /bundle \1: /p' "$STROM_BUNDLE/MANIFEST"
    echo "environment:"
    env | grep -E '^(GST_GL_|NVIDIA_|CUDA_|__EGL_|__GLX_|LD_LIBRARY_PATH=|DISPLAY=|WAYLAND_DISPLAY=)' | sed 's/^/  /'
    if command -v nvidia-smi >/dev/null; then
        step nvidia-smi
        step nvidia-smi --query-gpu=name,driver_version,pci.bus_id,memory.total --format=csv
    else
        echo "nvidia-smi: not on PATH"
    fi
    echo "driver and GL libraries (host-provided, not in the bundle):"
    local lib path
    for lib in libcuda.so.1 libnvidia-ml.so.1 libnvidia-encode.so.1 libnvcuvid.so.1 libEGL_nvidia.so.0 \
        libEGL.so.1 libGL.so.1 libGLdispatch.so.0 libnvrtc.so; do
        if path=$(find_library "$lib"); then echo "  $lib: $path"; else echo "  $lib: NOT FOUND"; fi
    done
    echo "EGL vendor files:"
    local dir
    for dir in /usr/share/glvnd/egl_vendor.d /etc/glvnd/egl_vendor.d /usr/local/nvidia/share/glvnd/egl_vendor.d; do
        [[ -d $dir ]] && find "$dir" -maxdepth 1 -type f -printf '  %p\n' -exec sed 's/^/    /' {} \;
    done
    use_nvrtc_if_found
}

# nvcodec registers cudaconvert/cudascale only when CUDA's runtime compiler loads; CUDA images
# often carry it outside the loader's path (a CUDA toolkit dir, Python's nvidia-cuda-nvrtc wheel).
use_nvrtc_if_found() {
    find_library libnvrtc.so >/dev/null && return
    local found
    found=$(timeout 30 find /usr/local /opt /usr/lib -name 'libnvrtc.so*' ! -name '*builtins*' 2>/dev/null | sort | head -n 1)
    if [[ -n $found ]]; then
        echo "libnvrtc found at $found: adding $(dirname "$found") to LD_LIBRARY_PATH for the GStreamer steps"
        LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$(dirname "$found")
        export LD_LIBRARY_PATH
    else
        echo "libnvrtc not found anywhere under /usr/local /opt /usr/lib: cudaconvert/cudascale will be missing"
    fi
}

doctor_section() {
    section "strom-doctor --json"
    local json rc
    json=$(timeout -k 5 60 strom-doctor --json 2>&1)
    rc=$?
    echo "$json"
    echo "[exit $rc]"
    SUMMARY+=("strom-doctor tier: $(grep -oE '"tier" *: *"[a-z-]+"' <<<"$json" | head -n 1 | sed 's/.*: *//')")
    section "strom-doctor (table)"
    step strom-doctor
}

gl_section() {
    section "GL context through GStreamer (GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl)"
    local out info
    out=$(step env "${HEADLESS_GL[@]}" GST_DEBUG=glcontext:4,2 GST_DEBUG_NO_COLOR=1 gst-launch-1.0 -q \
        videotestsrc num-buffers=1 ! glupload ! fakesink 2>&1)
    info=$(grep -oE 'GL_(VENDOR|RENDERER|VERSION): .*' <<<"$out" | sort -u)
    echo "${info:-no GL context: $out}"
    SUMMARY+=("GL: $(tr '\n' ';' <<<"${info:-NO GL CONTEXT}")")
}

interop_section() {
    section "CUDA-GL interop through stromautoconvert (GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl)"
    local caps out decision paths
    for caps in 'video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12' 'video/x-raw,format=NV12'; do
        echo "-- consumer accepts: $caps"
        # cuda-check-interval=1: the mid-stream CUDA check (cuGLGetDevices in the GL thread) runs
        # on nearly every frame, so a check that trips on a healthy driver shows as a second
        # decision (path software) and a warning.
        out=$(step env "${HEADLESS_GL[@]}" GST_DEBUG="${GST_DEBUG:-2}" gst-launch-1.0 -m \
            videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=1280,height=720 \
            ! stromautoconvert name=convert cuda-check-interval=1 ! "$caps" ! fakesink 2>&1)
        # The decision, warnings and errors; the state-change chatter of -m is left out.
        grep -vE '\((state-changed|stream-status|latency|new-clock|async-done|stream-start)\)' <<<"$out"
        decision=$(grep -o 'strom-autoconvert, .*' <<<"$out" | head -n 1)
        paths=$(grep -oE 'strom-autoconvert, path=\(string\)[a-z]+' <<<"$out" | sed 's/.*)//' | paste -sd' ' -)
        SUMMARY+=("stromautoconvert for '$caps': ${decision:-NO strom-autoconvert MESSAGE}")
        SUMMARY+=("  paths over 30 frames, CUDA checked every ms: ${paths:-none}")
    done
}

# The verdict per CUDA device, judged by real nvcodec consumers: cudaupload with cuda-device-id N
# (it maps GL memory through CUDA itself, and needs no NVENC), and nvh264enc / nvh264device<N>enc
# where NVENC exists. Each run shows the device tested, the devices behind GL, and every path the
# bin took (a refusal of the first GL frames reads "gl software").
per_device_section() {
    section "interop verdict per CUDA device (GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl)"
    local count n consumer out decision paths
    count=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
    echo "CUDA devices (nvidia-smi -L): $count"
    if [[ $count -eq 0 ]]; then
        echo "no NVIDIA GPU: skipped"
        SUMMARY+=("per-device interop: skipped (no NVIDIA GPU)")
        return
    fi
    for ((n = 0; n < count; n++)); do
        for consumer in "cudaupload cuda-device-id=$n ! cudadownload" "nvh264enc" "nvh264device${n}enc"; do
            [[ $consumer == nvh264enc && $n -ne 0 ]] && continue
            [[ $consumer == nvh264device0enc ]] && continue
            if ! gst-inspect-1.0 --exists "${consumer%% *}"; then
                SUMMARY+=("device $n, ${consumer%% *}: not registered")
                continue
            fi
            echo "-- device $n, consumer: $consumer"
            # shellcheck disable=SC2086 # the consumer is a gst-launch fragment
            out=$(step env "${HEADLESS_GL[@]}" GST_DEBUG="${GST_DEBUG:-2}" gst-launch-1.0 -m \
                videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=1280,height=720 \
                ! stromautoconvert cuda-check-interval=1 ! $consumer ! fakesink 2>&1)
            grep -E 'strom-autoconvert|WARNING|ERROR' <<<"$out"
            decision=$(grep -o 'strom-autoconvert, .*' <<<"$out" | head -n 1)
            paths=$(grep -oE 'strom-autoconvert, path=\(string\)[a-z]+' <<<"$out" | sed 's/.*)//' | paste -sd' ' -)
            SUMMARY+=("device $n, ${consumer%% *}: paths ${paths:-none}; ${decision:-NO strom-autoconvert MESSAGE}")
        done
    done
}

nvcodec_section() {
    section "nvcodec elements"
    step gst-inspect-1.0 nvcodec
    local element present=() absent=()
    for element in cudaupload cudadownload cudaconvert cudascale nvh264enc nvh265enc nvav1enc nvh264dec; do
        if gst-inspect-1.0 --exists "$element"; then present+=("$element"); else absent+=("$element"); fi
    done
    echo "present: ${present[*]:-none}"
    echo "absent: ${absent[*]:-none}"
    SUMMARY+=("nvcodec present: ${present[*]:-none}; absent: ${absent[*]:-none}")
}

gpumonitor_section() {
    section "stromgpumonitor messages for 3 s"
    if ! gst-inspect-1.0 --exists stromgpumonitor; then
        echo "stromgpumonitor is not in this build of the plugin: skipped"
        SUMMARY+=("stromgpumonitor: not in this build")
        return
    fi
    local out count
    out=$(timeout -k 5 -s INT 3 gst-launch-1.0 -e -m videotestsrc is-live=true \
        ! video/x-raw,width=320,height=240,framerate=30/1 ! stromgpumonitor interval=500 ! fakesink 2>&1)
    echo "$out" | grep -E 'strom-gpu-stats|WARN|ERROR' | head -n 40
    count=$(grep -c 'strom-gpu-stats' <<<"$out")
    echo "strom-gpu-stats messages: $count"
    SUMMARY+=("stromgpumonitor: $count strom-gpu-stats messages in 3 s; first: $(grep -o 'strom-gpu-stats, .*' <<<"$out" | head -n 1)")
}

# The decision message an element posted, from a gst-launch -m run (first match of NAME).
decision_of() {
    local name=$1
    shift
    timeout -k 5 "$STEP_TIMEOUT" env "${HEADLESS_GL[@]}" gst-launch-1.0 -m "$@" 2>&1 \
        | grep -o "$name, .*" | head -n 1
}

new_elements_section() {
    section "stromautoconvertscale, stromcompositor, stromautoenc on this GPU"
    local d
    # GL scaling: on a GPU, glcolorscale; the size is what videoconvertscale would choose.
    d=$(decision_of strom-autoconvert videotestsrc num-buffers=30 \
        ! video/x-raw,format=I420,width=1920,height=1080 ! stromautoconvertscale \
        ! "video/x-raw(memory:GLMemory),format=NV12,width=1280,height=720;video/x-raw,format=NV12,width=1280,height=720" \
        ! fakesink)
    echo "stromautoconvertscale 1080p -> 720p: ${d:-no decision}"
    SUMMARY+=("stromautoconvertscale 1080p -> 720p: ${d:-no decision}")
    # Mixing: on a hardware GL renderer, auto must choose glvideomixer and name the renderer.
    d=$(decision_of strom-compositor stromcompositor name=c sink_1::xpos=320 \
        ! video/x-raw,width=640,height=240 ! fakesink \
        videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! c. \
        videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240 ! c.)
    echo "stromcompositor (auto): ${d:-no decision}"
    SUMMARY+=("stromcompositor (auto): ${d:-no decision}")
    # Encoding: Hopper has no NVENC, so nv*enc must be named in 'tried' and a software encoder
    # chosen; with NVENC, nvh264enc.
    d=$(decision_of strom-autoenc videotestsrc num-buffers=30 ! video/x-raw,width=640,height=360 \
        ! stromautoenc ! fakesink)
    echo "stromautoenc (auto): ${d:-no decision}"
    SUMMARY+=("stromautoenc (auto): ${d:-no decision}")
}

# Frames per second over the whole run (start-up, GL context creation and the source included;
# the source-only row shows what the source alone costs).
measure() {
    local label=$1 start end rc
    shift
    start=$(date +%s.%N)
    timeout -k 5 "$STEP_TIMEOUT" env "${HEADLESS_GL[@]}" gst-launch-1.0 -q "$@" >/tmp/strom-validate-step.log 2>&1
    rc=$?
    end=$(date +%s.%N)
    local line
    line=$(awk -v l="$label" -v n="$FRAMES" -v s="$start" -v e="$end" -v rc="$rc" \
        'BEGIN { t = e - s; printf "%-34s %4d frames %7.2f s %8.1f fps%s", l, n, t, n / t, (rc ? "  FAILED exit " rc : "") }')
    echo "$line"
    [[ $rc -eq 0 ]] || sed 's/^/    /' /tmp/strom-validate-step.log | tail -n 15
    SUMMARY+=("$line")
}

throughput_section() {
    section "GL-path conversion speed, I420 -> NV12, $FRAMES frames"
    local size width height src
    for size in 1920x1080 3840x2160; do
        width=${size%x*} height=${size#*x}
        src=(videotestsrc num-buffers="$FRAMES" pattern=ball ! "video/x-raw,format=I420,width=$width,height=$height,framerate=30/1")
        measure "$size source only" "${src[@]}" ! fakesink sync=false
        # glcolorconvert 1.22 converts YUV<->RGB only, so YUV->YUV goes through RGBA.
        measure "$size glupload ! glcolorconvert x2" "${src[@]}" ! glupload ! glcolorconvert \
            ! "video/x-raw(memory:GLMemory),format=RGBA" ! glcolorconvert \
            ! "video/x-raw(memory:GLMemory),format=NV12" ! fakesink sync=false
        measure "$size stromautoconvert mode=gl" "${src[@]}" ! stromautoconvert mode=gl \
            ! "video/x-raw(memory:GLMemory),format=NV12" ! fakesink sync=false
        measure "$size stromautoconvert mode=auto" "${src[@]}" ! stromautoconvert \
            ! "video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12" ! fakesink sync=false
        measure "$size videoconvert (CPU)" "${src[@]}" ! videoconvert ! video/x-raw,format=NV12 ! fakesink sync=false
    done
}

echo "gst-strom GPU validation, log: $LOG"
host_section
doctor_section
gl_section
interop_section
per_device_section
nvcodec_section
new_elements_section
gpumonitor_section
throughput_section
section "summary"
printf '%s\n' "${SUMMARY[@]}"
