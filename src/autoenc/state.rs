// SPDX-License-Identifier: MPL-2.0
//! What exists only while a stream runs (`State`, behind `imp.rs`'s lock), and the plain steps
//! on it: a frame going in, an output coming out, the encoder in use failing. Each takes its
//! inputs as arguments and returns what `imp.rs` then does (push, post, switch); none of them
//! calls into GStreamer elements.

use super::fallback::Failure;
use super::hang::Quiet;
use super::output::{Output, Verdict};
use super::pending::Pending;
use super::plan::{self, Candidate, EncoderRow, Outcome, Tried};
use super::report::Announcement;
use super::settings::Settings;

/// A raw frame the encoder has not yet returned encoded, with the caps it came with.
#[derive(Clone)]
pub(super) struct Held {
    pub buffer: gst::Buffer,
    pub caps: Option<gst::Caps>,
    /// `buffer` is a copy made when the encoder had let go of the original (see
    /// `release_to_upstream` in `imp.rs`).
    pub copied: bool,
}

/// The candidate in place between the ghost pads.
pub(super) struct Active {
    pub factory: String,
    pub hardware: bool,
    pub row: Option<&'static EncoderRow>,
    pub encoder: gst::Element,
    pub converter: gst::Element,
    /// The capsfilter between converter and encoder that chooses the chroma format (see
    /// `caps::format_gate`).
    pub gate: gst::Element,
    /// Tags the chain, so that a late buffer from a chain already replaced is not counted.
    pub generation: u64,
    /// Encoded buffers it has returned.
    pub encoded: u64,
    /// Its `strom-autoenc` message was posted (on its first output buffer).
    pub announced: bool,
    /// Frames have gone in since its last output: see `hang.rs`.
    pub quiet: Quiet,
    /// It is the retry on system memory of the same encoder (see `retry.rs`).
    pub on_system_memory: bool,
}

/// What exists only while a stream runs; reset at the start of each.
#[derive(Default)]
pub(super) struct State {
    /// The candidates of this stream in order, and the next one to look at.
    pub order: Vec<Candidate>,
    pub next: usize,
    pub tried: Tried,
    pub active: Option<Active>,
    pub generation: u64,
    /// Some encoder of this stream has returned output: a switch now changes caps downstream.
    pub output_started: bool,
    pub pending: Pending<Held>,
    /// Encoded outputs held back for display order, and the last DTS sent (see `output.rs`).
    pub output: Output,
    /// An error an encoder posted from a thread of its own: the stream switches on its next
    /// buffer (or EOS).
    pub async_error: Option<gst::Message>,
    /// Why the encoder in use replaced another mid-stream; None when it was the first choice.
    pub switch_reason: Option<String>,
    /// The last error a failed candidate posted, for the debug text of the final error.
    pub last_error: Option<gst::Message>,
    /// PAUSED→READY has begun: a push failing now is the shutdown, not the encoder.
    pub stopping: bool,
    /// The next candidate opened is the one that just failed, on system memory, for this
    /// reason (see `retry.rs`).
    pub retry_on_system_memory: Option<String>,
}

impl State {
    /// The candidate just looked at (or in use) is opened again next, on system memory.
    pub(super) fn retry_last(&mut self, reason: String) {
        self.next = self.next.saturating_sub(1);
        self.retry_on_system_memory = Some(reason);
    }

    /// Whether another candidate is left to try after the one in use.
    pub(super) fn has_more(&self) -> bool {
        self.next < self.order.len()
    }
}

/// What the failed encoder leaves behind when it is taken out of the state: what the switch
/// says and does next.
pub(super) struct Failed {
    /// Its factory name ("the encoder" when none was in place).
    pub factory: String,
    pub outcome: Outcome,
    /// Output had started: the switch is visible downstream (a warning is posted).
    pub output_started: bool,
    /// Its outputs held back for display order, not sent.
    pub discarded: usize,
    /// The frames (and their bytes) the next candidate takes.
    pub frames: usize,
    pub bytes: u64,
}

/// What an encoder's output buffer means for the stream (see [`State::encoded`]).
pub(super) struct Encoded {
    pub verdict: Verdict,
    /// Its first output: the choice is announced.
    pub first: bool,
    /// Frames the encoder dropped (older than this output's DTS), let go.
    pub dropped: usize,
}

impl State {
    /// Takes the encoder in use out after `failure`: its held outputs are dropped and every
    /// frame it had not returned is owed again to the next candidate.
    pub(super) fn fail_active(&mut self, failure: Failure) -> Failed {
        let active = self.active.take();
        // What it output but the bin held back is not sent: its frames are owed again.
        let discarded = self.output.discard();
        self.pending.take_back();
        let outcome = match active.as_ref().map_or(0, |a| a.encoded) {
            0 => Outcome::FailedBeforeOutput(failure.why.clone()),
            frames => Outcome::FailedAfterOutput {
                frames,
                why: failure.why.clone(),
            },
        };
        if active.is_some() {
            self.tried.set_last(outcome.clone());
        }
        if failure.error.is_some() {
            self.last_error = failure.error;
        }
        Failed {
            factory: active.map_or_else(|| "the encoder".to_owned(), |a| a.factory),
            outcome,
            output_started: self.output_started,
            discarded,
            frames: self.pending.len(),
            bytes: self.pending.bytes(),
        }
    }

    /// Records a frame going into the encoder in use; says why it has hung, if it has.
    pub(super) fn note_input(
        &mut self,
        running_time: Option<u64>,
        timeout: std::time::Duration,
    ) -> Option<String> {
        let active = self.active.as_mut()?;
        let now = std::time::Instant::now();
        let hung = active.quiet.hung(now, running_time, timeout);
        active.quiet.input(now, running_time);
        hung.map(|quiet| {
            format!(
                "returned no output for {:.1} s while frames went in (hang-timeout={:.1} s)",
                quiet.as_secs_f64(),
                timeout.as_secs_f64()
            )
        })
    }

    /// An output of the chain of `generation` at running times `pts`/`dts`: counts it, marks
    /// its frame output, and says whether it goes on now (with the held ones before it).
    /// `buffer` is kept when it must wait for display order.
    pub(super) fn encoded(
        &mut self,
        generation: u64,
        buffer: &gst::Buffer,
        pts: Option<u64>,
        dts: Option<u64>,
    ) -> Encoded {
        let Some(active) = self.active.as_mut().filter(|a| a.generation == generation) else {
            return Encoded {
                verdict: Verdict::Drop,
                first: false,
                dropped: 0,
            };
        };
        active.encoded += 1;
        active.quiet.output();
        let first = !active.announced;
        active.announced = true;
        self.pending.output(pts);
        let dropped = self.pending.drop_older_than(dts);
        let newest = self.output.newest_with(pts);
        let verdict = if self.pending.closed_before(newest) || self.output.full() {
            let earlier = self.output.take();
            self.pending.release();
            self.output_started = true;
            Verdict::Pass(earlier)
        } else {
            self.output.hold(buffer.clone(), pts);
            Verdict::Hold
        };
        Encoded {
            verdict,
            first,
            dropped,
        }
    }

    /// The held outputs of the chain of `generation`, their frames done; None for another chain.
    pub(super) fn release_withheld(&mut self, generation: u64) -> Option<Vec<gst::Buffer>> {
        self.active
            .as_ref()
            .filter(|a| a.generation == generation)?;
        let earlier = self.output.take();
        if !earlier.is_empty() {
            self.pending.release();
            self.output_started = true;
        }
        Some(earlier)
    }

    /// The message for the encoder in use, if any.
    pub(super) fn announcement(&self, settings: &Settings) -> Option<Announcement> {
        let active = self.active.as_ref()?;
        let reason = self.switch_reason.clone().unwrap_or_else(|| {
            plan::reason(
                settings.codec,
                settings.preference,
                settings.candidates.as_ref().is_ok_and(|c| !c.is_empty()),
                &active.factory,
                &self.tried,
            )
        });
        Some(Announcement {
            encoder: active.factory.clone(),
            hardware: active.hardware,
            converter: active.converter.clone(),
            tried: self.tried.to_string(),
            reason,
        })
    }
}
