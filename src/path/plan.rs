// SPDX-License-Identifier: MPL-2.0
//! The memory-path planner: a [`PathRequest`] (the mode, where the frames come in, what
//! downstream accepts, the consumer's CUDA device, the interop verdict, the GStreamer version,
//! why GL is out if it is) → a [`MemoryPath`]: where the bin works on the frames, in which memory
//! it hands them on, the uploads and downloads around that and what they cost per frame, and why.
//! Plain data in and out, so every rule is unit-tested. `stromautoconvert(scale)` and
//! `stromcompositor` ask it and carry the answer out with their own elements (a chain of
//! converters, a mixer); `strom-doctor` asks them; `stromautoenc` reads the answer of the
//! `stromautoconvert` inside it.

use super::InteropVerdict;
use super::downstream::{Downstream, Memory};
use super::step::Step;
use crate::gstversion::{self, GstVersion};

/// What the bin's `mode` property asks, as far as memory goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Mode {
    /// Follow downstream and the interop test.
    Auto,
    /// Work in GL memory wherever GL is.
    Gl,
    /// Work in system memory.
    Software,
}

/// The memory the frames are worked on or handed on in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Path {
    SystemMemory,
    Gl,
    /// Room for CUDA memory (GStreamer >= 1.26, [`gstversion::plans_cuda_memory`]): the planner
    /// names it only for a consumer that takes CUDA memory and nothing else, where no other path
    /// could serve. No bin builds it yet: they answer it with the error of a consumer that
    /// takes neither memory ([`MemoryPath::built`]), as before the planner knew it.
    CudaMemory,
}

/// Everything the planner reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathRequest<'a> {
    /// The mode the rules apply (auto mode after a GL failure is software for the stream: the
    /// bin says so in `gl_ruled_out`, or passes `Mode::Software`).
    pub(crate) mode: Mode,
    /// Where the frames come in.
    pub(crate) input: &'a Memory,
    pub(crate) downstream: &'a Downstream,
    /// The CUDA device of the consumer downstream, when one was found (it is where the interop
    /// test ran, and where CUDA memory would be made).
    pub(crate) consumer_cuda_device: Option<u32>,
    /// The interop test's answer; must be given when [`PathRequest::needs_interop`] says so.
    pub(crate) interop: Option<&'a InteropVerdict>,
    pub(crate) gst_version: GstVersion,
    /// Why GL memory is out for this stream in auto mode (caps features only software carries,
    /// no GPU renderer, ...), when it is: system memory without the interop test.
    pub(crate) gl_ruled_out: Option<String>,
}

impl PathRequest<'_> {
    /// Whether the decision needs the interop test: only when auto mode has a real choice
    /// between GL and system memory for a consumer of both.
    pub(crate) fn needs_interop(&self) -> bool {
        self.mode == Mode::Auto && self.gl_ruled_out.is_none() && self.downstream.accepts_both()
    }
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemoryPath {
    /// Where the bin converts or mixes.
    pub(crate) path: Path,
    /// The memory the frames leave the bin in.
    pub(crate) output: Path,
    /// The memory moves before the pass (`gldownload` of GL input for system-memory work,
    /// `glupload` of system input for GL work).
    pub(crate) before: Vec<Step>,
    /// The memory moves after the pass (`glupload` for a consumer of GL memory only,
    /// `gldownload` for one of system memory).
    pub(crate) after: Vec<Step>,
    /// Why, for people: the bus message and the log.
    pub(crate) why: String,
    /// The interop test decided it (auto mode, downstream takes both memories).
    pub(crate) decided_by_interop: bool,
}

impl MemoryPath {
    /// Work in `path` on frames that come in `input` and leave in `output`, with the moves that
    /// takes: how a bin that weighs more than memory (`stromcompositor`: the cost of the mix)
    /// states the path it settled on.
    pub(crate) fn between(
        input: &Memory,
        path: Path,
        output: Path,
        why: impl Into<String>,
    ) -> MemoryPath {
        MemoryPath {
            path,
            output,
            before: moves(memory_path(input), path),
            after: moves(Some(path), output),
            why: why.into(),
            decided_by_interop: false,
        }
    }

    /// The memory moves and the one conversion or mixing pass, in order; the bin puts its own
    /// elements for the pass where [`Step::VideoConvert`] (system memory) or
    /// [`Step::GlConvert`] (GL) stands.
    pub(crate) fn steps(&self) -> Vec<Step> {
        let pass = match self.path {
            Path::Gl => Step::GlConvert,
            Path::SystemMemory | Path::CudaMemory => Step::VideoConvert,
        };
        [&self.before[..], &[pass], &self.after[..]].concat()
    }

    /// The uploads, downloads and the pass this path costs per frame.
    pub(crate) fn copies_per_frame(&self) -> u32 {
        super::step::copies_per_frame(&self.steps())
    }

    /// This path, where a bin can build it: CUDA memory is named but not built (see
    /// [`Path::CudaMemory`]).
    pub(crate) fn built(self) -> Result<MemoryPath, PathError> {
        match self.path {
            Path::CudaMemory => Err(PathError::TakesNeither),
            _ => Ok(self),
        }
    }
}

/// Where the frames of `memory` live, as a path; `None` for memory no bin works in.
fn memory_path(memory: &Memory) -> Option<Path> {
    match memory {
        Memory::System => Some(Path::SystemMemory),
        Memory::Gl => Some(Path::Gl),
        Memory::Other(_) => None,
    }
}

/// The element that moves frames from `from` to `to`, if one is needed.
fn moves(from: Option<Path>, to: Path) -> Vec<Step> {
    match (from, to) {
        (Some(Path::SystemMemory), Path::Gl) => vec![Step::Upload],
        (Some(Path::Gl), Path::SystemMemory) => vec![Step::Download],
        _ => Vec::new(),
    }
}

/// Why no path serves this consumer; each bin words the fix with its own name ([`Self::fix`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathError {
    /// Downstream takes neither system nor GL memory (nor ANY).
    TakesNeither,
    /// A consumer of both memories in auto mode, and the interop verdict was not given.
    InteropMissing,
}

impl PathError {
    /// The error for people, naming `element` where the fix goes after it.
    pub(crate) fn fix(self, element: &str, downstream: &Downstream) -> String {
        match self {
            PathError::TakesNeither => format!(
                "downstream accepts neither system memory nor GL memory (it asks for {}); put a \
                 matching upload element (e.g. cudaupload) after {element}",
                downstream.accepted_memories()
            ),
            PathError::InteropMissing => {
                "internal: the interop test result is needed but was not given".into()
            }
        }
    }
}

/// The memory path for `request`.
pub(crate) fn plan(request: &PathRequest) -> Result<MemoryPath, PathError> {
    let down = request.downstream;
    if down.cuda_only() && gstversion::plans_cuda_memory(request.gst_version) {
        return Ok(cuda_memory(request));
    }
    if down.takes_neither() && !down.wants_bayer() {
        return Err(PathError::TakesNeither);
    }
    let input = request.input;
    // A consumer of GL memory alone gets system-memory work uploaded.
    let system_work = |why: String| {
        let output = if down.gl_only() {
            Path::Gl
        } else {
            Path::SystemMemory
        };
        MemoryPath::between(input, Path::SystemMemory, output, why)
    };
    match request.mode {
        Mode::Software => Ok(system_work("mode=software".into())),
        Mode::Gl => {
            // GL memory to whoever takes it, a download otherwise.
            let output = if down.gl.is_some() || down.any {
                Path::Gl
            } else {
                Path::SystemMemory
            };
            Ok(MemoryPath::between(input, Path::Gl, output, "mode=gl"))
        }
        Mode::Auto => match &request.gl_ruled_out {
            Some(why) => Ok(system_work(why.clone())),
            None => auto(request),
        },
    }
}

/// Auto mode with GL possible: downstream's memory decides, and for a consumer of both, whether
/// it can read GL memory (the interop test).
fn auto(request: &PathRequest) -> Result<MemoryPath, PathError> {
    let (down, input) = (request.downstream, request.input);
    let same = |path, why: &str| Ok(MemoryPath::between(input, path, path, why));
    if down.any {
        return same(
            Path::SystemMemory,
            "downstream accepts any caps; system memory is the safe choice",
        );
    }
    if down.gl_only() {
        return same(Path::Gl, "downstream accepts only GL memory");
    }
    if !down.accepts_both() {
        return same(Path::SystemMemory, "downstream accepts only system memory");
    }
    let verdict = request.interop.ok_or(PathError::InteropMissing)?;
    let mut path = if verdict.works {
        MemoryPath::between(
            input,
            Path::Gl,
            Path::Gl,
            "downstream accepts GL memory and CUDA-GL interop works: zero-copy to the encoder",
        )
    } else {
        MemoryPath::between(
            input,
            Path::SystemMemory,
            Path::SystemMemory,
            format!(
                "downstream accepts GL and system memory, but CUDA-GL interop is {}",
                verdict.status
            ),
        )
    };
    path.decided_by_interop = true;
    Ok(path)
}

/// The CUDA-memory room: named for a consumer that takes CUDA memory only.
fn cuda_memory(request: &PathRequest) -> MemoryPath {
    let device = request.consumer_cuda_device.map_or_else(
        || "its CUDA device".to_owned(),
        |d| format!("CUDA device {d}"),
    );
    MemoryPath {
        path: Path::CudaMemory,
        output: Path::CudaMemory,
        before: Vec::new(),
        after: Vec::new(),
        why: format!("downstream accepts only CUDA memory (on {device})"),
        decided_by_interop: false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::downstream::Formats;
    use super::*;
    use crate::formats::CUDA_MEMORY;

    const V1_22: GstVersion = GstVersion::new(1, 22);
    const V1_26: GstVersion = GstVersion::new(1, 26);

    fn down(system: bool, gl: bool) -> Downstream {
        Downstream {
            system: system.then_some(Formats::Any),
            gl: gl.then_some(Formats::Any),
            ..Default::default()
        }
    }

    fn verdict(works: bool) -> InteropVerdict {
        InteropVerdict {
            works,
            status: if works { "ok" } else { "unavailable: no GPU" }.into(),
        }
    }

    fn ask<'a>(mode: Mode, input: &'a Memory, downstream: &'a Downstream) -> PathRequest<'a> {
        PathRequest {
            mode,
            input,
            downstream,
            consumer_cuda_device: None,
            interop: None,
            gst_version: V1_22,
            gl_ruled_out: None,
        }
    }

    #[test]
    fn a_system_memory_consumer_gets_system_memory_for_one_pass() {
        let system = down(true, false);
        let request = ask(Mode::Auto, &Memory::System, &system);
        assert!(!request.needs_interop());
        let p = plan(&request).unwrap();
        assert_eq!((p.path, p.output), (Path::SystemMemory, Path::SystemMemory));
        assert_eq!(p.steps(), [Step::VideoConvert]);
        assert_eq!(p.copies_per_frame(), 1);
        assert_eq!(p.why, "downstream accepts only system memory");
        // GL memory in: downloaded first, one copy more.
        let p = plan(&ask(Mode::Auto, &Memory::Gl, &system)).unwrap();
        assert_eq!(p.steps(), [Step::Download, Step::VideoConvert]);
        assert_eq!(p.copies_per_frame(), 2);
        // ANY: system memory, the safe choice.
        let any = Downstream {
            any: true,
            ..Default::default()
        };
        let p = plan(&ask(Mode::Auto, &Memory::System, &any)).unwrap();
        assert_eq!(p.output, Path::SystemMemory);
        assert!(p.why.contains("safe choice"));
    }

    #[test]
    fn a_gl_memory_consumer_gets_gl_memory_uploaded_once() {
        let gl = down(false, true);
        let p = plan(&ask(Mode::Auto, &Memory::System, &gl)).unwrap();
        assert_eq!((p.path, p.output), (Path::Gl, Path::Gl));
        assert_eq!(p.steps(), [Step::Upload, Step::GlConvert]);
        assert_eq!(p.copies_per_frame(), 2);
        // Already in GL memory: nothing to move.
        let p = plan(&ask(Mode::Auto, &Memory::Gl, &gl)).unwrap();
        assert_eq!(p.copies_per_frame(), 1);
        // Software mode (or GL ruled out): converted on the CPU, then uploaded.
        let p = plan(&ask(Mode::Software, &Memory::System, &gl)).unwrap();
        assert_eq!((p.path, p.output), (Path::SystemMemory, Path::Gl));
        assert_eq!(p.steps(), [Step::VideoConvert, Step::Upload]);
        let ruled_out = PathRequest {
            gl_ruled_out: Some("the input caps carry meta:X".into()),
            ..ask(Mode::Auto, &Memory::System, &gl)
        };
        assert!(!ruled_out.needs_interop());
        assert_eq!(plan(&ruled_out).unwrap().why, "the input caps carry meta:X");
    }

    #[test]
    fn gl_mode_downloads_only_for_a_system_memory_consumer() {
        let p = plan(&ask(Mode::Gl, &Memory::System, &down(true, false))).unwrap();
        assert_eq!(p.steps(), [Step::Upload, Step::GlConvert, Step::Download]);
        assert_eq!(p.copies_per_frame(), 3);
        let p = plan(&ask(Mode::Gl, &Memory::System, &down(true, true))).unwrap();
        assert_eq!(p.output, Path::Gl);
    }

    #[test]
    fn a_consumer_of_both_memories_is_decided_by_the_interop_test() {
        let both = down(true, true);
        let request = ask(Mode::Auto, &Memory::System, &both);
        assert!(request.needs_interop());
        assert_eq!(plan(&request), Err(PathError::InteropMissing));
        let works = verdict(true);
        let p = plan(&PathRequest {
            interop: Some(&works),
            ..request.clone()
        })
        .unwrap();
        assert_eq!(p.output, Path::Gl);
        assert!(p.decided_by_interop && p.why.contains("zero-copy"));
        let fails = verdict(false);
        let p = plan(&PathRequest {
            interop: Some(&fails),
            ..request
        })
        .unwrap();
        assert_eq!(p.output, Path::SystemMemory);
        assert!(p.decided_by_interop && p.why.ends_with("unavailable: no GPU"));
        assert!(!ask(Mode::Software, &Memory::System, &both).needs_interop());
    }

    #[test]
    fn cuda_memory_is_named_on_1_26_for_a_cuda_only_consumer_and_not_built() {
        let cuda = Downstream {
            other_features: vec![CUDA_MEMORY.into()],
            ..Default::default()
        };
        let on_1_22 = ask(Mode::Auto, &Memory::System, &cuda);
        assert_eq!(plan(&on_1_22), Err(PathError::TakesNeither));
        let on_1_26 = PathRequest {
            gst_version: V1_26,
            consumer_cuda_device: Some(1),
            ..on_1_22
        };
        let p = plan(&on_1_26).unwrap();
        assert_eq!(p.path, Path::CudaMemory);
        assert!(p.why.contains("CUDA device 1"), "{}", p.why);
        assert_eq!(p.built(), Err(PathError::TakesNeither));
        // Never for a consumer that also takes a memory the bins make.
        let also_system = Downstream {
            system: Some(Formats::Any),
            ..cuda.clone()
        };
        let p = plan(&PathRequest {
            downstream: &also_system,
            ..on_1_26
        })
        .unwrap();
        assert_eq!(p.path, Path::SystemMemory);
        assert!(
            PathError::TakesNeither
                .fix("stromcompositor", &cuda)
                .contains(
                    "asks for memory:CUDAMemory); put a matching upload element (e.g. \
                           cudaupload) after stromcompositor"
                )
        );
    }
}
