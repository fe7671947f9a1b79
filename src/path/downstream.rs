// SPDX-License-Identifier: MPL-2.0
//! What a consumer takes, as plain data: the one downstream classification every deciding bin
//! reads (`stromautoconvert(scale)`, `stromcompositor`, `strom-doctor`). Each bin reads its peer's
//! caps into a [`Downstream`] (`autoconvert/caps.rs`, `compositor/caps.rs`); the planner
//! (`plan.rs` beside this file) decides from it.

use crate::formats::{CUDA_MEMORY, GL_MEMORY};

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

    pub fn any_matches(&self, predicate: impl Fn(&str) -> bool) -> bool {
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

/// What downstream's caps allow, per memory type. `None`: that memory is not accepted. A bin
/// that does not choose formats (`stromcompositor`) fills the memories it sees with
/// [`Formats::Any`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Downstream {
    pub system: Option<Formats>,
    pub gl: Option<Formats>,
    /// Downstream answered ANY caps (e.g. a bare `fakesink`): it takes whatever comes.
    pub any: bool,
    /// Caps features downstream asked for that neither system nor GL memory is (CUDAMemory,
    /// DMABuf, ...), by name.
    pub other_features: Vec<String>,
    /// `video/x-bayer` patterns downstream takes (made by `rgb2bayer`).
    pub bayer: Option<Formats>,
    /// Downstream takes neither RGB nor YUV labelled BT.601, the only YUV GStreamer 1.22's
    /// glcolorconvert writes from RGB (e.g. it asks for `colorimetry=bt709`).
    pub refuses_gl_colour: bool,
}

impl Downstream {
    /// System memory and GL memory both, and not ANY: the case the interop test decides.
    pub fn accepts_both(&self) -> bool {
        self.system.is_some() && self.gl.is_some() && !self.any
    }

    /// GL memory and nothing else a bin can make.
    pub fn gl_only(&self) -> bool {
        self.gl.is_some() && self.system.is_none() && !self.any
    }

    /// Neither raw memory the bins make, nor ANY.
    pub fn takes_neither(&self) -> bool {
        self.system.is_none() && self.gl.is_none() && !self.any
    }

    /// Downstream takes Bayer and no raw video: the chain must end in `rgb2bayer`.
    pub fn wants_bayer(&self) -> bool {
        self.bayer.is_some() && self.takes_neither()
    }

    /// Raw video in CUDA memory and no memory a bin makes (e.g. `nvh264enc` behind a
    /// `capsfilter caps=video/x-raw(memory:CUDAMemory)`).
    pub fn cuda_only(&self) -> bool {
        self.takes_neither()
            && self.bayer.is_none()
            && self.other_features.iter().any(|f| f == CUDA_MEMORY)
    }

    /// The memory downstream asks for instead, for errors: GL memory, the other caps features,
    /// or "non-raw caps".
    pub fn accepted_memories(&self) -> String {
        if self.gl.is_some() {
            GL_MEMORY.into()
        } else if self.other_features.is_empty() {
            "non-raw caps".into()
        } else {
            self.other_features.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any() -> Option<Formats> {
        Some(Formats::Any)
    }

    #[test]
    fn memories_are_classified_once() {
        let both = Downstream {
            system: any(),
            gl: any(),
            ..Default::default()
        };
        assert!(both.accepts_both() && !both.gl_only());
        let gl = Downstream {
            gl: any(),
            ..Default::default()
        };
        assert!(gl.gl_only() && !gl.accepts_both() && !gl.takes_neither());
        let system = Downstream {
            system: any(),
            ..Default::default()
        };
        assert!(!system.gl_only() && !system.accepts_both() && !system.takes_neither());
        // ANY takes both, but it is no choice for the interop test to make.
        let anything = Downstream {
            any: true,
            system: any(),
            gl: any(),
            ..Default::default()
        };
        assert!(!anything.accepts_both() && !anything.gl_only() && !anything.takes_neither());
    }

    #[test]
    fn cuda_and_bayer_consumers_take_neither_raw_memory() {
        let cuda = Downstream {
            other_features: vec![CUDA_MEMORY.into()],
            ..Default::default()
        };
        assert!(cuda.takes_neither() && cuda.cuda_only() && !cuda.wants_bayer());
        assert_eq!(cuda.accepted_memories(), CUDA_MEMORY);
        let bayer = Downstream {
            bayer: Some(Formats::Only(vec!["bggr".into()])),
            ..Default::default()
        };
        assert!(bayer.wants_bayer() && !bayer.cuda_only());
        assert_eq!(Downstream::default().accepted_memories(), "non-raw caps");
    }

    #[test]
    fn format_sets_merge_and_match() {
        let mut formats = Formats::Only(vec!["NV12".into()]);
        formats.merge(Formats::Only(vec!["I420".into(), "NV12".into()]));
        assert_eq!(formats, Formats::Only(vec!["NV12".into(), "I420".into()]));
        assert!(formats.contains("I420") && !formats.contains("RGBA"));
        assert!(formats.any_matches(|f| f.starts_with('I')));
        formats.merge(Formats::Any);
        assert!(formats.contains("RGBA"));
    }
}
