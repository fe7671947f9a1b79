// SPDX-License-Identifier: MPL-2.0
//! `stromautoconvert`: a bin that converts raw video through GL (zero-copy towards NVENC) when
//! CUDA-GL interop works, and through a multi-threaded `videoconvert` otherwise.
//!
//! `imp.rs` is the only file that touches the element's state; the modules beside it take plain
//! inputs and return plain values, and none of them imports `imp.rs`. A caps event goes
//! `imp.rs` (sink pad: gathers the [`plan::Request`], reading caps through `caps.rs`) →
//! `plan.rs` (decides: the memory path from `crate::path`, its converters as one step list, a
//! `plan::Chain`) → `chain.rs` (specifies an element per step) → `crate::chainbin` (builds the
//! chain and retargets the ghost pads); `recovery.rs` decides what a GL failure leads to and
//! `report.rs` builds what the bin says.

use gst::glib;
use gst::prelude::*;

mod caps;
mod chain;
pub(crate) mod fixate;
mod imp;
// A test hook (cargo feature `testing`): public for the property-based test that checks every
// rule against real negotiation; crate-private otherwise (the doctor reads it).
#[cfg(feature = "testing")]
pub mod plan;
#[cfg(not(feature = "testing"))]
#[allow(unreachable_pub)]
pub(crate) mod plan;
mod recovery;
mod report;
mod scale;
mod stock;

/// The format the bin's fast converter makes from the fixed `input` caps for a consumer
/// answering `downstream`, or `None` where the software path is `videoconvert`. A test hook
/// (cargo feature `testing`) for the property-based test that checks every rule against real
/// negotiation.
#[cfg(feature = "testing")]
pub fn direct_target(input: &gst::CapsRef, downstream: &gst::CapsRef) -> Option<String> {
    caps::direct_target(input, downstream)
}

/// The bin's debug category (`GST_DEBUG=stromautoconvert:5`), for `imp.rs` and the modules
/// beside it that log.
pub(crate) static CAT: std::sync::LazyLock<gst::DebugCategory> = std::sync::LazyLock::new(|| {
    gst::DebugCategory::new(
        "stromautoconvert",
        gst::DebugColorFlags::empty(),
        Some("Strom automatic video converter"),
    )
});

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

glib::wrapper! {
    /// `stromautoconvertscale`: the same bin, whose chains scale as well as convert.
    pub struct AutoConvertScale(ObjectSubclass<scale::AutoConvertScale>) @extends AutoConvert, gst::Bin, gst::Element, gst::Object, @implements gst::ChildProxy;
}

/// Subclasses of [`AutoConvert`]: today only [`AutoConvertScale`], which changes nothing but
/// its metadata; the bin asks its own type whether its chains scale.
pub trait AutoConvertImpl: gst::subclass::prelude::BinImpl
where
    <Self as glib::subclass::types::ObjectSubclass>::Type: IsA<AutoConvert>,
{
}

unsafe impl<T: AutoConvertImpl> glib::subclass::types::IsSubclassable<T> for AutoConvert where
    <T as glib::subclass::types::ObjectSubclass>::Type: IsA<AutoConvert>
{
}

pub(crate) fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "stromautoconvert",
        gst::Rank::NONE,
        AutoConvert::static_type(),
    )?;
    gst::Element::register(
        Some(plugin),
        "stromautoconvertscale",
        gst::Rank::NONE,
        AutoConvertScale::static_type(),
    )
}
