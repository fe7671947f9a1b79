// SPDX-License-Identifier: MPL-2.0
//! Moving the stream from one candidate to the next, in the streaming thread.
//!
//! Every raw frame is kept (a reference, not a copy) until the encoder returns it encoded (see
//! `pending.rs`). When the encoder posts an error, returns an error flow or refuses caps, the
//! bin records why, replaces the chain with the next candidate that opens (`open.rs`), and
//! pushes the frames not yet returned into it again, in order, each after its own caps, before
//! going on. Before the first output this is invisible downstream; after it, downstream gets a
//! new keyframe and new caps, and the application a warning. An error an encoder posts from a
//! thread of its own is held and taken up at the next buffer or EOS.

use gst::prelude::*;
use gst::subclass::prelude::*;

use super::imp::{AutoEnc, CAT, Held};
use super::plan::{self, Outcome};
use crate::chainbin::summarise_error;

/// How long a failed encoder may take to stop before it is abandoned: a GPU encoder that hung
/// may never return from its state change.
const STOP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// Why the candidate in use cannot go on.
pub(super) struct Failure {
    pub why: String,
    pub error: Option<gst::Message>,
}

impl Failure {
    fn from_error(error: gst::Message) -> Failure {
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
enum Via<'a> {
    Ghost(&'a gst::GhostPad),
    Direct,
}

/// How a replay of the pending frames ended, when it did not go through.
enum Replay {
    /// The new candidate failed too.
    Failed(Failure),
    /// A flow that is not the encoder's failure (flushing, EOS downstream, not linked).
    Flow(gst::FlowError),
}

impl AutoEnc {
    /// Pushes `buffer` into the chain; if the encoder fails, moves the stream to the next
    /// candidate with the frames not yet returned, this one included.
    pub(super) fn push_buffer(
        &self,
        pad: &gst::GhostPad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let via = Via::Ghost(pad);
        match self.push_into(via, buffer) {
            Ok(result) => result,
            Err(failure) => self.recover(via, failure).map(|()| gst::FlowSuccess::Ok),
        }
    }

    /// The encoder in use has hung (see `hang.rs`): the next candidate takes the frames it
    /// holds, the one just received included (already among them).
    pub(super) fn give_up_hung(
        &self,
        pad: &gst::GhostPad,
        why: String,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let failure = Failure { why, error: None };
        self.recover(Via::Ghost(pad), failure)
            .map(|()| gst::FlowSuccess::Ok)
    }

    /// Pushes a caps or EOS event into the chain; if the encoder fails on it, moves the stream
    /// to the next candidate and gives it the event.
    pub(super) fn forward_checked(&self, pad: &gst::GhostPad, event: gst::Event) -> bool {
        let is_eos = matches!(event.view(), gst::EventView::Eos(_));
        let mut via = Via::Ghost(pad);
        loop {
            let failure = match self.event_into(via, &event) {
                Ok(forwarded) => return forwarded,
                Err(failure) => failure,
            };
            // EOS went through the ghost pad's internal pad, which takes nothing more now: the
            // next chain is fed at its own sink pad.
            if is_eos {
                via = Via::Direct;
            }
            if self.recover(via, failure).is_err() {
                return false;
            }
        }
    }

    /// One buffer into the chain: its flow, or why the chain failed on it.
    fn push_into(
        &self,
        via: Via<'_>,
        buffer: gst::Buffer,
    ) -> Result<Result<gst::FlowSuccess, gst::FlowError>, Failure> {
        let (result, held) = self.errors.push(|| match via {
            Via::Ghost(pad) => gst::ProxyPad::chain_default(pad, Some(&*self.obj()), buffer),
            Via::Direct => match self.chain_sink() {
                Some(sink) => sink.chain(buffer),
                None => Err(gst::FlowError::NotLinked),
            },
        });
        self.classify(result, held)
    }

    /// One serialized event into the chain: whether it was taken (false for a refusal that is
    /// not the chain's failure), or why the chain failed on it.
    fn event_into(&self, via: Via<'_>, event: &gst::Event) -> Result<bool, Failure> {
        if let gst::EventView::Caps(c) = event.view() {
            self.follow_input_caps(c.caps())
                .map_err(|why| Failure { why, error: None })?;
        }
        let (forwarded, held) = self.errors.push(|| match via {
            Via::Ghost(pad) => gst::Pad::event_default(pad, Some(&*self.obj()), event.clone()),
            Via::Direct => self
                .chain_sink()
                .is_some_and(|sink| sink.send_event(event.clone())),
        });
        match (forwarded, held) {
            (true, None) => Ok(true),
            (_, Some(error)) => Err(Failure::from_error(error)),
            (false, None) if self.is_flushing() => Ok(false),
            (false, None) if matches!(event.view(), gst::EventView::Caps(_)) => Err(Failure {
                why: self.refused_caps(event),
                error: None,
            }),
            (false, None) => Ok(false),
        }
    }

    /// A refusal now is a flush or the shutdown, not the encoder's failure.
    fn is_flushing(&self) -> bool {
        self.sinkpad.pad_flags().contains(gst::PadFlags::FLUSHING) || self.state().stopping
    }

    /// The sink pad of the chain's first element (the internal `stromautoconvert`).
    fn chain_sink(&self) -> Option<gst::Pad> {
        self.chain
            .elements()
            .first()
            .and_then(|first| first.static_pad("sink"))
    }

    fn refused_caps(&self, event: &gst::Event) -> String {
        match event.view() {
            gst::EventView::Caps(c) => format!("refused the caps {}", c.caps()),
            _ => "refused the event".into(),
        }
    }

    /// Whether a push failed because of the chain (the encoder above all), or passed.
    fn classify(
        &self,
        result: Result<gst::FlowSuccess, gst::FlowError>,
        held: Option<gst::Message>,
    ) -> Result<Result<gst::FlowSuccess, gst::FlowError>, Failure> {
        match (result, held) {
            // Shutting down: nothing to recover, and the error is no longer news.
            (Err(gst::FlowError::Flushing), Some(error)) => {
                gst::debug!(CAT, imp = self, "error while flushing: {error:?}");
                Ok(Err(gst::FlowError::Flushing))
            }
            (_, Some(error)) => Err(Failure::from_error(error)),
            (Err(gst::FlowError::NotNegotiated), None) => Err(Failure {
                why: format!(
                    "not-negotiated (downstream accepts {})",
                    self.srcpad.peer_query_caps(None)
                ),
                error: None,
            }),
            (Err(flow @ (gst::FlowError::Error | gst::FlowError::NotSupported)), None) => {
                Err(Failure {
                    why: format!("returned {flow:?} without an error message"),
                    error: None,
                })
            }
            (result, None) => Ok(result),
        }
    }

    /// Moves the stream to the next candidate that takes the pending frames; `Err` when none is
    /// left (the element error is posted) or the stream stopped meanwhile.
    fn recover(&self, via: Via<'_>, mut failure: Failure) -> Result<(), gst::FlowError> {
        loop {
            if self.is_flushing() {
                gst::debug!(
                    CAT,
                    imp = self,
                    "not switching while flushing or stopping: {}",
                    failure.why
                );
                return Err(gst::FlowError::Flushing);
            }
            self.switch_after(failure)?;
            match self.replay(via) {
                Ok(()) => return Ok(()),
                Err(Replay::Failed(next)) => failure = next,
                Err(Replay::Flow(flow)) => return Err(flow),
            }
        }
    }

    /// Records why the candidate in use failed, removes it and opens the next one.
    fn switch_after(&self, failure: Failure) -> Result<(), gst::FlowError> {
        let (failed, outcome, output_started) = {
            let mut state = self.state();
            let active = state.active.take();
            // What it output but the bin held back is not sent: its frames are owed again.
            let discarded = state.output.discard();
            state.pending.take_back();
            if discarded > 0 {
                gst::debug!(
                    CAT,
                    imp = self,
                    "{discarded} held outputs of the failed encoder dropped"
                );
            }
            let outcome = match active.as_ref().map_or(0, |a| a.encoded) {
                0 => Outcome::FailedBeforeOutput(failure.why.clone()),
                frames => Outcome::FailedAfterOutput {
                    frames,
                    why: failure.why.clone(),
                },
            };
            if active.is_some() {
                state.tried.set_last(outcome.clone());
            }
            if failure.error.is_some() {
                state.last_error = failure.error;
            }
            (
                active.map_or_else(|| "the encoder".to_owned(), |a| a.factory),
                outcome,
                state.output_started,
            )
        };
        let (frames, bytes) = {
            let state = self.state();
            (state.pending.len(), state.pending.bytes())
        };
        gst::info!(
            CAT,
            imp = self,
            "{failed} {outcome}; {frames} frames ({bytes} bytes) to hand on"
        );
        // The failed encoder goes first: a hardware session it holds may be what the next
        // candidate needs. A hung one may never stop: it is waited for a while, then abandoned.
        let old = self.chain.detach(self.obj().upcast_ref());
        self.retire(&failed, old);
        let chosen = self.open_next().map_err(|()| gst::FlowError::Error)?;
        if output_started {
            let why = plan::switch_reason(&failed, &outcome, &chosen);
            self.state().switch_reason = Some(why.clone());
            gst::element_imp_warning!(
                self,
                gst::StreamError::Encode,
                ("{}", why),
                [
                    "downstream gets a new keyframe with its parameter sets in-band; caps that \
                     carry codec_data (avc for mp4mux, matroskamux, flvmux) stay the first \
                     encoder's, so that a muxer sees one stream"
                ]
            );
        }
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Latency::builder().src(&*obj).build());
        Ok(())
    }

    /// Stops the elements of a chain taken out of the bin, waiting at most [`STOP_PATIENCE`];
    /// one that does not stop by then is left to stop on its own thread, with a warning.
    fn retire(&self, factory: &str, elements: Vec<gst::Element>) {
        if elements.is_empty() {
            return;
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
        if stopping.is_err() {
            gst::warning!(
                CAT,
                imp = self,
                "no thread to stop {factory}: left as it is"
            );
            return;
        }
        if stopped.recv_timeout(STOP_PATIENCE).is_err() {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Encode,
                (
                    "{} did not stop within {} s: abandoned (its resources are freed if it \
                     ever stops)",
                    factory,
                    STOP_PATIENCE.as_secs()
                )
            );
        }
    }

    /// Pushes every pending frame, oldest first and each after its own caps, into the chain
    /// just opened.
    fn replay(&self, via: Via<'_>) -> Result<(), Replay> {
        let frames = self.state().pending.snapshot();
        gst::debug!(
            CAT,
            imp = self,
            "handing {} frames to the new encoder",
            frames.len()
        );
        if via == Via::Direct {
            self.start_direct(frames.first().and_then(|f| f.caps.clone()))?;
        }
        // The chain's sticky caps may already be newer than the oldest frame's: always say.
        let mut pushed_caps: Option<gst::Caps> = None;
        for Held { buffer, caps, .. } in frames {
            if let Some(caps) = caps.filter(|c| pushed_caps.as_ref() != Some(c)) {
                match self.event_into(via, &gst::event::Caps::new(&caps)) {
                    Ok(true) => {}
                    Ok(false) => return Err(Replay::Flow(gst::FlowError::Flushing)),
                    Err(failure) => return Err(Replay::Failed(failure)),
                }
                pushed_caps = Some(caps);
            }
            match self.push_into(via, buffer) {
                Ok(Ok(_)) => {}
                Ok(Err(flow)) => return Err(Replay::Flow(flow)),
                Err(failure) => return Err(Replay::Failed(failure)),
            }
        }
        Ok(())
    }

    /// A chain fed at its own sink pad gets the stream's sticky events first, as the ghost pad
    /// would give them (in their order: stream-start, caps, segment, tags), without the EOS.
    fn start_direct(&self, first_caps: Option<gst::Caps>) -> Result<(), Replay> {
        let mut events = Vec::new();
        self.sinkpad.sticky_events_foreach(|event| {
            match event.view() {
                gst::EventView::Eos(_) => {}
                gst::EventView::Caps(_) if first_caps.is_some() => {
                    events.push(gst::event::Caps::new(first_caps.as_ref().expect("checked")));
                }
                _ => events.push(event.clone()),
            }
            std::ops::ControlFlow::Continue(gst::EventForeachAction::Keep)
        });
        for event in events {
            match self.event_into(Via::Direct, &event) {
                Ok(true) => {}
                Ok(false) => return Err(Replay::Flow(gst::FlowError::Flushing)),
                Err(failure) => return Err(Replay::Failed(failure)),
            }
        }
        Ok(())
    }

    /// Switches now if an encoder posted an error from its own thread since the last buffer.
    pub(super) fn take_up_async_error(&self, pad: &gst::GhostPad) -> Result<(), gst::FlowError> {
        let Some(error) = self.state().async_error.take() else {
            return Ok(());
        };
        self.recover(Via::Ghost(pad), Failure::from_error(error))
    }

    /// For an error from inside the bin that no push of ours was waiting for: keeps it when
    /// another candidate can take over (the switch happens in the streaming thread).
    pub(super) fn hold_async_error(&self, message: &gst::Message) -> bool {
        let mut state = self.state();
        if state.active.is_none() || !state.has_more() {
            return false;
        }
        if state.async_error.is_none() {
            gst::info!(
                CAT,
                imp = self,
                "encoder error from another thread, switching at the next buffer: {message:?}"
            );
            state.async_error = Some(message.clone());
        }
        true
    }
}
