#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Installs the NVIDIA Container Toolkit so `docker run --gpus all` hands the GPU, its CUDA, NVENC
# and EGL libraries to containers (docker/Dockerfile relies on it), configures Docker's runtime
# and proves it with a test container.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/install-common.sh
source "$SCRIPT_DIR/lib/install-common.sh"

KEYRING=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
REPO_URL=https://nvidia.github.io/libnvidia-container
TEST_IMAGE=ubuntu

usage() {
    cat <<'USAGE'
Usage: install-nvidia-container-toolkit.sh [--dry-run] [--skip-verify] [--test-image IMAGE] [--help]

Ubuntu/Debian with Docker: adds NVIDIA's APT signing key and repository, installs
nvidia-container-toolkit, registers the nvidia runtime with Docker
(`nvidia-ctk runtime configure --runtime=docker`), restarts Docker and runs
`docker run --rm --gpus all IMAGE nvidia-smi` to verify (IMAGE defaults to ubuntu).

Options:
  --dry-run           print every command instead of running it (works without root)
  --skip-verify       do not run the test container
  --test-image IMAGE  image for the test container
  -h, --help          show this help

A real run must be root. Steps already done (key, repository, package, runtime entry) are
skipped and reported, so running it twice is safe. CUDA-GL interop inside containers also needs
NVIDIA_DRIVER_CAPABILITIES to include graphics (docker/Dockerfile sets it to all).

Test hooks (inputs read instead of the real ones): STROM_OS_RELEASE (os-release file),
STROM_DOCKER_DAEMON_JSON (file used for /etc/docker/daemon.json), STROM_APT_DIR (directory
used for /etc/apt), STROM_KEYRING (file used for the keyring path).
USAGE
}

ARGS=("$@")
VERIFY=1
while [[ $# -gt 0 ]]; do
    case $1 in
    --dry-run) DRY_RUN=1 ;;
    --skip-verify) VERIFY=0 ;;
    --test-image)
        [[ $# -ge 2 ]] || die "--test-image needs an image name"
        TEST_IMAGE=$2
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done

require_root_unless_dry_run "${ARGS[@]}"

KEYRING=${STROM_KEYRING:-$KEYRING}
APT_LIST=${STROM_APT_DIR:-/etc/apt}/sources.list.d/nvidia-container-toolkit.list
DAEMON_JSON=${STROM_DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}

check_distribution() {
    detect_os
    case " $OS_ID $OS_ID_LIKE " in
    *" ubuntu "* | *" debian "*) say "Distribution: $OS_ID $OS_VERSION_ID" ;;
    *) die "unsupported distribution '$OS_ID': this script knows Ubuntu and Debian (APT); see NVIDIA's Container Toolkit install guide for others" ;;
    esac
}

check_docker() {
    if ! command -v docker >/dev/null; then
        if [[ $DRY_RUN -eq 1 ]]; then
            warn "docker is not installed here; a real run stops at this point: install Docker Engine first"
        else
            die "docker is not installed: install Docker Engine first, then run this script again"
        fi
    fi
}

install_download_tools() {
    local missing=() tool
    for tool in curl gpg; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        run apt-get update
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y ca-certificates curl gnupg
    fi
}

add_key_and_repository() {
    if [[ -s $KEYRING ]]; then
        say "NVIDIA signing key already at $KEYRING: skipping"
    else
        install_download_tools
        run_shell "curl -fsSL $REPO_URL/gpgkey | gpg --dearmor --yes -o $KEYRING"
    fi
    if [[ -s $APT_LIST ]]; then
        say "NVIDIA container repository already in $APT_LIST: skipping"
    else
        install_download_tools
        run_shell "curl -fsSL $REPO_URL/stable/deb/nvidia-container-toolkit.list | sed 's#deb https://#deb [signed-by=$KEYRING] https://#g' > $APT_LIST"
    fi
}

install_toolkit() {
    if package_installed nvidia-container-toolkit; then
        say "nvidia-container-toolkit is already installed: skipping"
        return
    fi
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y nvidia-container-toolkit
}

docker_runtime_configured() {
    [[ -r $DAEMON_JSON ]] && grep -q '"nvidia"' "$DAEMON_JSON"
}

configure_docker() {
    if docker_runtime_configured; then
        say "Docker already has the nvidia runtime in $DAEMON_JSON: skipping configuration and restart"
        return
    fi
    run nvidia-ctk runtime configure --runtime=docker
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        run systemctl restart docker
    else
        run service docker restart
    fi
}

verify() {
    if [[ $VERIFY -eq 0 ]]; then
        say "Verification skipped (--skip-verify)"
        return
    fi
    run docker run --rm --gpus all "$TEST_IMAGE" nvidia-smi
    if [[ $DRY_RUN -eq 0 ]]; then
        say "The test container saw the GPU. Next: build docker/Dockerfile and run strom-doctor in it (docker/README.md)."
    fi
}

check_distribution
check_docker
add_key_and_repository
install_toolkit
configure_docker
verify
