#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""stromautoconvert from a Python GI client, as applications use it: the plugin is found through
GST_PLUGIN_PATH, properties are read, the strom-autoconvert message comes off the bus.
Run: GST_PLUGIN_PATH=target/release /usr/bin/python3 tests/python/test_autoconvert.py"""

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

from gi_check import check, finish  # noqa: E402

Gst.init(None)


def run(description):
    pipeline = Gst.parse_launch(description)
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    decisions, error = [], None
    while True:
        msg = bus.timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT
        )
        if msg is None:
            error = "timeout"
            break
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s is not None and s.get_name() == "strom-autoconvert":
                decisions.append(s)
            continue
        if msg.type == Gst.MessageType.ERROR:
            error = msg.parse_error()[0].message
        break
    conv = pipeline.get_by_name("conv")
    props = (conv.get_property("active-path"), conv.get_property("interop-status"))
    pipeline.set_state(Gst.State.NULL)
    return decisions, error, props


check("element found through GST_PLUGIN_PATH", Gst.ElementFactory.find("stromautoconvert") is not None)

decisions, error, (path, status) = run(
    "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=320,height=240 ! "
    "stromautoconvert name=conv ! video/x-raw,format=NV12 ! fakesink"
)
check("I420 -> NV12 runs to EOS", error is None, error)
check("active-path is software for a system-memory consumer", path == "software", path)
check("one strom-autoconvert message", len(decisions) == 1, str(len(decisions)))
if decisions:
    d = decisions[0]
    check("message path matches active-path", d.get_string("path") == path)
    check("message has a reason", bool(d.get_string("reason")))
    check("message interop is a boolean false", d.get_value("interop") is False)
    check("message probe-ms is a double", isinstance(d.get_value("probe-ms"), float))

decisions, error, (path, status) = run(
    "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=320,height=240 ! "
    "stromautoconvert name=conv ! video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12 ! fakesink"
)
check("consumer taking both memories runs", error is None, error)
check("interop-status explains the choice", (status == "ok") == (path == "gl") and status != "", status)
if decisions:
    check("message carries the interop status", decisions[0].get_string("interop-status") == status)

decisions, error, (path, _) = run(
    "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=320,height=240 ! "
    "stromautoconvert name=conv mode=gl ! video/x-raw,format=NV12 ! fakesink"
)
check("mode=gl runs (on llvmpipe where there is no GPU)", error is None, error)
check("mode=gl reports gl", path == "gl", path)
if decisions:
    check("gl decision names the GL renderer", bool(decisions[0].get_string("gl-renderer")))

element = Gst.ElementFactory.make("stromautoconvert", None)
try:
    element.set_property("mode", "bogus")
    check("invalid mode is rejected", False, "no error raised")
except (TypeError, ValueError, GLib.GError) as e:
    check("invalid mode is rejected", True, str(e))
check("mode keeps its default after a bad value", element.get_property("mode").value_nick == "auto")
try:
    element.set_property("active-path", "gl")
    check("active-path is read-only", False, "write accepted")
except (TypeError, AttributeError) as e:
    check("active-path is read-only", True, str(e))
check("n-threads defaults to 0 (one per core)", element.get_property("n-threads") == 0)
check("cuda-check-interval defaults to 1000 ms", element.get_property("cuda-check-interval") == 1000)

finish("autoconvert-gi")
