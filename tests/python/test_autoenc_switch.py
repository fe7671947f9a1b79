#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""stromautoenc's mid-stream fallback from a Python GI client (issue 24): a failing stand-in
encoder written here in Python (x264enc inside a Gst.Bin, posting an error on its 30th frame, as a
GPU encoder that loses its device) is ranked before x264enc; the stream goes into mp4mux and
matroskamux, the file is read back and every access unit counted, and the strom-autoenc messages
of the first encoder and of the switch are checked field by field.
Run: GST_PLUGIN_PATH=target/release /usr/bin/python3 tests/python/test_autoenc_switch.py"""

import os
import tempfile

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, GObject, Gst  # noqa: E402

from gi_check import check, finish, skip  # noqa: E402

Gst.init(None)

FRAMES = 90
FAIL_AT = 30
STAND_IN = "pystromfailh264enc"


class FailingEncoder(Gst.Bin):
    """x264enc (no B-frames, no lookahead) that posts an error on its FAIL_AT-th frame and drops
    it, as an encoder whose GPU went away."""

    __gtype_name__ = "PyStromFailH264Enc"
    __gstmetadata__ = (
        "Test encoder that fails mid-stream",
        "Codec/Encoder/Video",
        "Test-only H.264 encoder (x264enc inside) that fails on a given frame (gst-strom tests)",
        "gst-strom developers",
    )
    __gsttemplates__ = (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS,
                            Gst.Caps.from_string("video/x-raw,format=I420")),
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS,
                            Gst.Caps.from_string("video/x-h264")),
    )

    def __init__(self):
        super().__init__()
        self.seen = 0
        encoder = Gst.ElementFactory.make("x264enc", None)
        encoder.set_property("bframes", 0)
        encoder.set_property("rc-lookahead", 0)
        self.add(encoder)
        sink = Gst.GhostPad.new_from_template("sink", encoder.get_static_pad("sink"),
                                              self.get_pad_template("sink"))
        src = Gst.GhostPad.new_from_template("src", encoder.get_static_pad("src"),
                                             self.get_pad_template("src"))
        self.add_pad(sink)
        self.add_pad(src)
        encoder.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self.on_buffer)

    def on_buffer(self, _pad, _info):
        self.seen += 1
        if self.seen != FAIL_AT:
            return Gst.PadProbeReturn.OK
        error = GLib.Error.new_literal(Gst.ResourceError.quark(), "simulated GPU loss",
                                       int(Gst.ResourceError.FAILED))
        self.post_message(Gst.Message.new_error(self, error, "stand-in failing on purpose"))
        return Gst.PadProbeReturn.DROP


GObject.type_register(FailingEncoder)
registered = Gst.Element.register(None, STAND_IN, Gst.Rank.NONE, FailingEncoder)
check("the Python stand-in encoder registers", registered)


def access_units(path, demux):
    """Access units the file holds, counted at the parser after the demuxer."""
    pipeline = Gst.parse_launch(f"filesrc location={path} ! {demux} ! h264parse name=parse ! fakesink")
    count = 0

    def counted(_pad, _info):
        nonlocal count
        count += 1
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("parse").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, counted)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        return None
    return count


def switch_into(mux, demux, path):
    pipeline = Gst.parse_launch(
        f"videotestsrc num-buffers={FRAMES} ! video/x-raw,width=320,height=240,framerate=30/1 "
        f"! stromautoenc name=enc candidates={STAND_IN},x264enc tune=low-latency "
        f"! {mux} ! filesink location={path}"
    )
    bus = pipeline.get_bus()
    messages, warnings, error = [], [], None
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(
            60 * Gst.SECOND,
            Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.WARNING | Gst.MessageType.ELEMENT,
        )
        if msg is None:
            error = "timeout"
            break
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s is not None and s.get_name() == "strom-autoenc":
                messages.append({k: s.get_value(k) for k in
                                 ("encoder", "codec", "hardware", "convert-path", "tried", "reason")})
            continue
        if msg.type == Gst.MessageType.WARNING:
            warnings.append(msg.parse_warning()[0].message)
            continue
        if msg.type == Gst.MessageType.ERROR:
            error = msg.parse_error()[0].message
        break
    pipeline.set_state(Gst.State.NULL)
    return messages, warnings, error


if Gst.ElementFactory.find("x264enc") is None:
    skip("a failing stand-in into muxers", "x264enc is not installed (gstreamer1.0-plugins-ugly)")
else:
    with tempfile.TemporaryDirectory() as tmp:
        for mux, demux in (("mp4mux", "qtdemux"), ("matroskamux", "matroskademux")):
            path = os.path.join(tmp, f"switch.{mux}")
            messages, warnings, error = switch_into(mux, demux, path)
            check(f"{mux}: the stream reaches EOS after the switch", error is None, str(error))
            check(f"{mux}: one warning says which encoder replaced which",
                  len(warnings) == 1 and warnings[0].startswith(f"{STAND_IN} failed after ")
                  and "switched to x264enc" in warnings[0], str(warnings))
            check(f"{mux}: two strom-autoenc messages (the first encoder, then the switch)",
                  [m["encoder"] for m in messages] == [STAND_IN, "x264enc"], str(messages))
            if len(messages) == 2:
                first, switch = messages
                check(f"{mux}: the message fields have their documented types",
                      all(isinstance(m["hardware"], bool) and isinstance(m["tried"], str)
                          and isinstance(m["reason"], str) and m["codec"] == "h264" for m in messages),
                      str(messages))
                check(f"{mux}: the first message says the stand-in was the first that opened",
                      "opened and encoded" in first["reason"], first["reason"])
                check(f"{mux}: the switch's tried names the failure, then x264enc: ok",
                      switch["tried"].startswith(f"{STAND_IN}: failed after ")
                      and "simulated GPU loss" in switch["tried"]
                      and switch["tried"].endswith("x264enc: ok"), switch["tried"])
                check(f"{mux}: the switch's reason is the warning's text",
                      warnings[:1] == [switch["reason"]], switch["reason"])
                check(f"{mux}: x264enc is software", switch["hardware"] is False)
            units = access_units(path, demux)
            check(f"{mux}: every frame is in the file ({FRAMES} access units)", units == FRAMES, str(units))

finish("autoenc-switch-gi")
