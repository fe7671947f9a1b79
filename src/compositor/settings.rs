// SPDX-License-Identifier: MPL-2.0
//! What the element's properties set (`Default` gives the documented defaults): read by `imp.rs`
//! and by `mixer.rs`, which makes the mixer with them.

use super::{Background, Mode};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub mode: Mode,
    pub background: Background,
    pub latency: u64,
    pub min_upstream_latency: u64,
    pub start_time_selection: gst_base::AggregatorStartTimeSelection,
    pub start_time: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Auto,
            background: Background::Checker,
            latency: 0,
            min_upstream_latency: 0,
            start_time_selection: gst_base::AggregatorStartTimeSelection::Zero,
            start_time: u64::MAX,
        }
    }
}
