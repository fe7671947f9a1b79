// SPDX-License-Identifier: MPL-2.0
//! Moving the stream from one candidate to the next, in the streaming thread: the terms of it
//! here, the moves in `imp.rs`.
//!
//! Every raw frame is kept (a reference, not a copy) until the encoder returns it encoded (see
//! `pending.rs`). When the encoder posts an error, returns an error flow or refuses caps, the
//! bin records why, replaces the chain with the next candidate that opens (`open.rs`), and
//! pushes the frames not yet returned into it again, in order, each after its own caps, before
//! going on. Before the first output this is invisible downstream; after it, downstream gets a
//! new keyframe and new caps, and the application a warning. An error an encoder posts from a
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
