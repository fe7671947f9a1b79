#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Builds docker/Dockerfile and checks the image from inside, as a user of the image would: the five
# elements in the system plugin directory, one software-path pipeline through each, strom-doctor
# --json, the health check's exit code for each STROM_REQUIRE_TIER, the user, no compiler or -dev
# package; then prints the image's size and what weighs most in it.
#
#   scripts/image-test.sh            # both variants: bookworm (GStreamer 1.22) and trixie (1.26)
#   scripts/image-test.sh bookworm   # one of them
#   scripts/image-test.sh --no-build trixie   # check an image built before
#
# Builds with `docker build` where a Docker daemon answers, else with buildah (no daemon; installed
# as a Debian package when missing, which needs root). Where no registry is reachable, make the
# base images first (../shared/local-base-images.sh in this project's CI). Exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${STROM_IMAGE:-gst-strom}
ELEMENTS=(stromautoconvert stromautoconvertscale stromautoenc stromcompositor stromgpumonitor)
TIERS=(software software-convert-nvenc gpu-interop)  # worst first, as src/doctor's Tier

log() { printf '==> %s\n' "$*"; }
die() { printf 'image-test: %s\n' "$*" >&2; exit 2; }

BUILD=1
if [ "${1:-}" = --no-build ]; then BUILD=0; shift; fi
suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(bookworm trixie)
for suite in "${suites[@]}"; do
  case $suite in bookworm | trixie) ;; *) die "unknown variant '$suite' (bookworm or trixie)" ;; esac
done
command -v python3 >/dev/null || die "python3 is needed to read strom-doctor's JSON"

# ---------------------------------------------------------------- the engine
if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
  ENGINE=docker
else
  ENGINE=buildah
  if ! command -v buildah >/dev/null; then
    [ "$(id -u)" = 0 ] || die "no Docker daemon answers and buildah is missing: sudo apt-get install buildah"
    log "no Docker daemon answers: installing buildah (Debian package) as root"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null; } ||
      die "apt-get install buildah failed"
  fi
  # Inside a container the default overlay storage may not work; vfs always does.
  if [ "$(id -u)" = 0 ] && [ ! -f /etc/containers/storage.conf ]; then
    mkdir -p /etc/containers
    printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
      >/etc/containers/storage.conf
  fi
fi
log "engine: $ENGINE"

build() {  # suite tag
  if [ "$ENGINE" = docker ]; then
    docker build --build-arg "DEBIAN_SUITE=$1" -f docker/Dockerfile -t "$2" .
  else
    # --pull=false: pull a base image only when it is not in local storage. --format docker
    # keeps HEALTHCHECK (OCI images have no such field). No --layers: committing every step
    # costs minutes on vfs storage and a clean CI run has no layers to reuse; BUILDAH_LAYERS=true
    # turns it on for repeated local builds (cargo's cache mount serves both).
    buildah bud --isolation chroot --pull=false --format docker \
      --build-arg "DEBIAN_SUITE=$1" -f docker/Dockerfile -t "$2" .
  fi
}

CONTAINER=
cleanup() { if [ -n "$CONTAINER" ]; then buildah rm "$CONTAINER" >/dev/null 2>&1 || true; fi; CONTAINER=; }
trap cleanup EXIT

start() {  # tag: a working container for buildah; docker runs a fresh one per command
  if [ "$ENGINE" = buildah ]; then CONTAINER=$(buildah from --pull=false "$1"); fi
}

# in_image [-e K=V]... -- command...: runs in the image with its user, environment and workdir.
in_image() {
  local envs=()
  while [ "$1" = -e ]; do envs+=(-e "$2"); shift 2; done
  [ "$1" = -- ] && shift
  if [ "$ENGINE" = docker ]; then
    docker run --rm "${envs[@]}" "$TAG" "$@"
  else
    buildah run --isolation chroot "${envs[@]}" "$CONTAINER" -- "$@"
  fi
}

image_inspect() {  # the engine's JSON description of the image
  if [ "$ENGINE" = docker ]; then docker image inspect "$TAG"; else buildah inspect --type image "$TAG"; fi
}

image_size() {
  if [ "$ENGINE" = docker ]; then
    docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1 / 1e6}'
  else
    buildah images --format '{{.Size}}' "$TAG" | head -n 1
  fi
}

# ---------------------------------------------------------------- the checks
failures=()
pass() { printf '  ok    %s\n' "$1"; }
fail() { printf '  FAIL  %s\n' "$1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/        /'; failures+=("$SUITE: $1"); }

check_user() {
  local uid
  uid=$(in_image -- id -u)
  if [ "$uid" = 10001 ]; then pass "runs as uid 10001 (non-root)"; else fail "runs as uid 10001" "id -u: $uid"; fi
}

check_no_toolchain() {
  local found
  found=$(in_image -- sh -c "dpkg-query -W -f '\${Package}\n' | grep -E -- '-dev\$|^(gcc|g\+\+|cpp|clang|llvm|rustc|cargo)(-[0-9.]+)?\$' || true
    for c in cc c++ gcc clang rustc cargo; do command -v \"\$c\" || true; done")
  if [ -z "$found" ]; then pass "no compiler and no -dev package"; else fail "no compiler and no -dev package" "$found"; fi
}

# Every element from the system plugin directory (where coreelements lies), GST_PLUGIN_PATH unset.
check_inspect() {
  local out element
  # shellcheck disable=SC2016 # expanded by the shell in the image
  out=$(in_image -- sh -c 'unset GST_PLUGIN_PATH GST_PLUGIN_PATH_1_0
    core=$(gst-inspect-1.0 coreelements | sed -n "s/^ *Filename *//p")
    echo "system: $(dirname "$core")"
    gst-inspect-1.0 --version | sed -n 2p
    for e in '"${ELEMENTS[*]}"'; do
      f=$(gst-inspect-1.0 "$e" | sed -n "s/^ *Filename *//p")
      v=$(gst-inspect-1.0 "$e" | sed -n "s/^ *Version *//p")
      echo "$e: $(dirname "$f") $(basename "$f") $v"
    done' 2>&1) || true
  local system
  system=$(sed -n 's/^system: //p' <<<"$out")
  GST_VERSION=$(sed -n 's/^GStreamer //p' <<<"$out")
  for element in "${ELEMENTS[@]}"; do
    if grep -qx "$element: $system libgststrom.so [0-9][^ ]*" <<<"$out" && [ -n "$system" ] && [ "$system" != . ]; then
      pass "gst-inspect-1.0 $element: $(grep "^$element: " <<<"$out" | cut -d' ' -f2-)"
    else
      fail "gst-inspect-1.0 finds $element in the system plugin dir ($system)" "$out"
    fi
  done
}

# Runs a pipeline in the image writing raw frames to one file per sink; compares each size in
# bytes with frames x frame size, so the frame count is exact. $1: what, $2: pipeline, then
# pairs of "file bytes-expected". Prints the bus messages (gst-launch-1.0 -m) into $MESSAGES.
MESSAGES=
run_frames() {
  local what=$1 pipeline=$2 out files=() expected=() sizes i rc=0
  shift 2
  while [ $# -gt 0 ]; do files+=("$1"); expected+=("$2"); shift 2; done
  out=$(in_image -- sh -c "rm -f ${files[*]}; gst-launch-1.0 -m $pipeline >/tmp/launch.log 2>&1; rc=\$?
    for f in ${files[*]}; do stat -c %s \"\$f\" 2>/dev/null || echo missing; done
    [ \$rc = 0 ] || { echo \"gst-launch-1.0 exit \$rc\"; tail -n 30 /tmp/launch.log; }
    grep -E 'strom-(autoenc|autoconvert|compositor|gpu-stats)' /tmp/launch.log | head -n 20
    exit \$rc" 2>&1) || rc=$?
  MESSAGES=$out
  mapfile -t sizes < <(head -n "${#files[@]}" <<<"$out")
  local ok=$((rc == 0)) detail=
  for i in "${!files[@]}"; do
    [ "${sizes[$i]:-missing}" = "${expected[$i]}" ] || ok=0
    detail+="${files[$i]}: ${sizes[$i]:-missing} bytes (expected ${expected[$i]}); "
  done
  if [ "$ok" = 1 ]; then pass "$what (${detail%; })"; else fail "$what" "$out"; fi
}

# Which value a bus message field had, e.g. message_field strom-autoenc encoder.
message_field() { grep -o "$1, .*" <<<"$MESSAGES" | grep -o "$2=([a-z]*)[^,;]*" | head -n 1 | sed 's/^[^)]*)//'; }

expect_field() {  # message field expected
  local got
  got=$(message_field "$1" "$2")
  if [ "$got" = "$3" ]; then pass "$1 message: $2=$got"; else fail "$1 message: $2=$3" "got '$got' in: $MESSAGES"; fi
}

# I420/NV12 frame bytes.
yuv420() { echo $(($1 * $2 * 3 / 2)); }

check_pipelines() {
  local src="videotestsrc num-buffers=10 pattern=smpte"
  run_frames "stromautoconvert YUY2 -> NV12, 10 frames" \
    "$src ! video/x-raw,format=YUY2,width=320,height=240,framerate=30/1 ! stromautoconvert ! video/x-raw,format=NV12 ! filesink location=/tmp/convert.yuv" \
    /tmp/convert.yuv "$(($(yuv420 320 240) * 10))"
  expect_field strom-autoconvert path software

  run_frames "stromautoconvertscale ladder 1280x720 -> 1280x720/640x360/320x180, 10 frames each" \
    "$src ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 ! tee name=t \
     t. ! queue ! stromautoconvertscale ! video/x-raw,format=NV12,width=1280,height=720 ! filesink location=/tmp/l720.yuv \
     t. ! queue ! stromautoconvertscale ! video/x-raw,format=NV12,width=640,height=360 ! filesink location=/tmp/l360.yuv \
     t. ! queue ! stromautoconvertscale ! video/x-raw,format=I420,width=320,height=180 ! filesink location=/tmp/l180.yuv" \
    /tmp/l720.yuv "$(($(yuv420 1280 720) * 10))" /tmp/l360.yuv "$(($(yuv420 640 360) * 10))" \
    /tmp/l180.yuv "$(($(yuv420 320 180) * 10))"
  expect_field strom-autoconvert path software

  local tile="video/x-raw,width=160,height=120,framerate=30/1"
  run_frames "stromcompositor 2x2 mosaic of 160x120 tiles -> 320x240, 10 frames" \
    "stromcompositor name=mix sink_1::xpos=160 sink_2::ypos=120 sink_3::xpos=160 sink_3::ypos=120 \
     ! video/x-raw,format=I420,width=320,height=240 ! filesink location=/tmp/mosaic.yuv \
     videotestsrc num-buffers=10 pattern=smpte ! $tile ! mix.sink_0 \
     videotestsrc num-buffers=10 pattern=ball ! $tile ! mix.sink_1 \
     videotestsrc num-buffers=10 pattern=snow ! $tile ! mix.sink_2 \
     videotestsrc num-buffers=10 pattern=red ! $tile ! mix.sink_3" \
    /tmp/mosaic.yuv "$(($(yuv420 320 240) * 10))"
  expect_field strom-compositor path software

  # Each codec encoded through stromautoenc and decoded back by the image's software decoder.
  local codec decoder
  for codec in h264:openh264dec h265:libde265dec av1:av1dec; do
    decoder=${codec#*:}
    codec=${codec%%:*}
    run_frames "stromautoenc codec=$codec, decoded by $decoder: 10 frames back" \
      "$src ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! stromautoenc codec=$codec \
       ! ${codec}parse ! $decoder ! videoconvert ! video/x-raw,format=I420,width=320,height=240 \
       ! filesink location=/tmp/$codec.yuv" \
      "/tmp/$codec.yuv" "$(($(yuv420 320 240) * 10))"
    pass "stromautoenc codec=$codec chose $(message_field strom-autoenc encoder) (hardware=$(message_field strom-autoenc hardware))"
  done

  run_frames "stromgpumonitor passes 10 frames" \
    "$src ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! stromgpumonitor ! filesink location=/tmp/monitor.yuv" \
    /tmp/monitor.yuv "$(($(yuv420 320 240) * 10))"
}

# strom-doctor --json parses and names every element; DOCTOR_TIER is its verdict.
DOCTOR_TIER=
check_doctor() {
  local json result
  json=$(in_image -- strom-doctor --json 2>/dev/null) || { fail "strom-doctor --json exits 0" "$json"; return; }
  result=$(python3 -c '
import json, sys
doc = json.loads(sys.stdin.read())
names = " ".join(c["name"] for c in doc["checks"])
missing = [e for e in sys.argv[1:] if e not in names]
print(doc["tier"])
print("missing: " + " ".join(missing) if missing else "")
for c in doc["checks"]:
    if any(e in c["name"] for e in sys.argv[1:]):
        print("    %s: %s" % (c["name"], c["detail"]))
' "${ELEMENTS[@]}" <<<"$json" 2>&1) || { fail "strom-doctor --json is valid JSON" "$result"; return; }
  DOCTOR_TIER=$(sed -n 1p <<<"$result")
  if [ -n "$(sed -n 2p <<<"$result")" ]; then
    fail "strom-doctor --json names every element" "$result"
  else
    pass "strom-doctor --json is valid JSON, verdict $DOCTOR_TIER, names every element:"
    sed -n '3,$p' <<<"$result"
  fi
}

rank() { local i; for i in "${!TIERS[@]}"; do [ "${TIERS[$i]}" = "$1" ] && echo "$i"; done; }

# The image's HEALTHCHECK command, run as the runtime runs it, for each STROM_REQUIRE_TIER; the
# expected exit code follows from the doctor's verdict (0 when it meets the tier, else 1).
check_health() {
  local inspect argv=() tier code expected
  inspect=$(image_inspect)
  # HEALTHCHECK's command as an argument list: docker's Config, or buildah's Docker config.
  mapfile -t argv < <(python3 -c '
import json, sys
doc = json.loads(sys.stdin.read())
config = doc[0]["Config"] if isinstance(doc, list) else doc["Docker"]["config"]
test = config["Healthcheck"]["Test"]
kind, rest = test[0], test[1:]
print("\n".join(["sh", "-c", rest[0]] if kind == "CMD-SHELL" else rest))
' <<<"$inspect") || { fail "image has a HEALTHCHECK"; return; }
  [ "${#argv[@]}" -gt 0 ] || { fail "image has a HEALTHCHECK"; return; }
  [ -n "$DOCTOR_TIER" ] || { fail "health check: needs the doctor's verdict"; return; }
  for tier in default "${TIERS[@]}"; do
    local envs=()
    [ "$tier" = default ] || envs=(-e "STROM_REQUIRE_TIER=$tier")
    code=0
    in_image "${envs[@]}" -- "${argv[@]}" >/dev/null 2>&1 || code=$?
    local required=$tier
    [ "$tier" != default ] || required=$(in_image -- printenv STROM_REQUIRE_TIER)
    expected=1
    [ "$(rank "$DOCTOR_TIER")" -lt "$(rank "$required")" ] || expected=0
    local note=
    [ "$tier" != default ] || note=" (the image's default)"
    if [ "$code" = "$expected" ]; then
      pass "health check, STROM_REQUIRE_TIER=$required$note: exit $code (verdict $DOCTOR_TIER)"
    else
      fail "health check, STROM_REQUIRE_TIER=$required: exit $expected" "exit $code; command: ${argv[*]}"
    fi
  done
}

report_size() {
  local size
  size=$(image_size)
  SIZES+=("$SUITE: $size")
  log "$SUITE: image size $size; root file system and the heaviest packages (installed size):"
  # shellcheck disable=SC2016 # expanded by the shell in the image
  in_image -- sh -c 'echo "  / $(du -sxm / 2>/dev/null | cut -f1) MB"
    dpkg-query -W -f "\${Installed-Size} \${Package}\n" | sort -rn | head -n 12 |
      awk "{printf \"  %6.1f MB  %s\n\", \$1 / 1024, \$2}"'
}

# ---------------------------------------------------------------- per variant
SUMMARY=()
SIZES=()
for SUITE in "${suites[@]}"; do
  TAG="$IMAGE:$SUITE"
  start_time=$SECONDS
  if [ "$BUILD" = 0 ]; then
    log "$SUITE: checking $TAG as built before (--no-build)"
  else
    log "$SUITE: building $TAG"
    if ! build "$SUITE" "$TAG"; then
      failures+=("$SUITE: image build")
      SUMMARY+=("$SUITE: build FAILED after $((SECONDS - start_time)) s")
      continue
    fi
  fi
  build_s=$((SECONDS - start_time))
  log "$SUITE: built in $build_s s; checking inside"
  start_time=$SECONDS
  start "$TAG"
  GST_VERSION=
  check_user
  check_inspect
  check_pipelines
  check_doctor
  check_health
  check_no_toolchain
  report_size
  cleanup
  SUMMARY+=("$SUITE (GStreamer ${GST_VERSION:-?}): build $build_s s, checks $((SECONDS - start_time)) s, ${SIZES[-1]#*: }")
done

log "summary"
printf '  %s\n' "${SUMMARY[@]}"
if [ "${#failures[@]}" -gt 0 ]; then
  log "failed:"
  printf '  %s\n' "${failures[@]}"
  exit 1
fi
log "image checks passed: ${suites[*]}"
