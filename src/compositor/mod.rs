// SPDX-License-Identifier: MPL-2.0
//! `stromcompositor`: a bin with `compositor`'s request pads that mixes on the GPU
//! (`glvideomixer`) when GL renders on a GPU and that pays off, and on the CPU (`compositor`)
//! otherwise; it says which and why in the element message `strom-compositor`.
//!
//! `plan.rs` is the decision as plain data (the consumer's memory from the planner, `crate::path`,
//! plus the GL renderer and the cost of the mix); `imp.rs` the bin (settings, state changes, the
//! decision's inputs and message); `mixer.rs` builds the chosen mixer and connects the bin's pads
//! to it; `pad.rs` is the request pad, whose properties go to the real mixer's pad.

use gst::glib;
use gst::prelude::*;

mod caps;
mod imp;
mod mixer;
mod pad;
pub(crate) mod plan;
mod settings;

/// The bin's debug category (`GST_DEBUG=stromcompositor:5`), for `imp.rs` and the modules beside
/// it that log.
pub(crate) static CAT: std::sync::LazyLock<gst::DebugCategory> = std::sync::LazyLock::new(|| {
    gst::DebugCategory::new(
        "stromcompositor",
        gst::DebugColorFlags::empty(),
        Some("Strom GPU/CPU video compositor"),
    )
});

/// Name of the element message posted when the mixer is chosen.
pub(crate) const MESSAGE_NAME: &str = "strom-compositor";

/// Which mixer the bin may build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstStromCompositorMode")]
pub enum Mode {
    /// glvideomixer when GL renders on a GPU and downstream takes GL memory or the mix costs
    /// the CPU more; else compositor.
    #[default]
    #[enum_value(
        name = "Auto: glvideomixer when GL renders on a GPU and it pays off, else compositor",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "GL: always glvideomixer", nick = "gl")]
    Gl = 1,
    #[enum_value(name = "Software: always compositor", nick = "software")]
    Software = 2,
}

/// The background behind the inputs: the values and nicks of `compositor`'s (and
/// `glvideomixer`'s) `background`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstStromCompositorBackground")]
pub enum Background {
    #[default]
    #[enum_value(name = "Checker pattern", nick = "checker")]
    Checker = 0,
    #[enum_value(name = "Black", nick = "black")]
    Black = 1,
    #[enum_value(name = "White", nick = "white")]
    White = 2,
    #[enum_value(
        name = "Transparent Background to enable further compositing",
        nick = "transparent"
    )]
    Transparent = 3,
}

impl Background {
    pub(crate) fn nick(self) -> &'static str {
        match self {
            Background::Checker => "checker",
            Background::Black => "black",
            Background::White => "white",
            Background::Transparent => "transparent",
        }
    }
}

glib::wrapper! {
    pub struct Compositor(ObjectSubclass<imp::Compositor>) @extends gst::Bin, gst::Element, gst::Object, @implements gst::ChildProxy;
}

glib::wrapper! {
    /// A `sink_%u` pad of `stromcompositor`: a ghost pad whose placement properties go to the
    /// pad of the real mixer.
    pub struct CompositorPad(ObjectSubclass<pad::CompositorPad>) @extends gst::GhostPad, gst::ProxyPad, gst::Pad, gst::Object;
}

pub(crate) fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "stromcompositor",
        gst::Rank::NONE,
        Compositor::static_type(),
    )
}
