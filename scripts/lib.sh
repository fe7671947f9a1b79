#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Shared by scripts/*.sh: package installation that says what it does, and common paths.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the package lists are read by the scripts that source this file

# Debian 12 packages needed to build gst-strom.
STROM_BUILD_PACKAGES=(gcc libc6-dev pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev)
# Packages needed to run it: GStreamer, its GL support on Mesa (llvmpipe without a GPU), encoders.
STROM_RUNTIME_PACKAGES=(gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-gl libegl1 libegl-mesa0
  libgl1-mesa-dri)
# Extra packages the tests use: the Python GI client, the shell linter, meson.
# binutils (objdump) and util-linux (unshare) serve the GPU bundle test; python3-pip fetches hadolint;
# valgrind runs tests/memcheck.sh; time (/usr/bin/time) measures peak memory in the outside-in tests.
STROM_TEST_PACKAGES=(python3 python3-gi python3-gst-1.0 gir1.2-gst-plugins-base-1.0 shellcheck
  meson ninja-build procps binutils util-linux python3-pip valgrind time)
# Debian 13 (GStreamer 1.26): its videoconvert hands x264enc 10-bit 4:4:4 from GL (RGBA) input,
# which openh264dec does not decode; the autoenc tests decode that with avdec_h264.
STROM_DEBIAN_SUITE=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "$STROM_DEBIAN_SUITE" != bookworm ]; then
  STROM_TEST_PACKAGES+=(gstreamer1.0-libav)
fi

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the named Debian packages that are missing, saying which; does nothing when all are there.
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "all ${#} required packages are installed"
    return 0
  fi
  log "installing missing packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    die "these packages are missing and installing them needs root: sudo apt-get install ${missing[*]}"
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
}

ensure_rust() {
  command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (rustup) first"
}

# GL on the CPU (Mesa llvmpipe) without an X server, as in headless containers.
export GST_GL_WINDOW="${GST_GL_WINDOW:-egl-device}"
export GST_GL_PLATFORM="${GST_GL_PLATFORM:-egl}"

STROM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STROM_ROOT
STROM_TARGET_DIR="${CARGO_TARGET_DIR:-$STROM_ROOT/target}"
export STROM_PLUGIN_DIR="$STROM_TARGET_DIR/release"
