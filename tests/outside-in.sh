#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# gst-strom as users meet it: gst-inspect-1.0, gst-launch-1.0 (with the leaks tracer) and the Python
# GI clients, against the release plugin found through GST_PLUGIN_PATH.
# Usage: tests/outside-in.sh [PLUGIN_DIR]   (default: target/release)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
plugin_dir="${1:-${STROM_PLUGIN_DIR:-$root/target/release}}"
export GST_PLUGIN_PATH="$plugin_dir"
export GST_GL_WINDOW="${GST_GL_WINDOW:-egl-device}" GST_GL_PLATFORM="${GST_GL_PLATFORM:-egl}"
# A registry of our own, so a stale one from another build is never read.
GST_REGISTRY="$(mktemp -d)/registry.bin"
export GST_REGISTRY
passed=0 failed=0 skipped=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp" "$(dirname "$GST_REGISTRY")"' EXIT

pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && tail -20 <<<"$2" | sed 's/^/     /'; true; }
# skip NAME WHY: a check that cannot run here is counted as skipped, never as passed.
skip() { skipped=$((skipped + 1)); echo "SKIP $1: $2"; }

# expect_output NAME PATTERN COMMAND...: the command succeeds and prints PATTERN (grep -E).
expect_output() {
  local name="$1" pattern="$2" out; shift 2
  if out=$("$@" 2>&1) && grep -qE -- "$pattern" <<<"$out"; then pass "$name"; else fail "$name" "$out"; fi
}
# expect_failure NAME PATTERN COMMAND...: the command fails and says PATTERN.
expect_failure() {
  local name="$1" pattern="$2" out; shift 2
  if ! out=$("$@" 2>&1) && grep -qE -- "$pattern" <<<"$out"; then pass "$name"; else fail "$name" "$out"; fi
}

launch() { timeout 60 gst-launch-1.0 -q "$@"; }

# --- gst-inspect-1.0 documents the element
inspect="$(gst-inspect-1.0 stromautoconvert 2>&1)"
for want in 'Filter/Converter/Video' 'video/x-raw\(ANY\)' 'mode +: ' 'n-threads +: ' 'cuda-check-interval +: ' \
  'active-path +: ' 'interop-status +: ' 'strom-autoconvert' 'probe-ms' '\(0\): auto' \
  '\(1\): gl' '\(2\): software' 'SINK template' 'SRC template'; do
  if grep -qE -- "$want" <<<"$inspect"; then pass "gst-inspect shows $want"; else fail "gst-inspect shows $want" "$inspect"; fi
done
expect_output "gst-inspect lists the plugin" 'stromautoconvert' gst-inspect-1.0 strom

# --- gst-launch-1.0: the pipeline stock autovideoconvert fails, in every mode
for mode in auto software gl; do
  expect_output "I420 -> NV12 with mode=$mode" '' launch videotestsrc num-buffers=10 \
    ! video/x-raw,format=I420 ! stromautoconvert mode="$mode" ! video/x-raw,format=NV12 ! fakesink
done
expect_output "zero-copy GL caps from gst-launch" 'path=\(string\)gl' timeout 60 gst-launch-1.0 -m \
  videotestsrc num-buffers=3 ! video/x-raw,format=I420 ! stromautoconvert \
  ! 'video/x-raw(memory:GLMemory),format=NV12' ! fakesink
expect_output "x264enc consumer gets software" 'path=\(string\)software' timeout 60 gst-launch-1.0 -m \
  videotestsrc num-buffers=3 ! video/x-raw,format=I420 ! stromautoconvert ! x264enc ! fakesink

# --- drop-in: what autovideoconvert/videoconvert pipelines do, stromautoconvert(scale) does
for element in stromautoconvert stromautoconvertscale; do
  expect_output "$element: ARGB -> video/x-bayer (autovideoconvert.c)" '' launch videotestsrc num-buffers=1 \
    ! video/x-raw,format=ARGB,width=100,height=100,framerate=10/1 ! "$element" \
    ! video/x-bayer,width=100,height=100,format=bggr,framerate=10/1 ! fakesink
  expect_output "$element: video/x-bayer -> I420" '' launch videotestsrc num-buffers=2 \
    ! video/x-raw,format=ARGB,width=64,height=48 ! rgb2bayer ! "$element" ! video/x-raw,format=I420 ! fakesink
  expect_output "$element: bt601 I420 -> bt709 NV12" '' launch videotestsrc num-buffers=2 \
    ! video/x-raw,format=I420,colorimetry=bt601 ! "$element" ! video/x-raw,format=NV12,colorimetry=bt709 ! fakesink
done
inspect_scale="$(gst-inspect-1.0 stromautoconvertscale 2>&1)"
for want in 'Filter/Converter/Video/Scaler' 'mode +: ' 'n-threads +: ' 'strom-autoconvert' 'video/x-bayer'; do
  if grep -qE -- "$want" <<<"$inspect_scale"; then pass "gst-inspect stromautoconvertscale shows $want"; else fail "gst-inspect stromautoconvertscale shows $want" "$inspect_scale"; fi
done
for mode in auto software gl; do
  expect_output "stromautoconvertscale 1080p -> 720p, mode=$mode" 'width=\(int\)1280, height=\(int\)720' \
    timeout 60 gst-launch-1.0 -v videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=1920,height=1080 \
    ! stromautoconvertscale mode="$mode" ! video/x-raw,format=NV12,width=1280,height=720 ! fakesink
done
expect_output "stromautoconvertscale into x264enc and mp4mux" '' launch videotestsrc num-buffers=30 \
  ! video/x-raw,format=I420,width=1280,height=720 ! stromautoconvertscale ! video/x-raw,width=640,height=360 \
  ! x264enc ! mp4mux ! filesink location="$tmp/360p.mp4"

# --- strom-doctor and the Python example, as users run them
doctor="$root/target/release/strom-doctor"
expect_output "strom-doctor prints the verdict" '^Verdict: software' "$doctor"
expect_output "strom-doctor finds the installed plugin" '^strom-plugin +ok +installed' "$doctor"
expect_output "strom-doctor --json" '"tier": "software"' "$doctor" --json
expect_failure "strom-doctor --require gpu-interop" 'below the required gpu-interop' "$doctor" --require gpu-interop
# The plugin carries none of strom-doctor's checks (they serve the command; Cargo feature `doctor`).
doctor_text='in a container, NVIDIA_DRIVER_CAPABILITIES='
if grep -qaF "$doctor_text" "$doctor" && ! grep -qaF "$doctor_text" "$plugin_dir/libgststrom.so"; then
  pass "libgststrom.so carries none of strom-doctor's checks"
else
  fail "libgststrom.so carries none of strom-doctor's checks" "'$doctor_text' in the plugin, or not in strom-doctor"
fi
expect_output "examples/transcode.py" 'strom-autoconvert:' /usr/bin/python3 "$root/examples/transcode.py" --frames 10 --output "$tmp/py.mp4"

# --- bad input gives a clear error, never a crash
expect_failure "invalid mode is refused" 'mode' launch videotestsrc num-buffers=1 \
  ! stromautoconvert mode=bogus ! fakesink
# gst-launch wraps "-1" to 4294967295 for an unsigned property: the range check refuses it.
expect_output "negative n-threads is refused with a warning" "(invalid|out of range).*n-threads" \
  launch videotestsrc num-buffers=1 ! stromautoconvert n-threads=-1 ! fakesink
expect_output "too long a cuda-check-interval is refused with a warning" "(invalid|out of range).*cuda-check-interval" \
  launch videotestsrc num-buffers=1 ! stromautoconvert cuda-check-interval=-1 ! fakesink
expect_failure "out-of-range mode number is refused" 'could not set property "mode"' launch \
  videotestsrc num-buffers=1 ! stromautoconvert mode=7 ! fakesink
expect_output "read-only active-path is not set from gst-launch" "active-path.*not writable" \
  launch videotestsrc num-buffers=1 ! stromautoconvert active-path=gl ! fakesink
expect_failure "compressed input cannot link" 'stromautoconvert' launch videotestsrc num-buffers=1 \
  ! x264enc ! stromautoconvert ! fakesink
expect_failure "software mode into GL-only consumer names the fix" 'mode=auto or mode=gl' launch \
  videotestsrc num-buffers=1 ! stromautoconvert mode=software ! 'video/x-raw(memory:GLMemory)' ! fakesink

# --- the leaks tracer finds nothing alive after the pipelines are disposed
for mode in auto software gl scale-auto scale-gl; do
  log="$tmp/leaks-$mode.log"
  element=stromautoconvert out_size=
  case $mode in scale-*) element=stromautoconvertscale out_size=",width=160,height=120" ;; esac
  GST_TRACERS=leaks GST_DEBUG=GST_TRACER:7 GST_DEBUG_NO_COLOR=1 timeout 60 gst-launch-1.0 -q \
    videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=320,height=240 \
    ! "$element" mode="${mode#scale-}" ! "video/x-raw,format=NV12$out_size" ! fakesink >"$log" 2>&1
  rc=$?
  alive=$(grep -c 'object-alive, type-name=(string)[A-Za-z]' "$log")
  if [ "$rc" -eq 0 ] && [ "$alive" -eq 0 ] && ! grep -q 'Leaks detected' "$log"; then
    pass "leaks tracer: nothing alive after mode=$mode"
  else
    fail "leaks tracer: nothing alive after mode=$mode (rc=$rc, alive=$alive)" "$(grep -E 'object-alive, type-name=\(string\)[A-Za-z]|Leaks' "$log")"
  fi
done

# --- stromcompositor: gst-inspect, gst-launch in every mode, the leaks tracer
inspect="$(gst-inspect-1.0 stromcompositor 2>&1)"
for want in 'Filter/Editor/Video/Compositor' "SINK template: 'sink_%u'" 'On request' 'GstStromCompositorPad' \
  'xpos +: ' 'ypos +: ' 'width +: ' 'height +: ' 'alpha +: ' 'zorder +: ' 'repeat-after-eos +: ' \
  'mode +: ' 'background +: ' 'active-path +: ' 'latency +: ' 'min-upstream-latency *: ' \
  'start-time-selection *: ' 'strom-compositor' 'gl-renderer' '\(0\): checker' '\(3\): transparent' \
  '\(1\): gl' '\(2\): software'; do
  if grep -qE -- "$want" <<<"$inspect"; then pass "gst-inspect stromcompositor shows $want"; else fail "gst-inspect stromcompositor shows $want" "$inspect"; fi
done
mosaic() { # mosaic MODE [-m]: two inputs, the second scaled, moved, translucent, on top
  local mode="$1"; shift
  timeout 60 gst-launch-1.0 "$@" stromcompositor name=c mode="$mode" background=black \
    sink_1::xpos=160 sink_1::ypos=120 sink_1::width=160 sink_1::height=120 sink_1::alpha=0.7 \
    ! video/x-raw,width=320,height=240 ! fakesink \
    videotestsrc num-buffers=10 ! video/x-raw,format=I420,width=320,height=240 ! c. \
    videotestsrc num-buffers=10 pattern=ball ! video/x-raw,format=RGBA,width=100,height=100 ! c.
}
for mode in auto software gl; do
  expect_output "stromcompositor mosaic with mode=$mode" 'Execution ended' mosaic "$mode"
done
# Auto follows the GL renderer it names: software on a CPU rasteriser (llvmpipe where there is no
# GPU) or without a GPU device node; on a GPU, glvideomixer (this mosaic scales and blends).
auto_out="$(mosaic auto -m 2>&1)"
auto_rc=$?
replay() { printf '%s\n' "$1"; return "$2"; } # replay OUTPUT RC: a finished command, again
if grep -qE 'gl-renderer=\(string\)' <<<"$auto_out" \
  && ! grep -qE 'gl-renderer=\(string\)"?[^,]*(llvmpipe|softpipe|swrast|[Ss]oftware\\ [Rr]asterizer)' <<<"$auto_out"; then
  expect_output "stromcompositor auto on a GPU renderer chooses glvideomixer and names the renderer" \
    'strom-compositor, path=\(string\)gl, reason=\(string\)"the\\ GL\\ renderer\\ .*is\\ a\\ GPU' replay "$auto_out" "$auto_rc"
else
  expect_output "stromcompositor auto on llvmpipe chooses software and says why (the renderer, or no GPU device)" \
    'strom-compositor, path=\(string\)software, reason=\(string\)"(the\\ GL\\ renderer\\ .*llvmpipe|no\\ GPU\\ device\\ node)' replay "$auto_out" "$auto_rc"
fi
expect_output "stromcompositor mode=gl reports glvideomixer" 'path=\(string\)gl, .*mixer=\(string\)glvideomixer' mosaic gl -m
expect_output "stromcompositor feeds GL memory to a GL consumer" 'output-memory=\(string\)gl' timeout 60 gst-launch-1.0 -m \
  videotestsrc num-buffers=3 ! c. stromcompositor name=c ! 'video/x-raw(memory:GLMemory)' ! fakesink
expect_output "stromcompositor takes GL memory in on the software path" '' launch \
  gltestsrc num-buffers=3 ! c. stromcompositor name=c mode=software ! video/x-raw,format=RGBA ! fakesink
expect_failure "stromcompositor: invalid mode is refused" 'mode' launch videotestsrc num-buffers=1 ! c. \
  stromcompositor name=c mode=bogus ! fakesink
expect_output "stromcompositor: read-only active-path is not set from gst-launch" "active-path.*not writable" \
  launch videotestsrc num-buffers=1 ! c. stromcompositor name=c active-path=gl ! fakesink
expect_output "stromcompositor: alpha above 1 is refused with a warning" "(invalid|out of range).*alpha" \
  launch videotestsrc num-buffers=1 ! c. stromcompositor name=c sink_0::alpha=2 ! fakesink
for mode in auto software gl; do
  log="$tmp/leaks-compositor-$mode.log"
  GST_TRACERS=leaks GST_DEBUG=GST_TRACER:7 GST_DEBUG_NO_COLOR=1 mosaic "$mode" -q >"$log" 2>&1
  rc=$?
  alive=$(grep -c 'object-alive, type-name=(string)[A-Za-z]' "$log")
  if [ "$rc" -eq 0 ] && [ "$alive" -eq 0 ] && ! grep -q 'Leaks detected' "$log"; then
    pass "leaks tracer: nothing alive after stromcompositor mode=$mode"
  else
    fail "leaks tracer: nothing alive after stromcompositor mode=$mode (rc=$rc, alive=$alive)" "$(grep -E 'object-alive, type-name=\(string\)[A-Za-z]|Leaks' "$log")"
  fi
done

# --- drop-in, part 2 (#23): every frame through the GL path from gst-launch-1.0, the stock
# properties, one error per failure, doc URIs, and auto mode costing what software mode costs
# frames_through N PIPELINE...: the buffers fakesink (silent=false, -v) reports, of N.
frames_through() { timeout 60 gst-launch-1.0 -v "$@" 2>&1 | grep -c 'fakesink0.*chain   \*\*\*'; }
for tail in 'stromautoconvert ! glcolorconvert ! gldownload' 'stromautoconvert mode=gl' \
  'stromautoconvertscale ! video/x-raw(memory:GLMemory),width=160,height=120 ! gldownload'; do
  # shellcheck disable=SC2086 # the tail is a pipeline, split on purpose
  n=$(frames_through videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! $tail ! fakesink silent=false)
  if [ "$n" -eq 30 ]; then pass "free-format source: 30 of 30 frames through $tail"; else fail "free-format source: $n of 30 frames through $tail"; fi
done
expect_output "stromautoconvertscale takes videoconvertscale's properties" '' launch videotestsrc num-buffers=3 \
  ! video/x-raw,width=320,height=240 ! stromautoconvertscale method=lanczos add-borders=false sharpness=1.2 \
  sharpen=0.1 envelope=3 dither=none dither-quantization=2 chroma-resampler=cubic alpha-mode=set alpha-value=0.5 \
  chroma-mode=none matrix-mode=full gamma-mode=none primaries-mode=none qos=false ! video/x-raw,width=160,height=120 ! fakesink
expect_output "a method GL cannot do keeps software and the message says so" \
  'path=\(string\)software, reason=\(string\)"method\\=lanczos\\ is\\ honoured\\ by\\ videoconvertscale\\ only' \
  timeout 60 gst-launch-1.0 -m videotestsrc num-buffers=3 ! stromautoconvertscale method=lanczos \
  ! 'video/x-raw(memory:GLMemory),width=160,height=120' ! fakesink
# gst-launch-1.0 stops at the first error it prints: count what the element posts instead.
out=$(GST_DEBUG=GST_ERROR_SYSTEM:4 GST_DEBUG_NO_COLOR=1 timeout 60 gst-launch-1.0 videotestsrc num-buffers=5 \
  ! video/x-raw,format=I420 ! stromautoconvert ! 'video/x-raw(memory:DMABuf)' ! fakesink 2>&1)
n=$(grep -c 'posting message: stromautoconvert cannot convert' <<<"$out")
if [ "$n" -eq 1 ]; then pass "one failure, one error message from stromautoconvert"; else fail "one failure, one error message ($n)" "$out"; fi
for element in stromautoconvert stromautoconvertscale stromautoenc stromcompositor stromgpumonitor; do
  expect_output "$element has a doc URI" 'Doc-uri +https://' gst-inspect-1.0 "$element"
done
expect_output "stromcompositor's sink template lists compositor's formats" 'format: \{ \(string\)' \
  bash -c 'gst-inspect-1.0 stromcompositor | sed -n "/SINK template/,/SRC template/p"'
# Peak memory (max RSS) and stderr of stromcompositor mode=auto against mode=software, with no GL
# window system named (a GL display made on the default one printed an XDG_RUNTIME_DIR error).
compositor_cost() { # compositor_cost ELEMENT [PROPERTY...]: prints KB, leaves stderr in $tmp/cost.err
  env -u GST_GL_WINDOW -u GST_GL_PLATFORM /usr/bin/time -f '%M' -o "$tmp/cost.kb" timeout 60 \
    gst-launch-1.0 -q "$@" name=c ! fakesink videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! c. \
    videotestsrc num-buffers=30 ! video/x-raw,width=160,height=120 ! c. 2>"$tmp/cost.err" >/dev/null
  tail -n 1 "$tmp/cost.kb"
}
if [ -x /usr/bin/time ]; then
  stock_err="$(compositor_cost compositor >/dev/null; cat "$tmp/cost.err")"
  software_kb=$(compositor_cost stromcompositor mode=software)
  auto_kb=$(compositor_cost stromcompositor mode=auto)
  auto_err="$(cat "$tmp/cost.err")"
  if [ "$auto_kb" -le $((software_kb + 5120)) ]; then
    pass "stromcompositor mode=auto peak memory ${auto_kb} KB within 5 MB of mode=software (${software_kb} KB)"
  else
    fail "stromcompositor mode=auto peak memory ${auto_kb} KB, mode=software ${software_kb} KB (more than 5 MB apart)"
  fi
  if [ "$auto_err" = "$stock_err" ]; then pass "stromcompositor mode=auto prints what compositor prints"; else fail "stromcompositor mode=auto printed more than compositor" "$auto_err"; fi
else
  skip "stromcompositor mode=auto peak memory and output" "/usr/bin/time is missing (apt-get install time)"
fi

# --- stromautoenc: documented, transcodes from gst-launch-1.0 to MP4 and MPEG-TS, says what it
# chose, refuses what it cannot do, leaks nothing
inspect="$(gst-inspect-1.0 stromautoenc 2>&1)"
for want in 'Codec/Encoder/Video' 'video/x-raw\(ANY\)' 'video/x-h264' 'video/x-h265' 'video/x-av1' \
  'codec +: ' 'bitrate +: ' 'gop-size +: ' 'tune +: ' 'preference +: ' 'candidates +: ' \
  'active-encoder +: ' 'convert-path +: ' 'strom-autoenc' '\(0\): h264' '\(1\): h265' '\(2\): av1' \
  '\(1\): low-latency' '\(1\): hardware' '\(2\): software'; do
  if grep -qE -- "$want" <<<"$inspect"; then pass "gst-inspect stromautoenc shows $want"; else fail "gst-inspect stromautoenc shows $want" "$inspect"; fi
done

# decoded_frames FILE DEMUXER PARSER DECODER: the frames a decoder gets out of FILE.
decoded_frames() {
  timeout 60 gst-launch-1.0 -v filesrc location="$1" ! "$2" ! "$3" ! "$4" ! fakesink name=out silent=false 2>&1 \
    | grep -c 'last-message = chain   \*\*\*\*\*\*\* (out:sink)'
}
for target in "h264 mp4mux qtdemux h264parse openh264dec" "h264 mpegtsmux tsdemux h264parse openh264dec" \
  "h265 mp4mux qtdemux h265parse libde265dec" "h265 mpegtsmux tsdemux h265parse libde265dec" \
  "av1 mp4mux qtdemux av1parse av1dec"; do
  read -r codec mux demux parser decoder <<<"$target"
  file="$tmp/autoenc-$codec.$mux"
  log="$tmp/autoenc-$codec-$mux.log"
  if timeout 120 gst-launch-1.0 -m videotestsrc num-buffers=60 ! video/x-raw,width=320,height=240,framerate=30/1 \
    ! stromautoenc codec="$codec" tune=low-latency ! "$mux" ! filesink location="$file" >"$log" 2>&1 \
    && grep -q "strom-autoenc, encoder=(string)[a-z0-9]*enc, codec=(string)$codec" "$log"; then
    frames=$(decoded_frames "$file" "$demux" "$parser" "$decoder")
    if [ "$frames" -eq 60 ]; then pass "gst-launch: stromautoenc codec=$codec ! $mux, 60/60 frames decoded"
    else fail "gst-launch: stromautoenc codec=$codec ! $mux decodes to $frames of 60 frames"; fi
  else
    fail "gst-launch: stromautoenc codec=$codec ! $mux" "$(cat "$log")"
  fi
done
expect_output "strom-autoenc says what was tried" \
  'tried=\(string\)"nvh264enc:\\ not\\ registered.*x264enc:\\ ok"' timeout 60 gst-launch-1.0 -m \
  videotestsrc num-buffers=5 ! stromautoenc ! fakesink
expect_output "an unregistered candidate is passed over" 'nosuchenc:\\ not\\ registered\\;\\ x264enc:\\ ok' \
  timeout 60 gst-launch-1.0 -m videotestsrc num-buffers=5 ! stromautoenc candidates=nosuchenc,x264enc ! fakesink
expect_failure "preference=hardware without a GPU names what was tried" \
  'no hardware H.264 encoder opened \(preference=hardware\); tried: nvh264enc: not registered' \
  launch videotestsrc num-buffers=5 ! stromautoenc preference=hardware ! fakesink
expect_failure "invalid codec is refused" 'codec' launch videotestsrc num-buffers=1 ! stromautoenc codec=vp9 ! fakesink
expect_failure "invalid candidates are an error naming them" "invalid candidates: 'x264enc speed=1' is not an element factory name" \
  launch videotestsrc num-buffers=1 ! stromautoenc "candidates=x264enc speed=1" ! fakesink
for target in "tune=default mpegtsmux" "tune=low-latency mp4mux"; do
  read -r tune mux <<<"$target"
  log="$tmp/leaks-autoenc-$mux.log"
  GST_TRACERS=leaks GST_DEBUG=GST_TRACER:7 GST_DEBUG_NO_COLOR=1 timeout 60 gst-launch-1.0 -q \
    videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! stromautoenc "$tune" ! "$mux" ! fakesink >"$log" 2>&1
  rc=$?
  alive=$(grep -c 'object-alive, type-name=(string)[A-Za-z]' "$log")
  if [ "$rc" -eq 0 ] && [ "$alive" -eq 0 ] && ! grep -q 'Leaks detected' "$log"; then
    pass "leaks tracer: nothing alive after stromautoenc $tune ! $mux"
  else
    fail "leaks tracer: nothing alive after stromautoenc $tune ! $mux (rc=$rc, alive=$alive)" "$(grep -E 'object-alive, type-name=\(string\)[A-Za-z]|Leaks' "$log")"
  fi
done
expect_output "examples/autoenc.py" 'strom-autoenc:' /usr/bin/python3 "$root/examples/autoenc.py" --frames 10 --output "$tmp/autoenc-py.ts"

# --- CUDA lost mid-stream, seen from gst-launch-1.0. The libcuda.so.1 is the test-only stand-in:
# it lets the interop test pass, then fails every call once the break file exists. Not a GPU.
cuda_lost_from_gst_launch() {
  local stub="$tmp/cuda" log="$tmp/cuda-lost.log" broken="$tmp/cuda-broken" pid rc frames
  mkdir -p "$stub"
  if ! cc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$stub/libcuda.so.1" \
    "$root/tests/stubs/libcuda_stub.c" 2>"$log"; then
    fail "CUDA lost mid-stream: stand-in does not build" "$(cat "$log")"
    return
  fi
  LD_LIBRARY_PATH="$stub" STROM_STUB_CUDA_BREAK_FILE="$broken" timeout 60 gst-launch-1.0 -m -v \
    videotestsrc is-live=true num-buffers=60 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
    ! stromautoconvert cuda-check-interval=20 \
    ! 'video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12' ! fakesink silent=false \
    >"$log" 2>&1 &
  pid=$!
  # Break the driver once the stream runs on the GL path.
  for _ in $(seq 400); do grep -q 'path=(string)gl' "$log" && break; sleep 0.05; done
  touch "$broken"
  wait "$pid"
  rc=$?
  frames=$(grep -c 'chain   \*' "$log")
  if [ "$rc" -eq 0 ] && [ "$frames" -eq 60 ] && grep -q 'path=(string)gl' "$log" \
    && grep -q '^WARNING: .*CUDA stopped reaching the GL frames .*cuGLGetDevices returned CUDA_ERROR_UNKNOWN' "$log" \
    && grep 'path=(string)software' "$log" | grep -q 'cuda-error=(string)CUDA_ERROR_UNKNOWN'; then
    pass "CUDA lost mid-stream: warning, switch to software, 60/60 frames, exit 0"
  else
    fail "CUDA lost mid-stream (rc=$rc, frames=$frames)" "$(grep -E 'WARNING|ERROR|strom-autoconvert' "$log")"
  fi
}
cuda_lost_from_gst_launch

# --- The consumer refusing GL memory, seen from gst-launch-1.0. The libcuda.so.1 stand-in says
# interop works; the test-only stromtestconsumer (tests/stubs, built here) answers the first GL
# buffer with GST_FLOW_ERROR and posts nothing, as nvenc does when it cannot register a frame.
consumer_refusal_from_gst_launch() {
  local stub="$tmp/cuda" plugin="$tmp/test-plugin" log="$tmp/refusal.log" rc frames alive
  mkdir -p "$stub" "$plugin"
  # shellcheck disable=SC2046 # pkg-config prints several flags
  if ! cc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$stub/libcuda.so.1" \
    "$root/tests/stubs/libcuda_stub.c" 2>"$log" \
    || ! cc -shared -fPIC -O1 $(pkg-config --cflags gstreamer-1.0) -o "$plugin/libgststromtest.so" \
      "$root/tests/stubs/gst_test_consumer.c" $(pkg-config --libs gstreamer-1.0) 2>>"$log"; then
    fail "consumer refusal: stand-ins do not build" "$(cat "$log")"
    return
  fi
  LD_LIBRARY_PATH="$stub" GST_PLUGIN_PATH="$GST_PLUGIN_PATH:$plugin" \
    GST_TRACERS=leaks GST_DEBUG=GST_TRACER:7 GST_DEBUG_NO_COLOR=1 timeout 60 gst-launch-1.0 -m -v \
    videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=320,height=240 \
    ! stromautoconvert ! stromtestconsumer cuda-device-id=0 ! fakesink silent=false >"$log" 2>&1
  rc=$?
  frames=$(grep -c 'chain   \*' "$log")
  alive=$(grep -c 'object-alive, type-name=(string)[A-Za-z]' "$log")
  if [ "$rc" -eq 0 ] && [ "$frames" -eq 30 ] && [ "$alive" -eq 0 ] \
    && grep -q '^WARNING: .*refused the first GL frame (GST_FLOW_ERROR).*continuing with software conversion' "$log" \
    && grep 'path=(string)software' "$log" | grep -qF 'refused\ GL\ memory'; then
    pass "consumer refusal: warning, switch to software, 30/30 frames, nothing leaked, exit 0"
  else
    fail "consumer refusal (rc=$rc, frames=$frames, alive=$alive)" "$(grep -E 'WARNING|ERROR|strom-autoconvert' "$log")"
  fi
}
consumer_refusal_from_gst_launch

# --- Python GI clients
for script in "$root"/tests/python/test_*.py; do
  [ -e "$script" ] || continue
  name="python GI: $(basename "$script")"
  if out=$(timeout 120 /usr/bin/python3 "$script" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
  # The checks the script could not run (gi_check.skip prints "SKIP: <check>: <why>").
  while IFS= read -r line; do
    skip "$name: ${line%%: *}" "${line#*: }"
  done < <(sed -n 's/^SKIP: //p' <<<"$out")
done

echo "outside-in:"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
