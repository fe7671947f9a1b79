#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""Encodes a test pattern through stromautoenc, with the best encoder that really opens here.

videotestsrc -> stromautoenc -> mp4mux or mpegtsmux (from the output's extension) -> filesink.
stromautoenc tries NVENC, VA, VA-API and Quick Sync before x264/openh264/x265/SVT-AV1/rav1e/aom,
keeps the first that opens, and posts a 'strom-autoenc' element message saying which, what was
tried and why; this script prints it. If the encoder fails mid-stream the bin switches to the next
one (a warning, and a second message): MPEG-TS carries that switch, MP4 may not.

Needs the strom plugin installed, or GST_PLUGIN_PATH set to the folder holding libgststrom.so:
    GST_PLUGIN_PATH=target/release /usr/bin/python3 examples/autoenc.py --codec h265 --output out.ts
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

MESSAGE_FIELDS = ("encoder", "codec", "hardware", "convert-path", "tried", "reason")


def make(factory, **properties):
    element = Gst.ElementFactory.make(factory, None)
    if element is None:
        hint = " (install the strom plugin or set GST_PLUGIN_PATH)" if factory.startswith("strom") else ""
        raise RuntimeError(f"element '{factory}' is missing{hint}; run strom-doctor")
    for name, value in properties.items():
        element.set_property(name.replace("_", "-"), value)
    return element


def build_pipeline(args):
    encoder = make("stromautoenc", bitrate=args.bitrate, candidates=args.candidates)
    # Enums by nick, as gst-launch-1.0 writes them.
    for name in ("codec", "tune", "preference"):
        Gst.util_set_object_arg(encoder, name, getattr(args, name))
    muxer = "mpegtsmux" if args.output.endswith(".ts") else "mp4mux"
    chain = [
        make("videotestsrc", num_buffers=args.frames, pattern="smpte"),
        make("capsfilter", caps=Gst.Caps.from_string("video/x-raw,width=1280,height=720,framerate=30/1")),
        encoder,
        make(muxer),
        make("filesink", location=args.output),
    ]
    pipeline = Gst.Pipeline.new("autoenc")
    for element in chain:
        pipeline.add(element)
    for upstream, downstream in zip(chain, chain[1:]):
        if not upstream.link(downstream):
            raise RuntimeError(f"cannot link {upstream.get_name()} to {downstream.get_name()}")
    return pipeline


def print_choice(structure):
    print("strom-autoenc:")
    for field in MESSAGE_FIELDS:
        print(f"  {field}: {structure.get_value(field)}")


def run(pipeline):
    """Plays until end of stream, printing each choice and warning; raises on a pipeline error."""
    bus = pipeline.get_bus()
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.pop_filtered(Gst.MessageType.ERROR)
        raise RuntimeError(message.parse_error()[0].message if message else "the pipeline cannot start")
    wanted = Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.WARNING | Gst.MessageType.ELEMENT
    while True:
        message = bus.timed_pop_filtered(Gst.CLOCK_TIME_NONE, wanted)
        if message.type == Gst.MessageType.EOS:
            return
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            raise RuntimeError(f"{error.message} ({debug})")
        if message.type == Gst.MessageType.WARNING:
            print(f"warning: {message.parse_warning()[0].message}")
            continue
        structure = message.get_structure()
        if structure is not None and structure.get_name() == "strom-autoenc":
            print_choice(structure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec", default="h264", choices=("h264", "h265", "av1"))
    parser.add_argument("--bitrate", type=int, default=4000, help="kbit/s (default 4000)")
    parser.add_argument("--tune", default="default", choices=("default", "low-latency"))
    parser.add_argument("--preference", default="auto", choices=("auto", "hardware", "software"))
    parser.add_argument("--candidates", default="", help='e.g. "nvh264enc,x264enc"; empty = built-in order')
    parser.add_argument("--frames", type=int, default=150, help="frames to encode (default 150)")
    parser.add_argument("--output", default="autoenc.mp4", help="file to write: .ts for MPEG-TS, else MP4")
    args = parser.parse_args()

    Gst.init(None)
    try:
        pipeline = build_pipeline(args)
    except RuntimeError as err:
        print(f"autoenc: {err}", file=sys.stderr)
        return 1
    try:
        run(pipeline)
    except RuntimeError as err:
        print(f"autoenc: {err}", file=sys.stderr)
        return 1
    finally:
        pipeline.set_state(Gst.State.NULL)
    print(f"wrote {args.frames} frames to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
