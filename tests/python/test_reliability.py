#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""Bad property values from a Python GI client, beyond test_autoconvert.py: each is refused with a
warning or an exception, the element keeps its previous value, and nothing crashes; and a mode
change while PLAYING is refused with a bus warning.
Run: GST_PLUGIN_PATH=target/release /usr/bin/python3 tests/python/test_reliability.py"""

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

from gi_check import check, finish  # noqa: E402

Gst.init(None)


def refused(element, prop, value, expected):
    """Sets a bad value; GObject either raises or warns and keeps the old value."""
    try:
        element.set_property(prop, value)
    except (TypeError, ValueError, OverflowError, GLib.GError):
        pass
    actual = element.get_property(prop)
    if hasattr(actual, "value_nick"):
        actual = actual.value_nick
    check(f"{prop}={value!r} is refused and {prop} stays {expected!r}", actual == expected, repr(actual))


conv = Gst.ElementFactory.make("stromautoconvert", None)
conv.set_property("n-threads", 3)
for bad in (7, -1, None):
    refused(conv, "mode", bad, "auto")
for bad in (-1, 257, 2**40, "x"):
    refused(conv, "n-threads", bad, 3)
conv.set_property("cuda-check-interval", 250)
for bad in (-1, 3_600_001, 2**40, "x"):
    refused(conv, "cuda-check-interval", bad, 250)
for prop in ("active-path", "interop-status"):
    try:
        conv.set_property(prop, "gl")
        check(f"{prop} is read-only", False, "write accepted")
    except TypeError:
        check(f"{prop} is read-only", conv.get_property(prop) == "")
try:
    conv.set_property("no-such-property", 1)
    check("unknown property is refused", False, "accepted")
except TypeError:
    check("unknown property is refused", True)

pipeline = Gst.parse_launch(
    "videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48 ! "
    "stromautoconvert name=conv mode=software ! fakesink"
)
pipeline.set_state(Gst.State.PLAYING)
pipeline.get_state(10 * Gst.SECOND)
pipeline.get_by_name("conv").set_property("mode", "gl")
msg = pipeline.get_bus().timed_pop_filtered(5 * Gst.SECOND, Gst.MessageType.WARNING | Gst.MessageType.ERROR)
check(
    "mode change while PLAYING posts a warning",
    msg is not None and msg.type == Gst.MessageType.WARNING and "NULL or READY" in msg.parse_warning()[0].message,
    msg and str(msg.get_structure()),
)
check("mode stays software while PLAYING", pipeline.get_by_name("conv").get_property("mode").value_nick == "software")
pipeline.set_state(Gst.State.NULL)

finish("reliability-gi")
