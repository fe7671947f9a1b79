#!/usr/bin/python3
# SPDX-License-Identifier: MPL-2.0
"""Python GI test of stromgpumonitor: reads strom-gpu-stats messages from the bus.

Run with the plugin on GST_PLUGIN_PATH (and /usr/bin/python3, which has GI):
    GST_PLUGIN_PATH=target/debug /usr/bin/python3 tests/python/test_gpumonitor.py
Without NVML it expects exactly one available=false message. With the test-only NVML stand-in
first on LD_LIBRARY_PATH, set STROM_EXPECT_GPUS=2 (its GPUs are made up; they prove nothing
about real hardware). Prints `gpumonitor-gi: N passed, M failed` last; exits 1 on failure.
"""
import hashlib
import os
import sys
import traceback

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstCheck", "1.0")
from gi.repository import Gst, GstCheck  # noqa: E402

EXPECT_GPUS = int(os.environ.get("STROM_EXPECT_GPUS", "0"))
PATIENCE = 20 * Gst.SECOND  # a hang guard, never a timing assertion


def stats_messages(bus, count, timeout=PATIENCE):
    """The next `count` strom-gpu-stats structures from `bus`."""
    found = []
    while len(found) < count:
        msg = bus.timed_pop_filtered(timeout, Gst.MessageType.ELEMENT | Gst.MessageType.ERROR)
        assert msg is not None, f"only {len(found)} of {count} strom-gpu-stats messages"
        assert msg.type != Gst.MessageType.ERROR, msg.parse_error()
        s = msg.get_structure()
        if s is not None and s.get_name() == "strom-gpu-stats":
            found.append(s)
    return found


def remaining_stats(bus):
    found = []
    while True:
        msg = bus.pop()
        if msg is None:
            return found
        s = msg.get_structure()
        if msg.type == Gst.MessageType.ELEMENT and s.get_name() == "strom-gpu-stats":
            found.append(s)


def test_element_and_defaults():
    monitor = Gst.ElementFactory.make("stromgpumonitor", None)
    assert monitor is not None, "stromgpumonitor not found: is GST_PLUGIN_PATH set?"
    assert monitor.get_property("interval") == 1000
    assert monitor.get_property("device") == -1
    assert monitor.get_property("last-stats") is None


def test_messages_from_bus():
    # No data ever flows: the monitor samples on the clock, not per buffer.
    pipeline = Gst.parse_launch(
        "appsrc is-live=true ! stromgpumonitor name=m interval=100 ! fakesink async=false")
    bus = pipeline.get_bus()
    clock = None
    if EXPECT_GPUS == 0:
        # The monitor samples on the pipeline clock: with a test clock, time passes when the
        # test says, so "nothing more" needs no wall-clock wait.
        clock = GstCheck.TestClock.new()
        pipeline.use_clock(clock)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        if EXPECT_GPUS == 0:
            (s,) = stats_messages(bus, 1)
            assert s.get_value("available") is False, s.to_string()
            assert "libnvidia-ml.so.1" in s.get_value("reason"), s.to_string()
            # Said once: nothing waits on the clock to sample, and five intervals later
            # nothing more is on the bus.
            assert clock.peek_id_count() == 0, "a sampler waits on the clock without NVML"
            clock.advance_time(5 * 100 * Gst.MSECOND)
            extra = bus.pop_filtered(Gst.MessageType.ELEMENT)
            assert extra is None, extra.get_structure().to_string()
        else:
            msgs = stats_messages(bus, 2 * EXPECT_GPUS)
            seen = sorted({s.get_value("index") for s in msgs})
            assert seen == list(range(EXPECT_GPUS)), seen
            for s in msgs:
                assert s.get_value("available") is True, s.to_string()
                assert isinstance(s.get_value("gpu-util"), int)
                assert isinstance(s.get_value("memory-used"), int)
                assert isinstance(s.get_value("power-watts"), float)
                assert isinstance(s.get_value("running-time"), int)
            last = pipeline.get_by_name("m").get_property("last-stats")
            assert last.get_name() == "strom-gpu-stats-list", last.to_string()
            devices = last.get_value("devices")  # a Gst.ValueArray of structures
            assert [d.get_value("index") for d in devices] == list(range(EXPECT_GPUS))
    finally:
        pipeline.set_state(Gst.State.NULL)
    if EXPECT_GPUS == 0:
        assert remaining_stats(bus) == [], "more than one message without NVML"


def digest(description):
    """md5 of every buffer the pipeline's appsink receives."""
    pipeline = Gst.parse_launch(description)
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    md5 = hashlib.md5()
    frames = 0
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buf = sample.get_buffer()
        md5.update(buf.extract_dup(0, buf.get_size()))
        frames += 1
    msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    assert msg is None, msg.parse_error()
    return md5.hexdigest(), frames


def test_data_untouched():
    source = "videotestsrc num-buffers=20 pattern=smpte ! video/x-raw,width=64,height=48 ! "
    plain = digest(source + "appsink name=out sync=false")
    monitored = digest(source + "stromgpumonitor interval=100 ! appsink name=out sync=false")
    assert plain == monitored and plain[1] == 20, (plain, monitored)


def main():
    Gst.init(None)
    tests = [test_element_and_defaults, test_messages_from_bus, test_data_untouched]
    passed = failed = 0
    for test in tests:
        try:
            test()
            passed += 1
            print(f"ok {test.__name__}")
        except Exception:  # report every failure, then the summary
            failed += 1
            print(f"FAIL {test.__name__}")
            traceback.print_exc(file=sys.stdout)
    print(f"gpumonitor-gi: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
