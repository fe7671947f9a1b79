// SPDX-License-Identifier: MPL-2.0
//! Pipelines in parallel threads: every frame arrives, each takes the expected path, and the
//! interop test runs once for all of them.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::common::{
    Collector, by_name, child_name, init, is_child, launch, report, run_child, set_state_guarded,
};
use crate::{BOTH_MEMORIES, both_stubs_path, churn_description, sink_pad, stop_at_eos};

use gst::prelude::*;

const PARALLEL_PIPELINES: usize = 16;
const PARALLEL_FRAMES: usize = 30;

/// What one of the parallel pipelines did.
pub(crate) struct ParallelRun {
    pub mode: &'static str,
    /// Frames that reached its sink.
    pub frames: usize,
    /// The path it took.
    pub path: String,
}

/// Runs `pipelines` pipelines in parallel threads, each to EOS.
pub(crate) fn run_parallel(pipelines: usize, frames: usize) -> Vec<ParallelRun> {
    init();
    let handles: Vec<_> = (0..pipelines)
        .map(|i| {
            // Half auto (these race for the interop test), a quarter each gl and software.
            let mode = ["auto", "auto", "gl", "software"][i % 4];
            std::thread::spawn(move || {
                let pipeline = launch(&churn_description(mode, BOTH_MEMORIES, frames));
                let arrived = Collector::on_pad(&sink_pad(&pipeline));
                set_state_guarded(&pipeline, gst::State::Playing);
                let eos = stop_at_eos(&pipeline);
                eos.unwrap_or_else(|e| panic!("pipeline {i} ({mode}): {e}"));
                let path = by_name(&pipeline, "conv").property::<String>("active-path");
                ParallelRun {
                    mode,
                    frames: arrived.count(),
                    path,
                }
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("pipeline thread"))
        .collect()
}

/// What the parallel child saw.
#[derive(Debug, Serialize, Deserialize)]
struct ParallelReport {
    pipelines: usize,
    frames: usize,
    interop_runs: usize,
    seconds: f64,
}

#[test]
#[ignore = "run by parallel_pipelines_share_one_interop_test in its own process"]
fn child_parallel_pipelines() {
    if !is_child() {
        return;
    }
    let started = Instant::now();
    let results = run_parallel(PARALLEL_PIPELINES, PARALLEL_FRAMES);
    for run in &results {
        let mode = run.mode;
        assert_eq!(
            run.frames, PARALLEL_FRAMES,
            "{mode}: frames lost or duplicated"
        );
        let expected = match mode {
            "software" => "software",
            // The stand-in says interop works, so auto takes GL like gl mode.
            _ => "gl",
        };
        assert_eq!(run.path, expected, "{mode}");
    }
    report(&ParallelReport {
        pipelines: results.len(),
        frames: results.iter().map(|r| r.frames).sum(),
        interop_runs: gststrom::gpu::interop::run_count(),
        seconds: started.elapsed().as_secs_f64(),
    });
}

#[test]
fn parallel_pipelines_share_one_interop_test() {
    let run: ParallelReport = run_child(
        &child_name!(child_parallel_pipelines),
        &[("LD_LIBRARY_PATH", &both_stubs_path())],
    )
    .report();
    println!(
        "concurrency: {} pipelines, {} frames in {:.1} s, interop test ran {} time(s)",
        run.pipelines, run.frames, run.seconds, run.interop_runs
    );
    assert_eq!(run.pipelines, PARALLEL_PIPELINES);
    assert_eq!(run.frames, PARALLEL_PIPELINES * PARALLEL_FRAMES);
    assert_eq!(run.interop_runs, 1, "the interop test must run once");
}
