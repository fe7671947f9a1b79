// SPDX-License-Identifier: MPL-2.0
//! `stromautoenc`: raw video in, H.264/H.265/AV1 out through the first encoder of a candidate
//! list that really opens and encodes, with fallback to the next one that loses no frame.
//!
//! Inside the bin: `stromautoconvert` (any raw input reaches the encoder in the format and memory
//! it takes) ! the chosen encoder ! the codec's parser (downstream gets the stream-format and
//! alignment it asks for). `plan.rs` is the candidate table, the per-encoder property mapping
//! and the order, as plain data; `caps.rs` the caps offered; `open.rs` makes a candidate's
//! encoder; `hang.rs` says when an encoder that returns nothing has hung; `pending.rs` keeps the
//! raw frames the encoder has not yet returned; `output.rs` holds outputs back for display order
//! and keeps downstream's caps and DTS across a switch; `fallback.rs` the terms of moving the stream to
//! the next candidate with them; `report.rs` builds what the bin says; `retry.rs` whether a failed
//! hardware encoder is tried again on system memory before the next candidate; `settings.rs` the properties
//! (defaults, `Settings`, the spec table); `state.rs` the per-stream state and the plain steps
//! on it (a frame in, an output out, an encoder failing), each returning what to do. `imp.rs`
//! wires it into GStreamer and does the element's work; arrows run from it outwards, never back.

use gst::glib;
use gst::prelude::*;

mod caps;
mod fallback;
mod hang;
mod imp;
mod open;
mod outlet;
mod output;
mod pending;
// A test hook (cargo feature `testing`): public so that the tests can check the mapping of every
// encoder installed on the machine; crate-private otherwise (the doctor reads it).
#[cfg(feature = "testing")]
pub mod plan;
#[cfg(not(feature = "testing"))]
#[allow(unreachable_pub)]
pub(crate) mod plan;
pub(crate) mod registry;
mod report;
mod retry;
mod settings;
mod state;

/// The bin's debug category (`GST_DEBUG=stromautoenc:5`), for `imp.rs` and the modules beside
/// it that log.
pub(crate) static CAT: std::sync::LazyLock<gst::DebugCategory> = std::sync::LazyLock::new(|| {
    gst::DebugCategory::new(
        "stromautoenc",
        gst::DebugColorFlags::empty(),
        Some("Strom automatic video encoder"),
    )
});

/// Name of the element message posted when an encoder has produced its first output buffer.
pub const MESSAGE_NAME: &str = "strom-autoenc";

/// The codec the bin produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstStromAutoEncCodec")]
pub enum Codec {
    #[default]
    #[enum_value(name = "H.264 (video/x-h264)", nick = "h264")]
    H264 = 0,
    #[enum_value(name = "H.265 / HEVC (video/x-h265)", nick = "h265")]
    H265 = 1,
    #[enum_value(name = "AV1 (video/x-av1)", nick = "av1")]
    Av1 = 2,
}

/// What the encoder is tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstStromAutoEncTune")]
pub enum Tune {
    /// The encoder's own defaults (apart from bitrate and GOP).
    #[default]
    #[enum_value(name = "Default: the encoder's own settings", nick = "default")]
    Default = 0,
    /// No B-frames, no lookahead, zero-latency presets: a frame out for each frame in.
    #[enum_value(
        name = "Low latency: no B-frames, no lookahead, zero-latency presets",
        nick = "low-latency"
    )]
    LowLatency = 1,
}

/// Which kinds of encoder the bin may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstStromAutoEncPreference")]
pub enum Preference {
    /// Hardware encoders first (in the built-in order), then software.
    #[default]
    #[enum_value(name = "Auto: the first candidate that opens", nick = "auto")]
    Auto = 0,
    /// Hardware encoders only; an element error when none opens.
    #[enum_value(name = "Hardware encoders only", nick = "hardware")]
    Hardware = 1,
    /// Software encoders only.
    #[enum_value(name = "Software encoders only", nick = "software")]
    Software = 2,
}

glib::wrapper! {
    pub struct AutoEnc(ObjectSubclass<imp::AutoEnc>) @extends gst::Bin, gst::Element, gst::Object, @implements gst::ChildProxy;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "stromautoenc",
        gst::Rank::NONE,
        AutoEnc::static_type(),
    )
}
