// SPDX-License-Identifier: MPL-2.0
//! The queue put between the chain and the bin's src pad in a live pipeline (see
//! `AutoEnc::decide_outlet`): it outlives every chain, so that the
//! encoder's output (from its own thread, as NVENC's) never waits on a `sync=true` sink inside
//! the chain. Without it an encoder blocked by the sink keeps its encoded frames until their
//! render time; they stay unconfirmed (see `pending.rs`), and if it fails they are replayed
//! into the next one when already due: no latency covers that. With it an output is confirmed
//! when the encoder pushes it, and only the frames truly inside the encoder are replayed.

/// How much encoded output the queue holds before it blocks the encoder (then back to the
/// behaviour without it): far more than any latency a live pipeline runs with; unbounded in
/// buffers and bytes, as encoded frames are small and a sink holds them for the latency only.
pub(super) const MAX_QUEUED_TIME: gst::ClockTime = gst::ClockTime::from_seconds(5);

/// The bin's output queue; None if `queue` (GStreamer's core elements) cannot be made: the
/// chain then feeds the src pad directly.
pub(super) fn output_queue() -> Option<gst::Element> {
    gst::ElementFactory::make("queue")
        .name("output-queue")
        .property("max-size-buffers", 0u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", MAX_QUEUED_TIME.nseconds())
        .property("silent", true)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gst::prelude::*;

    #[test]
    fn the_output_queue_is_bounded_in_time_only_and_never_leaks() {
        gst::init().unwrap();
        let queue = output_queue().expect("queue is a core element");
        assert_eq!(queue.property::<u32>("max-size-buffers"), 0);
        assert_eq!(queue.property::<u32>("max-size-bytes"), 0);
        assert_eq!(
            queue.property::<u64>("max-size-time"),
            MAX_QUEUED_TIME.nseconds()
        );
        let leaky = queue.property_value("leaky");
        let nick = gst::glib::EnumValue::from_value(&leaky).map(|(_, v)| v.nick());
        assert_eq!(nick, Some("no"));
    }
}
