# shellcheck shell=bash
# SPDX-License-Identifier: MPL-2.0
# Shared by the scripts/install-*.sh setup scripts: dry-run aware command runner, messages,
# the root check and the distribution detection. Sourced, never executed.
#
# Test hooks (read-only inputs, so `--dry-run` can be exercised on any machine):
#   STROM_OS_RELEASE   path used instead of /etc/os-release

DRY_RUN=0

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Runs a command, or only prints it under --dry-run. Every state-changing step goes through
# `run` or `run_shell`, so the dry-run output is the complete list of what a real run does.
run() {
    printf '+ %s\n' "$*"
    if [[ $DRY_RUN -eq 0 ]]; then
        "$@"
    fi
}

# Same for a step that needs a pipe or a redirection: the string is printed as is and run by bash.
run_shell() {
    printf '+ %s\n' "$1"
    if [[ $DRY_RUN -eq 0 ]]; then
        bash -c "$1"
    fi
}

# A real run changes the system and must be root; --help and --dry-run work for anyone, so users
# can read exactly what would happen before they hand the script root.
require_root_unless_dry_run() {
    if [[ $DRY_RUN -eq 0 && $EUID -ne 0 ]]; then
        die "this script installs system packages and must run as root: sudo $0 $*  (or see what it would do with: $0 --dry-run)"
    fi
}

# shellcheck disable=SC2034 # the OS_* variables are read by the sourcing script
# Sets OS_ID, OS_ID_LIKE, OS_VERSION_ID, OS_CODENAME from os-release.
detect_os() {
    local file=${STROM_OS_RELEASE:-/etc/os-release}
    [[ -r $file ]] || die "cannot read $file: unknown distribution"
    OS_ID=$(os_release_field ID "$file")
    OS_ID_LIKE=$(os_release_field ID_LIKE "$file")
    OS_VERSION_ID=$(os_release_field VERSION_ID "$file")
    OS_CODENAME=$(os_release_field VERSION_CODENAME "$file")
}

os_release_field() {
    local key=$1 file=$2 line
    line=$(grep -E "^${key}=" "$file" | head -n 1 || true)
    line=${line#*=}
    line=${line#\"}
    line=${line%\"}
    printf '%s' "$line"
}

package_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}
