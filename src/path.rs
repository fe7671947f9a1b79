// SPDX-License-Identifier: MPL-2.0
//! What the deciding bins' plans share about memory paths, as plain data: the interop verdict
//! the plans of `stromautoconvert(scale)` and `stromcompositor` (and `strom-doctor`, which runs
//! them) read. The interop test itself runs on the consumer's CUDA device
//! ([`crate::chainbin::consumer::probe_interop`]); `crate::gpu::interop` makes the report.
//!
//! The rest of the planner (one downstream-memory classification, one path type with the copies
//! per frame it costs) is not shared yet: each element's `plan.rs` still has its own.

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
