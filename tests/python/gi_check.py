# SPDX-License-Identifier: MPL-2.0
"""What the GI test scripts share: checks recorded as they run, skips said with their reason, and
one summary line and exit status at the end. Imported from the scripts' own folder (Python puts it
first on sys.path)."""
import sys

RESULTS = []
SKIPPED = []


def check(name, condition, detail=""):
    RESULTS.append((name, bool(condition)))
    print(("ok   " if condition else "FAIL ") + name + (f": {detail}" if detail and not condition else ""))


def skip(name, why):
    """A check that cannot run here: 'SKIP: <name>: <why>' (tests/outside-in.sh counts these
    lines), never a pass."""
    SKIPPED.append(name)
    print(f"SKIP: {name}: {why}")


def is_cpu_rasteriser(renderer):
    """True when a GL renderer rasterises on the CPU (Mesa's llvmpipe, softpipe, swrast), as the
    plugin decides it: GL there is no GPU."""
    renderer = renderer.lower()
    return any(r in renderer for r in ("llvmpipe", "softpipe", "swrast", "software rasterizer"))


def finish(label):
    """Prints '<label>: N passed, M failed, K skipped' and exits 1 when any check failed."""
    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"{label}: {passed} passed, {failed} failed, {len(SKIPPED)} skipped")
    sys.exit(1 if failed else 0)
