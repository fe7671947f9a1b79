// SPDX-License-Identifier: MPL-2.0
//! Moving the stream from one candidate to the next, in the streaming thread: the terms of it
//! here, the moves in `imp.rs`.
//!
//! Every raw frame is kept (a reference, not a copy) until the encoder returns it encoded (see
//! `pending.rs`). When the encoder posts an error, returns an error flow or refuses caps, the
//! bin records why, replaces the chain with the next candidate that opens (`open.rs`), and
//! pushes the frames not yet returned into it again, in order, each after its own caps, before
//! going on. Before the first output this is invisible downstream; after it, downstream gets a
//! new keyframe (caps with `codec_data` kept, see `output.rs`), and the application a warning. An error an encoder posts from a
//! thread of its own is held and taken up at the next buffer or EOS.

use crate::chainbin::summarise_error;

/// How long a failed encoder may take to stop before it is abandoned: a GPU encoder that hung
/// may never return from its state change.
pub(super) const STOP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// Why the candidate in use cannot go on.
pub(super) struct Failure {
    pub why: String,
    pub error: Option<gst::Message>,
}

impl Failure {
    pub(super) fn from_error(error: gst::Message) -> Failure {
        Failure {
            why: summarise_error(&error).unwrap_or_else(|| "error".into()),
            error: Some(error),
        }
    }
}

/// Where the bin pushes into the chain: through its sink ghost pad, as normally, or straight to
/// the chain's own sink pad after an EOS went through the ghost pad (whose internal pad then
/// refuses everything) and the drain failed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Via<'a> {
    Ghost(&'a gst::GhostPad),
    Direct,
}

/// How a replay of the pending frames ended, when it did not go through.
pub(super) enum Replay {
    /// The new candidate failed too.
    Failed(Failure),
    /// A flow that is not the encoder's failure (flushing, EOS downstream, not linked).
    Flow(gst::FlowError),
}

/// The latency the bin reports for a live stream whose chain answered `min`/`max`: a switch
/// (the failed encoder stopped, the next opened, the held frames encoded again) happens in the
/// streaming thread and delays the frames after it by up to `switch`, which a sink with
/// `sync=true` would otherwise drop as late. A non-live answer is left alone.
pub(super) fn reported_latency(
    live: bool,
    min: gst::ClockTime,
    max: Option<gst::ClockTime>,
    switch: gst::ClockTime,
) -> (gst::ClockTime, Option<gst::ClockTime>) {
    if !live {
        return (min, max);
    }
    (
        min.saturating_add(switch),
        max.map(|m| m.saturating_add(switch)),
    )
}

/// How stopping a failed chain ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Stop {
    Stopped,
    /// It did not reach NULL within the patience given: left to stop on its own thread.
    Abandoned,
    /// No thread could be started to stop it: left as it is.
    NoThread,
}

/// Sets the elements of a chain taken out of the bin to NULL (last first) on a thread of their
/// own, waiting at most `patience`: a hung GPU encoder may never return from it.
pub(super) fn stop_within(elements: Vec<gst::Element>, patience: std::time::Duration) -> Stop {
    use gst::prelude::*;
    if elements.is_empty() {
        return Stop::Stopped;
    }
    let (done, stopped) = std::sync::mpsc::channel();
    let stopping = std::thread::Builder::new()
        .name("stromautoenc-stop".into())
        .spawn(move || {
            for element in elements.iter().rev() {
                let _ = element.set_state(gst::State::Null);
            }
            let _ = done.send(());
        });
    match stopping {
        Err(_) => Stop::NoThread,
        Ok(_) if stopped.recv_timeout(patience).is_err() => Stop::Abandoned,
        Ok(_) => Stop::Stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_stream_reports_the_switch_on_top_of_the_encoders_latency() {
        let ms = gst::ClockTime::from_mseconds;
        assert_eq!(
            reported_latency(true, ms(33), Some(ms(100)), ms(300)),
            (ms(333), Some(ms(400)))
        );
        // No upper bound stays none.
        assert_eq!(
            reported_latency(true, ms(0), None, ms(300)),
            (ms(300), None)
        );
        assert_eq!(
            reported_latency(false, ms(33), Some(ms(100)), ms(300)),
            (ms(33), Some(ms(100)))
        );
        assert_eq!(
            reported_latency(true, ms(33), Some(ms(33)), ms(0)),
            (ms(33), Some(ms(33)))
        );
    }
}
