// SPDX-License-Identifier: MPL-2.0
//! Flushing seeks and EOS, in PAUSED and PLAYING, and EOS before any caps.

use crate::common::{Collector, HANG, read_bus, set_state_guarded};
use crate::{
    MODES, SMALL_I420, SMALL_I420_SIZE, appsrc_pipeline, frame, launch, pts_at_30fps, sink_pad,
    stop_at_eos,
};

use gst::prelude::*;

/// An endless source at 30 fps through the bin, for seeking.
fn seekable(mode: &str) -> gst::Pipeline {
    launch(&format!(
        "videotestsrc ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! \
         stromautoconvert name=conv mode={mode} ! video/x-raw,format=NV12 ! \
         fakesink name=sink sync=false"
    ))
}

/// Flushing, accurate seek to [1 s, 2 s): exactly frames 30..59 must follow.
fn seek_one_second(pipeline: &gst::Pipeline) {
    pipeline
        .seek(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::SeekType::Set,
            gst::ClockTime::from_seconds(1),
            gst::SeekType::Set,
            gst::ClockTime::from_seconds(2),
        )
        .expect("seek accepted");
}

fn wait_async_done(pipeline: &gst::Pipeline) {
    let log = read_bus(&pipeline.bus().unwrap(), HANG, |log| log.async_done);
    if let Some(e) = log.errors.first() {
        panic!("{e}");
    }
    assert!(log.async_done, "hang: no ASYNC_DONE");
}

#[test]
pub(crate) fn flushing_seek_in_paused_gives_exactly_the_requested_frames() {
    for mode in MODES {
        let pipeline = seekable(mode);
        let seen = Collector::on_pad(&sink_pad(&pipeline));
        set_state_guarded(&pipeline, gst::State::Paused);
        wait_async_done(&pipeline);
        seek_one_second(&pipeline);
        wait_async_done(&pipeline);
        set_state_guarded(&pipeline, gst::State::Playing);
        let eos = stop_at_eos(&pipeline);
        eos.unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(seen.collected().pts, pts_at_30fps(30..60), "{mode}");
    }
}

#[test]
pub(crate) fn flushing_seek_in_playing_gives_exactly_the_requested_frames() {
    for mode in MODES {
        let pipeline = seekable(mode);
        let seen = Collector::on_pad(&sink_pad(&pipeline));
        set_state_guarded(&pipeline, gst::State::Playing);
        seen.wait_for(10);
        seek_one_second(&pipeline);
        let eos = stop_at_eos(&pipeline);
        eos.unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(seen.collected().pts, pts_at_30fps(30..60), "{mode}");
    }
}

#[test]
pub(crate) fn eos_in_paused_then_playing_delivers_every_frame() {
    for mode in MODES {
        let (pipeline, src) = appsrc_pipeline(mode, Some(SMALL_I420), "video/x-raw,format=NV12");
        let arrived = Collector::on_pad(&sink_pad(&pipeline));
        set_state_guarded(&pipeline, gst::State::Paused);
        for n in 0..5 {
            src.push_buffer(frame(n, SMALL_I420_SIZE)).unwrap();
        }
        src.end_of_stream().unwrap();
        wait_async_done(&pipeline);
        set_state_guarded(&pipeline, gst::State::Playing);
        let eos = stop_at_eos(&pipeline);
        eos.unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(arrived.count(), 5, "{mode}");
    }
}

#[test]
pub(crate) fn eos_sent_to_a_playing_pipeline_ends_it_cleanly() {
    for mode in MODES {
        let pipeline = seekable(mode);
        let seen = Collector::on_pad(&sink_pad(&pipeline));
        set_state_guarded(&pipeline, gst::State::Playing);
        seen.wait_for(10);
        assert!(pipeline.send_event(gst::event::Eos::new()));
        let eos = stop_at_eos(&pipeline);
        eos.unwrap_or_else(|e| panic!("{mode}: {e}"));
        // Timestamps are consecutive: nothing dropped or duplicated before EOS.
        let seen = seen.collected().pts;
        assert_eq!(seen, pts_at_30fps(0..seen.len() as u64), "{mode}");
    }
}

#[test]
fn eos_before_any_caps_reaches_the_sink() {
    // A stream that ends before it starts (an empty file, a demuxer with nothing to play) must
    // still end: the bin has no chain then.
    let mut failures = Vec::new();
    for mode in MODES {
        let (pipeline, src) = appsrc_pipeline(mode, None, "video/x-raw,format=NV12");
        set_state_guarded(&pipeline, gst::State::Paused);
        src.end_of_stream().unwrap();
        set_state_guarded(&pipeline, gst::State::Playing);
        let eos = stop_at_eos(&pipeline);
        println!("{mode}: {eos:?}");
        failures.extend(eos.err().map(|e| format!("{mode}: {e}")));
    }
    assert!(failures.is_empty(), "{failures:?}");
}
