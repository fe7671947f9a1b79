// SPDX-License-Identifier: MPL-2.0
//! The `sink_%u` request pad: a ghost pad that keeps the placement properties both mixers share
//! (`xpos`, `ypos`, `width`, `height`, `alpha`, `zorder`, and `repeat-after-eos`) and sends them
//! to the real mixer's pad whenever one exists, so they can be set before the mixer is chosen
//! and while it plays.

use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::CAT;
use super::plan::MixPath;
use crate::chainbin::ChainSlot;
use crate::formats::GL_MEMORY;
use crate::framecheck::DropCount;
use crate::sync::lock;

/// What the pad's properties say, with `compositor`'s defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PadSettings {
    pub xpos: i32,
    pub ypos: i32,
    pub width: i32,
    pub height: i32,
    pub alpha: f64,
    pub zorder: u32,
    pub repeat_after_eos: bool,
}

impl Default for PadSettings {
    fn default() -> Self {
        PadSettings {
            xpos: 0,
            ypos: 0,
            width: -1,
            height: -1,
            alpha: 1.0,
            zorder: 0,
            repeat_after_eos: false,
        }
    }
}

impl PadSettings {
    /// Every setting as the mixer pad's property name and value.
    fn values(&self) -> [(&'static str, glib::Value); 7] {
        [
            ("xpos", self.xpos.to_value()),
            ("ypos", self.ypos.to_value()),
            ("width", self.width.to_value()),
            ("height", self.height.to_value()),
            ("alpha", self.alpha.to_value()),
            ("zorder", self.zorder.to_value()),
            ("repeat-after-eos", self.repeat_after_eos.to_value()),
        ]
    }

    /// An explicit size: the input is scaled (unless it happens to have that size).
    pub(super) fn scaled(&self) -> bool {
        self.width > 0 || self.height > 0
    }

    /// Translucent: the input is blended, not copied.
    pub(super) fn blended(&self) -> bool {
        self.alpha < 1.0
    }
}

/// What sits between this pad and the mixer's pad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Adapter {
    /// The ghost pad targets the mixer's pad.
    Direct,
    /// `gldownload` first: GL memory into `compositor`.
    Download,
}

/// How the pad reaches the real mixer, while one exists.
pub(super) struct Link {
    pub path: MixPath,
    /// Where the placement properties go: `compositor`'s pad, or `glvideomixer`'s (which
    /// uploads system memory itself).
    pub mixer_pad: gst::Pad,
    pub adapter: ChainSlot<Adapter>,
}

#[derive(Default)]
pub struct CompositorPad {
    settings: Mutex<PadSettings>,
    link: Mutex<Option<Arc<Link>>>,
    /// The input's system-memory caps, which each buffer is checked against (None for GL
    /// memory, whose frames are textures).
    input_info: Mutex<Option<gst_video::VideoInfo>>,
    /// Buffers dropped on this input because they do not hold the frame they claim.
    pub(super) malformed: DropCount,
}

impl CompositorPad {
    pub(super) fn settings(&self) -> PadSettings {
        *lock(&self.settings)
    }

    pub(super) fn set_zorder(&self, zorder: u32) {
        lock(&self.settings).zorder = zorder;
    }

    pub(super) fn input_info(&self) -> Option<gst_video::VideoInfo> {
        lock(&self.input_info).clone()
    }

    /// New caps on this input: a new frame to check buffers against.
    pub(super) fn set_input_caps(&self, caps: &gst::CapsRef) {
        let system_memory = caps.features(0).is_none_or(|f| !f.contains(GL_MEMORY));
        *lock(&self.input_info) = system_memory
            .then(|| gst_video::VideoInfo::from_caps(caps).ok())
            .flatten();
    }

    pub(super) fn link(&self) -> Option<Arc<Link>> {
        lock(&self.link).clone()
    }

    /// Replaces the link; returns the old one.
    pub(super) fn set_link(&self, link: Option<Arc<Link>>) -> Option<Arc<Link>> {
        std::mem::replace(&mut *lock(&self.link), link)
    }

    /// Sends every setting to `mixer_pad`.
    pub(super) fn apply_all(&self, mixer_pad: &gst::Pad) {
        for (name, value) in self.settings().values() {
            self.apply(mixer_pad, name, value);
        }
    }

    /// Sets one property on the mixer's pad, brought into the range that pad takes: the mixers
    /// differ (`glvideomixer` takes `zorder` up to 10000, `compositor` any `guint`), and a value
    /// out of range must neither panic nor be clamped silently.
    fn apply(&self, mixer_pad: &gst::Pad, name: &str, value: glib::Value) {
        let Some(pspec) = mixer_pad.find_property(name) else {
            gst::debug!(
                CAT,
                imp = self,
                "{} has no property {name}",
                mixer_pad.name()
            );
            return;
        };
        let value = match clamped(&pspec, &value) {
            Some(clamped) => {
                let mixer = mixer_pad
                    .parent_element()
                    .and_then(|e| e.factory())
                    .map_or_else(|| "the mixer".to_owned(), |f| f.name().to_string());
                self.warn(&format!(
                    "{name}={value:?} is out of the range {mixer} takes; using {clamped:?}"
                ));
                clamped
            }
            None => value,
        };
        mixer_pad.set_property_from_value(name, &value);
    }

    fn warn(&self, message: &str) {
        gst::warning!(CAT, imp = self, "{message}");
        if let Some(element) = self.obj().parent_element() {
            gst::element_warning!(element, gst::CoreError::Negotiation, ("{}", message));
        }
    }
}

/// `value` brought into `pspec`'s range, when it lies outside.
fn clamped(pspec: &glib::ParamSpec, value: &glib::Value) -> Option<glib::Value> {
    if let (Some(p), Ok(v)) = (
        pspec.downcast_ref::<glib::ParamSpecUInt>(),
        value.get::<u32>(),
    ) {
        let c = v.clamp(p.minimum(), p.maximum());
        return (c != v).then(|| c.to_value());
    }
    if let (Some(p), Ok(v)) = (
        pspec.downcast_ref::<glib::ParamSpecInt>(),
        value.get::<i32>(),
    ) {
        let c = v.clamp(p.minimum(), p.maximum());
        return (c != v).then(|| c.to_value());
    }
    if let (Some(p), Ok(v)) = (
        pspec.downcast_ref::<glib::ParamSpecDouble>(),
        value.get::<f64>(),
    ) {
        let c = v.clamp(p.minimum(), p.maximum());
        return (c != v).then(|| c.to_value());
    }
    None
}

#[glib::object_subclass]
impl ObjectSubclass for CompositorPad {
    const NAME: &'static str = "GstStromCompositorPad";
    type Type = super::CompositorPad;
    type ParentType = gst::GhostPad;
}

impl ObjectImpl for CompositorPad {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let defaults = PadSettings::default();
            vec![
                glib::ParamSpecInt::builder("xpos")
                    .nick("X Position")
                    .blurb("X position of the picture's left edge in the output, in pixels")
                    .default_value(defaults.xpos)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("ypos")
                    .nick("Y Position")
                    .blurb("Y position of the picture's top edge in the output, in pixels")
                    .default_value(defaults.ypos)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("width")
                    .nick("Width")
                    .blurb("Width the picture is scaled to; -1 or 0: the input's own width")
                    .default_value(defaults.width)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecInt::builder("height")
                    .nick("Height")
                    .blurb("Height the picture is scaled to; -1 or 0: the input's own height")
                    .default_value(defaults.height)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("alpha")
                    .nick("Alpha")
                    .blurb("Opacity of the picture: 0 transparent, 1 opaque")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(defaults.alpha)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("zorder")
                    .nick("Z-Order")
                    .blurb(
                        "Stacking order: higher is drawn on top. As on compositor, a new pad \
                         gets the number of sink pads counting itself; glvideomixer takes at \
                         most 10000 (larger values are clamped with a warning)",
                    )
                    .default_value(defaults.zorder)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("repeat-after-eos")
                    .nick("Repeat after EOS")
                    .blurb("Keep mixing the last frame of this input after its EOS, until all inputs end")
                    .default_value(defaults.repeat_after_eos)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        {
            let mut s = lock(&self.settings);
            match pspec.name() {
                "xpos" => s.xpos = value.get().expect("type checked upstream"),
                "ypos" => s.ypos = value.get().expect("type checked upstream"),
                "width" => s.width = value.get().expect("type checked upstream"),
                "height" => s.height = value.get().expect("type checked upstream"),
                "alpha" => s.alpha = value.get().expect("type checked upstream"),
                "zorder" => s.zorder = value.get().expect("type checked upstream"),
                "repeat-after-eos" => {
                    s.repeat_after_eos = value.get().expect("type checked upstream")
                }
                _ => unimplemented!(),
            }
        }
        // Forwarded now when a mixer exists; otherwise when it is built.
        if let Some(link) = self.link() {
            self.apply(&link.mixer_pad, pspec.name(), value.clone());
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings();
        match pspec.name() {
            "xpos" => s.xpos.to_value(),
            "ypos" => s.ypos.to_value(),
            "width" => s.width.to_value(),
            "height" => s.height.to_value(),
            "alpha" => s.alpha.to_value(),
            "zorder" => s.zorder.to_value(),
            "repeat-after-eos" => s.repeat_after_eos.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for CompositorPad {}
impl PadImpl for CompositorPad {}
impl ProxyPadImpl for CompositorPad {}
impl GhostPadImpl for CompositorPad {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_a_mixer_pads_range_are_clamped() {
        gst::init().unwrap();
        let zorder = glib::ParamSpecUInt::builder("zorder")
            .maximum(10000)
            .build();
        assert_eq!(
            clamped(&zorder, &20000u32.to_value()).and_then(|v| v.get::<u32>().ok()),
            Some(10000)
        );
        assert!(clamped(&zorder, &10000u32.to_value()).is_none());
        let alpha = glib::ParamSpecDouble::builder("alpha")
            .minimum(0.0)
            .maximum(1.0)
            .build();
        assert!(clamped(&alpha, &0.5f64.to_value()).is_none());
    }

    #[test]
    fn defaults_are_compositors_and_cost_hints_follow_the_settings() {
        let s = PadSettings::default();
        assert_eq!((s.width, s.height, s.alpha, s.zorder), (-1, -1, 1.0, 0));
        assert!(!s.scaled() && !s.blended());
        let s = PadSettings {
            width: 960,
            alpha: 0.5,
            ..s
        };
        assert!(s.scaled() && s.blended());
    }
}
