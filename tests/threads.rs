// SPDX-License-Identifier: MPL-2.0
//! `n-threads=0` sized from what the process may really use, not the host's cores: a child
//! process runs with a CPU affinity or a cgroup CPU quota the test sets, and reports how many
//! threads the bin gave its internal videoconvert, and how many helper threads the internal
//! fast converter started (one thread by default where one is fast enough, row bands over the
//! usable CPUs for UYVY/YUY2 -> I420, exactly N for `n-threads=N`, none left once stopped).

mod common;

use std::path::{Path, PathBuf};

use gst::prelude::*;
use serde::{Deserialize, Serialize};

use common::child_name;

/// The threads each element gave its internal converter, in a child process.
#[derive(Debug, Serialize, Deserialize)]
struct Threads {
    stromautoconvert: u32,
    stromautoconvertscale: u32,
}

/// Builds a software chain through videoconvert (RGB -> AYUV has no fast path) with
/// `n-threads=0` and prints the threads the internal converter got.
#[test]
#[ignore = "run by the tests below in their own processes"]
fn child_reports_converter_threads() {
    if !common::is_child() {
        return;
    }
    common::init();
    let mut threads = [0u32; 2];
    for (i, element) in ["stromautoconvert", "stromautoconvertscale"]
        .iter()
        .enumerate()
    {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=1 ! video/x-raw,format=RGB,width=64,height=48 \
             ! {element} name=conv n-threads=0 ! video/x-raw,format=AYUV ! fakesink"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        // Prerolled, the chain is in place (it goes again when the pipeline stops).
        pipeline.set_state(gst::State::Paused).unwrap();
        let (prerolled, _, _) = pipeline.state(gst::ClockTime::from_seconds(30));
        assert_eq!(prerolled, Ok(gst::StateChangeSuccess::Success));
        let conv = pipeline
            .by_name("conv")
            .unwrap()
            .downcast::<gst::Bin>()
            .unwrap();
        threads[i] = conv
            .children()
            .iter()
            .find(|e| {
                e.factory()
                    .is_some_and(|f| f.name().starts_with("videoconvert"))
            })
            .map(|e| e.property::<u32>("n-threads"))
            .expect("a videoconvert inside");
        pipeline.set_state(gst::State::Null).unwrap();
    }
    common::report(&Threads {
        stromautoconvert: threads[0],
        stromautoconvertscale: threads[1],
    });
}

/// What the fast converter did in a child: its `n-threads` and the helper threads it had
/// started once prerolled (the converting thread itself is the streaming thread), per case,
/// and the helpers still alive after every pipeline stopped.
#[derive(Debug, Serialize, Deserialize)]
struct FastThreads {
    /// (case, the fast converter's n-threads, helper threads while prerolled)
    cases: Vec<(String, u32, usize)>,
    helpers_after_stop: usize,
}

/// Threads of this process whose name starts with the fast converter's helper name.
fn fast_converter_helpers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("stromfastconv-"))
        .count()
}

#[test]
#[ignore = "run by the tests below in their own processes"]
fn child_reports_fast_converter_threads() {
    if !common::is_child() {
        return;
    }
    common::init();
    let mut cases = Vec::new();
    for (from, to, n_threads) in [
        ("UYVY", "I420", 0),
        ("YUY2", "I420", 0),
        ("BGRx", "NV12", 0),
        ("UYVY", "NV12", 0),
        ("BGRx", "NV12", 3),
        ("UYVY", "I420", 1),
    ] {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=2 ! video/x-raw,format={from},width=320,height=240 \
             ! stromautoconvert name=conv mode=software n-threads={n_threads} \
             ! video/x-raw,format={to} ! fakesink"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        // Prerolled, the first frame went through the chain, which is still in place.
        pipeline.set_state(gst::State::Paused).unwrap();
        let (prerolled, _, _) = pipeline.state(gst::ClockTime::from_seconds(30));
        assert_eq!(prerolled, Ok(gst::StateChangeSuccess::Success));
        let conv = pipeline
            .by_name("conv")
            .unwrap()
            .downcast::<gst::Bin>()
            .unwrap();
        let fast = conv
            .children()
            .into_iter()
            .find(|e| e.type_().name() == "GstStromFastConvert")
            .expect("the fast converter inside");
        cases.push((
            format!("{from}->{to} n-threads={n_threads}"),
            fast.property::<u32>("n-threads"),
            fast_converter_helpers(),
        ));
        pipeline.set_state(gst::State::Null).unwrap();
    }
    common::report(&FastThreads {
        cases,
        helpers_after_stop: fast_converter_helpers(),
    });
}

fn fast_threads_in_child(wrapper: &[&str]) -> FastThreads {
    common::run_child_under(
        wrapper,
        &child_name!(child_reports_fast_converter_threads),
        &[],
    )
    .report()
}

#[test]
fn the_fast_converter_threads_only_what_one_thread_is_too_slow_for() {
    let usable = usable_here() as usize;
    let report = fast_threads_in_child(&[]);
    let helpers: Vec<(u32, usize)> = report.cases.iter().map(|(_, n, h)| (*n, *h)).collect();
    assert_eq!(
        helpers,
        vec![
            // 0 = automatic: bands over the usable CPUs where one thread is not 1.5x
            // videoconvert's speed, one thread elsewhere.
            (0, usable - 1),
            (0, usable - 1),
            (0, 0),
            (0, 0),
            // An explicit number, for any conversion.
            (3, 2),
            (1, 0),
        ],
        "{report:?} ({usable} usable CPUs)"
    );
    assert_eq!(report.helpers_after_stop, 0, "{report:?}");
}

#[test]
fn a_one_cpu_affinity_keeps_the_fast_converter_on_one_thread() {
    let report = fast_threads_in_child(&["taskset", "-c", "0"]);
    let helpers: Vec<usize> = report.cases.iter().map(|(_, _, h)| *h).collect();
    assert_eq!(helpers, vec![0, 0, 0, 0, 2, 0], "{report:?}");
}

/// The threads each element's converter got in a child run through `wrapper`.
fn threads_in_child(wrapper: &[&str]) -> Vec<u32> {
    let threads: Threads =
        common::run_child_under(wrapper, &child_name!(child_reports_converter_threads), &[])
            .report();
    vec![threads.stromautoconvert, threads.stromautoconvertscale]
}

fn usable_here() -> u32 {
    std::thread::available_parallelism().unwrap().get() as u32
}

/// Where videoconvert's picture depends on its threads (GStreamer 1.26), 0 gives it one thread,
/// so that the output stays stock videoconvert's, byte for byte.
#[test]
fn zero_threads_means_the_cpus_this_process_may_use() {
    gst::init().unwrap();
    let version = gststrom::gstversion::running();
    let expected = if gststrom::gstversion::videoconvert_threads_change_the_picture(version) {
        1
    } else {
        usable_here()
    };
    assert_eq!(
        threads_in_child(&[]),
        vec![expected; 2],
        "GStreamer {version}"
    );
}

#[test]
fn a_one_cpu_affinity_gives_one_thread() {
    assert_eq!(threads_in_child(&["taskset", "-c", "0"]), vec![1, 1]);
}

/// A cgroup of our own with a quota of one CPU, on cgroup v2 (`cpu.max`) or v1 (the cpu
/// controller's `cpu.cfs_quota_us`); None where this process may not make one (no root, a
/// read-only cgroupfs, no cpu controller).
struct QuotaCgroup {
    dir: PathBuf,
}

impl QuotaCgroup {
    fn one_cpu() -> Option<QuotaCgroup> {
        let name = format!("strom-test-{}", std::process::id());
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers");
        let (dir, files): (PathBuf, Vec<(&str, &str)>) = if v2.exists() {
            (
                Path::new("/sys/fs/cgroup").join(&name),
                vec![("cpu.max", "100000 100000")],
            )
        } else if Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists() {
            (
                Path::new("/sys/fs/cgroup/cpu").join(&name),
                vec![
                    ("cpu.cfs_period_us", "100000"),
                    ("cpu.cfs_quota_us", "100000"),
                ],
            )
        } else {
            return None;
        };
        std::fs::create_dir(&dir).ok()?;
        let cgroup = QuotaCgroup { dir };
        for (file, value) in files {
            std::fs::write(cgroup.dir.join(file), value).ok()?;
        }
        Some(cgroup)
    }
}

impl Drop for QuotaCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[test]
fn a_one_cpu_cgroup_quota_gives_one_thread() {
    if usable_here() < 2 {
        return common::skip("this machine has one usable CPU, so a quota of one changes nothing");
    }
    let Some(cgroup) = QuotaCgroup::one_cpu() else {
        return common::skip(
            "cannot make a cgroup with a CPU quota here (needs root and a writable cgroupfs)",
        );
    };
    let procs = cgroup.dir.join("cgroup.procs");
    let script = format!("echo $$ > '{}' && exec \"$@\"", procs.display());
    assert_eq!(threads_in_child(&["sh", "-c", &script, "sh"]), vec![1, 1]);
}
