// SPDX-License-Identifier: MPL-2.0
//! The decision, as plain data: a [`Request`] (mode, what comes in, what downstream accepts,
//! what failed before, the interop result) → which chain to build, and why. Every rule lives
//! here and no GStreamer object does, so every branch is unit-tested.

use super::Mode;
use crate::formats::{is_gl_rgb_format, is_yuv};
use crate::gstversion::{self, GstVersion};
pub use crate::path::InteropVerdict;

/// The two conversion paths the bin can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConvertPath {
    Gl,
    Software,
}

impl ConvertPath {
    pub fn as_str(self) -> &'static str {
        match self {
            ConvertPath::Gl => "gl",
            ConvertPath::Software => "software",
        }
    }
}

/// Where the frames of a caps structure live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Memory {
    System,
    Gl,
    /// Another caps feature (DMABuf, CUDAMemory, NVMM, ...), by name.
    Other(String),
}

/// A set of raw video format names; `Any` when caps leave the format open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Formats {
    #[default]
    Any,
    Only(Vec<String>),
}

impl Formats {
    pub fn contains(&self, format: &str) -> bool {
        match self {
            Formats::Any => true,
            Formats::Only(list) => list.iter().any(|f| f == format),
        }
    }

    fn any_matches(&self, predicate: impl Fn(&str) -> bool) -> bool {
        match self {
            Formats::Any => true,
            Formats::Only(list) => list.iter().any(|f| predicate(f)),
        }
    }

    /// Adds `other` to this set.
    pub fn merge(&mut self, other: Formats) {
        match (&mut *self, other) {
            (Formats::Any, _) => {}
            (_, Formats::Any) => *self = Formats::Any,
            (Formats::Only(mine), Formats::Only(theirs)) => {
                for f in theirs {
                    if !mine.contains(&f) {
                        mine.push(f);
                    }
                }
            }
        }
    }
}

/// The incoming (fixed) caps, reduced to what the decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub memory: Memory,
    /// The raw video format, or the Bayer pattern (`bggr`, ...) of `video/x-bayer`.
    pub format: String,
    /// Whether `format` is a YUV format (glcolorconvert cannot convert YUV to another YUV).
    pub is_yuv: bool,
    /// `video/x-bayer`: demosaiced by `bayer2rgb` before anything else.
    pub bayer: bool,
    /// Caps features that are not memory types (`format:Interlaced`, `meta:...`): only
    /// `videoconvert(scale)` carries them, as it does for itself.
    pub features: Vec<String>,
    /// The input's colorimetry as caps write it (for messages).
    pub colorimetry: String,
    /// YUV whose matrix or range GStreamer 1.22's glcolorconvert reads wrongly: it knows only
    /// BT.709 (when the caps say exactly `bt709`) and BT.601, both limited range.
    pub gl_misreads_colour: bool,
    /// `glupload` takes this format (its sink template, read at run time): a format it refuses
    /// never goes into a GL chain, where each of its buffers would be lost.
    pub gl_uploadable: bool,
}

impl Input {
    /// Raw video in system memory without other caps features.
    pub fn raw(format: &str, is_yuv: bool) -> Input {
        Input {
            memory: Memory::System,
            format: format.to_owned(),
            is_yuv,
            bayer: false,
            features: Vec::new(),
            colorimetry: String::new(),
            gl_misreads_colour: false,
            gl_uploadable: true,
        }
    }

    /// What the rest of the chain sees: after `bayer2rgb`, 32-bit RGB in system memory.
    fn after_demosaic(&self) -> Input {
        if self.bayer {
            Input::raw("RGBA", false)
        } else {
            self.clone()
        }
    }
}

/// What downstream's caps allow, per memory type. `None`: that memory is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Downstream {
    pub system: Option<Formats>,
    pub gl: Option<Formats>,
    /// Downstream answered ANY caps (e.g. a bare `fakesink`): it takes whatever comes.
    pub any: bool,
    /// Caps features downstream asked for that neither chain produces.
    pub other_features: Vec<String>,
    /// `video/x-bayer` patterns downstream takes (made by `rgb2bayer`).
    pub bayer: Option<Formats>,
    /// Downstream takes neither RGB nor YUV labelled BT.601, the only YUV GStreamer 1.22's
    /// glcolorconvert writes from RGB (e.g. it asks for `colorimetry=bt709`).
    pub refuses_gl_colour: bool,
}

impl Downstream {
    fn accepts_both(&self) -> bool {
        self.system.is_some() && self.gl.is_some()
    }

    /// Downstream takes Bayer and no raw video: the chain must end in `rgb2bayer`.
    fn wants_bayer(&self) -> bool {
        self.bayer.is_some() && self.system.is_none() && self.gl.is_none() && !self.any
    }
}

/// Everything the decision reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub mode: Mode,
    pub input: Input,
    pub downstream: Downstream,
    /// A format the internal fast converter makes from the input that downstream takes in system
    /// memory, when downstream does not take the input as it is (else `videoconvert` passes it
    /// through).
    pub direct_target: Option<String>,
    /// Why the GL path already failed on this stream: auto mode does not try it again.
    pub gl_failed: Option<String>,
    /// The interop test's answer; must be given when [`Request::needs_interop`] says so.
    pub interop: Option<InteropVerdict>,
    /// Downstream takes the input caps exactly as they are (size, format, features, ...).
    pub passthrough: bool,
    /// The scaling variant (`stromautoconvertscale`): its chains scale as well as convert.
    pub scale: bool,
    /// Why only videoconvert(scale) makes the picture the bin's stock properties ask for
    /// (e.g. `dither=none is honoured by videoconvert only`); `None` at their defaults.
    pub software_settings: Option<String>,
    /// The GStreamer running: what its glcolorconvert converts directly, and whether it follows
    /// the caps' colorimetry.
    pub gst_version: GstVersion,
}

impl Request {
    /// The mode the rules apply: auto mode after a GL failure is software for the stream.
    fn effective_mode(&self) -> Mode {
        match (self.mode, &self.gl_failed) {
            (Mode::Auto, Some(_)) => Mode::Software,
            (mode, _) => mode,
        }
    }

    /// Whether the decision needs the interop test: only when auto mode has a real choice.
    pub fn needs_interop(&self) -> bool {
        self.effective_mode() == Mode::Auto
            && !self.downstream.any
            && self.downstream.accepts_both()
            && self.input.features.is_empty()
            && !self.bayer_passes_through()
    }

    /// Bayer input that downstream takes as it is: nothing to convert.
    fn bayer_passes_through(&self) -> bool {
        self.input.bayer && self.passthrough
    }
}

/// The elements of a chain; two plans with equal shapes can share a built chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainShape {
    pub path: ConvertPath,
    /// Software path fed with GL memory: `gldownload` first.
    pub download_input: bool,
    /// GL path between two different YUV formats: convert through RGBA on the GPU.
    pub rgba_hop: bool,
    /// GL path to a system-memory consumer: `gldownload` last.
    pub download_output: bool,
    /// Software path the internal fast converter covers (`crate::convert`, e.g. I420 ↔ NV12 as
    /// plane copies) instead of `videoconvert`.
    pub fast_convert: bool,
    /// `video/x-bayer` input: `bayer2rgb` first.
    pub bayer_input: bool,
    /// `video/x-bayer` output: `rgb2bayer` last (fed ARGB by the software converter).
    pub bayer_output: bool,
    /// Nothing to convert (Bayer that downstream takes as it is): a bare `identity`.
    pub passthrough: bool,
    /// The chain scales too: `videoconvertscale`, or `glcolorscale` between two
    /// `glcolorconvert`s (it works in RGBA, which also serves as the YUV→YUV hop).
    pub scale: bool,
    /// GL chain whose last glcolorconvert may write YUV from RGB: a capsfilter after it says
    /// what that YUV is (BT.601, see [`Downstream::refuses_gl_colour`]) and, when scaling, pins
    /// the size videoconvertscale would choose.
    pub pin_output: bool,
    /// The output pin labels YUV as BT.601: the running glcolorconvert writes YUV from RGB only
    /// so ([`gstversion::glcolorconvert_follows_colorimetry`]); else it pins the size only.
    pub pin_bt601: bool,
    /// Software conversion for a consumer that takes GL memory only: `glupload` last.
    pub upload_output: bool,
}

impl ChainShape {
    /// The plain software chain: `videoconvert` alone.
    pub fn software() -> ChainShape {
        ChainShape {
            path: ConvertPath::Software,
            download_input: false,
            rgba_hop: false,
            download_output: false,
            fast_convert: false,
            bayer_input: false,
            bayer_output: false,
            passthrough: false,
            scale: false,
            pin_output: false,
            pin_bt601: false,
            upload_output: false,
        }
    }

    /// The chain's elements, in order, as they will be linked: the one list that builds the
    /// chain (`chain.rs` makes an element per step) and describes it in messages.
    pub fn steps(&self) -> Vec<Step> {
        if self.passthrough {
            return vec![Step::Identity];
        }
        let mut steps = Vec::with_capacity(4);
        if self.bayer_input {
            steps.push(Step::Demosaic);
        }
        match self.path {
            ConvertPath::Software => {
                if self.download_input {
                    steps.push(Step::Download);
                }
                steps.push(if self.fast_convert {
                    Step::FastConvert
                } else if self.scale {
                    Step::VideoConvertScale
                } else {
                    Step::VideoConvert
                });
                if self.bayer_output {
                    steps.push(Step::Mosaic);
                }
                if self.upload_output {
                    steps.push(Step::Upload);
                }
            }
            ConvertPath::Gl => {
                steps.extend([Step::Upload, Step::GlConvert]);
                if self.scale {
                    steps.extend([Step::GlScale, Step::GlConvert]);
                } else if self.rgba_hop {
                    steps.extend([Step::RgbaHop, Step::GlConvert]);
                }
                if self.pin_output {
                    steps.push(Step::OutputPin {
                        size: self.scale,
                        bt601: self.pin_bt601,
                    });
                }
                if self.download_output {
                    steps.push(Step::Download);
                }
            }
        }
        steps
    }

    /// The element factory names, in order, as they will be linked.
    #[cfg(test)]
    pub fn factories(&self) -> Vec<&'static str> {
        self.steps().iter().map(|s| s.factory()).collect()
    }

    /// `glupload ! glcolorconvert ! ...` for messages and logs.
    pub fn describe(&self) -> String {
        self.steps()
            .iter()
            .map(|s| s.describe())
            .collect::<Vec<_>>()
            .join(" ! ")
    }
}

/// One element of a chain, by what it does there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Nothing to convert: a bare `identity`.
    Identity,
    /// `bayer2rgb`: Bayer input demosaiced first.
    Demosaic,
    /// `rgb2bayer`: Bayer output made last.
    Mosaic,
    /// `gldownload`: GL memory to system memory.
    Download,
    /// `glupload`: system memory to GL memory.
    Upload,
    /// `videoconvert`.
    VideoConvert,
    /// `videoconvertscale`.
    VideoConvertScale,
    /// The internal fast converter (`crate::convert`).
    FastConvert,
    /// `glcolorconvert`.
    GlConvert,
    /// `glcolorscale`.
    GlScale,
    /// A capsfilter to RGBA in GL memory: the hop between two different YUV formats.
    RgbaHop,
    /// A capsfilter after the last `glcolorconvert`: with `bt601`, saying what its YUV is
    /// (BT.601, where the running glcolorconvert writes YUV from RGB only so) and, with `size`,
    /// pinning the size videoconvertscale would choose.
    OutputPin { size: bool, bt601: bool },
}

impl Step {
    /// The element factory that makes this step.
    pub fn factory(self) -> &'static str {
        match self {
            Step::Identity => "identity",
            Step::Demosaic => "bayer2rgb",
            Step::Mosaic => "rgb2bayer",
            Step::Download => "gldownload",
            Step::Upload => "glupload",
            Step::VideoConvert => "videoconvert",
            Step::VideoConvertScale => "videoconvertscale",
            Step::FastConvert => "stromfastconvert",
            Step::GlConvert => "glcolorconvert",
            Step::GlScale => "glcolorscale",
            Step::RgbaHop | Step::OutputPin { .. } => "capsfilter",
        }
    }

    /// How the step reads in `chain` of the bus message: the factory, or a capsfilter's caps.
    pub fn describe(self) -> &'static str {
        match self {
            Step::RgbaHop => "video/x-raw(memory:GLMemory),format=RGBA",
            Step::OutputPin {
                size: true,
                bt601: true,
            } => "video/x-raw,<size as videoconvertscale>,<YUV as bt601>",
            Step::OutputPin {
                size: true,
                bt601: false,
            } => "video/x-raw,<size as videoconvertscale>",
            Step::OutputPin { size: false, .. } => "video/x-raw,<YUV as bt601>",
            other => other.factory(),
        }
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPlan {
    pub shape: ChainShape,
    /// Why, for people: goes into the bus message and the log.
    pub reason: String,
    /// The interop test decided it (auto mode, downstream takes both memories).
    pub decided_by_interop: bool,
}

/// Why no chain can be built, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

/// Picks the chain for `request`.
pub fn plan(request: &Request) -> Result<ChainPlan, PlanError> {
    let Request {
        input, downstream, ..
    } = request;
    if let Memory::Other(feature) = &input.memory {
        return Err(PlanError(format!(
            "input caps carry {feature}, which neither glupload nor videoconvert reads; \
             download it to system memory first (e.g. cudadownload)"
        )));
    }
    if request.bayer_passes_through() {
        return Ok(ChainPlan {
            shape: ChainShape {
                passthrough: true,
                ..ChainShape::software()
            },
            reason: "downstream takes the Bayer input as it is".into(),
            decided_by_interop: false,
        });
    }
    let (path, reason, decided_by_interop) = choose_path(request)?;
    let converted = input.after_demosaic();
    let mut shape = match path {
        ConvertPath::Software => ChainShape {
            download_input: converted.memory == Memory::Gl,
            fast_convert: converted.memory == Memory::System
                && converted.features.iter().all(|f| f == "format:Interlaced")
                && request.software_settings.is_none()
                && !input.bayer
                && !downstream.wants_bayer()
                && request.direct_target.is_some(),
            bayer_output: downstream.wants_bayer(),
            ..ChainShape::software()
        },
        ConvertPath::Gl => gl_shape(&converted, downstream, request.scale, request.gst_version),
    };
    shape.bayer_input = input.bayer;
    shape.scale = request.scale;
    if path == ConvertPath::Gl
        && let Some(problem) = request
            .software_settings
            .clone()
            .or_else(|| upload_problem(&converted))
            .or_else(|| gl_colour_problem(&converted, downstream, &shape, request.gst_version))
    {
        return software_instead(request, &problem);
    }
    Ok(ChainPlan {
        shape,
        reason,
        decided_by_interop,
    })
}

/// Why the GL chain `shape` would give wrong colours, if it would: GStreamer 1.22's
/// glcolorconvert reads YUV only as BT.601 or BT.709 limited range, and writes YUV from RGB only
/// as BT.601 limited range (the chain then says so in its caps, which downstream may refuse).
/// Later versions follow the caps: no problem there.
fn gl_colour_problem(
    input: &Input,
    downstream: &Downstream,
    shape: &ChainShape,
    version: GstVersion,
) -> Option<String> {
    if gstversion::glcolorconvert_follows_colorimetry(version) {
        return None;
    }
    let targets = if shape.download_output {
        downstream.system.as_ref()
    } else {
        downstream.gl.as_ref()
    };
    let converts =
        shape.rgba_hop || shape.scale || targets.is_some_and(|t| !t.contains(&input.format));
    if input.is_yuv && converts && input.gl_misreads_colour {
        return Some(format!(
            "glcolorconvert (GStreamer 1.22) reads YUV as BT.601 or BT.709 limited range only, \
             and the input is {}",
            input.colorimetry
        ));
    }
    if shape.pin_output && downstream.refuses_gl_colour {
        return Some(
            "glcolorconvert (GStreamer 1.22) writes YUV from RGB as BT.601 limited range only, \
             and downstream takes neither that nor RGB"
                .into(),
        );
    }
    None
}

/// Why `glupload` cannot take the input, if it cannot (system memory in a format outside its
/// sink template, e.g. ABGR64_LE on GStreamer 1.22).
fn upload_problem(input: &Input) -> Option<String> {
    (input.memory == Memory::System && !input.gl_uploadable)
        .then(|| format!("glupload does not take {} in system memory", input.format))
}

/// The GL chain cannot take the input or would get the colours wrong: auto mode converts on the
/// CPU instead (uploading the result for a consumer that takes GL memory only); mode=gl says
/// why it cannot.
fn software_instead(request: &Request, problem: &str) -> Result<ChainPlan, PlanError> {
    let downstream = &request.downstream;
    if request.effective_mode() == Mode::Gl {
        return Err(PlanError(format!(
            "mode=gl cannot serve this stream: {problem}; use mode=auto or mode=software"
        )));
    }
    let converted = request.input.after_demosaic();
    let upload_output = downstream.system.is_none() && !downstream.any;
    Ok(ChainPlan {
        shape: ChainShape {
            download_input: converted.memory == Memory::Gl,
            bayer_input: request.input.bayer,
            scale: request.scale,
            upload_output,
            ..ChainShape::software()
        },
        reason: format!("{problem}: converting in software"),
        decided_by_interop: false,
    })
}

fn choose_path(request: &Request) -> Result<(ConvertPath, String, bool), PlanError> {
    let downstream = &request.downstream;
    let mode = request.effective_mode();
    if let Some(limit) = software_only(request) {
        return match mode {
            Mode::Gl => Err(PlanError(format!(
                "mode=gl cannot serve this stream: {limit}; use mode=auto or mode=software"
            ))),
            _ if downstream.system.is_none() && !downstream.any && !downstream.wants_bayer() => {
                Err(neither_memory(downstream))
            }
            Mode::Software => Ok((ConvertPath::Software, "mode=software".into(), false)),
            Mode::Auto => Ok((ConvertPath::Software, limit, false)),
        };
    }
    match mode {
        Mode::Software => {
            if downstream.system.is_none() && !downstream.any {
                return Err(PlanError(format!(
                    "mode=software outputs system memory but downstream accepts only {}; \
                     use mode=auto or mode=gl",
                    accepted_memories(downstream)
                )));
            }
            let reason = match (&request.gl_failed, request.mode) {
                (Some(why), Mode::Auto) => format!("{why}; switched to software"),
                _ => "mode=software".into(),
            };
            Ok((ConvertPath::Software, reason, false))
        }
        Mode::Gl => {
            if downstream.gl.is_none() && downstream.system.is_none() && !downstream.any {
                return Err(neither_memory(downstream));
            }
            Ok((ConvertPath::Gl, "mode=gl".into(), false))
        }
        Mode::Auto => choose_auto(downstream, request.interop.as_ref()),
    }
}

/// Why only the software path can carry this stream, if it is so: caps features that only
/// `videoconvert(scale)` passes, or Bayer output (`rgb2bayer` works in system memory).
fn software_only(request: &Request) -> Option<String> {
    if let Some(feature) = request.input.features.first() {
        return Some(format!(
            "the input caps carry {feature}, which only videoconvert carries \
             (glupload and glcolorconvert do not)"
        ));
    }
    request
        .downstream
        .wants_bayer()
        .then(|| "downstream takes video/x-bayer, which rgb2bayer makes on the CPU".to_owned())
}

fn choose_auto(
    downstream: &Downstream,
    interop: Option<&InteropVerdict>,
) -> Result<(ConvertPath, String, bool), PlanError> {
    if downstream.any {
        return Ok((
            ConvertPath::Software,
            "downstream accepts any caps; system memory is the safe choice".into(),
            false,
        ));
    }
    match (downstream.gl.is_some(), downstream.system.is_some()) {
        (true, false) => Ok((
            ConvertPath::Gl,
            "downstream accepts only GL memory".into(),
            false,
        )),
        (false, true) => Ok((
            ConvertPath::Software,
            "downstream accepts only system memory".into(),
            false,
        )),
        (false, false) => Err(neither_memory(downstream)),
        (true, true) => match interop {
            Some(v) if v.works => Ok((
                ConvertPath::Gl,
                "downstream accepts GL memory and CUDA-GL interop works: zero-copy to the encoder"
                    .into(),
                true,
            )),
            Some(v) => Ok((
                ConvertPath::Software,
                format!(
                    "downstream accepts GL and system memory, but CUDA-GL interop is {}",
                    v.status
                ),
                true,
            )),
            None => Err(PlanError(
                "internal: the interop test result is needed but was not given".into(),
            )),
        },
    }
}

fn accepted_memories(downstream: &Downstream) -> String {
    if downstream.gl.is_some() {
        "memory:GLMemory".into()
    } else if downstream.other_features.is_empty() {
        "non-raw caps".into()
    } else {
        downstream.other_features.join(", ")
    }
}

fn neither_memory(downstream: &Downstream) -> PlanError {
    PlanError(format!(
        "downstream accepts neither system memory nor GL memory (it asks for {}); \
         put a matching upload element (e.g. cudaupload) after stromautoconvert",
        accepted_memories(downstream)
    ))
}

/// Which system-memory formats the bin offers upstream for a consumer answering `downstream`,
/// so that it never offers a format the chain it would build refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemOffer {
    /// Any format: the software path converts every one.
    Any,
    /// The formats glupload takes first (the GL path), then any other (converted on the CPU and
    /// uploaded, see [`software_instead`]).
    UploadableFirst,
    /// Only the formats glupload takes: mode=gl has no other way in.
    UploadableOnly,
}

/// [`SystemOffer`] for `mode` (after a GL failure when `gl_failed`) and this consumer.
pub fn system_offer(mode: Mode, gl_failed: bool, downstream: &Downstream) -> SystemOffer {
    match (mode, gl_failed) {
        (Mode::Software, _) | (Mode::Auto, true) => SystemOffer::Any,
        (Mode::Gl, _) => SystemOffer::UploadableOnly,
        // Only a consumer of GL memory alone makes auto mode upload; any other gets software
        // for a format glupload refuses.
        (Mode::Auto, false) if downstream.gl.is_some() && downstream.system.is_none() => {
            if downstream.any {
                SystemOffer::Any
            } else {
                SystemOffer::UploadableFirst
            }
        }
        (Mode::Auto, false) => SystemOffer::Any,
    }
}

/// Shape of the GL chain for this input and consumer.
fn gl_shape(
    input: &Input,
    downstream: &Downstream,
    scale: bool,
    version: GstVersion,
) -> ChainShape {
    // Output in GL memory when downstream takes it (or takes anything), else download.
    let download_output = downstream.gl.is_none() && !downstream.any;
    let targets = if download_output {
        downstream.system.clone().unwrap_or_default()
    } else {
        downstream.gl.clone().unwrap_or_default()
    };
    let rgba_hop = needs_rgba_hop(input, &targets, version);
    // Whenever RGB may become YUV in the last glcolorconvert of a version that writes BT.601
    // only; when scaling, for the size.
    let pin_bt601 = !gstversion::glcolorconvert_follows_colorimetry(version)
        && (rgba_hop || scale || (!input.is_yuv && targets.any_matches(is_yuv)));
    ChainShape {
        path: ConvertPath::Gl,
        rgba_hop,
        download_output,
        pin_output: pin_bt601 || scale,
        pin_bt601,
        ..ChainShape::software()
    }
}

/// glcolorconvert (1.22) converts YUV↔RGB but not YUV→another YUV; 1.26 converts some YUV
/// pairs directly ([`gstversion::glcolorconvert_converts_yuv_directly`]). When the input is YUV
/// and downstream takes neither the input format, nor any RGB format, nor a YUV format the
/// running glcolorconvert makes from the input, go through RGBA on the GPU.
pub fn needs_rgba_hop(input: &Input, targets: &Formats, version: GstVersion) -> bool {
    let direct =
        |to: &str| gstversion::glcolorconvert_converts_yuv_directly(version, &input.format, to);
    input.is_yuv
        && !targets.contains(&input.format)
        && !targets.any_matches(is_gl_rgb_format)
        && !targets.any_matches(direct)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_22: GstVersion = GstVersion::new(1, 22);
    const V1_26: GstVersion = GstVersion::new(1, 26);

    fn input(format: &str, is_yuv: bool) -> Input {
        Input::raw(format, is_yuv)
    }

    fn only(formats: &[&str]) -> Option<Formats> {
        Some(Formats::Only(
            formats.iter().map(|f| f.to_string()).collect(),
        ))
    }

    fn works() -> InteropVerdict {
        InteropVerdict {
            works: true,
            status: "ok".into(),
        }
    }

    fn fails() -> InteropVerdict {
        InteropVerdict {
            works: false,
            status: "unavailable: libcuda.so.1 not found".into(),
        }
    }

    fn request(mode: Mode, input: &Input, downstream: &Downstream) -> Request {
        // Format facts (is_yuv) ask GStreamer: initialised here, so that a filtered run works.
        gst::init().unwrap();
        Request {
            mode,
            input: input.clone(),
            downstream: downstream.clone(),
            direct_target: None,
            gl_failed: None,
            interop: None,
            passthrough: false,
            scale: false,
            software_settings: None,
            // The rules as on 1.22; the tests of what 1.26 changes say so.
            gst_version: V1_22,
        }
    }

    fn plan_for(
        mode: Mode,
        input: &Input,
        downstream: &Downstream,
        interop: Option<&InteropVerdict>,
    ) -> Result<ChainPlan, PlanError> {
        plan(&Request {
            interop: interop.cloned(),
            ..request(mode, input, downstream)
        })
    }

    fn both(formats: &[&str]) -> Downstream {
        Downstream {
            system: only(formats),
            gl: only(formats),
            ..Default::default()
        }
    }

    #[test]
    fn auto_follows_downstream_memory() {
        let i420 = input("I420", true);
        let sys = Downstream {
            system: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan_for(Mode::Auto, &i420, &sys, None).unwrap();
        assert_eq!(p.shape.path, ConvertPath::Software);
        assert!(!request(Mode::Auto, &i420, &sys).needs_interop());

        let gl = Downstream {
            gl: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan_for(Mode::Auto, &i420, &gl, None).unwrap();
        assert_eq!(p.shape.path, ConvertPath::Gl);
        assert!(p.shape.rgba_hop && !p.shape.download_output);
    }

    #[test]
    fn auto_with_both_memories_asks_the_interop_test() {
        let down = both(&["NV12"]);
        let i420 = input("I420", true);
        assert!(request(Mode::Auto, &i420, &down).needs_interop());
        assert!(!request(Mode::Gl, &i420, &down).needs_interop());
        let p = plan_for(Mode::Auto, &i420, &down, Some(&works())).unwrap();
        assert_eq!(p.shape.path, ConvertPath::Gl);
        assert!(p.decided_by_interop);
        let p = plan_for(Mode::Auto, &i420, &down, Some(&fails())).unwrap();
        assert_eq!(p.shape.path, ConvertPath::Software);
        assert!(p.reason.contains("unavailable: libcuda.so.1 not found"));
        assert!(plan_for(Mode::Auto, &i420, &down, None).is_err());
    }

    #[test]
    fn any_downstream_gets_system_memory_without_a_test() {
        let down = Downstream {
            any: true,
            ..Default::default()
        };
        assert!(!request(Mode::Auto, &input("I420", true), &down).needs_interop());
        let p = plan_for(Mode::Auto, &input("I420", true), &down, None).unwrap();
        assert_eq!(p.shape.path, ConvertPath::Software);
    }

    #[test]
    fn gl_mode_downloads_for_system_memory_consumers() {
        let sys = Downstream {
            system: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan_for(Mode::Gl, &input("I420", true), &sys, None).unwrap();
        assert_eq!(
            p.shape.factories(),
            [
                "glupload",
                "glcolorconvert",
                "capsfilter",
                "glcolorconvert",
                "capsfilter",
                "gldownload"
            ]
        );
    }

    #[test]
    fn rgba_hop_only_between_different_yuv_formats() {
        let nv12 = Formats::Only(vec!["NV12".into()]);
        assert!(needs_rgba_hop(&input("I420", true), &nv12, V1_22));
        assert!(!needs_rgba_hop(&input("NV12", true), &nv12, V1_22));
        assert!(!needs_rgba_hop(&input("RGBA", false), &nv12, V1_22));
        let nv12_or_rgba = Formats::Only(vec!["NV12".into(), "RGBA".into()]);
        assert!(!needs_rgba_hop(&input("I420", true), &nv12_or_rgba, V1_22));
        assert!(!needs_rgba_hop(&input("I420", true), &Formats::Any, V1_22));
    }

    #[test]
    fn software_chain_downloads_gl_input() {
        let sys = Downstream {
            system: only(&["NV12"]),
            ..Default::default()
        };
        let gl_in = Input {
            memory: Memory::Gl,
            ..input("RGBA", false)
        };
        let p = plan_for(Mode::Software, &gl_in, &sys, None).unwrap();
        assert_eq!(p.shape.factories(), ["gldownload", "videoconvert"]);
    }

    #[test]
    fn impossible_requests_explain_the_fix() {
        let gl_only = Downstream {
            gl: only(&["NV12"]),
            ..Default::default()
        };
        let err = plan_for(Mode::Software, &input("I420", true), &gl_only, None).unwrap_err();
        assert!(err.0.contains("mode=auto or mode=gl"), "{}", err.0);

        let cuda_only = Downstream {
            other_features: vec!["memory:CUDAMemory".into()],
            ..Default::default()
        };
        let err = plan_for(Mode::Auto, &input("I420", true), &cuda_only, None).unwrap_err();
        assert!(err.0.contains("memory:CUDAMemory"), "{}", err.0);

        let dmabuf_in = Input {
            memory: Memory::Other("memory:DMABuf".into()),
            ..input("NV12", true)
        };
        assert!(plan_for(Mode::Auto, &dmabuf_in, &both(&["NV12"]), Some(&works())).is_err());
    }

    #[test]
    fn shapes_describe_their_chain() {
        let shape = ChainShape {
            path: ConvertPath::Gl,
            rgba_hop: true,
            ..ChainShape::software()
        };
        assert_eq!(
            shape.describe(),
            "glupload ! glcolorconvert ! video/x-raw(memory:GLMemory),format=RGBA ! glcolorconvert"
        );
    }

    #[test]
    fn the_fast_converter_replaces_videoconvert_only_for_system_memory_it_covers() {
        let sys = Downstream {
            system: only(&["NV12"]),
            ..Default::default()
        };
        let i420 = input("I420", true);
        let with_target = |mode, input: &Input| Request {
            direct_target: Some("NV12".into()),
            ..request(mode, input, &sys)
        };
        for mode in [Mode::Software, Mode::Auto] {
            let p = plan(&with_target(mode, &i420)).unwrap();
            assert_eq!(p.shape.factories(), ["stromfastconvert"]);
        }
        let p = plan(&request(Mode::Software, &i420, &sys)).unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert"]);
        // GL input is downloaded first and converted by videoconvert.
        let gl_in = Input {
            memory: Memory::Gl,
            ..i420.clone()
        };
        let p = plan(&with_target(Mode::Software, &gl_in)).unwrap();
        assert_eq!(p.shape.factories(), ["gldownload", "videoconvert"]);
        // The GL path never uses it.
        let p = plan(&with_target(Mode::Gl, &i420)).unwrap();
        assert_eq!(p.shape.path, ConvertPath::Gl);
        assert!(!p.shape.fast_convert);
    }

    #[test]
    fn after_a_gl_failure_auto_mode_stays_in_software_and_says_why() {
        let down = both(&["NV12"]);
        let i420 = input("I420", true);
        let failed = Request {
            gl_failed: Some("the GL path failed mid-stream (boom)".into()),
            ..request(Mode::Auto, &i420, &down)
        };
        assert!(!failed.needs_interop());
        let p = plan(&failed).unwrap();
        assert_eq!(p.shape.path, ConvertPath::Software);
        assert_eq!(
            p.reason,
            "the GL path failed mid-stream (boom); switched to software"
        );
        assert!(!p.decided_by_interop);
        // mode=gl never falls back: the failure does not change its plan.
        let gl = Request {
            mode: Mode::Gl,
            ..failed
        };
        assert_eq!(plan(&gl).unwrap().shape.path, ConvertPath::Gl);
    }

    #[test]
    fn interop_reports_become_verdicts() {
        let mut report = crate::gpu::interop::report_for_tests("ok");
        assert_eq!(
            InteropVerdict::from(&report),
            InteropVerdict {
                works: true,
                status: "ok".into()
            }
        );
        report = crate::gpu::interop::report_for_tests("failed: CUDA_ERROR_OPERATING_SYSTEM");
        assert!(!InteropVerdict::from(&report).works);
    }

    #[test]
    fn formats_merge_into_a_union() {
        let mut f = Formats::Only(vec!["NV12".into()]);
        f.merge(Formats::Only(vec!["I420".into(), "NV12".into()]));
        assert_eq!(f, Formats::Only(vec!["NV12".into(), "I420".into()]));
        f.merge(Formats::Any);
        assert_eq!(f, Formats::Any);
    }

    fn system(formats: &[&str]) -> Downstream {
        Downstream {
            system: only(formats),
            ..Default::default()
        }
    }

    #[test]
    fn caps_features_other_than_memory_keep_the_stream_on_videoconvert() {
        let interlaced = Input {
            features: vec!["format:Interlaced".into()],
            ..input("AYUV", true)
        };
        let down = both(&["ARGB"]);
        let auto = request(Mode::Auto, &interlaced, &down);
        assert!(!auto.needs_interop());
        let p = plan(&auto).unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert"]);
        assert!(p.reason.contains("format:Interlaced"), "{}", p.reason);
        // The fast converter takes alternate-mode fields (format:Interlaced) where it has a
        // direct target, and no other feature.
        let p = plan(&Request {
            direct_target: Some("ARGB".into()),
            ..request(Mode::Software, &interlaced, &down)
        })
        .unwrap();
        assert_eq!(p.shape.factories(), ["stromfastconvert"]);
        let overlay = Input {
            features: vec!["meta:GstVideoOverlayComposition".into()],
            ..input("AYUV", true)
        };
        let p = plan(&Request {
            direct_target: Some("ARGB".into()),
            ..request(Mode::Software, &overlay, &down)
        })
        .unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert"]);
        let err = plan(&request(Mode::Gl, &interlaced, &down)).unwrap_err();
        assert!(err.0.contains("mode=gl cannot serve") && err.0.contains("format:Interlaced"));
        let gl_only = Downstream {
            gl: only(&["ARGB"]),
            ..Default::default()
        };
        assert!(plan(&request(Mode::Auto, &interlaced, &gl_only)).is_err());
    }

    #[test]
    fn bayer_in_is_demosaiced_first_and_bayer_out_made_last() {
        let bayer = Input {
            bayer: true,
            ..input("bggr", false)
        };
        let p = plan(&request(Mode::Auto, &bayer, &system(&["BGR"]))).unwrap();
        assert_eq!(p.shape.factories(), ["bayer2rgb", "videoconvert"]);
        let p = plan(&request(Mode::Gl, &bayer, &system(&["NV12"]))).unwrap();
        assert_eq!(
            p.shape.factories(),
            [
                "bayer2rgb",
                "glupload",
                "glcolorconvert",
                "capsfilter",
                "gldownload"
            ]
        );

        let bayer_out = Downstream {
            bayer: only(&["bggr"]),
            ..Default::default()
        };
        let argb = input("ARGB", false);
        for mode in [Mode::Auto, Mode::Software] {
            let p = plan(&request(mode, &argb, &bayer_out)).unwrap();
            assert_eq!(p.shape.factories(), ["videoconvert", "rgb2bayer"]);
        }
        assert!(plan(&request(Mode::Gl, &argb, &bayer_out)).is_err());
        let p = plan(&Request {
            direct_target: Some("NV12".into()),
            ..request(Mode::Auto, &input("I420", true), &bayer_out)
        })
        .unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert", "rgb2bayer"]);

        // Another pattern: through RGB; the same caps: nothing to do.
        let p = plan(&request(Mode::Auto, &bayer, &bayer_out)).unwrap();
        assert_eq!(
            p.shape.factories(),
            ["bayer2rgb", "videoconvert", "rgb2bayer"]
        );
        let p = plan(&Request {
            passthrough: true,
            ..request(Mode::Gl, &bayer, &bayer_out)
        })
        .unwrap();
        assert_eq!(p.shape.factories(), ["identity"]);
    }

    #[test]
    fn the_scaling_variant_scales_on_both_paths() {
        let scaled = |mode, down: &Downstream, target: Option<&str>| {
            plan(&Request {
                scale: true,
                direct_target: target.map(str::to_owned),
                interop: Some(works()),
                ..request(mode, &input("I420", true), down)
            })
            .unwrap()
            .shape
            .factories()
        };
        assert_eq!(
            scaled(Mode::Software, &system(&["NV12"]), None),
            ["videoconvertscale"]
        );
        // Same size in and out: the plane copy, as stromautoconvert would use.
        assert_eq!(
            scaled(Mode::Software, &system(&["NV12"]), Some("NV12")),
            ["stromfastconvert"]
        );
        assert_eq!(
            scaled(Mode::Auto, &both(&["NV12"]), None),
            [
                "glupload",
                "glcolorconvert",
                "glcolorscale",
                "glcolorconvert",
                "capsfilter"
            ]
        );
        assert_eq!(
            scaled(Mode::Gl, &system(&["NV12"]), None),
            [
                "glupload",
                "glcolorconvert",
                "glcolorscale",
                "glcolorconvert",
                "capsfilter",
                "gldownload"
            ]
        );
    }

    #[test]
    fn a_format_glupload_refuses_never_enters_a_gl_chain() {
        let abgr64 = Input {
            gl_uploadable: false,
            ..input("ABGR64_LE", false)
        };
        let gl_only = Downstream {
            gl: only(&["RGBA"]),
            ..Default::default()
        };
        // Auto: converted on the CPU, then uploaded.
        let p = plan(&request(Mode::Auto, &abgr64, &gl_only)).unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert", "glupload"]);
        assert!(
            p.reason.contains("glupload does not take ABGR64_LE"),
            "{}",
            p.reason
        );
        // mode=gl says why it cannot, instead of losing every such frame.
        let err = plan(&request(Mode::Gl, &abgr64, &gl_only)).unwrap_err();
        assert!(
            err.0.contains("glupload does not take ABGR64_LE"),
            "{}",
            err.0
        );
        // The offer upstream sees: only what the chain for this consumer takes.
        let system = Downstream {
            system: only(&["I420"]),
            ..Default::default()
        };
        let any = Downstream {
            any: true,
            ..Default::default()
        };
        assert_eq!(
            system_offer(Mode::Gl, false, &any),
            SystemOffer::UploadableOnly
        );
        assert_eq!(
            system_offer(Mode::Auto, false, &gl_only),
            SystemOffer::UploadableFirst
        );
        assert_eq!(system_offer(Mode::Auto, true, &gl_only), SystemOffer::Any);
        assert_eq!(system_offer(Mode::Auto, false, &system), SystemOffer::Any);
        assert_eq!(
            system_offer(Mode::Auto, false, &both(&["NV12"])),
            SystemOffer::Any
        );
        assert_eq!(system_offer(Mode::Auto, false, &any), SystemOffer::Any);
        assert_eq!(
            system_offer(Mode::Software, false, &gl_only),
            SystemOffer::Any
        );
    }

    #[test]
    fn a_stock_property_only_videoconvert_honours_keeps_software_and_says_why() {
        let why = "dither=none is honoured by videoconvert only".to_owned();
        let i420 = input("I420", true);
        let with = |mode, down: &Downstream| Request {
            software_settings: Some(why.clone()),
            direct_target: Some("NV12".into()),
            interop: Some(works()),
            ..request(mode, &i420, down)
        };
        let p = plan(&with(Mode::Auto, &both(&["NV12"]))).unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert"]);
        assert!(p.reason.starts_with(&why), "{}", p.reason);
        // Nor the fast converter, whose picture is videoconvert's default one.
        let system = Downstream {
            system: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan(&with(Mode::Software, &system)).unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert"]);
        let gl_only = Downstream {
            gl: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan(&with(Mode::Auto, &gl_only)).unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert", "glupload"]);
        let err = plan(&with(Mode::Gl, &gl_only)).unwrap_err();
        assert!(err.0.contains(&why), "{}", err.0);
    }

    #[test]
    fn the_gl_path_is_left_where_glcolorconvert_gets_colours_wrong() {
        let bt2020 = Input {
            colorimetry: "bt2020".into(),
            gl_misreads_colour: true,
            ..input("I420", true)
        };
        // Converting it in GL would read it as BT.601: software, for either consumer.
        let p = plan(&Request {
            interop: Some(works()),
            ..request(Mode::Auto, &bt2020, &both(&["NV12"]))
        })
        .unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert"]);
        assert!(p.reason.contains("bt2020") && p.reason.ends_with("converting in software"));
        let gl_only = Downstream {
            gl: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan(&request(Mode::Auto, &bt2020, &gl_only)).unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert", "glupload"]);
        assert_eq!(p.shape.path, ConvertPath::Software);
        let err = plan(&request(Mode::Gl, &bt2020, &gl_only)).unwrap_err();
        assert!(
            err.0
                .contains("mode=gl cannot serve this stream: glcolorconvert"),
            "{}",
            err.0
        );
        // Passed through untouched (the consumer takes the input format): nothing is misread.
        let same = Downstream {
            gl: only(&["I420"]),
            ..Default::default()
        };
        let p = plan(&request(Mode::Auto, &bt2020, &same)).unwrap();
        assert_eq!(p.shape.factories(), ["glupload", "glcolorconvert"]);

        // YUV written from RGB is BT.601: the chain says so, unless downstream refuses it.
        let rgb = input("BGRx", false);
        let p = plan(&request(Mode::Auto, &rgb, &gl_only)).unwrap();
        assert_eq!(
            p.shape.factories(),
            ["glupload", "glcolorconvert", "capsfilter"]
        );
        assert!(p.shape.pin_output);
        let refuses = Downstream {
            refuses_gl_colour: true,
            ..gl_only.clone()
        };
        let p = plan(&request(Mode::Auto, &rgb, &refuses)).unwrap();
        assert_eq!(p.shape.factories(), ["videoconvert", "glupload"]);
        assert!(p.reason.contains("writes YUV from RGB as BT.601"));
        // RGB to RGB never needs the pin.
        let rgba_only = Downstream {
            gl: only(&["RGBA"]),
            refuses_gl_colour: true,
            ..Default::default()
        };
        let p = plan(&request(Mode::Auto, &rgb, &rgba_only)).unwrap();
        assert_eq!(p.shape.factories(), ["glupload", "glcolorconvert"]);
    }

    #[test]
    fn pins_are_described_for_people() {
        let shape = ChainShape {
            path: ConvertPath::Gl,
            rgba_hop: true,
            pin_output: true,
            pin_bt601: true,
            ..ChainShape::software()
        };
        // The hop and the pin are steps of their own, not capsfilters told apart by position.
        assert_eq!(
            shape.steps(),
            [
                Step::Upload,
                Step::GlConvert,
                Step::RgbaHop,
                Step::GlConvert,
                Step::OutputPin {
                    size: false,
                    bt601: true
                }
            ]
        );
        assert_eq!(
            shape.describe(),
            "glupload ! glcolorconvert ! video/x-raw(memory:GLMemory),format=RGBA ! glcolorconvert \
             ! video/x-raw,<YUV as bt601>"
        );
        let scaling = ChainShape {
            path: ConvertPath::Gl,
            scale: true,
            pin_output: true,
            pin_bt601: true,
            ..ChainShape::software()
        };
        assert_eq!(
            scaling.describe(),
            "glupload ! glcolorconvert ! glcolorscale ! glcolorconvert \
             ! video/x-raw,<size as videoconvertscale>,<YUV as bt601>"
        );
        let size_only = ChainShape {
            pin_bt601: false,
            ..scaling
        };
        assert_eq!(
            size_only.describe(),
            "glupload ! glcolorconvert ! glcolorscale ! glcolorconvert \
             ! video/x-raw,<size as videoconvertscale>"
        );
    }

    #[test]
    fn yuv_pairs_glcolorconvert_converts_go_without_the_rgba_hop_on_1_26() {
        let gl_only = |format: &str| Downstream {
            gl: only(&[format]),
            ..Default::default()
        };
        let on = |version, format: &str, down: &Downstream| {
            plan(&Request {
                gst_version: version,
                ..request(Mode::Gl, &input(format, true), down)
            })
            .unwrap()
            .shape
        };
        let hop = ["glupload", "glcolorconvert", "capsfilter", "glcolorconvert"];
        for (from, to) in [("I420", "Y444"), ("YUY2", "I420"), ("I420", "Y42B")] {
            let s = on(V1_22, from, &gl_only(to));
            assert!(s.rgba_hop && s.pin_bt601, "{from}->{to}");
            assert_eq!(s.factories(), [&hop[..], &["capsfilter"]].concat());
            let s = on(V1_26, from, &gl_only(to));
            assert!(!s.rgba_hop && !s.pin_output, "{from}->{to}");
            assert_eq!(
                s.factories(),
                ["glupload", "glcolorconvert"],
                "{from}->{to}"
            );
            assert_eq!(s.describe(), "glupload ! glcolorconvert");
        }
        // A consumer that takes a direct target among others: glcolorconvert picks that one.
        let s = on(V1_26, "I420", &gl_only("NV12"));
        assert!(s.rgba_hop);
        let mixed = Downstream {
            gl: only(&["NV12", "Y444"]),
            ..Default::default()
        };
        assert!(!on(V1_26, "I420", &mixed).rgba_hop);
        // To and from NV12, 1.26 keeps the hop, without the BT.601 pin (it writes the caps'
        // colorimetry); a system-memory consumer gets gldownload last.
        let sys = Downstream {
            system: only(&["I420"]),
            ..Default::default()
        };
        let s = on(V1_26, "NV12", &sys);
        assert_eq!(s.factories(), [&hop[..], &["gldownload"]].concat());
        assert_eq!(
            s.describe(),
            "glupload ! glcolorconvert ! video/x-raw(memory:GLMemory),format=RGBA ! glcolorconvert \
             ! gldownload"
        );
    }

    #[test]
    fn colours_1_22_misreads_stay_on_the_gl_path_on_1_26() {
        let bt2020 = Input {
            colorimetry: "bt2020".into(),
            gl_misreads_colour: true,
            ..input("I420", true)
        };
        let gl_only = Downstream {
            gl: only(&["NV12"]),
            refuses_gl_colour: true,
            ..Default::default()
        };
        let on = |version, input: &Input| {
            plan(&Request {
                gst_version: version,
                ..request(Mode::Auto, input, &gl_only)
            })
            .unwrap()
        };
        assert_eq!(on(V1_22, &bt2020).shape.path, ConvertPath::Software);
        let p = on(V1_26, &bt2020);
        assert_eq!(p.shape.path, ConvertPath::Gl);
        assert!(!p.shape.pin_output, "{:?}", p.shape);
        // RGB to YUV for a consumer refusing BT.601: 1.26 writes what the caps say.
        let rgb = input("BGRx", false);
        assert_eq!(on(V1_22, &rgb).shape.path, ConvertPath::Software);
        let p = on(V1_26, &rgb);
        assert_eq!(p.shape.factories(), ["glupload", "glcolorconvert"]);
        // Scaling keeps the pin for the size, without the BT.601 label.
        let p = plan(&Request {
            gst_version: V1_26,
            scale: true,
            ..request(Mode::Auto, &rgb, &gl_only)
        })
        .unwrap();
        assert!(p.shape.pin_output && !p.shape.pin_bt601);
    }
}
