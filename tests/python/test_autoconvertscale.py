#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""stromautoconvertscale and stromautoconvert as drop-ins, from a Python GI client: a 1080p source
into a 720p/480p ladder, Bayer, another colorimetry, and n-threads sized to this process's CPUs.
Run: GST_PLUGIN_PATH=target/release /usr/bin/python3 tests/python/test_autoconvertscale.py"""

import os

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402

from gi_check import check, finish, skip  # noqa: E402

Gst.init(None)


def run(description):
    """Plays to EOS; returns (error, strom-autoconvert messages, caps the sink got)."""
    pipeline = Gst.parse_launch(description)
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    decisions, error, caps = [], None, None
    while True:
        msg = bus.timed_pop_filtered(
            30 * Gst.SECOND,
            Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.WARNING | Gst.MessageType.ELEMENT,
        )
        if msg is None:
            error = "timeout"
            break
        if msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s is not None and s.get_name() == "strom-autoconvert":
                decisions.append(s)
            continue
        if msg.type in (Gst.MessageType.ERROR, Gst.MessageType.WARNING):
            error = msg.parse_error()[0].message if msg.type == Gst.MessageType.ERROR else msg.parse_warning()[0].message
        break
    sink = pipeline.get_by_name("sink")
    if sink is not None:
        caps = sink.get_static_pad("sink").get_current_caps()
    pipeline.set_state(Gst.State.NULL)
    return error, decisions, caps


check("stromautoconvertscale found through GST_PLUGIN_PATH", Gst.ElementFactory.find("stromautoconvertscale") is not None)
factory = Gst.ElementFactory.find("stromautoconvertscale")
if factory is not None:
    check("klass is Filter/Converter/Video/Scaler", factory.get_metadata("klass") == "Filter/Converter/Video/Scaler")

for mode in ("auto", "software", "gl"):
    for width, height in ((1280, 720), (854, 480)):
        error, decisions, caps = run(
            "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=1920,height=1080 ! "
            f"stromautoconvertscale mode={mode} ! video/x-raw,format=NV12,width={width},height={height} ! "
            "fakesink name=sink"
        )
        check(f"1080p -> {width}x{height} mode={mode} runs to EOS", error is None, error)
        if caps is not None:
            # VideoInfo, not the structure: gst-python 1.26 (PyGObject 3.50) hands out a
            # StructureWrapper without get_int or get_value.
            info = GstVideo.VideoInfo.new_from_caps(caps)
            check(f"1080p -> {width}x{height} mode={mode} gives that size",
                  (info.width, info.height) == (width, height), caps.to_string())
        check(f"1080p -> {width}x{height} mode={mode}: one strom-autoconvert message", len(decisions) == 1)

for element in ("stromautoconvert", "stromautoconvertscale"):
    error, decisions, _ = run(
        "videotestsrc num-buffers=1 ! video/x-raw,format=ARGB,width=100,height=100,framerate=10/1 ! "
        f"{element} ! video/x-bayer,width=100,height=100,format=bggr,framerate=10/1 ! fakesink"
    )
    check(f"{element}: ARGB -> Bayer without error or warning", error is None, error)
    if decisions:
        check(f"{element}: Bayer is made by rgb2bayer", "rgb2bayer" in decisions[0].get_string("chain"))
    error, _, caps = run(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420,colorimetry=bt601 ! "
        f"{element} ! video/x-raw,format=NV12,colorimetry=bt709 ! fakesink name=sink"
    )
    check(f"{element}: bt601 -> bt709 negotiates", error is None, error)

conv = Gst.ElementFactory.make("stromautoconvertscale", None)
check("n-threads defaults to 0 (the CPUs this process may use)", conv.get_property("n-threads") == 0)
check("this process may use some CPUs", len(os.sched_getaffinity(0)) >= 1)

# videoconvert's properties on stromautoconvert, videoconvertscale's on stromautoconvertscale:
# same names, types and defaults as the installed stock elements (n-threads aside: ours is 0,
# automatic).
for element, stock_name in (("stromautoconvert", "videoconvert"), ("stromautoconvertscale", "videoconvertscale")):
    ours, stock = Gst.ElementFactory.make(element, None), Gst.ElementFactory.make(stock_name, None)
    if stock is None:
        skip(f"{element} has {stock_name}'s properties", f"{stock_name} is not installed")
        continue
    for spec in stock.list_properties():
        if spec.name in ("name", "parent", "n-threads"):
            continue
        mine = ours.find_property(spec.name)
        check(f"{element} has {stock_name}'s {spec.name}", mine is not None)
        if mine is None:
            continue
        if spec.name != "method":  # videoconvertscale's enum type lives in its plugin
            check(f"{element}.{spec.name} has the stock type", mine.value_type == spec.value_type,
                  f"{mine.value_type.name} vs {spec.value_type.name}")
        mine_default, stock_default = ours.get_property(spec.name), stock.get_property(spec.name)
        if spec.name == "method":
            mine_default, stock_default = int(mine_default), int(stock_default)
        check(f"{element}.{spec.name} has the stock default", mine_default == stock_default,
              f"{mine_default} vs {stock_default}")
    ours.set_property("dither", 0)
    ours.set_property("alpha-value", 0.25)
    check(f"{element}: dither and alpha-value set from Python", int(ours.get_property("dither")) == 0
          and ours.get_property("alpha-value") == 0.25)

# A value GL cannot honour keeps software, and the message says so.
error, decisions, _ = run(
    "videotestsrc num-buffers=2 ! stromautoconvertscale method=lanczos ! "
    "video/x-raw(memory:GLMemory),width=160,height=120 ! fakesink name=sink"
)
check("method=lanczos into GL memory runs", error is None, error)
check("method=lanczos keeps software and says why", bool(decisions)
      and decisions[0].get_string("path") == "software"
      and "method=lanczos" in decisions[0].get_string("reason"),
      decisions[0].to_string() if decisions else "no message")

finish("stromautoconvertscale GI")
