// SPDX-License-Identifier: MPL-2.0
//! The memory-path planner every deciding bin uses, as plain data (no GStreamer object):
//! - `downstream.rs`: what a consumer takes ([`Downstream`], [`Formats`], [`Memory`]), the one
//!   classification (GL only, system only, both, neither, CUDA only);
//! - `plan.rs`: [`PathRequest`] (mode, input memory, downstream, the consumer's CUDA device, the
//!   interop verdict, the GStreamer version) → [`MemoryPath`] (system memory, GL, room for CUDA
//!   memory; the moves around the pass, copies per frame, why);
//! - `step.rs`: the typed [`Step`]s chains are made of, and what each costs per frame.
//!
//! `stromautoconvert(scale)` (`autoconvert/plan.rs` adds its converters to the path),
//! `stromcompositor` (`compositor/plan.rs` adds the cost of the mix) and `strom-doctor` ask it;
//! `stromautoenc` reads the answer of its inner `stromautoconvert`. The interop test itself runs
//! on the consumer's CUDA device ([`crate::chainbin::consumer::probe_interop`]);
//! `crate::gpu::interop` makes the report this module reads as an [`InteropVerdict`].

mod downstream;
mod plan;
mod step;

pub use downstream::{Downstream, Formats, Memory};
pub(crate) use plan::{MemoryPath, Mode, Path, PathError, PathRequest, plan};
pub use step::Step;
pub(crate) use step::{copies_per_frame, describe};

use crate::gpu::interop::InteropReport;

/// The interop test's answer, as far as a decision needs it.
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
