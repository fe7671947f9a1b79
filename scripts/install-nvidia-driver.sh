#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Installs the NVIDIA driver that gst-strom's zero-copy path needs: the full driver with OpenGL/EGL
# (libEGL_nvidia.so.0), never a -headless/compute-only variant, which has no GL and therefore no
# CUDA-GL interop. Ubuntu: the driver `ubuntu-drivers` recommends; Debian: `nvidia-driver` from
# the non-free archive area.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/install-common.sh
source "$SCRIPT_DIR/lib/install-common.sh"

usage() {
    cat <<'USAGE'
Usage: install-nvidia-driver.sh [--dry-run] [--driver PACKAGE] [--help]

Detects the NVIDIA GPU and the distribution and installs the NVIDIA driver with OpenGL/EGL:
  Ubuntu   the driver `ubuntu-drivers devices` recommends, installed with apt-get
  Debian   `nvidia-driver` (plus kernel headers and firmware) from the contrib, non-free and
           non-free-firmware areas, which are added to Debian's APT sources when missing
The -headless driver variants are refused: they ship no OpenGL/EGL, so CUDA-GL interop (the
zero-copy GL -> NVENC path) cannot work with them. A reboot is needed afterwards.

Options:
  --dry-run         print every command instead of running it (works without root)
  --driver PACKAGE  install PACKAGE instead of the recommended driver (Ubuntu)
  -h, --help        show this help

A real run must be root. Steps already done (driver loaded, package installed, APT areas
enabled) are skipped and reported, so running it twice is safe.

Test hooks (inputs read instead of the real ones): STROM_OS_RELEASE (os-release file),
STROM_LSPCI_OUTPUT (text of `lspci -nn`), STROM_PROC_DRIVER_NVIDIA (directory used for
/proc/driver/nvidia), STROM_PROC_VERSION (file used for /proc/version), STROM_APT_DIR
(directory used for /etc/apt), STROM_UBUNTU_DRIVERS_OUTPUT (text of `ubuntu-drivers devices`).
USAGE
}

ARGS=("$@")
DRIVER=""
INSTALLED_SOMETHING=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --dry-run) DRY_RUN=1 ;;
    --driver)
        [[ $# -ge 2 ]] || die "--driver needs a package name"
        DRIVER=$2
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

# The reason is part of every refusal, so a user knows why and what to install instead.
HEADLESS_REASON="the -headless driver variants ship no OpenGL/EGL (no libEGL_nvidia.so.0), so CUDA-GL interop, gst-strom's zero-copy GL -> NVENC path, cannot work"

is_headless_variant() { [[ $1 == *headless* ]]; }

# nvidia-headless-535-server -> nvidia-driver-535-server, nvidia-headless-no-dkms-550 -> nvidia-driver-550
full_driver_for() {
    local rest=${1#nvidia-headless-}
    rest=${rest#no-dkms-}
    printf 'nvidia-driver-%s' "$rest"
}

nvidia_gpus() {
    local listing
    if [[ -n ${STROM_LSPCI_OUTPUT+x} ]]; then
        listing=$STROM_LSPCI_OUTPUT
    elif command -v lspci >/dev/null; then
        listing=$(lspci -nn)
    else
        # No pciutils: read the vendor ids from sysfs (0x10de is NVIDIA).
        listing=$(grep -l '^0x10de$' /sys/bus/pci/devices/*/vendor 2>/dev/null | sed 's#/vendor$# NVIDIA [10de] (from sysfs; install pciutils for names) VGA#' || true)
    fi
    grep -iE '(VGA|3D|Display).*(NVIDIA|\[10de:)' <<<"$listing" || grep -iE 'NVIDIA \[10de\] \(from sysfs' <<<"$listing" || true
}

check_not_wsl() {
    local version_file=${STROM_PROC_VERSION:-/proc/version}
    if grep -qi microsoft "$version_file" 2>/dev/null; then
        die "this is WSL2: install the NVIDIA driver on Windows, not inside WSL (and note WSL2 has no NVIDIA OpenGL/EGL, so CUDA-GL interop is unsupported there)"
    fi
}

# True (and reported) when the kernel driver is already loaded: nothing left to install.
driver_already_loaded() {
    local proc_dir=${STROM_PROC_DRIVER_NVIDIA:-/proc/driver/nvidia}
    [[ -r $proc_dir/version ]] || return 1
    say "NVIDIA kernel driver already loaded: $(head -n 1 "$proc_dir/version")"
    local headless
    headless=$(dpkg-query -W -f='${Status} ${Package}\n' 'nvidia-headless*' 2>/dev/null | awk '/install ok installed/ {print $4}' || true)
    if [[ -n $headless ]]; then
        warn "installed headless driver package(s): $headless; $HEADLESS_REASON. Install $(full_driver_for "$(head -n 1 <<<"$headless")") instead."
    fi
    say "Nothing to install. Check the result with: strom-doctor"
    return 0
}

install_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if package_installed "$pkg"; then
            say "$pkg is already installed: skipping"
        else
            missing+=("$pkg")
        fi
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        run apt-get update
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
        INSTALLED_SOMETHING=1
    fi
}

ubuntu_recommended_driver() {
    local listing
    if [[ -n ${STROM_UBUNTU_DRIVERS_OUTPUT+x} ]]; then
        listing=$STROM_UBUNTU_DRIVERS_OUTPUT
    elif command -v ubuntu-drivers >/dev/null; then
        listing=$(ubuntu-drivers devices 2>/dev/null || true)
    else
        return 1
    fi
    awk '/^driver[[:space:]]*:.*recommended/ {print $3; exit}' <<<"$listing"
}

install_ubuntu() {
    if [[ -z ${STROM_UBUNTU_DRIVERS_OUTPUT+x} ]] && ! command -v ubuntu-drivers >/dev/null; then
        run apt-get update
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y ubuntu-drivers-common
    fi
    local driver=$DRIVER
    if [[ -z $driver ]]; then
        driver=$(ubuntu_recommended_driver || true)
        if [[ -z $driver ]]; then
            if [[ $DRY_RUN -eq 1 ]]; then
                say "(dry run: ubuntu-drivers is not available here, so no recommendation; a real run installs the driver it recommends)"
                driver="nvidia-driver-RECOMMENDED"
            else
                die "ubuntu-drivers recommends no NVIDIA driver for this GPU; pick one from 'ubuntu-drivers devices' and pass it with --driver"
            fi
        fi
        if is_headless_variant "$driver"; then
            warn "ubuntu-drivers recommends $driver, refused: $HEADLESS_REASON."
            driver=$(full_driver_for "$driver")
        fi
        say "Driver chosen: $driver"
    fi
    install_packages "$driver"
}

enable_debian_areas() {
    local apt_dir=${STROM_APT_DIR:-/etc/apt}
    local wanted="contrib non-free non-free-firmware"
    # non-free-firmware exists from Debian 12 (bookworm) on.
    case $OS_CODENAME in buster | bullseye) wanted="contrib non-free" ;; esac
    local file changed=0 rewritten
    for file in "$apt_dir/sources.list" "$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources; do
        [[ -f $file ]] || continue
        rewritten=$(mktemp)
        awk -v codename="$OS_CODENAME" -v want="$wanted" -f "$SCRIPT_DIR/lib/debian-components.awk" "$file" >"$rewritten"
        if ! cmp -s "$file" "$rewritten"; then
            say "Adding the APT areas '$wanted' to $file:"
            diff -u "$file" "$rewritten" | tail -n +3 || true
            run cp "$file" "$file.before-strom"
            run install -m 0644 "$rewritten" "$file"
            changed=1
        fi
        rm -f "$rewritten"
    done
    if [[ $changed -eq 0 ]]; then
        say "APT areas '$wanted' already enabled for Debian $OS_CODENAME (or no Debian archive entry found): skipping"
    fi
}

install_debian() {
    [[ -n $OS_CODENAME ]] || die "no VERSION_CODENAME in os-release: cannot tell the Debian release"
    enable_debian_areas
    local arch
    arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
    install_packages "linux-headers-$arch" "${DRIVER:-nvidia-driver}" firmware-misc-nonfree
}

main() {
    if [[ -n $DRIVER ]] && is_headless_variant "$DRIVER"; then
        die "refusing $DRIVER: $HEADLESS_REASON. Use $(full_driver_for "$DRIVER") instead."
    fi
    check_not_wsl
    local gpus
    gpus=$(nvidia_gpus)
    [[ -n $gpus ]] || die "no NVIDIA GPU found (lspci lists none); nothing to install"
    say "NVIDIA GPU(s):"
    say "$gpus"
    if driver_already_loaded; then
        exit 0
    fi
    detect_os
    say "Distribution: ${OS_ID} ${OS_VERSION_ID} (${OS_CODENAME:-no codename})"
    case $OS_ID in
    ubuntu) install_ubuntu ;;
    debian) install_debian ;;
    *)
        die "unsupported distribution '$OS_ID' (ID_LIKE '$OS_ID_LIKE'): this script knows Ubuntu and Debian; install the full NVIDIA driver (with OpenGL/EGL, not -headless) with your distribution's tools"
        ;;
    esac
    if [[ $INSTALLED_SOMETHING -eq 1 ]]; then
        say "Done. A reboot is needed to load the NVIDIA kernel module: reboot, then check with: strom-doctor"
    else
        say "The driver packages are installed but the kernel module is not loaded: reboot, then check with: strom-doctor"
    fi
}

main
