// SPDX-License-Identifier: MPL-2.0
//! The decision, as plain data: a [`Request`] (mode, what comes in, what downstream accepts,
//! what failed before, the interop result) → which chain to build, and why. The memory path
//! (system or GL memory, the interop test) is the planner's (`crate::path`); this module adds
//! the converters `stromautoconvert(scale)` puts on it: the fast converter, the RGBA hop, the
//! output pin, Bayer. No GStreamer object lives here, so every branch is unit-tested.

use super::Mode;
use crate::formats::{is_gl_rgb_format, is_yuv};
use crate::gstversion::{self, GstVersion};
use crate::path::{self, MemoryPath, PathRequest};
pub use crate::path::{Downstream, Formats, InteropVerdict, Memory, Step};

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

impl From<Mode> for path::Mode {
    fn from(mode: Mode) -> path::Mode {
        match mode {
            Mode::Auto => path::Mode::Auto,
            Mode::Gl => path::Mode::Gl,
            Mode::Software => path::Mode::Software,
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
    /// The CUDA device of the consumer downstream (`cuda-device-id`), when it names one.
    pub consumer_cuda_device: Option<u32>,
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

    /// What the memory-path planner reads from this request. GL is out where only the software
    /// path carries the stream, or where Bayer passes through untouched.
    fn path_request(&self) -> PathRequest<'_> {
        let gl_ruled_out = software_only(self).or_else(|| {
            self.bayer_passes_through()
                .then(|| "downstream takes the Bayer input as it is".to_owned())
        });
        PathRequest {
            mode: self.effective_mode().into(),
            input: &self.input.memory,
            downstream: &self.downstream,
            consumer_cuda_device: self.consumer_cuda_device,
            interop: self.interop.as_ref(),
            gst_version: self.gst_version,
            gl_ruled_out,
        }
    }

    /// Whether the decision needs the interop test: only when auto mode has a real choice
    /// (the planner's rule, [`PathRequest::needs_interop`]).
    pub fn needs_interop(&self) -> bool {
        self.path_request().needs_interop()
    }

    /// Bayer input that downstream takes as it is: nothing to convert.
    fn bayer_passes_through(&self) -> bool {
        self.input.bayer && self.passthrough
    }
}

/// How frames enter a chain, which decides its first elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Raw video in system memory.
    System,
    /// Raw video in GL memory: a software chain downloads it first.
    GlMemory,
    /// `video/x-bayer`: `bayer2rgb` first, into system memory.
    Bayer,
}

impl Entry {
    fn of(input: &Input) -> Entry {
        match (input.bayer, &input.memory) {
            (true, _) => Entry::Bayer,
            (false, Memory::Gl) => Entry::GlMemory,
            (false, _) => Entry::System,
        }
    }
}

/// The converter of a software chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// `videoconvert`, or `videoconvertscale` for the scaling variant.
    Stock { scale: bool },
    /// The internal fast converter (`crate::convert`, e.g. I420 ↔ NV12 as plane copies).
    Fast,
}

/// What a software chain ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The converter's system memory.
    System,
    /// `rgb2bayer`: `video/x-bayer` for a consumer of Bayer.
    Mosaic,
    /// `glupload`: GL memory for a consumer that takes GL memory only.
    Upload,
}

/// How a GL chain converts between its `glcolorconvert`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlConversion {
    /// One `glcolorconvert`.
    Direct,
    /// Between two different YUV formats the running glcolorconvert does not convert directly:
    /// through RGBA on the GPU ([`needs_rgba_hop`]).
    RgbaHop,
    /// The scaling variant: `glcolorscale` between two `glcolorconvert`s (it works in RGBA,
    /// which also serves as the YUV→YUV hop); the output pin carries the size.
    Scale,
}

/// The elements of a chain, in order, as they will be linked: the one list that builds the
/// chain (`chain.rs` makes an element per step) and describes it in messages. Made only by the
/// constructors below, so a chain is always one the bin can link; two plans with equal chains
/// share a built one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Chain {
    steps: Vec<Step>,
}

impl Chain {
    /// Nothing to convert (Bayer that downstream takes as it is): a bare `identity`.
    pub fn passthrough() -> Chain {
        Chain {
            steps: vec![Step::Identity],
        }
    }

    /// Conversion on the CPU.
    pub fn software(entry: Entry, converter: Converter, exit: Exit) -> Chain {
        let mut steps = Vec::with_capacity(3);
        match entry {
            Entry::Bayer => steps.push(Step::Demosaic),
            Entry::GlMemory => steps.push(Step::Download),
            Entry::System => {}
        }
        steps.push(match converter {
            Converter::Fast => Step::FastConvert,
            Converter::Stock { scale: true } => Step::VideoConvertScale,
            Converter::Stock { scale: false } => Step::VideoConvert,
        });
        match exit {
            Exit::Mosaic => steps.push(Step::Mosaic),
            Exit::Upload => steps.push(Step::Upload),
            Exit::System => {}
        }
        Chain { steps }
    }

    /// Conversion on the GPU: `glupload` (which passes GL memory through) and
    /// `glcolorconvert`, the hop or the scaler, the output pin (saying the YUV is BT.601 with
    /// `bt601`, the size when scaling) and `gldownload` with `download`.
    pub fn gl(demosaic: bool, conversion: GlConversion, bt601: bool, download: bool) -> Chain {
        let mut steps = Vec::with_capacity(7);
        if demosaic {
            steps.push(Step::Demosaic);
        }
        steps.extend([Step::Upload, Step::GlConvert]);
        match conversion {
            GlConversion::Direct => {}
            GlConversion::RgbaHop => steps.extend([Step::RgbaHop, Step::GlConvert]),
            GlConversion::Scale => steps.extend([Step::GlScale, Step::GlConvert]),
        }
        let size = conversion == GlConversion::Scale;
        if size || bt601 {
            steps.push(Step::OutputPin { size, bt601 });
        }
        if download {
            steps.push(Step::Download);
        }
        Chain { steps }
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Where the chain converts: GL when a `glcolorconvert` is in it.
    pub fn path(&self) -> ConvertPath {
        if self.has(Step::GlConvert) {
            ConvertPath::Gl
        } else {
            ConvertPath::Software
        }
    }

    fn has(&self, step: Step) -> bool {
        self.steps.contains(&step)
    }

    /// The chain converts in GL or reads GL memory first: it needs the GL elements and a GL
    /// context before it is built. A software chain that uploads last leaves that to glupload.
    pub fn needs_gl_context(&self) -> bool {
        self.path() == ConvertPath::Gl || self.has(Step::Download)
    }

    /// A GL chain that hands GL memory on (no `gldownload` last): the consumer reads GL memory.
    pub fn hands_on_gl_memory(&self) -> bool {
        self.path() == ConvertPath::Gl && !self.has(Step::Download)
    }

    /// The capsfilter after the last `glcolorconvert`, if there is one.
    pub fn output_pin(&self) -> Option<Step> {
        self.steps
            .iter()
            .copied()
            .find(|s| matches!(s, Step::OutputPin { .. }))
    }

    /// The output pin labels YUV as BT.601.
    pub fn pins_bt601(&self) -> bool {
        matches!(self.output_pin(), Some(Step::OutputPin { bt601: true, .. }))
    }

    /// The GL chain converts the picture (not only passes the input format on).
    fn gl_converts(&self) -> bool {
        self.has(Step::RgbaHop) || self.has(Step::GlScale)
    }

    /// The uploads, downloads and passes this chain costs per frame for `input`
    /// ([`Step::copies`]); `glupload` passes GL memory through at no cost.
    pub fn copies_per_frame(&self, input: &Memory) -> u32 {
        let passed_through = u32::from(*input == Memory::Gl && self.has(Step::Upload));
        path::copies_per_frame(&self.steps) - passed_through
    }

    /// The element factory names, in order, as they will be linked.
    #[cfg(test)]
    pub fn factories(&self) -> Vec<&'static str> {
        self.steps.iter().map(|s| s.factory()).collect()
    }

    /// `glupload ! glcolorconvert ! ...` for messages and logs.
    pub fn describe(&self) -> String {
        path::describe(&self.steps)
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPlan {
    pub chain: Chain,
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
            chain: Chain::passthrough(),
            reason: "downstream takes the Bayer input as it is".into(),
            decided_by_interop: false,
        });
    }
    let (path, reason, decided_by_interop) = choose_path(request)?;
    let converted = input.after_demosaic();
    let chain = match path {
        ConvertPath::Software => {
            let fast = converted.memory == Memory::System
                && converted.features.iter().all(|f| f == "format:Interlaced")
                && request.software_settings.is_none()
                && !input.bayer
                && !downstream.wants_bayer()
                && request.direct_target.is_some();
            let converter = if fast {
                Converter::Fast
            } else {
                Converter::Stock {
                    scale: request.scale,
                }
            };
            let exit = if downstream.wants_bayer() {
                Exit::Mosaic
            } else {
                Exit::System
            };
            Chain::software(Entry::of(input), converter, exit)
        }
        ConvertPath::Gl => gl_chain(request, &converted),
    };
    if path == ConvertPath::Gl
        && let Some(problem) = request
            .software_settings
            .clone()
            .or_else(|| upload_problem(&converted))
            .or_else(|| gl_colour_problem(&converted, downstream, &chain, request.gst_version))
    {
        return software_instead(request, &problem);
    }
    Ok(ChainPlan {
        chain,
        reason,
        decided_by_interop,
    })
}

/// Why the GL chain `chain` would give wrong colours, if it would: GStreamer 1.22's
/// glcolorconvert reads YUV only as BT.601 or BT.709 limited range, and writes YUV from RGB only
/// as BT.601 limited range (the chain then says so in its caps, which downstream may refuse).
/// Later versions follow the caps: no problem there.
fn gl_colour_problem(
    input: &Input,
    downstream: &Downstream,
    chain: &Chain,
    version: GstVersion,
) -> Option<String> {
    if gstversion::glcolorconvert_follows_colorimetry(version) {
        return None;
    }
    let targets = if chain.hands_on_gl_memory() {
        downstream.gl.as_ref()
    } else {
        downstream.system.as_ref()
    };
    let converts = chain.gl_converts() || targets.is_some_and(|t| !t.contains(&input.format));
    if input.is_yuv && converts && input.gl_misreads_colour {
        return Some(format!(
            "glcolorconvert (GStreamer 1.22) reads YUV as BT.601 or BT.709 limited range only, \
             and the input is {}",
            input.colorimetry
        ));
    }
    if chain.output_pin().is_some() && downstream.refuses_gl_colour {
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
    if request.effective_mode() == Mode::Gl {
        return Err(PlanError(format!(
            "mode=gl cannot serve this stream: {problem}; use mode=auto or mode=software"
        )));
    }
    let downstream = &request.downstream;
    let exit = if downstream.system.is_none() && !downstream.any {
        Exit::Upload
    } else {
        Exit::System
    };
    let converter = Converter::Stock {
        scale: request.scale,
    };
    Ok(ChainPlan {
        chain: Chain::software(Entry::of(&request.input), converter, exit),
        reason: format!("{problem}: converting in software"),
        decided_by_interop: false,
    })
}

/// The conversion path, why, and whether the interop test decided it: the memory path is the
/// planner's; what only this bin refuses (mode=gl for a stream only software carries,
/// mode=software for a consumer without system memory) is checked here first.
fn choose_path(request: &Request) -> Result<(ConvertPath, String, bool), PlanError> {
    let downstream = &request.downstream;
    let mode = request.effective_mode();
    let limit = software_only(request);
    match (&limit, mode) {
        (Some(limit), Mode::Gl) => {
            return Err(PlanError(format!(
                "mode=gl cannot serve this stream: {limit}; use mode=auto or mode=software"
            )));
        }
        (None, Mode::Software) if downstream.system.is_none() && !downstream.any => {
            return Err(PlanError(format!(
                "mode=software outputs system memory but downstream accepts only {}; \
                 use mode=auto or mode=gl",
                downstream.accepted_memories()
            )));
        }
        _ => {}
    }
    let neither = |err: path::PathError| PlanError(err.fix("stromautoconvert", downstream));
    let memory = path::plan(&request.path_request())
        .and_then(MemoryPath::built)
        .map_err(neither)?;
    if memory.path == path::Path::SystemMemory && memory.output != path::Path::SystemMemory {
        // Software work for a consumer of GL memory only: this bin uploads only where the GL
        // chain cannot take the stream (software_instead), never where only software carries it.
        return Err(neither(path::PathError::TakesNeither));
    }
    let path = match memory.path {
        path::Path::Gl => ConvertPath::Gl,
        _ => ConvertPath::Software,
    };
    let reason = match (mode, &request.gl_failed, request.mode, limit) {
        (Mode::Software, Some(why), Mode::Auto, None) => format!("{why}; switched to software"),
        _ => memory.why,
    };
    Ok((path, reason, memory.decided_by_interop))
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
        (Mode::Auto, false) if downstream.gl_only() => SystemOffer::UploadableFirst,
        (Mode::Auto, false) => SystemOffer::Any,
    }
}

/// The GL chain for this input and consumer.
fn gl_chain(request: &Request, input: &Input) -> Chain {
    let (downstream, version) = (&request.downstream, request.gst_version);
    // Output in GL memory when downstream takes it (or takes anything), else download.
    let download = downstream.gl.is_none() && !downstream.any;
    let targets = if download {
        downstream.system.clone().unwrap_or_default()
    } else {
        downstream.gl.clone().unwrap_or_default()
    };
    let rgba_hop = needs_rgba_hop(input, &targets, version);
    // Whenever RGB may become YUV in the last glcolorconvert of a version that writes BT.601
    // only; when scaling, for the size.
    let bt601 = !gstversion::glcolorconvert_follows_colorimetry(version)
        && (rgba_hop || request.scale || (!input.is_yuv && targets.any_matches(is_yuv)));
    let conversion = match (request.scale, rgba_hop) {
        (true, _) => GlConversion::Scale,
        (false, true) => GlConversion::RgbaHop,
        (false, false) => GlConversion::Direct,
    };
    Chain::gl(request.input.bayer, conversion, bt601, download)
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
            consumer_cuda_device: None,
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
        assert_eq!(p.chain.path(), ConvertPath::Software);
        assert!(!request(Mode::Auto, &i420, &sys).needs_interop());

        let gl = Downstream {
            gl: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan_for(Mode::Auto, &i420, &gl, None).unwrap();
        assert_eq!(p.chain.path(), ConvertPath::Gl);
        assert!(p.chain.has(Step::RgbaHop) && !p.chain.has(Step::Download));
    }

    #[test]
    fn auto_with_both_memories_asks_the_interop_test() {
        let down = both(&["NV12"]);
        let i420 = input("I420", true);
        assert!(request(Mode::Auto, &i420, &down).needs_interop());
        assert!(!request(Mode::Gl, &i420, &down).needs_interop());
        let p = plan_for(Mode::Auto, &i420, &down, Some(&works())).unwrap();
        assert_eq!(p.chain.path(), ConvertPath::Gl);
        assert!(p.decided_by_interop);
        let p = plan_for(Mode::Auto, &i420, &down, Some(&fails())).unwrap();
        assert_eq!(p.chain.path(), ConvertPath::Software);
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
        assert_eq!(p.chain.path(), ConvertPath::Software);
    }

    #[test]
    fn gl_mode_downloads_for_system_memory_consumers() {
        let sys = Downstream {
            system: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan_for(Mode::Gl, &input("I420", true), &sys, None).unwrap();
        assert_eq!(
            p.chain.factories(),
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
        assert_eq!(p.chain.factories(), ["gldownload", "videoconvert"]);
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
        // On 1.26 the planner names the CUDA-memory path, which no bin builds: the same error,
        // in every mode.
        for mode in [Mode::Auto, Mode::Gl, Mode::Software] {
            let on = |version| {
                plan(&Request {
                    gst_version: version,
                    ..request(mode, &input("I420", true), &cuda_only)
                })
                .unwrap_err()
            };
            assert_eq!(on(V1_26), on(V1_22), "{mode:?}");
        }

        let dmabuf_in = Input {
            memory: Memory::Other("memory:DMABuf".into()),
            ..input("NV12", true)
        };
        assert!(plan_for(Mode::Auto, &dmabuf_in, &both(&["NV12"]), Some(&works())).is_err());
    }

    #[test]
    fn chains_describe_themselves() {
        let chain = Chain::gl(false, GlConversion::RgbaHop, false, false);
        assert_eq!(
            chain.describe(),
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
            assert_eq!(p.chain.factories(), ["stromfastconvert"]);
        }
        let p = plan(&request(Mode::Software, &i420, &sys)).unwrap();
        assert_eq!(p.chain.factories(), ["videoconvert"]);
        // GL input is downloaded first and converted by videoconvert.
        let gl_in = Input {
            memory: Memory::Gl,
            ..i420.clone()
        };
        let p = plan(&with_target(Mode::Software, &gl_in)).unwrap();
        assert_eq!(p.chain.factories(), ["gldownload", "videoconvert"]);
        // The GL path never uses it.
        let p = plan(&with_target(Mode::Gl, &i420)).unwrap();
        assert_eq!(p.chain.path(), ConvertPath::Gl);
        assert!(!p.chain.has(Step::FastConvert));
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
        assert_eq!(p.chain.path(), ConvertPath::Software);
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
        assert_eq!(plan(&gl).unwrap().chain.path(), ConvertPath::Gl);
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
        assert_eq!(p.chain.factories(), ["videoconvert"]);
        assert!(p.reason.contains("format:Interlaced"), "{}", p.reason);
        // The fast converter takes alternate-mode fields (format:Interlaced) where it has a
        // direct target, and no other feature.
        let p = plan(&Request {
            direct_target: Some("ARGB".into()),
            ..request(Mode::Software, &interlaced, &down)
        })
        .unwrap();
        assert_eq!(p.chain.factories(), ["stromfastconvert"]);
        let overlay = Input {
            features: vec!["meta:GstVideoOverlayComposition".into()],
            ..input("AYUV", true)
        };
        let p = plan(&Request {
            direct_target: Some("ARGB".into()),
            ..request(Mode::Software, &overlay, &down)
        })
        .unwrap();
        assert_eq!(p.chain.factories(), ["videoconvert"]);
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
        assert_eq!(p.chain.factories(), ["bayer2rgb", "videoconvert"]);
        let p = plan(&request(Mode::Gl, &bayer, &system(&["NV12"]))).unwrap();
        assert_eq!(
            p.chain.factories(),
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
            assert_eq!(p.chain.factories(), ["videoconvert", "rgb2bayer"]);
        }
        assert!(plan(&request(Mode::Gl, &argb, &bayer_out)).is_err());
        let p = plan(&Request {
            direct_target: Some("NV12".into()),
            ..request(Mode::Auto, &input("I420", true), &bayer_out)
        })
        .unwrap();
        assert_eq!(p.chain.factories(), ["videoconvert", "rgb2bayer"]);

        // Another pattern: through RGB; the same caps: nothing to do.
        let p = plan(&request(Mode::Auto, &bayer, &bayer_out)).unwrap();
        assert_eq!(
            p.chain.factories(),
            ["bayer2rgb", "videoconvert", "rgb2bayer"]
        );
        let p = plan(&Request {
            passthrough: true,
            ..request(Mode::Gl, &bayer, &bayer_out)
        })
        .unwrap();
        assert_eq!(p.chain.factories(), ["identity"]);
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
            .chain
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
        assert_eq!(p.chain.factories(), ["videoconvert", "glupload"]);
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
        assert_eq!(p.chain.factories(), ["videoconvert"]);
        assert!(p.reason.starts_with(&why), "{}", p.reason);
        // Nor the fast converter, whose picture is videoconvert's default one.
        let system = Downstream {
            system: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan(&with(Mode::Software, &system)).unwrap();
        assert_eq!(p.chain.factories(), ["videoconvert"]);
        let gl_only = Downstream {
            gl: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan(&with(Mode::Auto, &gl_only)).unwrap();
        assert_eq!(p.chain.factories(), ["videoconvert", "glupload"]);
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
        assert_eq!(p.chain.factories(), ["videoconvert"]);
        assert!(p.reason.contains("bt2020") && p.reason.ends_with("converting in software"));
        let gl_only = Downstream {
            gl: only(&["NV12"]),
            ..Default::default()
        };
        let p = plan(&request(Mode::Auto, &bt2020, &gl_only)).unwrap();
        assert_eq!(p.chain.factories(), ["videoconvert", "glupload"]);
        assert_eq!(p.chain.path(), ConvertPath::Software);
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
        assert_eq!(p.chain.factories(), ["glupload", "glcolorconvert"]);

        // YUV written from RGB is BT.601: the chain says so, unless downstream refuses it.
        let rgb = input("BGRx", false);
        let p = plan(&request(Mode::Auto, &rgb, &gl_only)).unwrap();
        assert_eq!(
            p.chain.factories(),
            ["glupload", "glcolorconvert", "capsfilter"]
        );
        assert!(p.chain.output_pin().is_some());
        let refuses = Downstream {
            refuses_gl_colour: true,
            ..gl_only.clone()
        };
        let p = plan(&request(Mode::Auto, &rgb, &refuses)).unwrap();
        assert_eq!(p.chain.factories(), ["videoconvert", "glupload"]);
        assert!(p.reason.contains("writes YUV from RGB as BT.601"));
        // RGB to RGB never needs the pin.
        let rgba_only = Downstream {
            gl: only(&["RGBA"]),
            refuses_gl_colour: true,
            ..Default::default()
        };
        let p = plan(&request(Mode::Auto, &rgb, &rgba_only)).unwrap();
        assert_eq!(p.chain.factories(), ["glupload", "glcolorconvert"]);
    }

    #[test]
    fn chains_are_built_only_whole_and_count_their_copies() {
        // Software: download first for GL memory, demosaic first for Bayer; one converter;
        // mosaic or upload last. No constructor puts a download after the converter.
        let stock = Converter::Stock { scale: false };
        let c = Chain::software(Entry::GlMemory, stock, Exit::System);
        assert_eq!(c.steps(), [Step::Download, Step::VideoConvert]);
        assert_eq!(c.path(), ConvertPath::Software);
        assert!(c.needs_gl_context() && !c.hands_on_gl_memory());
        assert_eq!(c.copies_per_frame(&Memory::Gl), 2);
        let c = Chain::software(Entry::System, stock, Exit::Upload);
        assert_eq!(c.steps(), [Step::VideoConvert, Step::Upload]);
        assert!(!c.needs_gl_context() && !c.hands_on_gl_memory());
        assert_eq!(c.copies_per_frame(&Memory::System), 2);
        let c = Chain::software(Entry::Bayer, Converter::Fast, Exit::Mosaic);
        assert_eq!(
            c.factories(),
            ["bayer2rgb", "stromfastconvert", "rgb2bayer"]
        );
        // GL: glupload passes GL memory through at no cost; capsfilters cost nothing.
        let c = Chain::gl(false, GlConversion::Direct, false, false);
        assert_eq!(c.steps(), [Step::Upload, Step::GlConvert]);
        assert!(c.hands_on_gl_memory() && c.output_pin().is_none());
        assert_eq!(c.copies_per_frame(&Memory::System), 2);
        assert_eq!(c.copies_per_frame(&Memory::Gl), 1);
        let c = Chain::gl(false, GlConversion::RgbaHop, true, true);
        assert_eq!(c.copies_per_frame(&Memory::System), 4);
        assert!(c.pins_bt601() && !c.hands_on_gl_memory());
        // Scaling always pins the size; BT.601 only when asked.
        let c = Chain::gl(true, GlConversion::Scale, false, false);
        assert_eq!(
            c.output_pin(),
            Some(Step::OutputPin {
                size: true,
                bt601: false
            })
        );
        assert_eq!(c.steps()[0], Step::Demosaic);
        // Passthrough: nothing to copy.
        assert_eq!(Chain::passthrough().copies_per_frame(&Memory::System), 0);
        assert_eq!(Chain::passthrough().path(), ConvertPath::Software);
    }

    #[test]
    fn pins_are_described_for_people() {
        let chain = Chain::gl(false, GlConversion::RgbaHop, true, false);
        // The hop and the pin are steps of their own, not capsfilters told apart by position.
        assert_eq!(
            chain.steps(),
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
            chain.describe(),
            "glupload ! glcolorconvert ! video/x-raw(memory:GLMemory),format=RGBA ! glcolorconvert \
             ! video/x-raw,<YUV as bt601>"
        );
        let scaling = Chain::gl(false, GlConversion::Scale, true, false);
        assert_eq!(
            scaling.describe(),
            "glupload ! glcolorconvert ! glcolorscale ! glcolorconvert \
             ! video/x-raw,<size as videoconvertscale>,<YUV as bt601>"
        );
        let size_only = Chain::gl(false, GlConversion::Scale, false, false);
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
            .chain
        };
        let hop = ["glupload", "glcolorconvert", "capsfilter", "glcolorconvert"];
        for (from, to) in [("I420", "Y444"), ("YUY2", "I420"), ("I420", "Y42B")] {
            let s = on(V1_22, from, &gl_only(to));
            assert!(s.has(Step::RgbaHop) && s.pins_bt601(), "{from}->{to}");
            assert_eq!(s.factories(), [&hop[..], &["capsfilter"]].concat());
            let s = on(V1_26, from, &gl_only(to));
            assert!(
                !s.has(Step::RgbaHop) && s.output_pin().is_none(),
                "{from}->{to}"
            );
            assert_eq!(
                s.factories(),
                ["glupload", "glcolorconvert"],
                "{from}->{to}"
            );
            assert_eq!(s.describe(), "glupload ! glcolorconvert");
        }
        // A consumer that takes a direct target among others: glcolorconvert picks that one.
        let s = on(V1_26, "I420", &gl_only("NV12"));
        assert!(s.has(Step::RgbaHop));
        let mixed = Downstream {
            gl: only(&["NV12", "Y444"]),
            ..Default::default()
        };
        assert!(!on(V1_26, "I420", &mixed).has(Step::RgbaHop));
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
        assert_eq!(on(V1_22, &bt2020).chain.path(), ConvertPath::Software);
        let p = on(V1_26, &bt2020);
        assert_eq!(p.chain.path(), ConvertPath::Gl);
        assert!(p.chain.output_pin().is_none(), "{:?}", p.chain);
        // RGB to YUV for a consumer refusing BT.601: 1.26 writes what the caps say.
        let rgb = input("BGRx", false);
        assert_eq!(on(V1_22, &rgb).chain.path(), ConvertPath::Software);
        let p = on(V1_26, &rgb);
        assert_eq!(p.chain.factories(), ["glupload", "glcolorconvert"]);
        // Scaling keeps the pin for the size, without the BT.601 label.
        let p = plan(&Request {
            gst_version: V1_26,
            scale: true,
            ..request(Mode::Auto, &rgb, &gl_only)
        })
        .unwrap();
        assert!(p.chain.output_pin().is_some() && !p.chain.pins_bt601());
    }
}
