// SPDX-License-Identifier: MPL-2.0
//! `stromautoconvert`: a bin that converts raw video through GL (zero-copy towards NVENC) when
//! CUDA-GL interop works, and through a multi-threaded `videoconvert` otherwise.
//!
//! A caps event goes `imp.rs` (sink pad) → `chain.rs` (gathers the [`plan::Request`], reading
//! caps through `caps.rs`, and asks `plan.rs`) → `crate::chainbin` (builds the chain and
//! retargets the ghost pads); `recovery.rs` and `report.rs` hold the rest.

use gst::glib;
use gst::prelude::*;

mod caps;
mod chain;
mod imp;
// Public for the property-based test that checks every rule against real negotiation.
pub mod plan;
mod recovery;
mod report;

/// Name of the element message posted when a path is chosen.
pub(crate) const MESSAGE_NAME: &str = "strom-autoconvert";

/// Which conversion chain the bin may build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstStromAutoConvertMode")]
pub enum Mode {
    /// Decide from what downstream accepts and whether CUDA-GL interop works.
    #[default]
    #[enum_value(
        name = "Auto: GL when downstream takes GL memory and interop works, else software",
        nick = "auto"
    )]
    Auto = 0,
    /// Always `glupload ! glcolorconvert` (plus `gldownload` for system-memory consumers).
    #[enum_value(name = "GL: glupload ! glcolorconvert", nick = "gl")]
    Gl = 1,
    /// Always a multi-threaded `videoconvert`, output in system memory.
    #[enum_value(name = "Software: multi-threaded videoconvert", nick = "software")]
    Software = 2,
}

glib::wrapper! {
    pub struct AutoConvert(ObjectSubclass<imp::AutoConvert>) @extends gst::Bin, gst::Element, gst::Object, @implements gst::ChildProxy;
}

pub(crate) fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "stromautoconvert",
        gst::Rank::NONE,
        AutoConvert::static_type(),
    )
}
