# shellcheck shell=bash
# SPDX-License-Identifier: MPL-2.0
# Minimal TAP-like harness for the shell tests: `check NAME COMMAND...`, `skip NAME REASON`,
# `finish` prints the closing "N passed, N failed, N skipped" line and sets the exit code (a skip
# is never counted as a pass).

PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()

pass() {
    PASSED=$((PASSED + 1))
    printf 'ok - %s\n' "$1"
}

fail() {
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$1")
    printf 'not ok - %s\n' "$1"
    if [[ -n ${2:-} ]]; then
        printf '%s\n' "$2" | sed 's/^/    # /'
    fi
}

skip() {
    SKIPPED=$((SKIPPED + 1))
    printf 'ok - %s # SKIP %s\n' "$1" "$2"
}

# check NAME CMD...: passes when CMD exits 0; its output is shown only on failure.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name" "$out"
    fi
}

# expect_output NAME PATTERN TEXT: passes when TEXT matches the extended regex PATTERN.
expect_output() {
    if grep -qE -- "$2" <<<"$3"; then
        pass "$1"
    else
        fail "$1" "expected /$2/ in:"$'\n'"$3"
    fi
}

# refute_output NAME PATTERN TEXT: passes when TEXT does not match PATTERN.
refute_output() {
    if grep -qE -- "$2" <<<"$3"; then
        fail "$1" "did not expect /$2/ in:"$'\n'"$3"
    else
        pass "$1"
    fi
}

finish() {
    if [[ $FAILED -gt 0 ]]; then
        printf 'failed: %s\n' "${FAILED_NAMES[*]}"
    fi
    printf '%d passed, %d failed, %d skipped\n' "$PASSED" "$FAILED" "$SKIPPED"
    [[ $FAILED -eq 0 ]]
}
