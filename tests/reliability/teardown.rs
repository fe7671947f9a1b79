// SPDX-License-Identifier: MPL-2.0
//! Teardown mid-stream, and an element swapped in a running pipeline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{Collector, HANG, by_name, drain_bus, launch, set_state_guarded};
use crate::{BOTH_MEMORIES, MODES, pts_at_30fps, sink_pad, wait_eos};

use gst::prelude::*;

#[test]
pub(crate) fn pipeline_torn_down_mid_stream_stops_cleanly() {
    for mode in MODES {
        for consumer in ["video/x-raw,format=NV12", BOTH_MEMORIES] {
            let pipeline = launch(&format!(
                "videotestsrc ! video/x-raw,format=I420,width=64,height=48 ! queue ! \
                 stromautoconvert name=conv mode={mode} ! {consumer} ! queue ! \
                 fakesink name=sink sync=false"
            ));
            let seen = Collector::on_pad(&sink_pad(&pipeline));
            let weak = pipeline.downgrade();
            let conv = by_name(&pipeline, "conv").downgrade();
            set_state_guarded(&pipeline, gst::State::Playing);
            seen.wait_for(10);
            let problems = drain_bus(&pipeline.bus().expect("bus")).problems();
            set_state_guarded(&pipeline, gst::State::Null);
            assert!(problems.is_empty(), "{mode}: {problems:?}");
            drop(pipeline);
            assert!(released(&weak), "{mode}: pipeline still referenced");
            assert!(released(&conv), "{mode}: stromautoconvert still referenced");
        }
    }
}

/// Whether the object behind `weak` is gone, allowing a thread that was finishing its last
/// callback (a bus watch, a pad probe on a loaded machine) to let go of its reference; a real
/// leak keeps it past the deadline.
fn released<T: gst::glib::prelude::ObjectType>(weak: &gst::glib::WeakRef<T>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while weak.upgrade().is_some() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Polls (never blocks on) the pipeline's state until it is PLAYING with nothing pending: safe
/// from a streaming thread.
fn wait_until_playing(pipeline: &gst::Pipeline) {
    let deadline = Instant::now() + HANG;
    loop {
        let (_, current, pending) = pipeline.state(gst::ClockTime::ZERO);
        if current == gst::State::Playing && pending == gst::State::VoidPending {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "hang: pipeline never reached PLAYING"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Replaces `old` (linked between `before` and `after`) with `new` when the `at`-th buffer leaves
/// `before`: from that pad's probe in the streaming thread, which holds the buffer, so none is in
/// flight downstream (the elements in between have no threads of their own). The buffer then goes
/// to `new`, which gets the sticky events (stream-start, caps, segment) again on relinking.
fn swap_at_buffer(
    pipeline: &gst::Pipeline,
    at: usize,
    before: &gst::Element,
    old: &gst::Element,
    new: &gst::Element,
    after: &gst::Element,
) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    let seen = AtomicUsize::new(0);
    let (pipeline, before_c, old, new, after) = (
        pipeline.downgrade(),
        before.clone(),
        old.clone(),
        new.clone(),
        after.clone(),
    );
    before
        .static_pad("src")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            if seen.fetch_add(1, Ordering::SeqCst) + 1 != at {
                return gst::PadProbeReturn::Ok;
            }
            let pipeline = pipeline.upgrade().expect("pipeline alive while streaming");
            // The sink reaches PLAYING first and lets data flow while the pipeline is still
            // setting its other children to PLAYING. Swapping then races that: the pipeline set
            // the removed element back to PLAYING after it had gone to NULL, and it was later
            // disposed in PLAYING (a GStreamer-CRITICAL, its pads leaked). So the swap waits for
            // the state change to finish, and locks the old element's state as GStreamer's
            // dynamic-pipeline rules ask.
            wait_until_playing(&pipeline);
            old.set_locked_state(true);
            before_c.unlink(&old);
            old.unlink(&after);
            old.set_state(gst::State::Null)
                .expect("old element to NULL");
            pipeline.remove(&old).expect("remove old element");
            pipeline.add(&new).expect("add new element");
            gst::Element::link_many([&before_c, &new, &after]).expect("relink");
            new.sync_state_with_parent().expect("new element follows");
            let _ = tx.send(());
            gst::PadProbeReturn::Remove
        });
    rx
}

#[test]
pub(crate) fn element_replaced_in_a_running_pipeline_loses_no_frame() {
    const FRAMES: usize = 60;
    for (from, to) in [("software", "gl"), ("gl", "software"), ("auto", "auto")] {
        let pipeline = launch(&format!(
            "videotestsrc num-buffers={FRAMES} ! \
             video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! \
             capsfilter name=before ! stromautoconvert name=old mode={from} ! \
             capsfilter name=after caps=video/x-raw,format=NV12 ! fakesink name=sink sync=false"
        ));
        let seen = Collector::on_pad(&sink_pad(&pipeline));
        let old = by_name(&pipeline, "old");
        let new = gst::ElementFactory::make("stromautoconvert")
            .property_from_str("mode", to)
            .build()
            .unwrap();
        let old_weak = old.downgrade();
        let swapped = swap_at_buffer(
            &pipeline,
            FRAMES / 2,
            &by_name(&pipeline, "before"),
            &old,
            &new,
            &by_name(&pipeline, "after"),
        );
        drop(old);
        set_state_guarded(&pipeline, gst::State::Playing);
        let eos = wait_eos(&pipeline).result();
        swapped.try_recv().expect("the element was swapped");
        set_state_guarded(&pipeline, gst::State::Null);
        eos.unwrap_or_else(|e| panic!("{from} → {to}: {e}"));
        assert_eq!(
            seen.collected().pts,
            pts_at_30fps(0..FRAMES as u64),
            "{from} → {to}"
        );
        assert_eq!(
            new.property::<String>("active-path"),
            if to == "gl" { "gl" } else { "software" }
        );
        assert!(
            released(&old_weak),
            "{from} → {to}: removed element still referenced"
        );
    }
}
