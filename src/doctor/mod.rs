// SPDX-License-Identifier: MPL-2.0
//! `strom-doctor`: every check a user would otherwise run by hand, and the verdict they add up to.
//!
//! - [`checks`] turns plain facts into rows of the report (pure, unit-tested with made-up facts);
//! - [`paths`] says which path each element would take here, by asking the elements' own plain
//!   decision modules (pure);
//! - [`verdict`] decides the tier a pipeline will get and the first fix to apply (pure);
//! - [`gather`] reads this machine through `crate::gpu` (the same reports the elements read) and
//!   GStreamer's registry, and assembles the [`Report`];
//! - [`render`] prints it as a table or as JSON.
//!
//! `src/bin/strom-doctor.rs` only parses arguments and calls [`run`].

pub(crate) mod checks;
pub(crate) mod gather;
pub(crate) mod paths;
pub mod render;
pub(crate) mod verdict;

use std::fmt;
use std::str::FromStr;

pub use gather::run;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// As it should be.
    Pass,
    /// Worth knowing; nothing to fix.
    Info,
    /// Likely to cost speed or a feature; has a fix.
    Warn,
    /// Broken; has a fix unless an earlier row's fix covers it.
    Fail,
    /// Not checked because something it needs is missing (an earlier row says what).
    Skip,
}

impl Level {
    /// The word in the table's result column: upper case where the user must act.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Level::Pass => "ok",
            Level::Info => "info",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
            Level::Skip => "skip",
        }
    }

    /// The JSON `ok` field: nothing to act on.
    pub(crate) fn is_ok(self) -> bool {
        matches!(self, Level::Pass | Level::Info)
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    pub(crate) name: String,
    pub(crate) level: Level,
    pub(crate) detail: String,
    /// What to do about it, when there is something to do.
    pub(crate) fix: Option<String>,
    /// The lowest tier this problem keeps a pipeline from reaching; orders the first fix.
    pub(crate) blocks: Option<Tier>,
}

impl Check {
    fn new(name: &str, level: Level, detail: impl Into<String>) -> Check {
        Check {
            name: name.to_owned(),
            level,
            detail: detail.into(),
            fix: None,
            blocks: None,
        }
    }

    pub(crate) fn pass(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Level::Pass, detail)
    }

    pub(crate) fn info(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Level::Info, detail)
    }

    pub(crate) fn warn(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Level::Warn, detail)
    }

    pub(crate) fn fail(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Level::Fail, detail)
    }

    pub(crate) fn skip(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Level::Skip, detail)
    }

    pub(crate) fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    pub(crate) fn blocking(mut self, tier: Tier) -> Check {
        self.blocks = Some(tier);
        self
    }

    pub(crate) fn ok(&self) -> bool {
        self.level.is_ok()
    }
}

/// What a pipeline through `stromautoconvert` and an H.264 encoder will get, best last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// CPU conversion (`videoconvert`) and CPU encoding (`x264enc`).
    Software,
    /// CPU conversion, then `nvh264enc` on the GPU (one upload per frame).
    SoftwareConvertNvenc,
    /// Zero-copy: `glupload ! glcolorconvert` frames read by `nvh264enc` through CUDA-GL interop.
    GpuInterop,
}

impl Tier {
    pub(crate) const ALL: [Tier; 3] =
        [Tier::Software, Tier::SoftwareConvertNvenc, Tier::GpuInterop];

    /// The name used on the command line and in JSON.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tier::Software => "software",
            Tier::SoftwareConvertNvenc => "software-convert-nvenc",
            Tier::GpuInterop => "gpu-interop",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Tier::Software => "CPU conversion and CPU encoding: videoconvert, x264enc",
            Tier::SoftwareConvertNvenc => {
                "CPU conversion, GPU encoding: videoconvert, nvh264enc (one upload per frame)"
            }
            Tier::GpuInterop => {
                "zero-copy GL conversion into NVENC: glupload ! glcolorconvert ! nvh264enc"
            }
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = String;

    fn from_str(s: &str) -> Result<Tier, String> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Tier::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown tier '{s}' (one of: {})", names.join(", "))
            })
    }
}

/// Everything the doctor found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub tier: Tier,
    /// The fix that moves this machine to the next tier, when one is known.
    pub(crate) first_fix: Option<String>,
    pub(crate) checks: Vec<Check>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_ordered_and_named_as_documented() {
        assert!(Tier::Software < Tier::SoftwareConvertNvenc);
        assert!(Tier::SoftwareConvertNvenc < Tier::GpuInterop);
        for tier in Tier::ALL {
            assert_eq!(tier.as_str().parse::<Tier>(), Ok(tier));
        }
        let err = "gpu".parse::<Tier>().unwrap_err();
        assert!(
            err.ends_with("(one of: software, software-convert-nvenc, gpu-interop)"),
            "{err}"
        );
    }

    #[test]
    fn only_pass_and_info_are_ok() {
        assert!(Check::pass("a", "").ok());
        assert!(Check::info("a", "").ok());
        assert!(!Check::warn("a", "").ok());
        assert!(!Check::fail("a", "").ok());
        assert!(!Check::skip("a", "").ok());
    }
}
