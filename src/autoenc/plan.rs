// SPDX-License-Identifier: MPL-2.0
//! The encoder choice as plain data: the candidate table (which encoders exist for each codec, in
//! which order, hardware or not, and how each spells bitrate, GOP and low latency), the order a
//! request tries them in, and the words that report the outcome. No GStreamer object lives here,
//! so every rule and every row is unit-tested without a pipeline or a GPU.

use std::fmt;

use super::{Codec, Preference, Tune};

/// The unit of an encoder's bitrate property; ours is always kbit/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitrateUnit {
    KbitPerSec,
    BitPerSec,
}

/// A property value in the table, independent of the property's exact GLib type (the element
/// converts: an `Int` fits `gint`, `guint`, `guint64`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    /// An enum or flags value by nick, as `gst-launch-1.0` writes it.
    Nick(&'static str),
    /// A string property (no row of today's table sets one; the tests' own rows do).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Text(&'static str),
}

/// One setting spelled in several ways: the first property the element has and accepts is set.
/// Versions of one encoder differ (nvcodec 1.22 has `bframes` and `preset=low-latency-hq`,
/// 1.24 `b-frames` and `tune=ultra-low-latency`).
pub type Alternatives = &'static [(&'static str, Value)];

/// One row of the candidate table.
#[derive(Debug, PartialEq, Eq)]
pub struct EncoderRow {
    pub factory: &'static str,
    pub codec: Codec,
    pub hardware: bool,
    /// The property that takes the target bitrate, and its unit.
    pub bitrate: (&'static str, BitrateUnit),
    /// The property that takes the maximum distance between keyframes, in frames.
    pub gop: &'static str,
    /// The GOP property counts the frames between keyframes minus one (SVT-AV1's intra period).
    pub gop_minus_one: bool,
    /// Set whatever is asked, so that the mapped properties mean what ours say (e.g.
    /// `openh264enc` honours its bitrate only with `rate-control=bitrate`).
    pub always: &'static [Alternatives],
    /// `tune=low-latency`: no B-frames, no lookahead, zero-latency presets.
    pub low_latency: &'static [Alternatives],
    /// Where the element comes from, for the fix in error messages.
    pub package: &'static str,
    /// Why `tune=low-latency` cannot be had from this encoder, if it cannot: the candidate is
    /// then skipped for a low-latency stream instead of delivering one that waits for frames.
    pub no_low_latency: Option<&'static str>,
}

use BitrateUnit::{BitPerSec, KbitPerSec};
use Value::{Bool, Int, Nick};

/// NVENC, old (`nvh264enc` of 1.22, `GstNvBaseEnc`) and new (`GstNvEncoder`: 1.22's
/// `nvautogpuh264enc`, every `nv*enc` from 1.24) spellings.
const NVENC_LOW_LATENCY: &[Alternatives] = &[
    &[
        ("tune", Nick("ultra-low-latency")),
        ("preset", Nick("low-latency-hq")),
    ],
    &[
        ("zero-reorder-delay", Bool(true)),
        ("zerolatency", Bool(true)),
    ],
    &[("b-frames", Int(0)), ("bframes", Int(0))],
    &[("rc-lookahead", Int(0))],
];
/// The bitrate is a target only under constant or variable bitrate control: `rate-control`
/// (`GstNvEncoder`: every `nv*enc` of 1.24 and newer, `nvautogpu*enc`) or `rc-mode`
/// (`GstNvBaseEnc`, `nvh264enc` 1.22), both with the nick `cbr`.
const NVENC_ALWAYS: &[Alternatives] = &[&[("rate-control", Nick("cbr")), ("rc-mode", Nick("cbr"))]];
const NVENC_PACKAGE: &str = "gstreamer1.0-plugins-bad and the NVIDIA driver with NVENC (libnvidia-encode); check with strom-doctor";
const VA_PACKAGE: &str =
    "gstreamer1.0-plugins-bad and a VA-API driver (intel-media-va-driver or mesa-va-drivers)";
const VAAPI_PACKAGE: &str = "gstreamer1.0-vaapi and a VA-API driver";
// gstreamer-vaapi encoders default to constant QP, which ignores the bitrate.
const VAAPI_ALWAYS: &[Alternatives] = &[&[("rate-control", Nick("cbr"))]];

const fn nvenc(factory: &'static str, codec: Codec) -> EncoderRow {
    EncoderRow {
        factory,
        codec,
        hardware: true,
        bitrate: ("bitrate", KbitPerSec),
        gop: "gop-size",
        gop_minus_one: false,
        always: NVENC_ALWAYS,
        low_latency: NVENC_LOW_LATENCY,
        package: NVENC_PACKAGE,
        no_low_latency: None,
    }
}

const fn va(
    factory: &'static str,
    codec: Codec,
    low_latency: &'static [Alternatives],
) -> EncoderRow {
    EncoderRow {
        factory,
        codec,
        hardware: true,
        bitrate: ("bitrate", KbitPerSec),
        gop: "key-int-max",
        gop_minus_one: false,
        always: &[],
        low_latency,
        package: VA_PACKAGE,
        no_low_latency: None,
    }
}

const fn vaapi(factory: &'static str, codec: Codec) -> EncoderRow {
    EncoderRow {
        factory,
        codec,
        hardware: true,
        bitrate: ("bitrate", KbitPerSec),
        gop: "keyframe-period",
        gop_minus_one: false,
        always: VAAPI_ALWAYS,
        low_latency: &[&[("max-bframes", Int(0))]],
        package: VAAPI_PACKAGE,
        no_low_latency: None,
    }
}

/// Every candidate, per codec in the built-in order: hardware first (NVENC, VA, VA-API, Quick
/// Sync), then software.
pub static TABLE: &[EncoderRow] = &[
    // H.264
    nvenc("nvh264enc", Codec::H264),
    nvenc("nvautogpuh264enc", Codec::H264),
    va("vah264enc", Codec::H264, &[&[("b-frames", Int(0))]]),
    vaapi("vaapih264enc", Codec::H264),
    EncoderRow {
        factory: "qsvh264enc",
        codec: Codec::H264,
        hardware: true,
        bitrate: ("bitrate", KbitPerSec),
        gop: "gop-size",
        gop_minus_one: false,
        always: &[],
        low_latency: &[&[("b-frames", Int(0))]],
        package: "GStreamer's qsv plugin (gst-plugins-bad built with Intel oneVPL)",
        no_low_latency: None,
    },
    EncoderRow {
        factory: "x264enc",
        codec: Codec::H264,
        hardware: false,
        bitrate: ("bitrate", KbitPerSec),
        gop: "key-int-max",
        gop_minus_one: false,
        always: &[],
        low_latency: &[
            &[("tune", Nick("zerolatency"))],
            &[("bframes", Int(0))],
            &[("rc-lookahead", Int(0))],
        ],
        package: "gstreamer1.0-plugins-ugly",
        no_low_latency: None,
    },
    EncoderRow {
        factory: "openh264enc",
        codec: Codec::H264,
        hardware: false,
        bitrate: ("bitrate", BitPerSec),
        gop: "gop-size",
        gop_minus_one: false,
        always: &[&[("rate-control", Nick("bitrate"))]],
        // OpenH264 has neither B-frames nor lookahead: every frame comes out as it goes in.
        low_latency: &[],
        package: "gstreamer1.0-plugins-bad",
        no_low_latency: None,
    },
    // H.265
    nvenc("nvh265enc", Codec::H265),
    nvenc("nvautogpuh265enc", Codec::H265),
    va("vah265enc", Codec::H265, &[&[("b-frames", Int(0))]]),
    vaapi("vaapih265enc", Codec::H265),
    EncoderRow {
        factory: "x265enc",
        codec: Codec::H265,
        hardware: false,
        bitrate: ("bitrate", KbitPerSec),
        gop: "key-int-max",
        gop_minus_one: false,
        always: &[],
        low_latency: &[&[("tune", Nick("zerolatency"))]],
        package: "gstreamer1.0-plugins-bad",
        no_low_latency: None,
    },
    // AV1
    nvenc("nvav1enc", Codec::Av1),
    nvenc("nvautogpuav1enc", Codec::Av1),
    // AV1 has no B-frames; one hierarchical level disables every future reference.
    va("vaav1enc", Codec::Av1, &[&[("hierarchical-level", Int(1))]]),
    EncoderRow {
        factory: "svtav1enc",
        codec: Codec::Av1,
        hardware: false,
        bitrate: ("target-bitrate", KbitPerSec),
        gop: "intra-period-length",
        gop_minus_one: true,
        always: &[],
        // SVT-AV1 2.x refuses its low-delay structure (`pred-struct=1`) without CBR and, with
        // CBR, GStreamer 1.26.2's svtav1enc returns the first frame and then no other (measured
        // with SVT-AV1 2.3.0); its random-access structure holds frames back.
        low_latency: &[],
        package: "gst-plugins-bad 1.24 or newer with SVT-AV1",
        no_low_latency: Some("SVT-AV1's low-delay structure stalls in svtav1enc; tune=low-latency"),
    },
    EncoderRow {
        factory: "rav1enc",
        codec: Codec::Av1,
        hardware: false,
        bitrate: ("bitrate", BitPerSec),
        gop: "max-key-frame-interval",
        gop_minus_one: false,
        always: &[],
        low_latency: &[&[("low-latency", Bool(true))]],
        package: "gst-plugins-rs (rav1e)",
        no_low_latency: None,
    },
    EncoderRow {
        factory: "av1enc",
        codec: Codec::Av1,
        hardware: false,
        bitrate: ("target-bitrate", KbitPerSec),
        gop: "keyframe-max-dist",
        gop_minus_one: false,
        // av1enc 1.22's quantizer range defaults to 0..0, which ignores the bitrate; libaom's
        // VBR without lookahead does not reach it in seconds (CBR does, as x264enc's default
        // pass=cbr); its default speed (cpu-used=0) is about 100 times slower than real time
        // at 320x240.
        always: &[
            &[("max-quantizer", Int(63))],
            &[("end-usage", Nick("cbr"))],
            &[("cpu-used", Int(6))],
        ],
        // libaom's real-time usage at a real-time speed, no frames held back.
        low_latency: &[
            &[("usage-profile", Nick("realtime"))],
            &[("lag-in-frames", Int(0))],
            &[("cpu-used", Int(8))],
        ],
        package: "gstreamer1.0-plugins-bad",
        no_low_latency: None,
    },
];

impl Codec {
    /// "H.264", for people.
    pub fn label(self) -> &'static str {
        match self {
            Codec::H264 => "H.264",
            Codec::H265 => "H.265",
            Codec::Av1 => "AV1",
        }
    }

    /// The caps name of the encoded stream.
    pub fn media_type(self) -> &'static str {
        match self {
            Codec::H264 => "video/x-h264",
            Codec::H265 => "video/x-h265",
            Codec::Av1 => "video/x-av1",
        }
    }

    /// The parser that gives downstream the stream-format and alignment it asks for.
    pub fn parser(self) -> &'static str {
        match self {
            Codec::H264 => "h264parse",
            Codec::H265 => "h265parse",
            Codec::Av1 => "av1parse",
        }
    }

    /// "h264", as the `codec` property and the message say it.
    pub fn nick(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
            Codec::Av1 => "av1",
        }
    }

    /// The codec of a caps name, if it is one of ours.
    pub fn from_media_type(media_type: &str) -> Option<Codec> {
        [Codec::H264, Codec::H265, Codec::Av1]
            .into_iter()
            .find(|c| c.media_type() == media_type)
    }
}

impl Preference {
    pub fn nick(self) -> &'static str {
        match self {
            Preference::Auto => "auto",
            Preference::Hardware => "hardware",
            Preference::Software => "software",
        }
    }
}

/// The table's row for `factory`.
pub fn row(factory: &str) -> Option<&'static EncoderRow> {
    TABLE.iter().find(|r| r.factory == factory)
}

/// The built-in order for `codec`.
pub fn built_in(codec: Codec) -> impl Iterator<Item = &'static EncoderRow> {
    TABLE.iter().filter(move |r| r.codec == codec)
}

/// What the bin's properties ask of whichever encoder it chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeSettings {
    pub bitrate_kbps: u32,
    /// Frames between keyframes; 0 or less: the encoder's own.
    pub gop_size: i32,
    pub tune: Tune,
}

/// One property setting for a chosen encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// What it is for, in logs: `bitrate`, `gop-size`, `tune=low-latency`, `always`.
    pub what: &'static str,
    pub alternatives: Vec<(&'static str, Value)>,
    /// A required setting that cannot be made fails the candidate (the stream would not be what
    /// the properties say); the others are made where the element version has them.
    pub required: bool,
}

/// The value `row`'s bitrate property takes for `kbps`.
pub fn bitrate_value(row: &EncoderRow, kbps: u32) -> Value {
    match row.bitrate.1 {
        KbitPerSec => Int(i64::from(kbps)),
        BitPerSec => Int(i64::from(kbps) * 1000),
    }
}

/// Everything to set on `row`'s encoder for `settings`, in order.
pub fn settings_for(row: &EncoderRow, settings: &EncodeSettings) -> Vec<Setting> {
    let mut out = vec![Setting {
        what: "bitrate",
        alternatives: vec![(row.bitrate.0, bitrate_value(row, settings.bitrate_kbps))],
        required: true,
    }];
    if settings.gop_size > 0 {
        let frames = i64::from(settings.gop_size) - i64::from(row.gop_minus_one);
        out.push(Setting {
            what: "gop-size",
            alternatives: vec![(row.gop, Int(frames))],
            required: true,
        });
    }
    let optional = |what, groups: &'static [Alternatives]| {
        groups.iter().map(move |group| Setting {
            what,
            alternatives: group.to_vec(),
            required: false,
        })
    };
    out.extend(optional("always", row.always));
    if settings.tune == Tune::LowLatency {
        out.extend(optional("tune=low-latency", row.low_latency));
    }
    out
}

/// The `candidates` property as factory names; empty means the built-in order.
pub fn parse_candidates(list: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    if !list.trim().is_empty() && list.split(',').all(|n| n.trim().is_empty()) {
        return Err(format!(
            "'{list}' names no encoder (comma-separated names, e.g. \"nvh264enc,x264enc\"; \
             empty for the built-in order)"
        ));
    }
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let valid = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !valid {
            return Err(format!(
                "'{name}' is not an element factory name (comma-separated names, e.g. \
                 \"nvh264enc,x264enc\")"
            ));
        }
        // A name listed twice is tried twice: the same encoder opened again after it failed
        // (as OBS re-opens its hardware encoder), the only fallback where one encoder of the
        // codec is installed (x265enc, av1enc on Debian 12).
        names.push(name.to_owned());
    }
    Ok(names)
}

/// One encoder the bin may try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub factory: String,
    /// Its table row; None for a name the table does not know (its properties are left alone).
    pub row: Option<&'static EncoderRow>,
}

/// The candidates for `codec` in the order they are tried: `list` as given, or the built-in
/// order when it is empty.
pub fn order(codec: Codec, list: &[String]) -> Vec<Candidate> {
    if list.is_empty() {
        return built_in(codec)
            .map(|row| Candidate {
                factory: row.factory.to_owned(),
                row: Some(row),
            })
            .collect();
    }
    list.iter()
        .map(|factory| Candidate {
            factory: factory.clone(),
            row: row(factory),
        })
        .collect()
}

/// What the registry says about a candidate's factory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    No,
    Yes {
        /// Its klass says `Hardware`.
        hardware_klass: bool,
        /// The codecs its src template produces; None when the template does not say (ANY).
        produces: Option<Vec<Codec>>,
    },
}

/// Whether `candidate` is to be tried for `codec` under `preference`: `Ok(hardware)` or the
/// outcome that skips it.
pub fn screen(
    candidate: &Candidate,
    registered: &Registered,
    codec: Codec,
    preference: Preference,
) -> Result<bool, Outcome> {
    let Registered::Yes {
        hardware_klass,
        produces,
    } = registered
    else {
        return Err(Outcome::NotRegistered);
    };
    let codecs = match candidate.row {
        Some(row) => Some(vec![row.codec]),
        None => produces.clone(),
    };
    if let Some(codecs) = codecs.filter(|c| !c.contains(&codec)) {
        let made: Vec<&str> = codecs.iter().map(|c| c.label()).collect();
        return Err(Outcome::WrongCodec(if made.is_empty() {
            format!("not an {} encoder", codec.label())
        } else {
            format!(
                "not an {} encoder (makes {})",
                codec.label(),
                made.join(", ")
            )
        }));
    }
    let hardware = candidate.row.map_or(*hardware_klass, |r| r.hardware);
    match (preference, hardware) {
        (Preference::Software, true) => Err(Outcome::Skipped("hardware; preference=software")),
        (Preference::Hardware, false) => Err(Outcome::Skipped("software; preference=hardware")),
        _ => Ok(hardware),
    }
}

/// Whether `candidate` can give what `tune` asks; the skip when it cannot.
pub fn screen_tune(candidate: &Candidate, tune: Tune) -> Result<(), Outcome> {
    match candidate.row.and_then(|r| r.no_low_latency) {
        Some(why) if tune == Tune::LowLatency => Err(Outcome::Skipped(why)),
        _ => Ok(()),
    }
}

/// What happened to one candidate, as `tried` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    NotRegistered,
    Skipped(&'static str),
    WrongCodec(String),
    /// It did not reach PAUSED, or a required property could not be set.
    FailedToOpen(String),
    /// It reached PAUSED but failed before its first output buffer.
    FailedBeforeOutput(String),
    /// It failed after `frames` output buffers.
    FailedAfterOutput {
        frames: u64,
        why: String,
    },
    /// It opened (and is in use, or was until it failed).
    Ok {
        mapped: bool,
    },
}

impl Outcome {
    /// A real attempt that failed (not a skip).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::FailedToOpen(_)
                | Outcome::FailedBeforeOutput(_)
                | Outcome::FailedAfterOutput { .. }
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::NotRegistered => f.write_str("not registered"),
            Outcome::Skipped(why) => write!(f, "skipped ({why})"),
            Outcome::WrongCodec(why) => f.write_str(why),
            Outcome::FailedToOpen(why) => write!(f, "failed to open: {why}"),
            Outcome::FailedBeforeOutput(why) => {
                write!(f, "failed before its first output: {why}")
            }
            Outcome::FailedAfterOutput { frames, why } => {
                write!(f, "failed after {frames} frames: {why}")
            }
            Outcome::Ok { mapped: true } => f.write_str("ok"),
            Outcome::Ok { mapped: false } => f.write_str(
                "ok (not in the property table: bitrate, gop-size and tune left at its defaults)",
            ),
        }
    }
}

/// The candidates looked at so far in this stream, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tried(pub Vec<(String, Outcome)>);

impl Tried {
    pub fn push(&mut self, factory: &str, outcome: Outcome) {
        self.0.push((factory.to_owned(), outcome));
    }

    /// Replaces the outcome of the last candidate (the one in use) when it fails.
    pub fn set_last(&mut self, outcome: Outcome) {
        if let Some(last) = self.0.last_mut() {
            last.1 = outcome;
        }
    }

    /// No candidate is installed: nothing to say but that none is registered.
    #[cfg(test)]
    pub fn none_registered(&self) -> bool {
        self.0
            .iter()
            .all(|(_, o)| matches!(o, Outcome::NotRegistered))
    }

    /// How many candidates failed (a retry of one on system memory is the same candidate).
    pub fn failures(&self) -> usize {
        let mut failed: Vec<&str> = self
            .0
            .iter()
            .filter(|(_, o)| o.is_failure())
            .map(|(f, _)| f.strip_suffix(ON_SYSTEM_MEMORY).unwrap_or(f))
            .collect();
        failed.dedup();
        failed.len()
    }
}

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (factory, outcome)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{factory}: {outcome}")?;
        }
        Ok(())
    }
}

/// Why the encoder in use was chosen, for the `reason` field.
pub fn reason(
    codec: Codec,
    preference: Preference,
    explicit_list: bool,
    chosen: &str,
    tried: &Tried,
) -> String {
    let from = if explicit_list {
        "candidates".to_owned()
    } else {
        format!("the built-in {} candidates", codec.label())
    };
    let mut reason = format!(
        "{chosen} is the first of {from} that opened and encoded (preference={})",
        preference.nick()
    );
    match tried.failures() {
        0 => {}
        1 => reason.push_str("; 1 candidate before it failed, see tried"),
        n => reason.push_str(&format!("; {n} candidates before it failed, see tried")),
    }
    reason
}

/// How a retry of a hardware encoder on system memory is named in `tried`.
pub const ON_SYSTEM_MEMORY: &str = " (system memory)";

/// Why the encoder changed mid-stream, for the `reason` field and the warning.
/// `caps_kept`: downstream's caps carry `codec_data` (avc, hvc1, AV1 in a container), which the
/// bin keeps across the switch (the new parameter sets go in-band); otherwise the new encoder's
/// caps go downstream as they are.
pub fn switch_reason(failed: &str, outcome: &Outcome, chosen: &str, caps_kept: bool) -> String {
    let caps = if caps_kept {
        "downstream keeps its caps, the new parameter sets in-band"
    } else {
        "its own caps"
    };
    format!("{failed} {outcome}; switched to {chosen} with a new keyframe ({caps})")
}

/// The element error when no candidate is left, with what was tried and the fix.
/// `left_out`: the built-in encoders for `codec` that are installed but that an explicit
/// `candidates` list did not name (empty for the built-in order).
pub fn exhausted(codec: Codec, preference: Preference, tried: &Tried, left_out: &[&str]) -> String {
    let list = if tried.0.is_empty() {
        "nothing (no candidate)".to_owned()
    } else {
        tried.to_string()
    };
    if preference == Preference::Hardware {
        return format!(
            "no hardware {} encoder opened (preference=hardware); tried: {list}. Check the GPU \
             and its driver with strom-doctor, or set preference=auto to fall back to a software \
             encoder",
            codec.label()
        );
    }
    if tried.failures() > 0 {
        return format!(
            "no {} encoder could encode this stream; tried: {list}",
            codec.label()
        );
    }
    if !left_out.is_empty() {
        return format!(
            "no {} encoder among the candidates; tried: {list}. Installed but not in \
             candidates: {}; add one to candidates, or leave candidates empty for the built-in \
             order",
            codec.label(),
            left_out.join(", ")
        );
    }
    if tried
        .0
        .iter()
        .any(|(_, o)| matches!(o, Outcome::Skipped(_)))
    {
        return format!(
            "no installed {} encoder fits these settings; tried: {list}",
            codec.label()
        );
    }
    let install: Vec<String> = built_in(codec)
        .filter(|r| !r.hardware)
        .map(|r| format!("{} ({})", r.factory, r.package))
        .collect();
    format!(
        "no {} encoder is installed; tried: {list}. Install one of: {}",
        codec.label(),
        install.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(codec: Codec) -> Vec<&'static str> {
        built_in(codec).map(|r| r.factory).collect()
    }

    #[test]
    fn the_built_in_order_is_the_issues() {
        assert_eq!(
            names(Codec::H264),
            [
                "nvh264enc",
                "nvautogpuh264enc",
                "vah264enc",
                "vaapih264enc",
                "qsvh264enc",
                "x264enc",
                "openh264enc"
            ]
        );
        assert_eq!(
            names(Codec::H265),
            [
                "nvh265enc",
                "nvautogpuh265enc",
                "vah265enc",
                "vaapih265enc",
                "x265enc"
            ]
        );
        assert_eq!(
            names(Codec::Av1),
            [
                "nvav1enc",
                "nvautogpuav1enc",
                "vaav1enc",
                "svtav1enc",
                "rav1enc",
                "av1enc"
            ]
        );
        // Hardware first, then software, in every codec.
        for codec in [Codec::H264, Codec::H265, Codec::Av1] {
            let hw: Vec<bool> = built_in(codec).map(|r| r.hardware).collect();
            assert!(hw.windows(2).all(|w| w[0] || !w[1]), "{codec:?}: {hw:?}");
        }
        let software: Vec<_> = TABLE
            .iter()
            .filter(|r| !r.hardware)
            .map(|r| r.factory)
            .collect();
        assert_eq!(
            software,
            [
                "x264enc",
                "openh264enc",
                "x265enc",
                "svtav1enc",
                "rav1enc",
                "av1enc"
            ]
        );
    }

    #[test]
    fn every_factory_is_in_the_table_once() {
        for row in TABLE {
            assert_eq!(TABLE.iter().filter(|r| r.factory == row.factory).count(), 1);
            assert!(row.factory.ends_with("enc"), "{}", row.factory);
            assert!(!row.package.is_empty());
        }
    }

    fn settings(bitrate_kbps: u32, gop_size: i32, tune: Tune) -> EncodeSettings {
        EncodeSettings {
            bitrate_kbps,
            gop_size,
            tune,
        }
    }

    fn first(s: &Setting) -> (&'static str, Value) {
        s.alternatives[0]
    }

    #[test]
    fn bitrate_units_are_converted_per_encoder() {
        let expect = [
            ("nvh264enc", "bitrate", 4000),
            ("nvautogpuh265enc", "bitrate", 4000),
            ("vah264enc", "bitrate", 4000),
            ("vaapih265enc", "bitrate", 4000),
            ("qsvh264enc", "bitrate", 4000),
            ("x264enc", "bitrate", 4000),
            ("openh264enc", "bitrate", 4_000_000),
            ("x265enc", "bitrate", 4000),
            ("nvav1enc", "bitrate", 4000),
            ("vaav1enc", "bitrate", 4000),
            ("svtav1enc", "target-bitrate", 4000),
            ("rav1enc", "bitrate", 4_000_000),
            ("av1enc", "target-bitrate", 4000),
        ];
        for (factory, property, value) in expect {
            let row = row(factory).unwrap();
            let s = settings_for(row, &settings(4000, 60, Tune::Default));
            assert_eq!(s[0].what, "bitrate");
            assert!(s[0].required);
            assert_eq!(first(&s[0]), (property, Int(value)), "{factory}");
        }
        // The largest bitrate the bin accepts fits the narrowest bit/s property (rav1enc: gint).
        let rav1e = row("rav1enc").unwrap();
        let Int(max) = bitrate_value(rav1e, 2_000_000) else {
            panic!()
        };
        assert!(max <= i64::from(i32::MAX));
    }

    #[test]
    fn gop_size_maps_to_each_encoders_keyframe_property() {
        let expect = [
            ("nvh264enc", "gop-size", 60),
            ("vah265enc", "key-int-max", 60),
            ("vaapih264enc", "keyframe-period", 60),
            ("qsvh264enc", "gop-size", 60),
            ("x264enc", "key-int-max", 60),
            ("openh264enc", "gop-size", 60),
            ("x265enc", "key-int-max", 60),
            ("vaav1enc", "key-int-max", 60),
            ("svtav1enc", "intra-period-length", 59),
            ("rav1enc", "max-key-frame-interval", 60),
            ("av1enc", "keyframe-max-dist", 60),
        ];
        for (factory, property, value) in expect {
            let s = settings_for(row(factory).unwrap(), &settings(4000, 60, Tune::Default));
            let gop = s.iter().find(|s| s.what == "gop-size").expect(factory);
            assert!(gop.required);
            assert_eq!(first(gop), (property, Int(value)), "{factory}");
        }
        // -1 (and 0) leave the encoder's own GOP.
        for gop_size in [-1, 0] {
            let s = settings_for(
                row("x264enc").unwrap(),
                &settings(4000, gop_size, Tune::Default),
            );
            assert!(s.iter().all(|s| s.what != "gop-size"));
        }
    }

    #[test]
    fn low_latency_settings_only_with_tune_low_latency() {
        let x264 = row("x264enc").unwrap();
        let default = settings_for(x264, &settings(4000, 60, Tune::Default));
        assert!(default.iter().all(|s| s.what != "tune=low-latency"));
        let low = settings_for(x264, &settings(4000, 60, Tune::LowLatency));
        let low: Vec<_> = low
            .iter()
            .filter(|s| s.what == "tune=low-latency")
            .map(|s| {
                assert!(!s.required);
                first(s)
            })
            .collect();
        assert_eq!(
            low,
            [
                ("tune", Nick("zerolatency")),
                ("bframes", Int(0)),
                ("rc-lookahead", Int(0))
            ]
        );
        let spelled = |factory| -> Vec<Vec<&str>> {
            settings_for(row(factory).unwrap(), &settings(1, -1, Tune::LowLatency))
                .iter()
                .filter(|s| s.what == "tune=low-latency")
                .map(|s| s.alternatives.iter().map(|a| a.0).collect())
                .collect()
        };
        // nvcodec's two generations: the first spelling the element has wins.
        assert_eq!(
            spelled("nvh264enc"),
            [
                vec!["tune", "preset"],
                vec!["zero-reorder-delay", "zerolatency"],
                vec!["b-frames", "bframes"],
                vec!["rc-lookahead"]
            ]
        );
        assert_eq!(spelled("x265enc"), [vec!["tune"]]);
        assert_eq!(spelled("vah264enc"), [vec!["b-frames"]]);
        assert_eq!(spelled("vaapih264enc"), [vec!["max-bframes"]]);
        assert_eq!(spelled("vaav1enc"), [vec!["hierarchical-level"]]);
        assert!(spelled("svtav1enc").is_empty());
        assert_eq!(spelled("rav1enc"), [vec!["low-latency"]]);
        assert_eq!(
            spelled("av1enc"),
            [
                vec!["usage-profile"],
                vec!["lag-in-frames"],
                vec!["cpu-used"]
            ]
        );
        assert!(spelled("openh264enc").is_empty());
        // Every hardware encoder has something to say about latency.
        for r in TABLE.iter().filter(|r| r.hardware) {
            assert!(!r.low_latency.is_empty(), "{}", r.factory);
        }
    }

    #[test]
    fn settings_that_make_the_mapping_true_are_always_set() {
        let s = settings_for(
            row("openh264enc").unwrap(),
            &settings(500, -1, Tune::Default),
        );
        assert_eq!(
            s.iter().map(|s| (s.what, first(s))).collect::<Vec<_>>(),
            [
                ("bitrate", ("bitrate", Int(500_000))),
                ("always", ("rate-control", Nick("bitrate")))
            ]
        );
        let s = settings_for(
            row("vaapih264enc").unwrap(),
            &settings(500, -1, Tune::Default),
        );
        assert_eq!(first(&s[1]), ("rate-control", Nick("cbr")));
    }

    #[test]
    fn nvenc_of_both_generations_runs_at_the_bitrate() {
        for factory in [
            "nvh264enc",
            "nvautogpuh265enc",
            "nvav1enc",
            "nvautogpuav1enc",
        ] {
            let s = settings_for(row(factory).unwrap(), &settings(500, -1, Tune::Default));
            assert_eq!(
                s[1].alternatives,
                [("rate-control", Nick("cbr")), ("rc-mode", Nick("cbr"))],
                "{factory}"
            );
            assert!(!s[1].required);
        }
    }

    #[test]
    fn svtav1enc_is_skipped_for_low_latency_only() {
        let svt = &order(Codec::Av1, &["svtav1enc".into()])[0];
        assert_eq!(screen_tune(svt, Tune::Default), Ok(()));
        let Err(Outcome::Skipped(why)) = screen_tune(svt, Tune::LowLatency) else {
            panic!("svtav1enc is not skipped for tune=low-latency");
        };
        assert!(why.contains("low-delay") && why.ends_with("tune=low-latency"));
        let av1enc = &order(Codec::Av1, &["av1enc".into()])[0];
        assert_eq!(screen_tune(av1enc, Tune::LowLatency), Ok(()));
        let unknown = &order(Codec::Av1, &["myenc".into()])[0];
        assert_eq!(screen_tune(unknown, Tune::LowLatency), Ok(()));
    }

    #[test]
    fn candidate_lists_parse_trim_and_keep_repeats() {
        assert_eq!(parse_candidates("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_candidates("  ").unwrap(), Vec::<String>::new());
        for nameless in [",,", " , ", ","] {
            let err = parse_candidates(nameless).unwrap_err();
            assert!(err.contains("names no encoder"), "{err}");
        }
        assert_eq!(
            parse_candidates(" nvh264enc, x264enc,,x264enc ,openh264enc").unwrap(),
            ["nvh264enc", "x264enc", "x264enc", "openh264enc"]
        );
        let err = parse_candidates("x264enc speed-preset=1").unwrap_err();
        assert!(err.contains("'x264enc speed-preset=1' is not an element factory name"));
    }

    #[test]
    fn order_is_the_list_or_the_built_in_one() {
        let built_in: Vec<String> = order(Codec::Av1, &[])
            .into_iter()
            .map(|c| c.factory)
            .collect();
        assert_eq!(built_in, names(Codec::Av1));
        let list = order(Codec::H264, &["myenc".into(), "x264enc".into()]);
        assert_eq!(list[0].row, None);
        assert_eq!(list[1].row.map(|r| r.factory), Some("x264enc"));
    }

    fn present(hardware_klass: bool, produces: Option<Vec<Codec>>) -> Registered {
        Registered::Yes {
            hardware_klass,
            produces,
        }
    }

    #[test]
    fn screening_skips_what_cannot_or_may_not_be_used() {
        let x264 = &order(Codec::H264, &["x264enc".into()])[0];
        let nv = &order(Codec::H264, &["nvh264enc".into()])[0];
        let unknown = &order(Codec::H264, &["myenc".into()])[0];
        let h264 = || present(false, Some(vec![Codec::H264]));
        assert_eq!(
            screen(nv, &Registered::No, Codec::H264, Preference::Auto),
            Err(Outcome::NotRegistered)
        );
        assert_eq!(
            screen(x264, &h264(), Codec::H264, Preference::Auto),
            Ok(false)
        );
        // The table's hardware flag wins over the klass; unknown factories go by the klass.
        assert_eq!(screen(nv, &h264(), Codec::H264, Preference::Auto), Ok(true));
        assert_eq!(
            screen(
                unknown,
                &present(true, Some(vec![Codec::H264])),
                Codec::H264,
                Preference::Auto
            ),
            Ok(true)
        );
        assert_eq!(
            screen(nv, &h264(), Codec::H264, Preference::Software),
            Err(Outcome::Skipped("hardware; preference=software"))
        );
        assert_eq!(
            screen(x264, &h264(), Codec::H264, Preference::Hardware),
            Err(Outcome::Skipped("software; preference=hardware"))
        );
        assert_eq!(
            screen(x264, &h264(), Codec::H265, Preference::Auto),
            Err(Outcome::WrongCodec(
                "not an H.265 encoder (makes H.264)".into()
            ))
        );
        assert_eq!(
            screen(
                unknown,
                &present(false, Some(vec![])),
                Codec::Av1,
                Preference::Auto
            ),
            Err(Outcome::WrongCodec("not an AV1 encoder".into()))
        );
        // A template that does not say (ANY) is given the benefit of the doubt.
        assert_eq!(
            screen(unknown, &present(false, None), Codec::Av1, Preference::Auto),
            Ok(false)
        );
    }

    #[test]
    fn tried_reads_as_the_issue_writes_it() {
        let mut tried = Tried::default();
        tried.push("nvh264enc", Outcome::NotRegistered);
        assert!(tried.none_registered());
        tried.push("x264enc", Outcome::Ok { mapped: true });
        assert!(!tried.none_registered());
        assert_eq!(tried.to_string(), "nvh264enc: not registered; x264enc: ok");
        tried.set_last(Outcome::FailedAfterOutput {
            frames: 20,
            why: "boom".into(),
        });
        tried.push("myenc", Outcome::Ok { mapped: false });
        assert_eq!(
            tried.to_string(),
            "nvh264enc: not registered; x264enc: failed after 20 frames: boom; myenc: ok (not in \
             the property table: bitrate, gop-size and tune left at its defaults)"
        );
        assert_eq!(tried.failures(), 1);
        let outcomes = [
            (
                Outcome::Skipped("hardware; preference=software"),
                "skipped (hardware; preference=software)",
            ),
            (
                Outcome::FailedToOpen("no CUDA".into()),
                "failed to open: no CUDA",
            ),
            (
                Outcome::FailedBeforeOutput("not-negotiated".into()),
                "failed before its first output: not-negotiated",
            ),
        ];
        for (outcome, text) in outcomes {
            assert_eq!(outcome.to_string(), text);
        }
    }

    #[test]
    fn reasons_say_where_the_choice_came_from() {
        let mut tried = Tried::default();
        tried.push("nvh264enc", Outcome::NotRegistered);
        tried.push("x264enc", Outcome::Ok { mapped: true });
        assert_eq!(
            reason(Codec::H264, Preference::Auto, false, "x264enc", &tried),
            "x264enc is the first of the built-in H.264 candidates that opened and encoded \
             (preference=auto)"
        );
        let mut tried = Tried::default();
        tried.push("a", Outcome::FailedToOpen("x".into()));
        tried.push("b", Outcome::FailedBeforeOutput("y".into()));
        tried.push("x264enc", Outcome::Ok { mapped: true });
        assert!(
            reason(Codec::H264, Preference::Software, true, "x264enc", &tried).ends_with(
                "first of candidates that opened and encoded (preference=software); 2 \
                 candidates before it failed, see tried"
            )
        );
        let failed = Outcome::FailedAfterOutput {
            frames: 120,
            why: "lost".into(),
        };
        assert_eq!(
            switch_reason("nvh264enc", &failed, "x264enc", false),
            "nvh264enc failed after 120 frames: lost; switched to x264enc with a new keyframe \
             (its own caps)"
        );
        assert_eq!(
            switch_reason("nvh264enc", &failed, "x264enc", true),
            "nvh264enc failed after 120 frames: lost; switched to x264enc with a new keyframe \
             (downstream keeps its caps, the new parameter sets in-band)"
        );
    }

    #[test]
    fn exhaustion_names_what_was_tried_and_the_fix() {
        let mut tried = Tried::default();
        tried.push("nvh264enc", Outcome::NotRegistered);
        let hw = exhausted(Codec::H264, Preference::Hardware, &tried, &[]);
        assert!(hw.starts_with("no hardware H.264 encoder opened (preference=hardware); tried: nvh264enc: not registered."));
        assert!(hw.contains("strom-doctor") && hw.contains("preference=auto"));
        let sw = exhausted(Codec::H265, Preference::Auto, &Tried::default(), &[]);
        assert_eq!(
            sw,
            "no H.265 encoder is installed; tried: nothing (no candidate). Install one of: \
             x265enc (gstreamer1.0-plugins-bad)"
        );
        let mut failed = tried.clone();
        failed.push(
            "x264enc",
            Outcome::FailedBeforeOutput("not-negotiated".into()),
        );
        assert_eq!(
            exhausted(Codec::H264, Preference::Auto, &failed, &[]),
            "no H.264 encoder could encode this stream; tried: nvh264enc: not registered; \
             x264enc: failed before its first output: not-negotiated"
        );
        let mut skipped = Tried::default();
        skipped.push("svtav1enc", Outcome::Skipped("no low latency"));
        assert_eq!(
            exhausted(Codec::Av1, Preference::Auto, &skipped, &[]),
            "no installed AV1 encoder fits these settings; tried: svtav1enc: skipped (no low \
             latency)"
        );
        let av1 = exhausted(Codec::Av1, Preference::Software, &tried, &[]);
        assert!(
            av1.contains("svtav1enc (")
                && av1.contains("rav1enc (")
                && av1.contains("av1enc (gstreamer1.0-plugins-bad)")
        );
    }

    #[test]
    fn a_list_that_leaves_out_the_installed_encoders_says_so() {
        let mut tried = Tried::default();
        tried.push(
            "x265enc",
            Outcome::WrongCodec("not an H.264 encoder (makes H.265)".into()),
        );
        let text = exhausted(Codec::H264, Preference::Auto, &tried, &["x264enc"]);
        assert_eq!(
            text,
            "no H.264 encoder among the candidates; tried: x265enc: not an H.264 encoder (makes \
             H.265). Installed but not in candidates: x264enc; add one to candidates, or leave \
             candidates empty for the built-in order"
        );
        assert!(!text.contains("Install one of"));
    }

    #[test]
    fn codecs_know_their_caps_and_parsers() {
        for codec in [Codec::H264, Codec::H265, Codec::Av1] {
            assert_eq!(Codec::from_media_type(codec.media_type()), Some(codec));
        }
        assert_eq!(Codec::from_media_type("video/x-vp8"), None);
        assert_eq!(
            [Codec::H264, Codec::H265, Codec::Av1].map(Codec::parser),
            ["h264parse", "h265parse", "av1parse"]
        );
    }
}
