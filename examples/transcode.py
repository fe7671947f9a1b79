#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""Transcodes a test pattern to H.264 in MP4 through stromautoconvert, on the GPU when it can.

videotestsrc -> stromautoconvert -> nvh264enc (or x264enc without one) -> h264parse -> mp4mux ->
filesink. stromautoconvert chooses GL (zero-copy into NVENC) or software conversion and posts a
'strom-autoconvert' element message saying which and why; this script prints it.

Needs the strom plugin installed, or GST_PLUGIN_PATH set to the folder holding libgststrom.so:
    GST_PLUGIN_PATH=target/debug /usr/bin/python3 examples/transcode.py --frames 300 --output out.mp4
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

DECISION_FIELDS = ("path", "chain", "reason", "interop-status", "cuda-error", "gl-renderer")


def pick_encoder():
    """nvh264enc when nvcodec registered it (a GPU with NVENC is there), else x264enc."""
    return "nvh264enc" if Gst.ElementFactory.find("nvh264enc") else "x264enc"


def make(factory, **properties):
    element = Gst.ElementFactory.make(factory, None)
    if element is None:
        hint = " (install the strom plugin or set GST_PLUGIN_PATH)" if factory.startswith("strom") else ""
        raise RuntimeError(f"element '{factory}' is missing{hint}; run strom-doctor")
    for name, value in properties.items():
        element.set_property(name, value)
    return element


def build_pipeline(frames, output, encoder):
    chain = [
        make("videotestsrc", num_buffers=frames),
        make("stromautoconvert"),
        make(encoder),
        make("h264parse"),
        make("mp4mux"),
        make("filesink", location=output),
    ]
    pipeline = Gst.Pipeline.new("transcode")
    for element in chain:
        pipeline.add(element)
    for upstream, downstream in zip(chain, chain[1:]):
        if not upstream.link(downstream):
            raise RuntimeError(f"cannot link {upstream.get_name()} to {downstream.get_name()}")
    return pipeline


def print_decision(structure):
    print("strom-autoconvert:")
    for field in DECISION_FIELDS:
        if structure.has_field(field):
            print(f"  {field}: {structure.get_value(field)}")


def run(pipeline):
    """Plays until end of stream, printing the converter's decision; raises on a pipeline error."""
    bus = pipeline.get_bus()
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.pop_filtered(Gst.MessageType.ERROR)
        raise RuntimeError(message.parse_error()[0].message if message else "the pipeline cannot start")
    wanted = Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT
    while True:
        message = bus.timed_pop_filtered(Gst.CLOCK_TIME_NONE, wanted)
        if message.type == Gst.MessageType.EOS:
            return
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            raise RuntimeError(f"{error.message} ({debug})")
        structure = message.get_structure()
        if structure is not None and structure.get_name() == "strom-autoconvert":
            print_decision(structure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames to encode (default 300)")
    parser.add_argument("--output", default="transcode.mp4", help="MP4 file to write")
    args = parser.parse_args()

    Gst.init(None)
    encoder = pick_encoder()
    print(f"encoder: {encoder}")
    try:
        pipeline = build_pipeline(args.frames, args.output, encoder)
    except RuntimeError as err:
        print(f"transcode: {err}", file=sys.stderr)
        return 1
    try:
        run(pipeline)
    except RuntimeError as err:
        print(f"transcode: {err}", file=sys.stderr)
        return 1
    finally:
        pipeline.set_state(Gst.State.NULL)
    print(f"wrote {args.frames} frames to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
