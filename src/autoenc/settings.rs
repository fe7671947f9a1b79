// SPDX-License-Identifier: MPL-2.0
//! What the properties set: the documented defaults, the `Settings` they fill, and the table of
//! property specs `imp.rs` registers. Plain data; `imp.rs` owns the lock around it.

use gst::glib;
use gst::prelude::*;

use super::pending::Bounds;
use super::plan;
use super::{Codec, Preference, Tune};

const DEFAULT_CODEC: Codec = Codec::H264;
const DEFAULT_BITRATE_KBPS: u32 = 4000;
/// 2 Gbit/s: in bit/s it still fits the narrowest bitrate property of the table (a `gint`).
const MAX_BITRATE_KBPS: u32 = 2_000_000;
const DEFAULT_GOP_SIZE: i32 = 60;
const DEFAULT_TUNE: Tune = Tune::Default;
const DEFAULT_PREFERENCE: Preference = Preference::Auto;
/// 2 s: a GOP at the default gop-size (60) and 30 fps, and more than any encoder's lookahead.
const DEFAULT_MAX_HELD_TIME_NS: u64 = 2_000_000_000;
/// 256 MiB: 85 frames of 1080p NV12, 21 of 4K.
const DEFAULT_MAX_HELD_BYTES: u64 = 256 * 1024 * 1024;
/// 5 s: longer than any encoder's lookahead at real time (x264's default fills in 1.3 s at 30
/// fps), short enough that a stalled GPU does not stall a live stream for long.
const DEFAULT_HANG_TIMEOUT_NS: u64 = 5_000_000_000;
/// 300 ms: what a switch to a software encoder takes at 1080p (the failed one stopped, the next
/// opened, the held frames of a low-latency encoder re-encoded), with room for a loaded machine;
/// like a jitter buffer's 200 ms, a delay a live viewer does not notice.
const DEFAULT_SWITCH_LATENCY_NS: u64 = 300_000_000;

#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub codec: Codec,
    pub bitrate_kbps: u32,
    pub gop_size: i32,
    pub tune: Tune,
    pub preference: Preference,
    /// The `candidates` property as given, and as factory names (or why it is not a list of
    /// them: the stream then does not start, with an element error saying so).
    pub candidates_text: String,
    pub candidates: Result<Vec<String>, String>,
    /// Bounds on the raw frames kept for the next encoder (see `pending.rs`).
    pub max_held_time_ns: u64,
    pub max_held_bytes: u64,
    /// No output for this long while frames go in: the encoder has hung (0: never).
    pub hang_timeout_ns: u64,
    /// Added to the latency reported upstream of live sinks: the time a switch may take.
    pub switch_latency_ns: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            codec: DEFAULT_CODEC,
            bitrate_kbps: DEFAULT_BITRATE_KBPS,
            gop_size: DEFAULT_GOP_SIZE,
            tune: DEFAULT_TUNE,
            preference: DEFAULT_PREFERENCE,
            candidates_text: String::new(),
            candidates: Ok(Vec::new()),
            max_held_time_ns: DEFAULT_MAX_HELD_TIME_NS,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            hang_timeout_ns: DEFAULT_HANG_TIMEOUT_NS,
            switch_latency_ns: DEFAULT_SWITCH_LATENCY_NS,
        }
    }
}

impl Settings {
    pub(super) fn encode(&self) -> plan::EncodeSettings {
        plan::EncodeSettings {
            bitrate_kbps: self.bitrate_kbps,
            gop_size: self.gop_size,
            tune: self.tune,
        }
    }

    pub(super) fn held_bounds(&self) -> Bounds {
        Bounds {
            max_bytes: self.max_held_bytes,
            max_time_ns: self.max_held_time_ns,
            ..Bounds::default()
        }
    }
}

/// The property specs of the bin, in the order `gst-inspect-1.0` lists them.
pub(super) fn properties() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecEnum::builder_with_default("codec", DEFAULT_CODEC)
            .nick("Codec")
            .blurb("What to encode to: h264, h265 or av1. Changeable in NULL and READY only")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("bitrate")
            .nick("Bitrate")
            .blurb(
                "Target bitrate in kbit/s, given to whichever encoder is chosen in its \
                 own unit (kbit/s or bit/s); changes while playing reach encoders that \
                 take them",
            )
            .minimum(1)
            .maximum(MAX_BITRATE_KBPS)
            .default_value(DEFAULT_BITRATE_KBPS)
            .mutable_playing()
            .build(),
        glib::ParamSpecInt::builder("gop-size")
            .nick("GOP size")
            .blurb(
                "Maximum number of frames from one keyframe to the next, given to the \
                 encoder's own property (gop-size, key-int-max, keyframe-period, ...); \
                 -1 (or 0) = the encoder's own. Changeable in NULL and READY only",
            )
            .minimum(-1)
            .default_value(DEFAULT_GOP_SIZE)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("tune", DEFAULT_TUNE)
            .nick("Tune")
            .blurb(
                "default (the encoder's own settings) or low-latency (no B-frames, no \
                 lookahead, zero-latency presets: each frame comes out before the next \
                 goes in). Changeable in NULL and READY only",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("preference", DEFAULT_PREFERENCE)
            .nick("Preference")
            .blurb(
                "Which encoders may be chosen: auto (hardware first, then software), \
                 hardware (an element error when none opens), software. Changeable in \
                 NULL and READY only",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("candidates")
            .nick("Candidates")
            .blurb(
                "Comma-separated encoder factory names to try in this order, e.g. \
                 \"nvh264enc,x264enc\"; empty = the built-in order for the codec; a name \
                 listed twice is tried twice (the same encoder opened again after it failed). \
                 Anything else is an element error when the stream starts. Changeable \
                 in NULL and READY only",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("max-held-time")
            .nick("Maximum held time")
            .blurb(
                "Longest span of raw frames (in ns of running time) kept until the \
                 encoder returns them, for the next encoder to take over without losing \
                 them; older ones are let go (a switch then loses them). Changeable in \
                 NULL and READY only",
            )
            .default_value(DEFAULT_MAX_HELD_TIME_NS)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("max-held-bytes")
            .nick("Maximum held bytes")
            .blurb(
                "Most bytes of raw frames kept until the encoder returns them (the \
                 newest frame is always kept); older ones are let go. Changeable in NULL \
                 and READY only",
            )
            .default_value(DEFAULT_MAX_HELD_BYTES)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("hang-timeout")
            .nick("Hang timeout")
            .blurb(
                "An encoder that returns no output for this long (in ns, of both wall \
                 time and input running time) while frames go in has hung: it is \
                 treated as failed and the next candidate takes over; 0 = never. \
                 Changeable in NULL and READY only",
            )
            .default_value(DEFAULT_HANG_TIMEOUT_NS)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("switch-latency")
            .nick("Switch latency")
            .blurb(
                "Added (in ns) to the latency the bin reports in a live pipeline, like a jitter \
                 buffer's: the time a switch to the next encoder may take (the failed one \
                 stopped, the next opened, the held frames encoded again), so that a sink with \
                 sync=true still renders the replayed frames instead of dropping them as late; \
                 0 = only the encoders' own latency. Changeable in NULL and READY only",
            )
            .default_value(DEFAULT_SWITCH_LATENCY_NS)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("active-encoder")
            .nick("Active encoder")
            .blurb("Factory name of the encoder in use; \"\" until one has opened")
            .read_only()
            .build(),
        glib::ParamSpecString::builder("convert-path")
            .nick("Conversion path")
            .blurb(
                "The internal stromautoconvert's path: gl (zero-copy GL memory to the \
                 encoder) or software; \"\" until caps are negotiated",
            )
            .read_only()
            .build(),
    ]
}

impl Settings {
    /// The value of the settable property `name`; None for a read-only one (the state's).
    pub(super) fn value(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "codec" => self.codec.to_value(),
            "bitrate" => self.bitrate_kbps.to_value(),
            "gop-size" => self.gop_size.to_value(),
            "tune" => self.tune.to_value(),
            "preference" => self.preference.to_value(),
            "candidates" => self.candidates_text.to_value(),
            "max-held-time" => self.max_held_time_ns.to_value(),
            "max-held-bytes" => self.max_held_bytes.to_value(),
            "hang-timeout" => self.hang_timeout_ns.to_value(),
            "switch-latency" => self.switch_latency_ns.to_value(),
            _ => return None,
        })
    }
}
