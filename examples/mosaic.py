#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""Mixes four test sources into a 2x2 mosaic with a translucent picture-in-picture on top, through
stromcompositor, and encodes it to H.264 in MP4.

4 x videotestsrc (+ 1 overlay) -> stromcompositor -> nvh264enc (or x264enc) -> h264parse -> mp4mux
-> filesink. stromcompositor mixes on the GPU (glvideomixer) when GL renders on one and that pays
off, else on the CPU (compositor), and posts a 'strom-compositor' element message saying which and
why; this script prints it. Pad properties are set as on compositor; one is moved while playing.

Needs the strom plugin installed, or GST_PLUGIN_PATH set to the folder holding libgststrom.so:
    GST_PLUGIN_PATH=target/release /usr/bin/python3 examples/mosaic.py --frames 300 --output mosaic.mp4
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

DECISION_FIELDS = ("path", "mixer", "output-memory", "reason", "gl-renderer")
PATTERNS = ("smpte", "ball", "snow", "gradient")


def pick_encoder():
    """nvh264enc when nvcodec registered it (a GPU with NVENC is there), else x264enc."""
    return "nvh264enc" if Gst.ElementFactory.find("nvh264enc") else "x264enc"


def make(factory, **properties):
    element = Gst.ElementFactory.make(factory, None)
    if element is None:
        hint = " (install the strom plugin or set GST_PLUGIN_PATH)" if factory.startswith("strom") else ""
        raise RuntimeError(f"element '{factory}' is missing{hint}; run strom-doctor")
    for name, value in properties.items():
        element.set_property(name.replace("_", "-"), value)
    return element


def add_source(pipeline, comp, pattern, frames, size, **pad_properties):
    """videotestsrc ! caps ! comp.sink_%u, with the pad's placement properties."""
    src = make("videotestsrc", num_buffers=frames, pattern=pattern)
    caps = make("capsfilter", caps=Gst.Caps.from_string(
        f"video/x-raw,format=I420,width={size[0]},height={size[1]},framerate=30/1"))
    pipeline.add(src)
    pipeline.add(caps)
    src.link(caps)
    pad = comp.request_pad_simple("sink_%u")
    for name, value in pad_properties.items():
        pad.set_property(name, value)
    if caps.get_static_pad("src").link(pad) != Gst.PadLinkReturn.OK:
        raise RuntimeError(f"cannot link {pattern} to {pad.get_name()}")
    return pad


def build_pipeline(frames, output, encoder, mode, width, height):
    pipeline = Gst.Pipeline.new("mosaic")
    comp = make("stromcompositor", mode=mode, background="black")
    out_caps = make("capsfilter", caps=Gst.Caps.from_string(f"video/x-raw,width={width},height={height}"))
    tail = [comp, out_caps, make(encoder), make("h264parse"), make("mp4mux"), make("filesink", location=output)]
    for element in tail:
        pipeline.add(element)
    for upstream, downstream in zip(tail, tail[1:]):
        if not upstream.link(downstream):
            raise RuntimeError(f"cannot link {upstream.get_name()} to {downstream.get_name()}")
    half_w, half_h = width // 2, height // 2
    for i, pattern in enumerate(PATTERNS):
        add_source(pipeline, comp, pattern, frames, (width, height),
                   xpos=(i % 2) * half_w, ypos=(i // 2) * half_h, width=half_w, height=half_h)
    overlay = add_source(pipeline, comp, "circular", frames, (320, 240),
                         xpos=width // 2 - 160, ypos=height // 2 - 120, alpha=0.7)
    return pipeline, comp, overlay


def print_decision(structure):
    print("strom-compositor:")
    for field in DECISION_FIELDS:
        if structure.has_field(field):
            print(f"  {field}: {structure.get_value(field)}")


def run(pipeline, overlay, width):
    """Plays to end of stream, printing the mixer's decision and sliding the overlay sideways;
    raises on a pipeline error."""
    bus = pipeline.get_bus()
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.pop_filtered(Gst.MessageType.ERROR)
        raise RuntimeError(message.parse_error()[0].message if message else "the pipeline cannot start")
    wanted = Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT
    step = 0
    while True:
        message = bus.timed_pop_filtered(100 * Gst.MSECOND, wanted)
        if message is None:
            # Pad properties change while playing, as on compositor.
            step += 1
            overlay.set_property("xpos", (step * 40) % max(width - 320, 1))
            continue
        if message.type == Gst.MessageType.EOS:
            return
        if message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            raise RuntimeError(f"{error.message} ({debug})")
        structure = message.get_structure()
        if structure is not None and structure.get_name() == "strom-compositor":
            print_decision(structure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames to mix (default 300)")
    parser.add_argument("--output", default="mosaic.mp4", help="MP4 file to write")
    parser.add_argument("--mode", default="auto", choices=("auto", "gl", "software"),
                        help="stromcompositor mode (default auto)")
    parser.add_argument("--size", default="1280x720", help="output size WIDTHxHEIGHT (default 1280x720)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    Gst.init(None)
    encoder = pick_encoder()
    print(f"encoder: {encoder}")
    try:
        pipeline, _, overlay = build_pipeline(args.frames, args.output, encoder, args.mode, width, height)
    except RuntimeError as err:
        print(f"mosaic: {err}", file=sys.stderr)
        return 1
    try:
        run(pipeline, overlay, width)
    except RuntimeError as err:
        print(f"mosaic: {err}", file=sys.stderr)
        return 1
    finally:
        pipeline.set_state(Gst.State.NULL)
    print(f"wrote {args.frames} frames to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
