// SPDX-License-Identifier: MPL-2.0
//! `stromgpumonitor`: a pass-through element that, while PLAYING, samples NVML on a clock
//! (whether or not data flows) and posts one `strom-gpu-stats` element message per GPU per
//! interval. Without NVML it says so once and lets data through untouched.

use gst::glib;
use gst::prelude::*;

mod imp;
pub(crate) mod stats;

glib::wrapper! {
    pub struct GpuMonitor(ObjectSubclass<imp::GpuMonitor>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub(crate) fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "stromgpumonitor",
        gst::Rank::NONE,
        GpuMonitor::static_type(),
    )
}
