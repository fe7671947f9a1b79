// SPDX-License-Identifier: MPL-2.0
//! The decision, as plain data: a [`Request`] (mode, what GL this process has, what downstream
//! accepts, what the pads ask of the mix, the interop test's answer when it matters) → which
//! mixer to build, in which memory it hands frames on, and why. The memory the consumer gets is
//! the planner's (`crate::path`, as for `stromautoconvert`); this module adds the GL renderer
//! and the cost of the mix. No GStreamer object lives here, so every rule is unit-tested.

use super::Mode;
use crate::path::{self, MemoryPath, PathRequest};
pub(crate) use crate::path::{Downstream, Formats, InteropVerdict};

/// The two mixers the bin can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MixPath {
    /// `glvideomixer`: blending on the GPU.
    Gl,
    /// `compositor`: blending on the CPU.
    Software,
}

impl MixPath {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MixPath::Gl => "gl",
            MixPath::Software => "software",
        }
    }

    /// The factory of the mixer this path builds.
    pub(crate) fn mixer(self) -> &'static str {
        match self {
            MixPath::Gl => "glvideomixer",
            MixPath::Software => "compositor",
        }
    }
}

/// Where the mixed frames leave the bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OutputMemory {
    System,
    Gl,
}

impl OutputMemory {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OutputMemory::System => "system",
            OutputMemory::Gl => "gl",
        }
    }
}

/// GL in this process, as far as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GlState {
    /// Not looked at: `mode=software` with a consumer that takes system memory needs no GL.
    NotChecked,
    /// A GL element the path needs is not installed (its factory name).
    MissingElement(String),
    /// No GL context could be made, and why.
    NoContext(String),
    /// A context was made: what it reports.
    Context { vendor: String, renderer: String },
    /// Not made, in auto mode: any context here would rasterise on the CPU, and why (see
    /// `gpu::platform::gl_on_cpu_only`). Making one only to learn that kept Mesa and LLVM
    /// loaded: tens of MB for a decision that does not use GL.
    CpuOnly(String),
}

impl GlState {
    /// Why GL cannot be used, when it cannot.
    fn unusable(&self) -> Option<String> {
        match self {
            GlState::NotChecked => Some("GL was not checked".into()),
            GlState::MissingElement(name) => Some(format!(
                "GStreamer element '{name}' is missing ({})",
                crate::gpu::gl::GL_PACKAGE_FIX
            )),
            GlState::NoContext(why) => Some(format!("no GL context could be made: {why}")),
            GlState::CpuOnly(why) => Some(why.clone()),
            GlState::Context { .. } => None,
        }
    }

    /// `Some(true)` for a GPU, `Some(false)` for a CPU rasteriser, `None` without a context.
    fn on_gpu(&self) -> Option<bool> {
        match self {
            GlState::Context { renderer, .. } => Some(!crate::gpu::gl::is_cpu_rasteriser(renderer)),
            GlState::CpuOnly(_) => Some(false),
            _ => None,
        }
    }

    /// "llvmpipe (LLVM 15.0.6, 256 bits) (Mesa/X.org)" for reasons.
    fn renderer(&self) -> String {
        match self {
            GlState::Context { vendor, renderer } => format!("'{renderer}' ({vendor})"),
            _ => "none".into(),
        }
    }
}

/// GL elements the GL path, the uploads and the downloads need.
pub(crate) const GL_MIXER_ELEMENTS: [&str; 4] =
    ["glvideomixer", "glupload", "gldownload", "glcolorconvert"];

impl GlState {
    /// GL as the bin and `strom-doctor` see it: the first GL element `registered` says is
    /// missing, else what `context` says (a GL context check, made only when every element is
    /// there).
    pub(crate) fn from_facts(
        registered: impl Fn(&str) -> bool,
        cpu_only: Option<String>,
        context: impl FnOnce() -> Result<crate::gpu::gl::GlInfo, String>,
    ) -> GlState {
        if let Some(missing) = GL_MIXER_ELEMENTS.iter().find(|name| !registered(name)) {
            return GlState::MissingElement((*missing).to_owned());
        }
        if let Some(why) = cpu_only {
            return GlState::CpuOnly(why);
        }
        match context() {
            Ok(info) => GlState::Context {
                vendor: info.vendor,
                renderer: info.renderer,
            },
            Err(why) => GlState::NoContext(why),
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

/// What the requested pads ask of the mix when the decision is made: the CPU cost of
/// `compositor` grows with every input it scales or blends, which GL does in the same pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MixLoad {
    pub inputs: usize,
    /// Inputs with an explicit `width` or `height` (scaled, unless the size happens to match).
    pub scaled: usize,
    /// Inputs with `alpha` below 1 (blended rather than copied).
    pub blended: usize,
}

impl MixLoad {
    /// Whether `compositor` would cost more CPU than uploading every input and downloading the
    /// mix: it copies unscaled opaque inputs about as fast as an upload would, but scaling and
    /// blending are per-pixel work on the CPU that the GPU does in the same draw.
    pub(crate) fn cpu_costs_more(&self) -> bool {
        self.scaled > 0 || self.blended > 0
    }

    fn describe(&self) -> String {
        format!(
            "{} of {} input(s) scaled, {} blended",
            self.scaled, self.inputs, self.blended
        )
    }
}

/// Everything the decision reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub mode: Mode,
    pub gl: GlState,
    pub downstream: Downstream,
    pub load: MixLoad,
    /// Needed when [`Request::needs_interop`] says so.
    pub interop: Option<InteropVerdict>,
    /// The CUDA device of the consumer downstream (`cuda-device-id`), when it names one.
    pub consumer_cuda_device: Option<u32>,
    /// The GStreamer running, for the planner's version facts.
    pub gst_version: crate::gstversion::GstVersion,
}

/// Whether the decision needs to know about GL (a context check, once per process).
pub(crate) fn needs_gl_check(mode: Mode, downstream: &Downstream) -> bool {
    mode != Mode::Software || downstream.gl_only()
}

impl Request {
    /// What the memory-path planner reads: in auto mode, GL memory is out without GL on a GPU
    /// (the mix then runs on the CPU and the consumer gets system memory, uploaded only for one
    /// of GL memory alone). The mixer's inputs come in system or GL memory alike: the planner is
    /// asked about the mix's output.
    fn path_request(&self) -> PathRequest<'_> {
        let gl_ruled_out = (self.gl.on_gpu() != Some(true)).then(|| {
            self.gl
                .unusable()
                .unwrap_or_else(|| "no GPU renderer".into())
        });
        PathRequest {
            mode: self.mode.into(),
            input: &path::Memory::System,
            downstream: &self.downstream,
            consumer_cuda_device: self.consumer_cuda_device,
            interop: self.interop.as_ref(),
            gst_version: self.gst_version,
            gl_ruled_out,
        }
    }

    /// Auto mode on a GPU, with a consumer that takes both memories (as `nvh264enc` does): GL
    /// memory helps only if the consumer can read it, which for a CUDA encoder is the interop
    /// test's question (the planner's rule, [`PathRequest::needs_interop`]).
    pub(crate) fn needs_interop(&self) -> bool {
        self.path_request().needs_interop()
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub path: MixPath,
    pub output: OutputMemory,
    /// Why, for people: the bus message and the log.
    pub reason: String,
}

impl Plan {
    /// The memory path this plan settled on, as the planner states it: the mix in GL or system
    /// memory, on frames that come in system memory (the pads upload or download the others),
    /// and the move to the memory the consumer gets.
    pub(crate) fn memory(&self) -> MemoryPath {
        let work = match self.path {
            MixPath::Gl => path::Path::Gl,
            MixPath::Software => path::Path::SystemMemory,
        };
        let output = match self.output {
            OutputMemory::Gl => path::Path::Gl,
            OutputMemory::System => path::Path::SystemMemory,
        };
        MemoryPath::between(&path::Memory::System, work, output, self.reason.clone())
    }

    /// The elements between the mixer's output and the bin's src pad, one per move after the
    /// mix: `glupload` when `compositor` feeds a GL consumer, a system-memory capsfilter when
    /// `glvideomixer` (which downloads itself) must hand system memory to a consumer that would
    /// also take GL memory.
    pub(crate) fn output_elements(&self) -> &'static [&'static str] {
        match self.memory().after.as_slice() {
            [path::Step::Upload] => &["glupload"],
            [path::Step::Download] => &["capsfilter"],
            _ => &[],
        }
    }

    /// The uploads, downloads and the mix per frame of each input in system memory.
    pub(crate) fn copies_per_frame(&self) -> u32 {
        self.memory().copies_per_frame()
    }

    /// `glvideomixer ! capsfilter` and the like, for logs.
    pub(crate) fn describe(&self) -> String {
        std::iter::once(self.path.mixer())
            .chain(self.output_elements().iter().map(|e| match *e {
                "capsfilter" => "video/x-raw",
                other => other,
            }))
            .collect::<Vec<_>>()
            .join(" ! ")
    }
}

/// Why no mixer can be built, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlanError(pub String);

/// Picks the mixer for `request`.
pub(crate) fn plan(request: &Request) -> Result<Plan, PlanError> {
    let memory = path::plan(&request.path_request())
        .and_then(MemoryPath::built)
        .map_err(|err| PlanError(err.fix("stromcompositor", &request.downstream)))?;
    match request.mode {
        Mode::Software => software_mode(request, &memory),
        Mode::Gl => gl_mode(request, &memory),
        Mode::Auto => auto_mode(request, &memory),
    }
}

/// The memory the planner hands the consumer, as this bin names it.
fn output_of(memory: &MemoryPath) -> OutputMemory {
    match memory.output {
        path::Path::Gl => OutputMemory::Gl,
        path::Path::SystemMemory | path::Path::CudaMemory => OutputMemory::System,
    }
}

fn software_mode(request: &Request, memory: &MemoryPath) -> Result<Plan, PlanError> {
    let output = software_output(request, memory, "mode=software")?;
    Ok(Plan {
        path: MixPath::Software,
        output,
        reason: "mode=software".into(),
    })
}

/// `compositor` makes system memory; a consumer that takes only GL memory gets it uploaded
/// (the planner's answer for system-memory work), which needs GL.
fn software_output(
    request: &Request,
    memory: &MemoryPath,
    why: &str,
) -> Result<OutputMemory, PlanError> {
    if output_of(memory) == OutputMemory::System {
        return Ok(OutputMemory::System);
    }
    match request.gl.unusable() {
        None => Ok(OutputMemory::Gl),
        Some(gl) => Err(PlanError(format!(
            "{why} mixes in system memory, downstream accepts only GL memory, and {gl}; on \
             headless machines set {}",
            crate::gpu::gl::GL_HEADLESS_FIX
        ))),
    }
}

fn gl_mode(request: &Request, memory: &MemoryPath) -> Result<Plan, PlanError> {
    if let Some(gl) = request.gl.unusable() {
        return Err(PlanError(format!(
            "mode=gl needs GL, but {gl}; on headless machines set {}, or use mode=auto",
            crate::gpu::gl::GL_HEADLESS_FIX
        )));
    }
    // As stromautoconvert's mode=gl (the planner's): GL memory to whoever takes it, a
    // download otherwise.
    Ok(Plan {
        path: MixPath::Gl,
        output: output_of(memory),
        reason: format!("mode=gl (GL renderer {})", request.gl.renderer()),
    })
}

fn auto_mode(request: &Request, memory: &MemoryPath) -> Result<Plan, PlanError> {
    let software = |reason: String| -> Result<Plan, PlanError> {
        Ok(Plan {
            path: MixPath::Software,
            output: software_output(request, memory, "compositor")?,
            reason,
        })
    };
    let gl = &request.gl;
    match gl.on_gpu() {
        None => {
            let why = gl.unusable().unwrap_or_default();
            return software(format!("{why}: compositor mixes on the CPU"));
        }
        Some(false) => {
            if let GlState::CpuOnly(why) = gl {
                return software(format!("{why}: compositor mixes on the CPU"));
            }
            return software(format!(
                "the GL renderer {} rasterises on the CPU, where glvideomixer is slower than \
                 compositor: compositor mixes on the CPU",
                gl.renderer()
            ));
        }
        Some(true) => {}
    }
    let down = &request.downstream;
    let renderer = gl.renderer();
    let load = &request.load;
    let gl_plan = |output, reason| {
        Ok(Plan {
            path: MixPath::Gl,
            output,
            reason,
        })
    };
    let interop_status = request.interop.as_ref().map(|v| v.status.as_str());
    match (output_of(memory), memory.decided_by_interop) {
        (OutputMemory::Gl, false) => {
            return gl_plan(
                OutputMemory::Gl,
                format!(
                    "the GL renderer {renderer} is a GPU and downstream takes only GL memory: \
                     glvideomixer, output in GL memory"
                ),
            );
        }
        (OutputMemory::Gl, true) => {
            return gl_plan(
                OutputMemory::Gl,
                format!(
                    "the GL renderer {renderer} is a GPU, downstream takes GL memory and \
                     CUDA-GL interop works: glvideomixer, output in GL memory (no download)"
                ),
            );
        }
        (OutputMemory::System, true) if load.cpu_costs_more() => {
            return gl_plan(
                OutputMemory::System,
                format!(
                    "the GL renderer {renderer} is a GPU and the mix is cheaper there ({}); \
                     downstream also takes GL memory, but CUDA-GL interop is {}: \
                     glvideomixer, output downloaded to system memory",
                    load.describe(),
                    interop_status.unwrap_or_default()
                ),
            );
        }
        (OutputMemory::System, true) => {
            return software(format!(
                "the GL renderer {renderer} is a GPU, but CUDA-GL interop is {} (so the \
                 consumer reads system memory) and the mix neither scales nor blends: \
                 compositor costs less than uploading every input",
                interop_status.unwrap_or_default()
            ));
        }
        (OutputMemory::System, false) => {}
    }
    let consumer = if down.any {
        "downstream accepts any caps (system memory is the safe choice)"
    } else {
        "downstream takes system memory"
    };
    if load.cpu_costs_more() {
        gl_plan(
            OutputMemory::System,
            format!(
                "the GL renderer {renderer} is a GPU and the mix is cheaper there ({}); \
                 {consumer}: glvideomixer, output downloaded",
                load.describe()
            ),
        )
    } else {
        software(format!(
            "the GL renderer {renderer} is a GPU, but {consumer} and the mix neither scales nor \
             blends: compositor costs less than uploading every input"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llvmpipe() -> GlState {
        let info = crate::gpu::gl::llvmpipe_for_tests();
        GlState::Context {
            vendor: info.vendor,
            renderer: info.renderer,
        }
    }

    fn nvidia() -> GlState {
        GlState::Context {
            vendor: "NVIDIA Corporation".into(),
            renderer: "NVIDIA L4/PCIe/SSE2".into(),
        }
    }

    fn system() -> Downstream {
        Downstream {
            system: Some(Formats::Any),
            ..Default::default()
        }
    }

    fn gl_only() -> Downstream {
        Downstream {
            gl: Some(Formats::Any),
            ..Default::default()
        }
    }

    fn both() -> Downstream {
        Downstream {
            system: Some(Formats::Any),
            gl: Some(Formats::Any),
            ..Default::default()
        }
    }

    fn any() -> Downstream {
        Downstream {
            any: true,
            ..Default::default()
        }
    }

    fn request(mode: Mode, gl: GlState, downstream: Downstream) -> Request {
        Request {
            mode,
            gl,
            downstream,
            load: MixLoad {
                inputs: 4,
                ..Default::default()
            },
            interop: None,
            consumer_cuda_device: None,
            gst_version: crate::gstversion::GstVersion::new(1, 22),
        }
    }

    fn scaled(mut r: Request) -> Request {
        r.load.scaled = 2;
        r
    }

    fn interop(works: bool) -> Option<InteropVerdict> {
        Some(InteropVerdict {
            works,
            status: if works {
                "ok".into()
            } else {
                "unavailable: libcuda.so.1 not found".into()
            },
        })
    }

    #[test]
    fn auto_on_a_cpu_rasteriser_mixes_in_software_and_names_the_renderer() {
        for down in [system(), both(), any()] {
            let r = scaled(request(Mode::Auto, llvmpipe(), down));
            assert!(!r.needs_interop());
            let p = plan(&r).unwrap();
            assert_eq!(
                (p.path, p.output),
                (MixPath::Software, OutputMemory::System)
            );
            assert!(
                p.reason.contains("llvmpipe (LLVM 15.0.6, 256 bits)"),
                "{}",
                p.reason
            );
            assert!(p.reason.contains("rasterises on the CPU"), "{}", p.reason);
        }
        // A GL-only consumer gets compositor's output uploaded.
        let p = plan(&request(Mode::Auto, llvmpipe(), gl_only())).unwrap();
        assert_eq!((p.path, p.output), (MixPath::Software, OutputMemory::Gl));
        assert_eq!(p.describe(), "compositor ! glupload");
    }

    #[test]
    fn auto_without_a_gpu_device_mixes_in_software_without_a_context() {
        let why = crate::gpu::platform::gl_on_cpu_only_from(&[]).unwrap();
        let p = plan(&request(
            Mode::Auto,
            GlState::CpuOnly(why.clone()),
            system(),
        ))
        .unwrap();
        assert_eq!(
            (p.path, p.output),
            (MixPath::Software, OutputMemory::System)
        );
        assert_eq!(p.reason, format!("{why}: compositor mixes on the CPU"));
    }

    #[test]
    fn every_cpu_rasteriser_counts_as_one() {
        for renderer in [
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            "softpipe",
            "Software Rasterizer",
            "swrast",
        ] {
            let gl = GlState::Context {
                vendor: "Mesa".into(),
                renderer: renderer.into(),
            };
            assert_eq!(gl.on_gpu(), Some(false), "{renderer}");
        }
        // Mesa drives real GPUs too.
        let radeon = GlState::Context {
            vendor: "AMD".into(),
            renderer: "AMD Radeon RX 6600 (radeonsi, navi23, LLVM 15.0.6, DRM 3.49)".into(),
        };
        assert_eq!(radeon.on_gpu(), Some(true));
    }

    #[test]
    fn auto_without_gl_mixes_in_software_and_says_why() {
        let p = plan(&request(
            Mode::Auto,
            GlState::NoContext("no EGL display".into()),
            system(),
        ))
        .unwrap();
        assert_eq!(p.path, MixPath::Software);
        assert!(
            p.reason
                .starts_with("no GL context could be made: no EGL display")
        );
        let p = plan(&request(
            Mode::Auto,
            GlState::MissingElement("glvideomixer".into()),
            system(),
        ))
        .unwrap();
        assert!(
            p.reason.contains("'glvideomixer' is missing"),
            "{}",
            p.reason
        );
        assert!(p.reason.contains("gstreamer1.0-gl"), "{}", p.reason);
        // Nothing can feed a GL-only consumer then.
        let err = plan(&request(
            Mode::Auto,
            GlState::NoContext("no EGL display".into()),
            gl_only(),
        ))
        .unwrap_err();
        assert!(err.0.contains("GST_GL_WINDOW=egl-device"), "{}", err.0);
    }

    #[test]
    fn auto_on_a_gpu_follows_downstream_memory_and_the_cost_of_the_mix() {
        let p = plan(&request(Mode::Auto, nvidia(), gl_only())).unwrap();
        assert_eq!((p.path, p.output), (MixPath::Gl, OutputMemory::Gl));
        assert!(p.reason.contains("NVIDIA L4"), "{}", p.reason);

        // System memory only: GL only when compositor would scale or blend.
        let p = plan(&request(Mode::Auto, nvidia(), system())).unwrap();
        assert_eq!(
            (p.path, p.output),
            (MixPath::Software, OutputMemory::System)
        );
        assert!(
            p.reason.contains("neither scales nor blends"),
            "{}",
            p.reason
        );
        let p = plan(&scaled(request(Mode::Auto, nvidia(), system()))).unwrap();
        assert_eq!((p.path, p.output), (MixPath::Gl, OutputMemory::System));
        assert_eq!(p.describe(), "glvideomixer ! video/x-raw");
        assert!(p.reason.contains("2 of 4 input(s) scaled"), "{}", p.reason);
        let mut blended = request(Mode::Auto, nvidia(), any());
        blended.load.blended = 1;
        assert_eq!(plan(&blended).unwrap().path, MixPath::Gl);
        assert_eq!(plan(&blended).unwrap().output, OutputMemory::System);
    }

    #[test]
    fn a_consumer_of_both_memories_gets_gl_memory_only_when_interop_works() {
        let r = request(Mode::Auto, nvidia(), both());
        assert!(r.needs_interop());
        assert!(plan(&r).is_err());
        let p = plan(&Request {
            interop: interop(true),
            ..r.clone()
        })
        .unwrap();
        assert_eq!((p.path, p.output), (MixPath::Gl, OutputMemory::Gl));
        assert!(p.reason.contains("no download"), "{}", p.reason);

        let p = plan(&Request {
            interop: interop(false),
            ..r.clone()
        })
        .unwrap();
        assert_eq!(
            (p.path, p.output),
            (MixPath::Software, OutputMemory::System)
        );
        assert!(p.reason.contains("libcuda.so.1 not found"), "{}", p.reason);

        let p = plan(&Request {
            interop: interop(false),
            ..scaled(r)
        })
        .unwrap();
        assert_eq!((p.path, p.output), (MixPath::Gl, OutputMemory::System));
        // Only auto mode on a GPU asks.
        assert!(!request(Mode::Gl, nvidia(), both()).needs_interop());
        assert!(!request(Mode::Auto, llvmpipe(), both()).needs_interop());
    }

    #[test]
    fn gl_mode_mixes_on_gl_wherever_gl_is_and_downloads_only_for_system_consumers() {
        for (down, output) in [
            (system(), OutputMemory::System),
            (gl_only(), OutputMemory::Gl),
            (both(), OutputMemory::Gl),
            (any(), OutputMemory::Gl),
        ] {
            let p = plan(&request(Mode::Gl, llvmpipe(), down)).unwrap();
            assert_eq!((p.path, p.output), (MixPath::Gl, output));
            assert!(
                p.reason.starts_with("mode=gl (GL renderer 'llvmpipe"),
                "{}",
                p.reason
            );
        }
        let err = plan(&request(
            Mode::Gl,
            GlState::NoContext("no display".into()),
            system(),
        ))
        .unwrap_err();
        assert!(err.0.contains("mode=gl needs GL"), "{}", err.0);
        assert!(err.0.contains("GST_GL_PLATFORM=egl"), "{}", err.0);
    }

    #[test]
    fn software_mode_needs_gl_only_to_upload_for_a_gl_consumer() {
        assert!(!needs_gl_check(Mode::Software, &system()));
        assert!(!needs_gl_check(Mode::Software, &both()));
        assert!(needs_gl_check(Mode::Software, &gl_only()));
        assert!(needs_gl_check(Mode::Auto, &system()));
        let p = plan(&request(Mode::Software, GlState::NotChecked, system())).unwrap();
        assert_eq!(
            (p.path, p.output),
            (MixPath::Software, OutputMemory::System)
        );
        assert_eq!(p.reason, "mode=software");
        assert_eq!(p.output_elements(), &[] as &[&str]);
        let p = plan(&request(Mode::Software, llvmpipe(), gl_only())).unwrap();
        assert_eq!(p.output, OutputMemory::Gl);
        let err = plan(&request(
            Mode::Software,
            GlState::MissingElement("glupload".into()),
            gl_only(),
        ))
        .unwrap_err();
        assert!(err.0.contains("'glupload' is missing"), "{}", err.0);
    }

    #[test]
    fn a_consumer_of_neither_memory_is_refused_with_the_fix() {
        let cuda = Downstream {
            other_features: vec!["memory:CUDAMemory".into()],
            ..Default::default()
        };
        for mode in [Mode::Auto, Mode::Gl, Mode::Software] {
            let err = plan(&request(mode, nvidia(), cuda.clone())).unwrap_err();
            assert!(err.0.contains("memory:CUDAMemory"), "{}", err.0);
        }
    }

    #[test]
    fn paths_name_their_mixer() {
        assert_eq!(MixPath::Gl.mixer(), "glvideomixer");
        assert_eq!(MixPath::Software.mixer(), "compositor");
        assert_eq!(MixPath::Gl.as_str(), "gl");
        assert_eq!(OutputMemory::System.as_str(), "system");
    }
}
