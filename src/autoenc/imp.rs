// SPDX-License-Identifier: MPL-2.0
//! The `stromautoenc` subclass: settings, per-stream state, the ghost pads' functions and the
//! GObject/GStreamer impls. Beside it, `open.rs` opens candidates, `fallback.rs` moves the stream
//! to the next one when an encoder fails, `report.rs` says what was chosen and why.

use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::caps;
use super::hang::Quiet;
use super::pending::{Bounds, Pending};
use super::plan::{self, Candidate, EncoderRow, Tried};
use super::{Codec, Preference, Tune};
use crate::chainbin::{ChainSlot, ErrorHold, QueryGate};
use crate::sync::lock;

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "stromautoenc",
        gst::DebugColorFlags::empty(),
        Some("Strom automatic video encoder"),
    )
});

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

/// A raw frame the encoder has not yet returned encoded, with the caps it came with.
#[derive(Clone)]
pub(super) struct Held {
    pub buffer: gst::Buffer,
    pub caps: Option<gst::Caps>,
    /// `buffer` is a copy made when the encoder had let go of the original (see
    /// [`AutoEnc::release_to_upstream`]).
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
    pub output: super::output::Output,
    /// An error an encoder posted from a thread of its own: the stream switches on its next
    /// buffer (or EOS).
    pub async_error: Option<gst::Message>,
    /// Why the encoder in use replaced another mid-stream; None when it was the first choice.
    pub switch_reason: Option<String>,
    /// The last error a failed candidate posted, for the debug text of the final error.
    pub last_error: Option<gst::Message>,
    /// PAUSED→READY has begun: a push failing now is the shutdown, not the encoder.
    pub stopping: bool,
}

impl State {
    /// Whether another candidate is left to try after the one in use.
    pub(super) fn has_more(&self) -> bool {
        self.next < self.order.len()
    }
}

pub struct AutoEnc {
    pub(super) sinkpad: gst::GhostPad,
    pub(super) srcpad: gst::GhostPad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// `stromautoconvert ! encoder ! parser`, tagged with its generation.
    pub(super) chain: ChainSlot<u64>,
    /// Errors the chain posts while this bin pushes into it (or opens it), until the bin knows
    /// whether another candidate takes over.
    pub(super) errors: ErrorHold,
    queries: QueryGate,
}

impl AutoEnc {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(super) fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    fn sink_event(&self, pad: &gst::GhostPad, event: gst::Event) -> bool {
        match event.view() {
            // Serialized events an encoder can fail on: a new format, or the drain at the end.
            gst::EventView::Caps(_) => return self.forward_checked(pad, event),
            gst::EventView::Eos(_) => {
                if self.take_up_async_error(pad).is_err() {
                    return false;
                }
                return self.forward_checked(pad, event);
            }
            // Flushed frames are gone for every encoder: none is owed to the next one, and an
            // error from before the flush is about a stream that no longer exists.
            gst::EventView::FlushStop(_) => {
                let mut state = self.state();
                state.pending.clear();
                if let Some(error) = state.async_error.take() {
                    gst::info!(
                        CAT,
                        imp = self,
                        "flushed away a held encoder error: {error:?}"
                    );
                }
            }
            _ => {}
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn sink_chain(
        &self,
        pad: &gst::GhostPad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.take_up_async_error(pad)?;
        let held = Held {
            buffer: buffer.clone(),
            caps: pad.current_caps(),
            copied: false,
        };
        let running_time = running_time(pad, buffer.pts());
        let bytes = buffer.size() as u64;
        let timeout = std::time::Duration::from_nanos(lock(&self.settings).hang_timeout_ns);
        let (evicted, hung) = {
            let mut state = self.state();
            let evicted = state.pending.push(running_time, bytes, held);
            (evicted, note_input(&mut state, running_time, timeout))
        };
        if evicted > 0 {
            gst::debug!(
                CAT,
                imp = self,
                "held frames past max-held-time/max-held-bytes: {evicted} oldest no longer kept"
            );
        }
        let result = match hung {
            // The frames it took and this one go to the next encoder.
            Some(why) => self.give_up_hung(pad, why),
            None => self.push_buffer(pad, buffer),
        };
        self.release_to_upstream();
        result
    }
}

/// Records a frame going into the encoder in use; says why it has hung, if it has.
fn note_input(
    state: &mut State,
    running_time: Option<u64>,
    timeout: std::time::Duration,
) -> Option<String> {
    let active = state.active.as_mut()?;
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

impl AutoEnc {
    /// Replaces each held frame that only the bin still references (the encoder let go of it:
    /// copied it inside, dropped it, or returned it under a time that matched nothing) with a
    /// copy, so that the original goes back to its pool: a source with a small fixed pool
    /// (`v4l2src`, a decoder) is not starved by frames kept only for a fallback.
    fn release_to_upstream(&self) {
        let mut state = self.state();
        for held in state.pending.items_mut() {
            if !held.copied && held.buffer.is_writable() {
                held.buffer = held
                    .buffer
                    .copy_deep()
                    .unwrap_or_else(|_| held.buffer.copy());
                held.copied = true;
            }
        }
    }

    /// Queries into the chain, or the answer without one (before READY→PAUSED, while the
    /// chain goes away, between two candidates).
    fn chain_query(
        &self,
        pad: &gst::GhostPad,
        query: &mut gst::QueryRef,
        without_chain: impl Fn() -> gst::Caps,
    ) -> bool {
        if let Some(_inside) = self.queries.enter().filter(|_| !self.chain.is_empty()) {
            return gst::Pad::query_default(pad, Some(&*self.obj()), query);
        }
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let caps = without_chain();
                let result = match q.filter() {
                    Some(filter) => {
                        filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First)
                    }
                    None => caps,
                };
                q.set_result(&result);
                true
            }
            gst::QueryViewMut::AcceptCaps(q) => {
                let accepted = without_chain().can_intersect(q.caps());
                q.set_result(accepted);
                true
            }
            _ => false,
        }
    }

    /// What downstream can get for the configured codec: the parser's output caps.
    fn src_caps(&self) -> gst::Caps {
        caps::codec_caps(self.settings().codec)
    }

    fn sink_query(&self, pad: &gst::GhostPad, query: &mut gst::QueryRef) -> bool {
        let answered = self.chain_query(pad, query, caps::raw_caps);
        if answered && let gst::QueryViewMut::Caps(q) = query.view_mut() {
            let ordered = q.result().map(caps::prefer_common_formats);
            if let Some(ordered) = ordered {
                q.set_result(&ordered);
            }
        }
        answered
    }

    /// Sets a property that only applies from the next stream; refused while one runs.
    fn set_stream_setting(&self, name: &str, set: impl FnOnce(&mut Settings)) {
        if self.obj().current_state() > gst::State::Ready {
            gst::element_imp_warning!(
                self,
                gst::CoreError::StateChange,
                (
                    "{} can only be changed in the NULL or READY state; keeping the current value",
                    name
                )
            );
            return;
        }
        set(&mut lock(&self.settings));
    }

    /// A new bitrate reaches the encoder in use when it takes one while playing (x264enc,
    /// openh264enc, NVENC and VA do); else it applies from the next stream or switch.
    fn apply_bitrate_live(&self, kbps: u32) {
        let active = self
            .state()
            .active
            .as_ref()
            .map(|a| (a.encoder.clone(), a.row));
        let Some((encoder, Some(row))) = active else {
            return;
        };
        let property = row.bitrate.0;
        let Some(pspec) = encoder.find_property(property) else {
            return;
        };
        let live = encoder.current_state() <= gst::State::Ready
            || pspec.flags().contains(gst::PARAM_FLAG_MUTABLE_PLAYING);
        if !live {
            gst::info!(
                CAT,
                imp = self,
                "{}'s {property} cannot change while playing: {kbps} kbit/s applies from the next stream",
                row.factory
            );
            return;
        }
        let value = super::open::property_value(plan::bitrate_value(row, kbps));
        match crate::chainbin::set_checked(&encoder, property, &value) {
            Ok(()) => gst::info!(CAT, imp = self, "bitrate now {kbps} kbit/s"),
            Err(why) => gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                (
                    "could not change {}'s {} to {} kbit/s: {}",
                    row.factory,
                    property,
                    kbps,
                    why
                )
            ),
        }
    }

    fn convert_path(&self) -> String {
        let converter = self.state().active.as_ref().map(|a| a.converter.clone());
        converter.map_or_else(String::new, |c| c.property::<String>("active-path"))
    }
}

/// The running time of `pts` in the segment `pad` last saw.
pub(super) fn running_time(pad: &impl IsA<gst::Pad>, pts: Option<gst::ClockTime>) -> Option<u64> {
    let event = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = event.segment().downcast_ref::<gst::ClockTime>()?;
    segment.to_running_time(pts?).map(gst::ClockTime::nseconds)
}

#[glib::object_subclass]
impl ObjectSubclass for AutoEnc {
    const NAME: &'static str = "GstStromAutoEnc";
    type Type = super::AutoEnc;
    type ParentType = gst::Bin;

    fn with_class(klass: &Self::Class) -> Self {
        let sink_template = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::GhostPad::builder_from_template(&sink_template)
            .event_function(|pad, parent, event| {
                AutoEnc::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                AutoEnc::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_query(pad, query),
                )
            })
            .chain_function(|pad, parent, buffer| {
                AutoEnc::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |this| this.sink_chain(pad, buffer),
                )
            })
            .build();
        let src_template = klass.pad_template("src").expect("src template");
        let srcpad = gst::GhostPad::builder_from_template(&src_template)
            .query_function(|pad, parent, query| {
                AutoEnc::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.chain_query(pad, query, || this.src_caps()),
                )
            })
            .build();
        AutoEnc {
            chain: ChainSlot::new(&sinkpad, &srcpad),
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            errors: ErrorHold::default(),
            queries: QueryGate::default(),
        }
    }
}

impl ObjectImpl for AutoEnc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder_with_default("codec", DEFAULT_CODEC)
                    .nick("Codec")
                    .blurb(
                        "What to encode to: h264, h265 or av1. Changeable in NULL and READY only",
                    )
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
                         \"nvh264enc,x264enc\"; empty = the built-in order for the codec. \
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
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "codec" => {
                let codec = value.get::<Codec>().expect("type checked upstream");
                self.set_stream_setting("codec", |s| s.codec = codec);
            }
            "bitrate" => {
                let kbps = value.get::<u32>().expect("type checked upstream");
                lock(&self.settings).bitrate_kbps = kbps;
                self.apply_bitrate_live(kbps);
            }
            "gop-size" => {
                let gop = value.get::<i32>().expect("type checked upstream");
                self.set_stream_setting("gop-size", |s| s.gop_size = gop);
            }
            "tune" => {
                let tune = value.get::<Tune>().expect("type checked upstream");
                self.set_stream_setting("tune", |s| s.tune = tune);
            }
            "preference" => {
                let preference = value.get::<Preference>().expect("type checked upstream");
                self.set_stream_setting("preference", |s| s.preference = preference);
            }
            "candidates" => {
                let text = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_default();
                let names = plan::parse_candidates(&text);
                self.set_stream_setting("candidates", |s| {
                    s.candidates_text = text;
                    s.candidates = names;
                });
            }
            "max-held-time" => {
                let ns = value.get::<u64>().expect("type checked upstream");
                self.set_stream_setting("max-held-time", |s| s.max_held_time_ns = ns);
            }
            "hang-timeout" => {
                let ns = value.get::<u64>().expect("type checked upstream");
                self.set_stream_setting("hang-timeout", |s| s.hang_timeout_ns = ns);
            }
            "max-held-bytes" => {
                let bytes = value.get::<u64>().expect("type checked upstream");
                self.set_stream_setting("max-held-bytes", |s| s.max_held_bytes = bytes);
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings();
        match pspec.name() {
            "codec" => settings.codec.to_value(),
            "bitrate" => settings.bitrate_kbps.to_value(),
            "gop-size" => settings.gop_size.to_value(),
            "tune" => settings.tune.to_value(),
            "preference" => settings.preference.to_value(),
            "candidates" => settings.candidates_text.to_value(),
            "max-held-time" => settings.max_held_time_ns.to_value(),
            "max-held-bytes" => settings.max_held_bytes.to_value(),
            "hang-timeout" => settings.hang_timeout_ns.to_value(),
            "active-encoder" => self
                .state()
                .active
                .as_ref()
                .map_or_else(String::new, |a| a.factory.clone())
                .to_value(),
            "convert-path" => self.convert_path().to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad)
            .expect("fresh bin takes a sink pad");
        obj.add_pad(&self.srcpad)
            .expect("fresh bin takes a src pad");
    }
}

impl GstObjectImpl for AutoEnc {}

impl ElementImpl for AutoEnc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::with_additional(
                "Strom automatic video encoder",
                "Codec/Encoder/Video",
                "Encodes raw video (system or GL memory) to H.264, H.265 or AV1 with the first \
                 encoder of the candidate list that really opens (NVENC, VA, VA-API, Quick Sync, \
                 then x264/openh264/x265/SVT-AV1/rav1e/aom), converting through \
                 stromautoconvert and parsing to the stream-format downstream asks for. A \
                 candidate that fails before its first output is replaced by the next one with \
                 the same frames; after output has started an encoder error switches to the \
                 next one with a new keyframe and new caps. Posts the element message \
                 'strom-autoenc' when an encoder has produced its first output: encoder \
                 (string), codec (string), hardware (boolean), convert-path (string), tried \
                 (string), reason (string)",
                "gst-strom developers",
                &[("doc-uri", "https://github.com/strom/gst-strom#stromautoenc")],
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let src = caps::all_codec_caps();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps::raw_caps(),
                )
                .expect("valid sink template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src,
                )
                .expect("valid src template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        match transition {
            gst::StateChange::ReadyToPaused => {
                self.queries.set_open(true);
                self.errors.clear();
                // The candidates are opened here, one after the other, so that the first one
                // that really reaches PAUSED is in place before caps are negotiated.
                self.start_stream()?;
            }
            gst::StateChange::PausedToReady => {
                self.state().stopping = true;
                // Before the children stop: see `QueryGate`.
                self.queries.set_open(false);
            }
            _ => {}
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            self.end_stream();
        }
        Ok(result)
    }
}

impl BinImpl for AutoEnc {
    fn handle_message(&self, message: gst::Message) {
        let obj = self.obj();
        let from_inside = |m: &gst::Message| m.src().is_some_and(|s| s.has_as_ancestor(&*obj));
        let Some(message) = self.errors.intercept(message, from_inside) else {
            gst::debug!(
                CAT,
                imp = self,
                "holding back an error until the stream's fate is known"
            );
            return;
        };
        if matches!(message.view(), gst::MessageView::Error(_))
            && from_inside(&message)
            && self.hold_async_error(&message)
        {
            return;
        }
        self.parent_handle_message(message)
    }
}
