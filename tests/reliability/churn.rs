// SPDX-License-Identifier: MPL-2.0
//! State churn: NULL→PLAYING→NULL cycles over every mode, with kept and fresh pipelines, and the
//! resident size staying flat.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::common::{
    Collector, by_name, child_name, is_child, launch, report, run_child, set_state_guarded,
};
use crate::{BOTH_MEMORIES, both_stubs_path, churn_description, sink_pad, soak, stop_at_eos};

use gst::prelude::*;

/// A pipeline kept across cycles, or one built afresh each cycle (as servers do).
struct ChurnSlot {
    mode: &'static str,
    consumer: &'static str,
    kept: Option<gst::Pipeline>,
}

const CHURN_FRAMES: usize = 3;

/// Plays the slot's pipeline to EOS and back to NULL once; checks every frame arrived.
fn churn_cycle(slot: &mut ChurnSlot) {
    let description = churn_description(slot.mode, slot.consumer, CHURN_FRAMES);
    let fresh;
    let pipeline = match &slot.kept {
        Some(p) => p,
        None => {
            fresh = launch(&description);
            &fresh
        }
    };
    let arrived = Collector::on_pad(&sink_pad(pipeline));
    set_state_guarded(pipeline, gst::State::Playing);
    let eos = stop_at_eos(pipeline);
    arrived.detach();
    eos.unwrap_or_else(|e| panic!("{description}: {e}"));
    assert_eq!(arrived.count(), CHURN_FRAMES, "{description}");
    let conv = by_name(pipeline, "conv");
    assert_eq!(
        conv.downcast_ref::<gst::Bin>().unwrap().children().len(),
        0,
        "{description}: chain left behind in NULL"
    );
}

fn churn_slots() -> Vec<ChurnSlot> {
    let mut slots = Vec::new();
    for (mode, consumer) in [
        ("auto", BOTH_MEMORIES),
        ("software", "video/x-raw,format=NV12"),
        ("gl", "video/x-raw,format=NV12"),
    ] {
        slots.push(ChurnSlot {
            mode,
            consumer,
            kept: Some(launch(&churn_description(mode, consumer, CHURN_FRAMES))),
        });
        slots.push(ChurnSlot {
            mode,
            consumer,
            kept: None,
        });
    }
    slots
}

/// Runs `cycles` NULL→PLAYING→NULL cycles over all modes, interleaved so the baseline after 50
/// already includes every mode's first use; returns (RSS after 50, RSS at the end).
pub(crate) fn churn(cycles: usize) -> (u64, u64) {
    let mut slots = churn_slots();
    // For finding which pipeline grows: STROM_CHURN_ONLY=<slot index> cycles that one alone.
    if let Some(only) = std::env::var("STROM_CHURN_ONLY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        slots = vec![slots.swap_remove(only)];
    }
    let (mut baseline, mut threads) = (0, 0);
    for i in 0..cycles {
        let n = slots.len();
        let slot = &mut slots[i % n];
        churn_cycle(slot);
        if i + 1 == 50.min(cycles) {
            threads = thread_count();
            baseline = settled_rss_bytes(threads);
        }
    }
    (baseline, settled_rss_bytes(threads))
}

/// The resident size once the process has settled: the GL and streaming threads of the pipelines
/// just stopped have exited (on a loaded machine they lag behind the state change, each still
/// holding its stack and llvmpipe's per-context threads), and glibc has handed its free pages
/// back. Without it the measure follows the machine's load, not a leak.
fn settled_rss_bytes(threads_before: usize) -> u64 {
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while thread_count() > threads_before && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: malloc_trim has no preconditions; it only returns free heap pages to the system.
    unsafe { libc::malloc_trim(0) };
    rss_bytes()
}

/// Threads of this process, from /proc/self/status.
fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Resident set size of this process, from /proc/self/statm.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm resident field");
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Memory may grow by this much between cycle 50 and the last (allocator noise, lazily grown
/// pools); a leak of one 64x48 frame per cycle (4.5 KiB) exceeds it within 1000 cycles, one GL
/// context per cycle within a few dozen. Measured: +0.9 MiB after 500 cycles, +4.5 MiB after 5000.
fn rss_margin(cycles: usize) -> u64 {
    4 * 1024 * 1024 + cycles as u64 * 1024
}

/// What the churn child measured.
#[derive(Debug, Serialize, Deserialize)]
struct ChurnReport {
    cycles: usize,
    rss_after_50: u64,
    rss_at_end: u64,
    seconds: f64,
}

#[test]
#[ignore = "run by state_churn_keeps_memory_flat in its own process"]
fn child_state_churn() {
    if !is_child() {
        return;
    }
    let cycles: usize = std::env::var("STROM_CHURN_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let started = Instant::now();
    let (rss_after_50, rss_at_end) = churn(cycles);
    report(&ChurnReport {
        cycles,
        rss_after_50,
        rss_at_end,
        seconds: started.elapsed().as_secs_f64(),
    });
}

#[test]
fn state_churn_keeps_memory_flat() {
    // Its own process: other tests' threads would move this one's resident size.
    let cycles = if soak() { 5000 } else { 500 };
    let run: ChurnReport = run_child(
        &child_name!(child_state_churn),
        &[
            ("STROM_CHURN_CYCLES", &cycles.to_string()),
            // auto takes GL through the interop test; the monitor samples NVML.
            ("LD_LIBRARY_PATH", &both_stubs_path()),
            // glibc gives each new thread (every GL context has one) its own malloc arena until
            // 8 per core exist; their slow fill looks like growth for the first few hundred
            // cycles. Two arenas make the baseline after 50 cycles meaningful.
            ("MALLOC_ARENA_MAX", "2"),
        ],
    )
    .report();
    let (after_50, at_end) = (run.rss_after_50, run.rss_at_end);
    println!(
        "state churn: {} cycles (auto/software/gl, kept and fresh pipelines) in {:.1} s; \
         RSS after 50 {:.1} MiB, at end {:.1} MiB",
        run.cycles,
        run.seconds,
        mib(after_50),
        mib(at_end)
    );
    assert!(
        at_end <= after_50 + rss_margin(cycles),
        "resident size grew from {:.1} MiB after 50 cycles to {:.1} MiB after {cycles}",
        mib(after_50),
        mib(at_end)
    );
}
