#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""Live table of NVIDIA GPU statistics from stromgpumonitor, or the reason they are unavailable.

    GST_PLUGIN_PATH=target/release /usr/bin/python3 examples/gpu_monitor.py \
        [--seconds N] [--interval MS] [--device INDEX]

Runs `videotestsrc is-live=true ! stromgpumonitor ! fakesink` and prints one row per
strom-gpu-stats element message read from the bus. Without --seconds it runs until Ctrl-C.
"""
import argparse
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

ROW = "{:>3} {:<28} {:>4} {:>13} {:>4} {:>4} {:>9} {:>5} {:>7} {:>8} {:>10}"


def value(s, name, fmt="{}"):
    """A field as text, or '-' when the GPU or driver does not report it."""
    return fmt.format(s.get_value(name)) if s.has_field(name) else "-"


def mib(s, name):
    return str(s.get_value(name) >> 20) if s.has_field(name) else "-"


def print_row(s):
    if not s.get_value("available"):
        reason, fix = s.get_value("reason"), value(s, "fix")
        if s.has_field("index"):
            print(f"{s.get_value('index'):>3} GPU statistics unavailable: {reason} (fix: {fix})")
        else:
            print(f"GPU statistics unavailable: {reason}\n  fix: {fix}")
        return
    running_time = s.get_value("running-time") / 1e9 if s.has_field("running-time") else None
    print(ROW.format(
        s.get_value("index"), value(s, "name"), value(s, "gpu-util"),
        f"{mib(s, 'memory-used')}/{mib(s, 'memory-total')}",
        value(s, "encoder-util"), value(s, "decoder-util"),
        f"{value(s, 'encoder-sessions')}/{value(s, 'encoder-fps')}",
        value(s, "temperature"), value(s, "power-watts", "{:.1f}"),
        mib(s, "process-memory-used"),
        "-" if running_time is None else f"{running_time:.1f}"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="stop after this long (default: run on)")
    parser.add_argument("--interval", type=int, default=1000, help="milliseconds (min 100)")
    parser.add_argument("--device", type=int, default=-1, help="NVML index, -1 for every GPU")
    args = parser.parse_args()

    Gst.init(None)
    if Gst.ElementFactory.find("stromgpumonitor") is None:
        sys.exit("stromgpumonitor not found: set GST_PLUGIN_PATH to the folder holding "
                 "libgststrom.so (e.g. target/release)")
    pipeline = Gst.parse_launch(
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! "
        f"stromgpumonitor interval={args.interval} device={args.device} ! fakesink")
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    rows, status = 0, 0
    try:
        while deadline is None or time.monotonic() < deadline:
            wait = Gst.CLOCK_TIME_NONE if deadline is None else \
                int(max(0.0, deadline - time.monotonic()) * Gst.SECOND)
            msg = bus.timed_pop(wait)
            if msg is None:
                continue
            if msg.type == Gst.MessageType.ELEMENT:
                s = msg.get_structure()
                if s.get_name() == "strom-gpu-stats":
                    if rows % 20 == 0 and s.get_value("available"):
                        print(ROW.format("GPU", "name", "gpu%", "mem MiB", "enc%", "dec%",
                                         "enc s/fps", "°C", "W", "proc MiB", "time s"))
                    rows += 1
                    print_row(s)
            elif msg.type == Gst.MessageType.WARNING:
                print("warning:", msg.parse_warning()[0].message, file=sys.stderr)
            elif msg.type == Gst.MessageType.ERROR:
                print("error:", msg.parse_error()[0].message, file=sys.stderr)
                status = 1
                break
            elif msg.type == Gst.MessageType.EOS:
                break
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.set_state(Gst.State.NULL)
    return status


if __name__ == "__main__":
    sys.exit(main())
