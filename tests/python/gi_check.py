# SPDX-License-Identifier: MPL-2.0
"""What the GI test scripts share: checks recorded as they run, and one summary line and exit
status at the end. Imported from the scripts' own folder (Python puts it first on sys.path)."""
import sys

RESULTS = []


def check(name, condition, detail=""):
    RESULTS.append((name, bool(condition)))
    print(("ok   " if condition else "FAIL ") + name + (f": {detail}" if detail and not condition else ""))


def finish(label):
    """Prints '<label>: N passed, M failed' and exits 1 when any check failed."""
    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"{label}: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
