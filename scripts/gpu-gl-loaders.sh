#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Downloads the GLVND loader packages (libEGL.so.1, libGL.so.1, ...; Debian 12, amd64) into .gl/
# for a GPU machine whose image has the NVIDIA driver but no GL loaders. The bundle leaves the
# loaders to the host on purpose (they must pick the host driver's libEGL_nvidia.so.0).
# There, before running the bundle: for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACKAGES=(libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
LISTS=$(mktemp -d)
trap 'rm -rf "$LISTS"' EXIT
mkdir -p "$LISTS/partial" "$ROOT/.gl"
apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$LISTS")
apt-get "${apt_options[@]}" update >/dev/null
rm -f "$ROOT"/.gl/*.deb
(cd "$ROOT/.gl" && apt-get "${apt_options[@]}" download "${PACKAGES[@]}")
ls -l "$ROOT/.gl"
