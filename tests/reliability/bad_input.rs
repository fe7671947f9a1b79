// SPDX-License-Identifier: MPL-2.0
//! Input no chain can take, a consumer no chain can feed, and malformed buffers: each must give
//! a clear error or warning, never silence.

use crate::common::{Collector, drain_bus, set_state_guarded};
use crate::{
    MODES, SMALL_I420, SMALL_I420_SIZE, appsrc_pipeline, frame, sink_pad, stop_at_eos, wait_eos,
};

use gst::prelude::*;

#[test]
pub(crate) fn compressed_caps_arriving_on_the_sink_pad_give_a_clear_error() {
    // appsrc links (its template is ANY); the caps arrive with the data.
    for mode in MODES {
        let (pipeline, src) = appsrc_pipeline(
            mode,
            Some("video/x-h264,stream-format=byte-stream,alignment=au"),
            "identity",
        );
        set_state_guarded(&pipeline, gst::State::Playing);
        let _ = src.push_buffer(frame(0, 64));
        let _ = src.end_of_stream();
        let result = stop_at_eos(&pipeline);
        let error = result.expect_err("compressed input must fail");
        assert!(
            error.contains("not-negotiated")
                || error.contains("stromautoconvert")
                || error.contains("negotiat"),
            "{mode}: {error}"
        );
    }
}

#[test]
pub(crate) fn consumer_no_chain_can_feed_gives_a_clear_error() {
    for mode in MODES {
        let (pipeline, src) = appsrc_pipeline(
            mode,
            Some(SMALL_I420),
            "video/x-raw(memory:CUDAMemory),format=NV12",
        );
        set_state_guarded(&pipeline, gst::State::Playing);
        let _ = src.push_buffer(frame(0, SMALL_I420_SIZE));
        let _ = src.end_of_stream();
        let result = stop_at_eos(&pipeline);
        let error = result.expect_err("CUDA-memory-only consumer must fail");
        assert!(error.contains("memory:CUDAMemory"), "{mode}: {error}");
    }
}

/// Pushes good frames with a zero-sized and a short one in between; returns the frames out and
/// every warning, error or hang on the bus.
fn push_malformed(mode: &str, consumer: &str) -> (usize, Vec<String>) {
    let (pipeline, src) = appsrc_pipeline(mode, Some(SMALL_I420), consumer);
    let arrived = Collector::on_pad(&sink_pad(&pipeline));
    set_state_guarded(&pipeline, gst::State::Playing);
    let sizes = [SMALL_I420_SIZE, 0, SMALL_I420_SIZE, 100, SMALL_I420_SIZE];
    for (n, size) in sizes.iter().enumerate() {
        if src.push_buffer(frame(n as u64, *size)).is_err() {
            break;
        }
    }
    let _ = src.end_of_stream();
    let mut log = wait_eos(&pipeline);
    log.append(drain_bus(&pipeline.bus().expect("bus")));
    set_state_guarded(&pipeline, gst::State::Null);
    (arrived.count(), log.problems())
}

fn assert_malformed_reported(consumer: &str) {
    let mut silent = Vec::new();
    for mode in MODES {
        let (frames, problems) = push_malformed(mode, consumer);
        println!("{mode} → {consumer}: {frames} frames out; {problems:?}");
        if problems.is_empty() {
            silent.push(format!("{mode}: {frames} frames out"));
        }
    }
    assert!(
        silent.is_empty(),
        "2 malformed buffers in 5 → {consumer}, no warning or error: {silent:?}"
    );
}

#[test]
pub(crate) fn malformed_buffers_being_converted_are_reported() {
    assert_malformed_reported("video/x-raw,format=NV12");
}

#[test]
fn malformed_buffers_in_passthrough_are_reported() {
    assert_malformed_reported("video/x-raw,format=I420");
}
