// SPDX-License-Identifier: MPL-2.0
//! What the bin tells people, from plain inputs: the `strom-autoenc` message once an encoder has
//! proven itself (its first output buffer), and the element error when no candidate is left.
//! `imp.rs` gathers the inputs and posts.

use super::plan::{self, Tried};
use super::{Codec, MESSAGE_NAME, Preference};
use crate::chainbin::summarise_error;

/// What the `strom-autoenc` message says about the encoder in use.
pub(super) struct Announcement {
    pub(super) encoder: String,
    pub(super) hardware: bool,
    pub(super) converter: gst::Element,
    pub(super) tried: String,
    pub(super) reason: String,
}

/// The `strom-autoenc` message body for `what`, encoding `codec` after a conversion on
/// `convert_path`.
pub(super) fn decision_structure(
    what: &Announcement,
    codec: Codec,
    convert_path: &str,
) -> gst::Structure {
    gst::Structure::builder(MESSAGE_NAME)
        .field("encoder", what.encoder.as_str())
        .field("codec", codec.nick())
        .field("hardware", what.hardware)
        .field("convert-path", convert_path)
        .field("tried", what.tried.as_str())
        .field("reason", what.reason.as_str())
        .build()
}

/// Which element error says that no candidate is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exhausted {
    /// `preference=hardware` and no hardware encoder opened.
    NoHardware,
    /// No candidate was even there to try.
    NoneInstalled,
    /// Candidates were tried and failed.
    AllFailed,
}

/// The element error when every candidate for `codec` under `preference` was tried: which kind,
/// the message naming what was tried (and the built-in candidates a `candidates` list left out,
/// `left_out`), and the last encoder error as the debug text.
pub(super) fn exhausted(
    codec: Codec,
    preference: Preference,
    tried: &Tried,
    left_out: &[&str],
    last_error: Option<&gst::Message>,
) -> (Exhausted, String, String) {
    let text = plan::exhausted(codec, preference, tried, left_out);
    let debug = last_error
        .and_then(summarise_error)
        .map_or_else(String::new, |e| format!("last encoder error: {e}"));
    let kind = if preference == Preference::Hardware {
        Exhausted::NoHardware
    } else if tried.failures() == 0 {
        Exhausted::NoneInstalled
    } else {
        Exhausted::AllFailed
    };
    (kind, text, debug)
}
