#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Installs what is missing (Debian 12 or 13), builds gst-strom in release mode, then encodes a few seconds
# of 1080p test video through stromautoconvert to H.264 MP4 (nvh264enc when it exists, else
# x264enc), and prints the path chosen, the interop status, frames per second and the output file.
# Then encodes the same source through stromautoenc, which chooses the encoder at run time (the
# first that opens: NVENC, VA, ... x264enc), and prints what it chose and what it tried.
# STROM_DEMO_AUTOENC=0 skips that second run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

SECONDS_OF_VIDEO="${STROM_DEMO_SECONDS:-5}"
OUTPUT="${STROM_DEMO_OUTPUT:-$STROM_ROOT/target/demo.mp4}"
AUTOENC="${STROM_DEMO_AUTOENC:-1}"
FRAMES=$((SECONDS_OF_VIDEO * 30))

ensure_rust
ensure_packages "${STROM_BUILD_PACKAGES[@]}" "${STROM_RUNTIME_PACKAGES[@]}"
log "building libgststrom.so (release)"
(cd "$STROM_ROOT" && cargo build --release --lib --quiet)
export GST_PLUGIN_PATH="$STROM_PLUGIN_DIR${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
gst-inspect-1.0 stromautoconvert >/dev/null || die "GStreamer does not find stromautoconvert in $STROM_PLUGIN_DIR"

if gst-inspect-1.0 nvh264enc >/dev/null 2>&1; then
  encoder="nvh264enc"
else
  encoder="x264enc speed-preset=ultrafast tune=zerolatency"
fi
mkdir -p "$(dirname "$OUTPUT")"
log "encoding $FRAMES frames of 1080p30 with: stromautoconvert ! ${encoder%% *}"
log_file="$(mktemp)"
trap 'rm -f "$log_file"' EXIT
start=$(date +%s.%N)
# shellcheck disable=SC2086 # the encoder string carries its own properties
gst-launch-1.0 -m videotestsrc num-buffers="$FRAMES" pattern=smpte \
  ! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 \
  ! stromautoconvert name=conv ! $encoder ! h264parse ! mp4mux ! filesink location="$OUTPUT" \
  >"$log_file" 2>&1 || { cat "$log_file"; die "the demo pipeline failed"; }
end=$(date +%s.%N)

decision=$(grep -m1 'strom-autoconvert' "$log_file" || true)
# Reads one string field of a structure printed by gst-launch -m (quoted or not).
field() {
  local line="$1" key="$2" value
  value=$(sed -n "s/.*[ ,]$key=(string)\"\([^\"]*\)\".*/\1/p" <<<"$line")
  [ -n "$value" ] || value=$(sed -n "s/.*[ ,]$key=(string)\([^,;]*\).*/\1/p" <<<"$line")
  printf '%s\n' "${value//\\/}"
}
# What nvh264enc would get: a consumer that takes GL and system memory runs the interop test.
interop=$(gst-launch-1.0 -m videotestsrc num-buffers=1 ! video/x-raw,format=I420,width=64,height=64 \
  ! stromautoconvert ! 'video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12' \
  ! fakesink 2>&1 | grep -m1 'strom-autoconvert' || true)
fps=$(awk -v f="$FRAMES" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", f / (e - s) }')
echo
echo "stromautoconvert chose: path=$(field "$decision" path)"
echo "  reason:          $(field "$decision" reason)"
echo "  interop-status:  $(field "$decision" interop-status)"
echo "  chain:           $(field "$decision" chain)"
echo "  CUDA-GL interop in this process (for a consumer taking GL memory, as nvh264enc does):"
echo "                   $(field "$interop" interop-status) -> path $(field "$interop" path)"
echo "  encoder:         $encoder"
echo "  frames/second:   $fps ($FRAMES frames, whole pipeline including encode)"
echo "  output:          $OUTPUT ($(stat -c %s "$OUTPUT") bytes)"

[ "$AUTOENC" = "0" ] && exit 0
autoenc_output="${OUTPUT%.mp4}-autoenc.mp4"
log "encoding the same $FRAMES frames with: stromautoenc (encoder chosen at run time)"
start=$(date +%s.%N)
gst-launch-1.0 -m videotestsrc num-buffers="$FRAMES" pattern=smpte \
  ! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 \
  ! stromautoenc name=enc ! mp4mux ! filesink location="$autoenc_output" \
  >"$log_file" 2>&1 || { cat "$log_file"; die "the stromautoenc pipeline failed"; }
end=$(date +%s.%N)
choice=$(grep -m1 'strom-autoenc' "$log_file" || true)
fps=$(awk -v f="$FRAMES" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", f / (e - s) }')
echo
echo "stromautoenc chose: encoder=$(field "$choice" encoder) ($(sed -n 's/.*hardware=(boolean)\([a-z]*\).*/\1/p' <<<"$choice" | sed 's/true/hardware/;s/false/software/'))"
echo "  reason:          $(field "$choice" reason)"
echo "  tried:           $(field "$choice" tried)"
echo "  convert-path:    $(field "$choice" convert-path)"
speed_note=""
# The same encoder at other settings is not the same speed: say so instead of leaving it to guess.
if [ "$(field "$choice" encoder)" = x264enc ] && [[ "$encoder" == x264enc* ]]; then
  speed_note="; x264enc at its own default speed-preset (medium), the run above at ultrafast"
fi
echo "  frames/second:   $fps ($FRAMES frames, whole pipeline including encode$speed_note)"
echo "  output:          $autoenc_output ($(stat -c %s "$autoenc_output") bytes)"
