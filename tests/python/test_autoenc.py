#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""stromautoenc from a Python GI client, as applications use it: the plugin is found through
GST_PLUGIN_PATH, properties and enums are read and set by nick, the strom-autoenc message comes
off the bus with its documented field types, and a refusal is an error that names what was tried.
Run: GST_PLUGIN_PATH=target/release /usr/bin/python3 tests/python/test_autoenc.py"""

import re

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

from gi_check import check, finish, skip  # noqa: E402

Gst.init(None)


def run(description):
    pipeline = Gst.parse_launch(description)
    bus = pipeline.get_bus()
    choices, error, frames = [], None, 0
    sink = pipeline.get_by_name("out")
    if sink is not None:
        def count(_pad, _info):
            nonlocal frames
            frames += 1
            return Gst.PadProbeReturn.OK
        sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, count)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.pop_filtered(Gst.MessageType.ERROR)
        error = message.parse_error()[0].message if message else "cannot start"
        pipeline.set_state(Gst.State.NULL)
        return choices, error, frames, None
    while True:
        msg = bus.timed_pop_filtered(
            60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT
        )
        if msg is None:
            error = "timeout"
            break
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s is not None and s.get_name() == "strom-autoenc":
                choices.append(s)
            continue
        if msg.type == Gst.MessageType.ERROR:
            error = msg.parse_error()[0].message
        break
    enc = pipeline.get_by_name("enc")
    active = (enc.get_property("active-encoder"), enc.get_property("convert-path"))
    pipeline.set_state(Gst.State.NULL)
    return choices, error, frames, active


check("element found through GST_PLUGIN_PATH", Gst.ElementFactory.find("stromautoenc") is not None)
factory = Gst.ElementFactory.find("stromautoenc")
check("klass is Codec/Encoder/Video", factory.get_metadata("klass") == "Codec/Encoder/Video")

element = Gst.ElementFactory.make("stromautoenc", None)
check("codec defaults to h264", element.get_property("codec").value_nick == "h264")
check("bitrate defaults to 4000 kbit/s", element.get_property("bitrate") == 4000)
check("gop-size defaults to 60", element.get_property("gop-size") == 60)
check("tune defaults to default", element.get_property("tune").value_nick == "default")
check("preference defaults to auto", element.get_property("preference").value_nick == "auto")
check("candidates default to the built-in order", element.get_property("candidates") in ("", None))
check("active-encoder is empty before a stream", element.get_property("active-encoder") in ("", None))
Gst.util_set_object_arg(element, "codec", "av1")
check("codec set by nick", element.get_property("codec").value_nick == "av1")
try:
    element.set_property("active-encoder", "x264enc")
    check("active-encoder is read-only", False, "write accepted")
except (TypeError, AttributeError) as e:
    check("active-encoder is read-only", True, str(e))
try:
    element.set_property("codec", "vp9")
    check("an unknown codec is rejected", False, "no error raised")
except (TypeError, ValueError, GLib.GError) as e:
    check("an unknown codec is rejected", True, str(e))

choices, error, frames, active = run(
    "videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! stromautoenc name=enc "
    "! h264parse ! openh264dec ! fakesink name=out"
)
check("encodes and decodes to EOS", error is None, error)
check("30/30 frames decoded", frames == 30, str(frames))
check("one strom-autoenc message", len(choices) == 1, str(len(choices)))
if choices:
    c = choices[0]
    check("encoder names the active encoder", c.get_value("encoder") == active[0], f"{c.get_value('encoder')} {active}")
    check("codec is h264", c.get_value("codec") == "h264")
    check("hardware is a boolean", c.get_value("hardware") in (True, False))
    check("convert-path matches the property", c.get_value("convert-path") == active[1], str(active))
    check("tried ends with the chosen encoder: ok", c.get_value("tried").endswith(f"{active[0]}: ok"), c.get_value("tried"))
    check("reason says why", "opened and encoded" in c.get_value("reason"), c.get_value("reason"))

choices, error, frames, _ = run(
    "videotestsrc num-buffers=10 ! stromautoenc name=enc candidates=nosuchenc,x264enc tune=low-latency "
    "! fakesink name=out"
)
check("an unregistered candidate is passed over", error is None and choices
      and choices[0].get_value("tried") == "nosuchenc: not registered; x264enc: ok",
      str(error) + (choices[0].get_value("tried") if choices else ""))

_, error, _, _ = run('videotestsrc num-buffers=5 ! stromautoenc name=enc candidates="x264enc speed=1" ! fakesink')
check("invalid candidates are an error when the stream starts",
      error is not None and "is not an element factory name" in error, str(error))

NAME = "preference=hardware without a GPU is an error naming what was tried"
if Gst.ElementFactory.find("nvh264enc") is None:
    _, error, _, _ = run("videotestsrc num-buffers=5 ! stromautoenc name=enc preference=hardware ! fakesink")
    check(NAME,
          error is not None and "no hardware H.264 encoder opened" in error and "nvh264enc: not registered" in error,
          str(error))
else:
    skip(NAME, "nvh264enc is installed (what it does depends on the GPU)")

# Issue 24: held-frame bounds and the hang timeout are properties; YUY2 input gives 8-bit 4:2:0.
fresh = Gst.ElementFactory.make("stromautoenc", None)
check("max-held-time defaults to 2 s", fresh.get_property("max-held-time") == 2 * Gst.SECOND)
check("max-held-bytes defaults to 256 MiB", fresh.get_property("max-held-bytes") == 256 * 1024 * 1024)
check("hang-timeout defaults to 5 s", fresh.get_property("hang-timeout") == 5 * Gst.SECOND)
check("switch-latency defaults to 300 ms", fresh.get_property("switch-latency") == 300 * Gst.MSECOND)

_, error, _, _ = run('videotestsrc num-buffers=5 ! stromautoenc name=enc candidates=",," ! fakesink')
check("a candidates list without names is an error", error is not None and "names no encoder" in error, str(error))

profiles = []
pipeline = Gst.parse_launch(
    "videotestsrc num-buffers=3 ! video/x-raw,format=YUY2,width=320,height=240 "
    "! stromautoenc candidates=x264enc tune=low-latency ! fakesink name=out"
)
def note_profile(pad, _):
    caps = pad.get_current_caps()
    if caps is not None:
        # Read from the caps' text: PyGObject 3.50's StructureWrapper has no get_value.
        found = re.search(r"profile=\(string\)([\w-]+)", caps.to_string())
        profiles.append(found.group(1) if found else None)


pipeline.get_by_name("out").get_static_pad("sink").connect("notify::caps", note_profile)
pipeline.set_state(Gst.State.PLAYING)
pipeline.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
pipeline.set_state(Gst.State.NULL)
check("YUY2 input gives H.264 High, not High 4:2:2", profiles[-1:] == ["high"], str(profiles))

finish("autoenc-gi")
