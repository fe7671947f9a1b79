// SPDX-License-Identifier: MPL-2.0
//! `stromgpumonitor`: passthrough without NVML, and every NVML branch through the test-only
//! `libnvidia-ml.so.1` stand-in (`tests/stubs/libnvidia_ml_stub.c`). The stand-in's numbers are
//! made up from the device index; nothing here shows that a real GPU works.
//!
//! NVML is initialised once per process, so each stand-in scenario runs in its own child process
//! with the stand-in first on `LD_LIBRARY_PATH` (`common::run_child`). Element-level tests use
//! `gst_check::Harness`, whose test clock drives the sampler tick by tick without any timing.

mod built;
mod common;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    Child, child_name, describe_output, drain_bus, init, is_child, launch, library_path_with,
    nvml_stub_dir, read_bus, repo_root, report, run_child, run_launch,
};
use gst::prelude::*;
use serde::{Deserialize, Serialize};

const MESSAGE: &str = "strom-gpu-stats";
/// How long to wait for a message that must come (a hang guard, not a timing assertion).
const PATIENCE: gst::ClockTime = gst::ClockTime::from_seconds(20);

/// Every field a stand-in GPU reports, in message order.
const ALL_FIELDS: [&str; 22] = [
    "available",
    "index",
    "name",
    "uuid",
    "pci-bus-id",
    "gpu-util",
    "memory-util",
    "encoder-util",
    "decoder-util",
    "memory-used",
    "memory-total",
    "temperature",
    "power-watts",
    "graphics-clock-mhz",
    "memory-clock-mhz",
    "encoder-sessions",
    "encoder-fps",
    "encoder-latency-us",
    "process-memory-used",
    "driver-version",
    "running-time",
    // Present only on available=false messages.
    "reason",
];

/// Runs child test `name` with the NVML stand-in first on `LD_LIBRARY_PATH` plus `envs`.
fn run_with_stub(name: &str, envs: &[(&str, &str)]) -> Child {
    let path = library_path_with(&nvml_stub_dir());
    let mut all = vec![
        ("LD_LIBRARY_PATH", path.as_str()),
        ("GST_DEBUG", "stromgpumonitor:4"),
        ("GST_DEBUG_NO_COLOR", "1"),
    ];
    all.extend_from_slice(envs);
    run_child(name, &all)
}

/// Whether this machine has a working NVML (then the "without NVML" tests have nothing to test).
fn nvml_present() -> bool {
    gststrom::gpu::nvml::nvml().is_ok()
}

/// A harness around a `stromgpumonitor` with `props`, its messages going to the returned bus.
fn monitor_harness(props: &[(&str, glib::Value)], caps: &str) -> (gst_check::Harness, gst::Bus) {
    init();
    let mut builder = gst::ElementFactory::make("stromgpumonitor");
    for (name, value) in props {
        builder = builder.property(name, value.clone());
    }
    let element = builder.build().expect("stromgpumonitor is registered");
    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    let mut harness = gst_check::Harness::with_element(&element, Some("sink"), Some("src"));
    harness.set_src_caps_str(caps);
    harness.play();
    (harness, bus)
}

/// Waits for the next `strom-gpu-stats` message (panics after [`PATIENCE`], or at an error).
fn next_stats(bus: &gst::Bus) -> gst::Structure {
    let log = read_bus(bus, PATIENCE.into(), |log| !log.named(MESSAGE).is_empty());
    match log.named(MESSAGE).first() {
        Some(stats) => (*stats).to_owned(),
        None => panic!("a strom-gpu-stats message: {:?}", log.error()),
    }
}

/// Messages already on the bus: (stats structures, errors, warnings).
fn drain(bus: &gst::Bus) -> (Vec<gst::Structure>, Vec<String>, Vec<String>) {
    let log = drain_bus(bus);
    let text = |problems: &[common::Problem]| problems.iter().map(|p| p.to_string()).collect();
    let stats = log.named(MESSAGE).into_iter().cloned().collect();
    (stats, text(&log.errors), text(&log.warnings))
}

/// Lets the sampler take one sample: the test clock releases its pending wait (even the first,
/// which is due at once on a real clock).
fn tick(harness: &mut gst_check::Harness) {
    harness
        .crank_single_clock_wait()
        .expect("the sampler waits on the clock");
}

/// Stops the harness's element: the sampler is joined, so every message it posted is on the bus.
fn stop(harness: &gst_check::Harness) {
    harness
        .element()
        .expect("harness element")
        .set_state(gst::State::Null)
        .expect("element stops");
}

fn last_stats(harness: &gst_check::Harness) -> Option<gst::Structure> {
    harness
        .element()
        .expect("harness element")
        .property::<Option<gst::Structure>>("last-stats")
}

fn indices(stats: &[gst::Structure]) -> Vec<(u32, bool)> {
    stats
        .iter()
        .map(|s| {
            (
                s.get::<u32>("index").expect("index"),
                s.get::<bool>("available").expect("available"),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Without NVML (this machine): one available=false message, data untouched.

/// Pushes `count` distinct buffers of `size` bytes through a monitor and checks each comes out as
/// the very same buffer (no copy), with the same bytes; then, where NVML is absent, that the one
/// message says so.
fn push_through_without_nvml(caps: &str, size: usize, count: u8) {
    let (mut harness, bus) = monitor_harness(&[], caps);
    let (mut input, mut output) = (DefaultHasher::new(), DefaultHasher::new());
    for i in 0..count {
        let data: Vec<u8> = (0..size).map(|j| (j as u8).wrapping_mul(31) ^ i).collect();
        data.hash(&mut input);
        let mut buffer = gst::Buffer::from_mut_slice(data);
        buffer
            .get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(u64::from(i) * 20));
        let pushed = buffer.as_ptr();
        harness.push(buffer).expect("buffer accepted");
        let out = harness.pull().expect("buffer comes out");
        assert_eq!(out.as_ptr(), pushed, "passthrough must not copy");
        out.map_readable().unwrap().as_slice().hash(&mut output);
    }
    assert_eq!(input.finish(), output.finish(), "output bytes differ");

    stop(&harness);
    if nvml_present() {
        return common::skip("NVML works on this machine: the without-NVML message is not checked");
    }
    let (stats, errors, warnings) = drain(&bus);
    assert!(errors.is_empty(), "no error without NVML: {errors:?}");
    assert!(
        warnings.is_empty(),
        "the cause goes to the log, not the bus: {warnings:?}"
    );
    assert_eq!(stats.len(), 1, "exactly one message: {stats:?}");
    let s = &stats[0];
    assert_eq!(s.get::<bool>("available"), Ok(false));
    let reason = s.get::<String>("reason").expect("reason");
    assert!(reason.contains("libnvidia-ml.so.1"), "{reason}");
    assert!(
        s.get::<String>("fix")
            .expect("fix")
            .contains("NVIDIA driver")
    );
    let last = last_stats(&harness).expect("last-stats after the report");
    assert_eq!(last.name(), "strom-gpu-stats-list");
}

#[test]
fn without_nvml_video_passes_untouched_with_one_unavailable_message() {
    push_through_without_nvml(
        "video/x-raw,format=I420,width=64,height=48,framerate=30/1",
        4608,
        8,
    );
}

#[test]
fn without_nvml_audio_passes_untouched_with_one_unavailable_message() {
    push_through_without_nvml(
        "audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved",
        3840,
        8,
    );
}

#[test]
fn without_nvml_pipeline_runs_to_eos_without_error() {
    let (_pipeline, result) = run_launch(
        "videotestsrc num-buffers=30 ! video/x-raw,width=64,height=48 ! \
         stromgpumonitor interval=100 ! fakesink",
    );
    assert_eq!(result.error(), None);
    if nvml_present() {
        return common::skip("NVML works on this machine: the without-NVML message is not checked");
    }
    let stats: Vec<_> = result
        .element_messages
        .iter()
        .filter(|s| s.name() == MESSAGE)
        .collect();
    assert_eq!(stats.len(), 1, "{stats:?}");
    assert_eq!(stats[0].get::<bool>("available"), Ok(false));
}

#[test]
fn properties_have_documented_defaults() {
    init();
    let element = gst::ElementFactory::make("stromgpumonitor")
        .build()
        .unwrap();
    assert_eq!(element.property::<u32>("interval"), 1000);
    assert_eq!(element.property::<i32>("device"), -1);
    assert_eq!(
        element.property::<Option<gst::Structure>>("last-stats"),
        None
    );
    let interval = element.find_property("interval").unwrap();
    let interval = interval.downcast_ref::<glib::ParamSpecUInt>().unwrap();
    assert_eq!(interval.minimum(), 100);
    assert!(
        !element
            .find_property("last-stats")
            .unwrap()
            .flags()
            .contains(glib::ParamFlags::WRITABLE)
    );
}

// ---------------------------------------------------------------------------------------------
// With the NVML stand-in, in child processes.

#[test]
fn stub_two_gpus_map_every_field() {
    let log = run_with_stub(&child_name!(child_two_gpus_map_every_field), &[]).stderr;
    assert!(
        log.contains("✓ NVML initialized successfully - found 2 GPU(s)"),
        "INFO line missing:\n{log}"
    );
}

#[test]
#[ignore = "run by stub_two_gpus_map_every_field"]
fn child_two_gpus_map_every_field() {
    if !is_child() {
        return;
    }
    let (mut harness, bus) = monitor_harness(&[], "application/x-test");
    tick(&mut harness);
    let first = [next_stats(&bus), next_stats(&bus)];
    tick(&mut harness);
    let second = [next_stats(&bus), next_stats(&bus)];
    let last = last_stats(&harness).expect("last-stats after a sample");
    stop(&harness);
    let (rest, errors, _) = drain(&bus);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(rest.is_empty(), "two ticks, two messages each: {rest:?}");

    for (index, s) in first.iter().enumerate() {
        let i = index as u32;
        let fields: Vec<_> = s.fields().map(|f| f.as_str()).collect();
        assert_eq!(fields, &ALL_FIELDS[..21], "field set and order of {s}");
        assert_eq!(s.get::<bool>("available"), Ok(true));
        assert_eq!(s.get::<u32>("index"), Ok(i));
        assert_eq!(
            s.get::<String>("name").unwrap(),
            format!("NVML stand-in {i} (test only)")
        );
        assert_eq!(
            s.get::<String>("uuid").unwrap(),
            format!("GPU-00000000-0000-0000-0000-{i:012}")
        );
        assert_eq!(
            s.get::<String>("pci-bus-id").unwrap(),
            format!("00000000:{:02X}:00.0", i + 1)
        );
        assert_eq!(s.get::<u32>("gpu-util"), Ok(10 + i));
        assert_eq!(s.get::<u32>("memory-util"), Ok(20 + i));
        assert_eq!(s.get::<u32>("encoder-util"), Ok(30 + i));
        assert_eq!(s.get::<u32>("decoder-util"), Ok(40 + i));
        assert_eq!(s.get::<u64>("memory-used"), Ok(u64::from(1 + i) << 30));
        assert_eq!(s.get::<u64>("memory-total"), Ok(u64::from(8 + i) << 30));
        assert_eq!(s.get::<u32>("temperature"), Ok(50 + i));
        assert_eq!(s.get::<f64>("power-watts"), Ok(75.5 + f64::from(i)));
        assert_eq!(s.get::<u32>("graphics-clock-mhz"), Ok(1500 + i));
        assert_eq!(s.get::<u32>("memory-clock-mhz"), Ok(7000 + i));
        assert_eq!(s.get::<u32>("encoder-sessions"), Ok(2 + i));
        assert_eq!(s.get::<u32>("encoder-fps"), Ok(60 + i));
        assert_eq!(s.get::<u32>("encoder-latency-us"), Ok(1000 + i));
        // Only this process's entry counts, not the stand-in's pid 1.
        assert_eq!(
            s.get::<u64>("process-memory-used"),
            Ok(u64::from(100 + i) << 20)
        );
        assert_eq!(
            s.get::<String>("driver-version").unwrap(),
            "550.00-stand-in"
        );
    }
    // The test clock moved exactly one interval between the ticks.
    let rt = |s: &gst::Structure| s.get::<u64>("running-time").expect("running-time");
    assert_eq!(rt(&second[0]) - rt(&first[0]), 1_000_000_000);
    assert_eq!(indices(&second), [(0, true), (1, true)]);

    assert_eq!(last.name(), "strom-gpu-stats-list");
    let devices = last.get::<gst::Array>("devices").expect("devices array");
    let devices: Vec<_> = devices
        .iter()
        .map(|v| v.get::<gst::Structure>().unwrap())
        .collect();
    assert_eq!(devices, second);
}

#[test]
fn stub_unsupported_metrics_are_left_out() {
    run_with_stub(
        &child_name!(child_unsupported_metrics_are_left_out),
        &[(
            "STROM_STUB_NVML_UNSUPPORTED",
            "utilization,encoder-util,decoder-util,memory,temperature,power,graphics-clock,\
             memory-clock,encoder-stats,processes,uuid,pci",
        )],
    );
}

#[test]
#[ignore = "run by stub_unsupported_metrics_are_left_out"]
fn child_unsupported_metrics_are_left_out() {
    if !is_child() {
        return;
    }
    let (mut harness, bus) = monitor_harness(&[("device", 0i32.to_value())], "application/x-test");
    tick(&mut harness);
    let s = next_stats(&bus);
    stop(&harness);
    let fields: Vec<_> = s.fields().map(|f| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "available",
            "index",
            "name",
            "driver-version",
            "running-time"
        ],
        "unsupported metrics must be absent, not 0: {s}"
    );
    assert_eq!(s.get::<bool>("available"), Ok(true));
}

#[test]
fn stub_device_1_selects_one_gpu() {
    run_with_stub(&child_name!(child_device_1_selects_one_gpu), &[]);
}

#[test]
#[ignore = "run by stub_device_1_selects_one_gpu"]
fn child_device_1_selects_one_gpu() {
    if !is_child() {
        return;
    }
    let (mut harness, bus) = monitor_harness(&[("device", 1i32.to_value())], "application/x-test");
    for _ in 0..3 {
        tick(&mut harness);
        next_stats(&bus);
    }
    let last = last_stats(&harness).expect("last-stats");
    stop(&harness);
    let (rest, _, _) = drain(&bus);
    assert!(rest.is_empty(), "one GPU, one message per tick: {rest:?}");
    assert_eq!(last.name(), MESSAGE, "one device: a plain structure");
    assert_eq!(last.get::<u32>("index"), Ok(1));
}

#[test]
fn stub_device_beyond_count_warns_at_start() {
    run_with_stub(&child_name!(child_device_beyond_count_warns_at_start), &[]);
}

#[test]
#[ignore = "run by stub_device_beyond_count_warns_at_start"]
fn child_device_beyond_count_warns_at_start() {
    if !is_child() {
        return;
    }
    let (mut harness, bus) = monitor_harness(&[("device", 7i32.to_value())], "application/x-test");
    harness.push(gst::Buffer::from_slice([1u8, 2, 3])).unwrap();
    let out = harness.pull().unwrap();
    assert_eq!(out.map_readable().unwrap().as_slice(), [1, 2, 3]);
    stop(&harness);
    let (stats, errors, warnings) = drain(&bus);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("device=7 does not exist: NVML found 2 GPU(s)"),
        "{warnings:?}"
    );
    assert_eq!(stats.len(), 1, "{stats:?}");
    assert_eq!(stats[0].get::<bool>("available"), Ok(false));
}

#[test]
fn stub_device_lost_mid_run_others_go_on() {
    let log = run_with_stub(
        &child_name!(child_device_lost_mid_run_others_go_on),
        &[
            ("STROM_STUB_NVML_FAIL_DEVICE", "1"),
            ("STROM_STUB_NVML_FAIL_AFTER", "2"),
        ],
    )
    .stderr;
    let warns: Vec<_> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("GPU 1 stopped answering NVML"))
        .collect();
    assert_eq!(warns.len(), 1, "one WARN for the lost GPU:\n{log}");
    assert!(warns[0].contains("NVML_ERROR_GPU_IS_LOST"), "{}", warns[0]);
}

#[test]
#[ignore = "run by stub_device_lost_mid_run_others_go_on"]
fn child_device_lost_mid_run_others_go_on() {
    if !is_child() {
        return;
    }
    let (mut harness, bus) = monitor_harness(&[], "application/x-test");
    let mut stats = vec![];
    // Ticks 1 to 3 sample both GPUs (GPU 1 fails on the third), ticks 4 and 5 only GPU 0.
    for expected in [2, 2, 2, 1, 1] {
        tick(&mut harness);
        for _ in 0..expected {
            stats.push(next_stats(&bus));
        }
    }
    let last = last_stats(&harness).expect("last-stats");
    stop(&harness);
    let (rest, errors, warnings) = drain(&bus);
    assert!(rest.is_empty() && errors.is_empty(), "{rest:?} {errors:?}");
    assert!(
        warnings.is_empty(),
        "a lost GPU is a log WARN + message: {warnings:?}"
    );
    assert_eq!(
        indices(&stats),
        [
            (0, true),
            (1, true),
            (0, true),
            (1, true),
            (0, true),
            (1, false),
            (0, true),
            (0, true)
        ]
    );
    let lost = &stats[5];
    let reason = lost.get::<String>("reason").unwrap();
    assert!(reason.contains("NVML_ERROR_GPU_IS_LOST"), "{reason}");
    assert!(lost.has_field("running-time"));

    let devices = last.get::<gst::Array>("devices").unwrap();
    let available: Vec<bool> = devices
        .iter()
        .map(|v| v.get::<gst::Structure>().unwrap().get("available").unwrap())
        .collect();
    assert_eq!(available, [true, false]);
}

#[test]
fn stub_nvml_init_failure_reported_once() {
    run_with_stub(
        &child_name!(child_nvml_init_failure_reported_once),
        &[("STROM_STUB_NVML_INIT", "9")],
    );
}

#[test]
#[ignore = "run by stub_nvml_init_failure_reported_once"]
fn child_nvml_init_failure_reported_once() {
    if !is_child() {
        return;
    }
    let (mut harness, bus) = monitor_harness(&[], "application/x-test");
    harness.push(gst::Buffer::from_slice([9u8; 16])).unwrap();
    harness.pull().unwrap();
    stop(&harness);
    let (stats, errors, _) = drain(&bus);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(stats.len(), 1, "{stats:?}");
    let reason = stats[0].get::<String>("reason").unwrap();
    assert!(reason.contains("NVML_ERROR_DRIVER_NOT_LOADED"), "{reason}");
    assert!(
        stats[0]
            .get::<String>("fix")
            .unwrap()
            .contains("modprobe nvidia")
    );
}

#[test]
fn library_without_nvml_symbols_is_an_error_not_a_crash() {
    // A library that opens under the NVML soname but exports none of its entry points.
    let cuda = common::cuda_stub_dir().join("libcuda.so.1");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stubs/nvml-without-symbols");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!("lib.{}.tmp", std::process::id()));
    std::fs::copy(&cuda, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("libnvidia-ml.so.1")).unwrap();
    let path = library_path_with(&dir);
    run_child(
        &child_name!(child_library_without_nvml_symbols),
        &[("LD_LIBRARY_PATH", path.as_str())],
    );
}

#[test]
#[ignore = "run by library_without_nvml_symbols_is_an_error_not_a_crash"]
fn child_library_without_nvml_symbols() {
    if !is_child() {
        return;
    }
    let (harness, bus) = monitor_harness(&[], "application/x-test");
    stop(&harness);
    let (stats, errors, _) = drain(&bus);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(stats.len(), 1, "{stats:?}");
    let reason = stats[0].get::<String>("reason").unwrap();
    assert!(reason.contains("not a usable NVML"), "{reason}");
    assert!(reason.contains("nvmlInit_v2"), "{reason}");
}

// ---------------------------------------------------------------------------------------------
// With the stand-in on the real (system) clock: interval and stopping, with no data flowing.

/// A pipeline in which no buffer ever flows: a live `appsrc` nobody feeds.
fn idle_pipeline(props: &str) -> (gst::Pipeline, gst::Bus) {
    let pipeline = launch(&format!(
        "appsrc is-live=true ! stromgpumonitor {props} ! fakesink async=false"
    ));
    let bus = pipeline.bus().unwrap();
    (pipeline, bus)
}

/// How many messages one interval gave in the interval child.
#[derive(Debug, Serialize, Deserialize)]
struct IntervalCount {
    interval_ms: u32,
    messages: usize,
    elapsed_ms: u128,
    /// One sample at start, then one per interval.
    most: usize,
}

#[test]
fn stub_interval_honoured_over_three_seconds() {
    let counts: Vec<IntervalCount> = run_with_stub(
        &child_name!(child_interval_honoured_over_three_seconds),
        &[],
    )
    .report();
    // Show the child's counts in the parent's output.
    for c in &counts {
        println!(
            "interval={} ms: {} messages in {} ms (at most {} possible)",
            c.interval_ms, c.messages, c.elapsed_ms, c.most
        );
    }
}

#[test]
#[ignore = "run by stub_interval_honoured_over_three_seconds"]
fn child_interval_honoured_over_three_seconds() {
    if !is_child() {
        return;
    }
    let runs: Vec<_> = [100u32, 500]
        .into_iter()
        .map(|interval| {
            (
                interval,
                idle_pipeline(&format!("interval={interval} device=0")),
            )
        })
        .collect();
    let started = Instant::now();
    for (_, (pipeline, _)) in &runs {
        pipeline.set_state(gst::State::Playing).unwrap();
    }
    std::thread::sleep(Duration::from_secs(3));
    // PAUSED, not NULL: a pipeline flushes its bus on the way to NULL.
    for (_, (pipeline, _)) in &runs {
        pipeline.set_state(gst::State::Paused).unwrap();
    }
    let elapsed = started.elapsed();
    let mut counts = Vec::new();
    for (interval, (pipeline, bus)) in &runs {
        let (stats, errors, _) = drain(bus);
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        // One sample at start, then one per interval: never more than that, and no less than
        // half of it even on a loaded machine (late ticks are caught up, not skipped).
        let most = elapsed.as_millis() as usize / *interval as usize + 1;
        counts.push(IntervalCount {
            interval_ms: *interval,
            messages: stats.len(),
            elapsed_ms: elapsed.as_millis(),
            most,
        });
        assert!(
            stats.len() <= most,
            "{} > {most} in {elapsed:?}",
            stats.len()
        );
        assert!(
            stats.len() * 2 >= most,
            "{} < {most}/2 in {elapsed:?}",
            stats.len()
        );
        let times: Vec<u64> = stats
            .iter()
            .map(|s| s.get("running-time").unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    }
    report(&counts);
}

#[test]
fn stub_no_messages_after_leaving_playing() {
    run_with_stub(&child_name!(child_no_messages_after_leaving_playing), &[]);
}

#[test]
#[ignore = "run by stub_no_messages_after_leaving_playing"]
fn child_no_messages_after_leaving_playing() {
    if !is_child() {
        return;
    }
    // The sampler waits on the pipeline clock; with a test clock the test decides when time
    // passes, so "nothing was posted while ten intervals passed" needs no wall-clock sleep.
    let (pipeline, bus) = idle_pipeline("interval=100");
    let clock = gst_check::TestClock::new();
    pipeline.use_clock(Some(&clock));
    pipeline.set_state(gst::State::Playing).unwrap();
    for _ in 0..6 {
        release_next_sample(&clock);
        next_stats(&bus);
    }
    pipeline.set_state(gst::State::Paused).unwrap();
    drain(&bus); // posted before the state change returned
    assert_nothing_after_ten_intervals(&clock, &bus, "PAUSED");

    // Back to PLAYING: sampling resumes.
    pipeline.set_state(gst::State::Playing).unwrap();
    release_next_sample(&clock);
    next_stats(&bus);
    pipeline.set_state(gst::State::Ready).unwrap();
    drain(&bus);
    assert_nothing_after_ten_intervals(&clock, &bus, "READY");
    pipeline.set_state(gst::State::Null).unwrap();
}

/// Lets the sampler's next clock wait return (panics if it does not wait within [`PATIENCE`]).
fn release_next_sample(clock: &gst_check::TestClock) {
    let patience = u32::try_from(PATIENCE.mseconds()).unwrap();
    let (waiting, _) = clock.timed_wait_for_multiple_pending_ids(1, patience);
    assert!(waiting, "the sampler waits on the pipeline clock");
    assert!(clock.crank());
}

/// After the element left PLAYING (its thread is joined by then): nobody waits on the clock,
/// and ten intervals of clock time later nothing is on the bus. The state change returning is
/// the event this waits for; a thread still running would be waiting on the clock.
fn assert_nothing_after_ten_intervals(clock: &gst_check::TestClock, bus: &gst::Bus, state: &str) {
    assert_eq!(clock.peek_id_count(), 0, "a clock wait after {state}");
    clock.advance_time(10 * 100 * gst::ClockTime::MSECOND.nseconds() as i64);
    let (after, errors, _) = drain(bus);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(after.is_empty(), "messages after {state}: {after:?}");
}

// ---------------------------------------------------------------------------------------------
// From the outside: gst-inspect, gst-launch with the leaks tracer, Python GI, the examples.

/// A command with the built plugin on `GST_PLUGIN_PATH` and a registry of its own.
fn outside(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let plugin = built::profile_dir().join("libgststrom.so");
    assert!(
        plugin.exists(),
        "{} missing: build the plugin (cargo build) first",
        plugin.display()
    );
    let mut cmd = Command::new(program);
    cmd.current_dir(repo_root())
        .env("GST_PLUGIN_PATH", built::profile_dir())
        .env(
            "GST_REGISTRY",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("gpumonitor-registry.bin"),
        )
        .env_remove("STROM_TEST_CHILD");
    cmd
}

fn with_stub(cmd: &mut Command) -> &mut Command {
    cmd.env("LD_LIBRARY_PATH", library_path_with(&nvml_stub_dir()))
}

fn succeed(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        describe_output(&out)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn gst_inspect_shows_the_properties() {
    let (stdout, _) = succeed(outside("gst-inspect-1.0").arg("stromgpumonitor"));
    for property in ["interval", "device", "last-stats"] {
        assert!(
            stdout.contains(&format!("  {property} ")),
            "{property} missing:\n{stdout}"
        );
    }
}

#[test]
fn gst_launch_with_stub_posts_stats_and_leaks_nothing() {
    let (stdout, stderr) = succeed(
        with_stub(&mut outside("gst-launch-1.0"))
            .envs(common::LEAKS_TRACER)
            .args([
                "-m",
                "videotestsrc",
                "is-live=true",
                "num-buffers=10",
                "!",
                "stromgpumonitor",
                "interval=100",
                "!",
                "fakesink",
            ]),
    );
    for index in 0..2 {
        assert!(
            stdout.contains(&format!(
                "strom-gpu-stats, available=(boolean)true, index=(uint){index}"
            )),
            "GPU {index} missing:\n{stdout}"
        );
    }
    // The tracer's own format line also names object-alive; real leaks carry values.
    let leaks: Vec<_> = stderr
        .lines()
        .filter(|l| {
            l.contains("Leaks detected")
                || (l.contains("object-alive, type-name=(string)") && !l.contains("%s"))
        })
        .collect();
    assert!(leaks.is_empty(), "leaks:\n{}", leaks.join("\n"));
}

#[test]
fn python_gi_reads_messages_from_the_bus() {
    let script = "tests/python/test_gpumonitor.py";
    let (without, _) = succeed(outside("/usr/bin/python3").arg(script));
    let (with, _) = succeed(
        with_stub(&mut outside("/usr/bin/python3"))
            .env("STROM_EXPECT_GPUS", "2")
            .arg(script),
    );
    for out in [&without, &with] {
        let summary = out.lines().last().unwrap_or_default();
        assert!(
            summary.starts_with("gpumonitor-gi: ") && summary.ends_with(" 0 failed"),
            "{out}"
        );
        println!("{summary}");
    }
}

#[test]
fn rust_example_prints_table_or_reason() {
    let example = built::example("gpu_monitor");
    let (without, _) = succeed(outside(&example).args(["--seconds", "1"]));
    assert!(
        without.contains("GPU statistics unavailable: "),
        "{without}"
    );
    let (with, _) =
        succeed(with_stub(&mut outside(&example)).args(["--seconds", "1", "--interval", "200"]));
    assert!(with.contains("NVML stand-in 0"), "{with}");
    assert!(with.contains("NVML stand-in 1"), "{with}");
}

#[test]
fn python_example_prints_table_or_reason() {
    let script = "examples/gpu_monitor.py";
    let (without, _) = succeed(outside("/usr/bin/python3").args([script, "--seconds", "1"]));
    assert!(
        without.contains("GPU statistics unavailable: "),
        "{without}"
    );
    let (with, _) = succeed(with_stub(&mut outside("/usr/bin/python3")).args([
        script,
        "--seconds",
        "1",
        "--interval",
        "200",
    ]));
    assert!(with.contains("NVML stand-in 1"), "{with}");
}
