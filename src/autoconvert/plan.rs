// SPDX-License-Identifier: MPL-2.0
//! The decision, as plain data: a [`Request`] (mode, what comes in, what downstream accepts,
//! what failed before, the interop result) → which chain to build, and why. Every rule lives
//! here and no GStreamer object does, so every branch is unit-tested.

use super::Mode;
use crate::formats::is_gl_rgb_format;
use crate::gpu::interop::InteropReport;

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
    pub format: String,
    /// Whether `format` is a YUV format (glcolorconvert cannot convert YUV to another YUV).
    pub is_yuv: bool,
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
}

impl Downstream {
    fn accepts_both(&self) -> bool {
        self.system.is_some() && self.gl.is_some()
    }
}

/// The interop test's answer, as far as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteropVerdict {
    pub works: bool,
    pub status: String,
}

impl From<&InteropReport> for InteropVerdict {
    fn from(report: &InteropReport) -> Self {
        InteropVerdict {
            works: report.works(),
            status: report.status.clone(),
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
}

impl ChainShape {
    /// The element factory names, in order, as they will be linked (capsfilter for the hop).
    pub fn factories(&self) -> Vec<&'static str> {
        match self.path {
            ConvertPath::Software => {
                let mut f = Vec::with_capacity(2);
                if self.download_input {
                    f.push("gldownload");
                }
                f.push(if self.fast_convert {
                    "stromfastconvert"
                } else {
                    "videoconvert"
                });
                f
            }
            ConvertPath::Gl => {
                let mut f = vec!["glupload", "glcolorconvert"];
                if self.rgba_hop {
                    f.extend(["capsfilter", "glcolorconvert"]);
                }
                if self.download_output {
                    f.push("gldownload");
                }
                f
            }
        }
    }

    /// `glupload ! glcolorconvert ! ...` for messages and logs.
    pub fn describe(&self) -> String {
        self.factories()
            .iter()
            .map(|f| {
                if *f == "capsfilter" {
                    "video/x-raw(memory:GLMemory),format=RGBA"
                } else {
                    f
                }
            })
            .collect::<Vec<_>>()
            .join(" ! ")
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
    let (path, reason, decided_by_interop) = choose_path(request)?;
    let shape = match path {
        ConvertPath::Software => ChainShape {
            path,
            download_input: input.memory == Memory::Gl,
            rgba_hop: false,
            download_output: false,
            fast_convert: input.memory == Memory::System && request.direct_target.is_some(),
        },
        ConvertPath::Gl => gl_shape(input, downstream),
    };
    Ok(ChainPlan {
        shape,
        reason,
        decided_by_interop,
    })
}

fn choose_path(request: &Request) -> Result<(ConvertPath, String, bool), PlanError> {
    let downstream = &request.downstream;
    match request.effective_mode() {
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

/// Shape of the GL chain for this input and consumer.
fn gl_shape(input: &Input, downstream: &Downstream) -> ChainShape {
    // Output in GL memory when downstream takes it (or takes anything), else download.
    let download_output = downstream.gl.is_none() && !downstream.any;
    let targets = if download_output {
        downstream.system.clone().unwrap_or_default()
    } else {
        downstream.gl.clone().unwrap_or_default()
    };
    ChainShape {
        path: ConvertPath::Gl,
        download_input: false,
        rgba_hop: needs_rgba_hop(input, &targets),
        download_output,
        fast_convert: false,
    }
}

/// glcolorconvert (1.22) converts YUV↔RGB but not YUV→another YUV. When the input is YUV and
/// downstream takes neither the input format nor any RGB format, go through RGBA on the GPU.
pub fn needs_rgba_hop(input: &Input, targets: &Formats) -> bool {
    input.is_yuv && !targets.contains(&input.format) && !targets.any_matches(is_gl_rgb_format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(format: &str, is_yuv: bool) -> Input {
        Input {
            memory: Memory::System,
            format: format.into(),
            is_yuv,
        }
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
        Request {
            mode,
            input: input.clone(),
            downstream: downstream.clone(),
            direct_target: None,
            gl_failed: None,
            interop: None,
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
                "gldownload"
            ]
        );
    }

    #[test]
    fn rgba_hop_only_between_different_yuv_formats() {
        let nv12 = Formats::Only(vec!["NV12".into()]);
        assert!(needs_rgba_hop(&input("I420", true), &nv12));
        assert!(!needs_rgba_hop(&input("NV12", true), &nv12));
        assert!(!needs_rgba_hop(&input("RGBA", false), &nv12));
        let nv12_or_rgba = Formats::Only(vec!["NV12".into(), "RGBA".into()]);
        assert!(!needs_rgba_hop(&input("I420", true), &nv12_or_rgba));
        assert!(!needs_rgba_hop(&input("I420", true), &Formats::Any));
    }

    #[test]
    fn software_chain_downloads_gl_input() {
        let sys = Downstream {
            system: only(&["NV12"]),
            ..Default::default()
        };
        let gl_in = Input {
            memory: Memory::Gl,
            format: "RGBA".into(),
            is_yuv: false,
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
            format: "NV12".into(),
            is_yuv: true,
        };
        assert!(plan_for(Mode::Auto, &dmabuf_in, &both(&["NV12"]), Some(&works())).is_err());
    }

    #[test]
    fn shapes_describe_their_chain() {
        let shape = ChainShape {
            path: ConvertPath::Gl,
            download_input: false,
            rgba_hop: true,
            download_output: false,
            fast_convert: false,
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
}
