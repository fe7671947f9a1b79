#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""stromcompositor from a Python GI client, as applications use it: request pads, pad properties
set directly and through GstChildProxy, the strom-compositor message off the bus, both paths.
Run: GST_PLUGIN_PATH=target/release /usr/bin/python3 tests/python/test_compositor.py"""

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from gi_check import check, finish, is_cpu_rasteriser  # noqa: E402

Gst.init(None)


def mix(mode, frames=5, out_caps="video/x-raw,format=RGBA,width=320,height=240"):
    """Two test sources into stromcompositor, sink_1 a translucent picture-in-picture."""
    pipeline = Gst.Pipeline.new("mix")
    comp = Gst.ElementFactory.make("stromcompositor", "comp")
    comp.set_property("mode", mode)
    comp.set_property("background", "black")
    caps = Gst.ElementFactory.make("capsfilter", None)
    caps.set_property("caps", Gst.Caps.from_string(out_caps))
    sink = Gst.ElementFactory.make("fakesink", None)
    sink.set_property("sync", False)
    for element in (comp, caps, sink):
        pipeline.add(element)
    comp.link(caps)
    caps.link(sink)
    for i, (pattern, size) in enumerate((("smpte", (320, 240)), ("ball", (160, 120)))):
        src = Gst.ElementFactory.make("videotestsrc", None)
        src.set_property("num-buffers", frames)
        src.set_property("pattern", pattern)
        filt = Gst.ElementFactory.make("capsfilter", None)
        filt.set_property(
            "caps", Gst.Caps.from_string(f"video/x-raw,format=I420,width={size[0]},height={size[1]},framerate=30/1")
        )
        pipeline.add(src)
        pipeline.add(filt)
        src.link(filt)
        pad = comp.request_pad_simple("sink_%u")
        filt.get_static_pad("src").link(pad)
        if i == 1:
            pad.set_property("xpos", 150)
            pad.set_property("ypos", 100)
            pad.set_property("alpha", 0.7)
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
            if s is not None and s.get_name() == "strom-compositor":
                decisions.append(s)
            continue
        if msg.type == Gst.MessageType.ERROR:
            error = msg.parse_error()[0].message
        break
    path = comp.get_property("active-path")
    pipeline.set_state(Gst.State.NULL)
    return decisions, error, path


check("element found through GST_PLUGIN_PATH", Gst.ElementFactory.find("stromcompositor") is not None)
factory = Gst.ElementFactory.find("stromcompositor")
check("klass is compositor's", factory.get_metadata("klass") == "Filter/Editor/Video/Compositor")
templates = {t.name_template: t for t in factory.get_static_pad_templates()}
check("request pad template sink_%u", templates.get("sink_%u") is not None
      and templates["sink_%u"].presence == Gst.PadPresence.REQUEST)

decisions, error, path = mix("auto")
check("auto runs to EOS", error is None, error)
check("one strom-compositor message", len(decisions) == 1, str(len(decisions)))
if decisions:
    d = decisions[0]
    check("message path matches active-path", d.get_string("path") == path)
    reason = d.get_string("reason") or ""
    renderer = d.get_string("gl-renderer") or ""
    if reason.startswith("no GPU device node"):
        # No GPU node at all: known without a GL context (which would keep Mesa loaded).
        check("auto without a GPU device node mixes in software", path == "software", path)
        check("reason says GL could only run on the CPU", "CPU" in reason, reason)
        check("no context, no gl-renderer", d.get_string("gl-renderer") is None)
    else:
        check("gl-renderer is reported", bool(renderer))
        check("reason names the renderer", renderer in reason, reason)
        check("gl-vendor is reported", bool(d.get_string("gl-vendor")))
        if is_cpu_rasteriser(renderer):
            check("auto on a CPU rasteriser (llvmpipe) mixes in software", path == "software", path)
        else:
            # A GPU: this mix blends, so glvideomixer when the reason says so.
            expected = "gl" if "glvideomixer" in reason else "software"
            check("auto on a GPU renderer does what its reason says", path == expected, reason)
    check("output-memory is system", d.get_string("output-memory") == "system")

decisions, error, path = mix("gl")
check("mode=gl runs to EOS (on llvmpipe where there is no GPU)", error is None, error)
check("mode=gl reports gl", path == "gl", path)
if decisions:
    check("mode=gl names glvideomixer", decisions[0].get_string("mixer") == "glvideomixer")

decisions, error, path = mix("software")
check("mode=software reports software", path == "software" and error is None, f"{path} {error}")
check("mode=software makes no GL context", decisions and not decisions[0].has_field("gl-renderer"))

comp = Gst.ElementFactory.make("stromcompositor", None)
pad = comp.request_pad_simple("sink_%u")
check("pads are GstStromCompositorPad", type(pad).__name__ == "GstStromCompositorPad", type(pad).__name__)
check("pad defaults are compositor's", (pad.get_property("width"), pad.get_property("alpha")) == (-1, 1.0))
Gst.ChildProxy.set_property(comp, "sink_0::xpos", 12)
check("sink_0::xpos through GstChildProxy", pad.get_property("xpos") == 12)
check("ChildProxy counts the pads", comp.get_children_count() == 1)
pad2 = comp.request_pad_simple("sink_%u")
check("a later pad stacks above", pad2.get_property("zorder") > pad.get_property("zorder"))
pad.set_property("alpha", 2.0)  # out of range: GLib refuses it with a warning
check("alpha above 1 is refused", pad.get_property("alpha") == 1.0)
comp.release_request_pad(pad2)
check("a released pad is gone", comp.get_static_pad("sink_1") is None)
try:
    comp.set_property("mode", "bogus")
    check("invalid mode is rejected", False, "no error raised")
except (TypeError, ValueError) as e:
    check("invalid mode is rejected", True, str(e))
check("mode keeps its default", comp.get_property("mode").value_nick == "auto")
check("background defaults to checker", comp.get_property("background").value_nick == "checker")
check("start-time-selection defaults to zero", comp.get_property("start-time-selection").value_nick == "zero")
comp.set_property("latency", 40 * Gst.MSECOND)
check("latency is kept", comp.get_property("latency") == 40 * Gst.MSECOND)
try:
    comp.set_property("active-path", "gl")
    check("active-path is read-only", False, "write accepted")
except (TypeError, AttributeError) as e:
    check("active-path is read-only", True, str(e))
check("active-path is empty before the decision", comp.get_property("active-path") == "")

finish("compositor-gi")
