// SPDX-License-Identifier: MPL-2.0
//! The stock converters' properties on the deciding bins: every property of `videoconvert` on
//! `stromautoconvert` and of `videoconvertscale` on `stromautoconvertscale` (GStreamer 1.22 has
//! the same set on both; `converter-config` from 1.24, added when the running GStreamer has
//! it), with the same names, types, ranges and defaults. The values go to the inner
//! `videoconvert(scale)`; a value other than the default of one that changes the picture is
//! honoured by that element only, so it keeps the software path (and off the internal fast
//! converter, which makes videoconvert's default picture), and [`software_reason`] says which.

use gst::glib;
use gst::prelude::*;
use gst_video::{
    VideoAlphaMode, VideoChromaMode, VideoDitherMethod, VideoGammaMode, VideoMatrixMode,
    VideoPrimariesMode, VideoResamplerMethod,
};

/// videoconvertscale's `method`. Its own enum type (`GstVideoScaleMethod`) is registered by the
/// videoconvertscale plugin, which cannot be loaded while this plugin registers; this one has
/// the same values and nicks, so `method=lanczos` and `method=3` mean the same on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(i32)]
#[enum_type(name = "GstStromVideoScaleMethod")]
pub enum ScaleMethod {
    #[enum_value(name = "Nearest Neighbour", nick = "nearest-neighbour")]
    NearestNeighbour = 0,
    #[default]
    #[enum_value(name = "Bilinear (2-tap)", nick = "bilinear")]
    Bilinear = 1,
    #[enum_value(name = "4-tap Sinc", nick = "4-tap")]
    FourTap = 2,
    #[enum_value(name = "Lanczos", nick = "lanczos")]
    Lanczos = 3,
    #[enum_value(name = "Bilinear (multi-tap)", nick = "bilinear2")]
    Bilinear2 = 4,
    #[enum_value(name = "Sinc (multi-tap)", nick = "sinc")]
    Sinc = 5,
    #[enum_value(name = "Hermite (multi-tap)", nick = "hermite")]
    Hermite = 6,
    #[enum_value(name = "Spline (multi-tap)", nick = "spline")]
    Spline = 7,
    #[enum_value(name = "Catmull-Rom (multi-tap)", nick = "catrom")]
    Catrom = 8,
    #[enum_value(name = "Mitchell (multi-tap)", nick = "mitchell")]
    Mitchell = 9,
}

/// What a stock property is to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Changes the picture of any conversion: off its default, videoconvert(scale) only.
    Picture,
    /// Changes the picture only when the chain scales (`stromautoconvertscale`).
    Scaling,
    /// Changes no picture (`qos`).
    None,
}

/// Suffix of every blurb: how the bin applies these properties.
const APPLIED: &str = " (passed to the inner videoconvert/videoconvertscale; a value other than \
                       the default keeps the software path, which alone honours it)";

fn blurb(stock: &str) -> String {
    format!("{stock}{APPLIED}")
}

/// The stock properties, as the running GStreamer's videoconvertscale has them (`n-threads`,
/// which the bin has with its own automatic default, aside).
pub(super) fn pspecs() -> Vec<glib::ParamSpec> {
    let mut specs = vec![
        glib::ParamSpecEnum::builder_with_default("method", ScaleMethod::Bilinear)
            .nick("method")
            .blurb(&blurb("Scaling method"))
            .build(),
        glib::ParamSpecBoolean::builder("add-borders")
            .nick("Add Borders")
            .blurb(&blurb(
                "Add black borders if necessary to keep the display aspect ratio",
            ))
            .default_value(true)
            .build(),
        glib::ParamSpecDouble::builder("sharpness")
            .nick("Sharpness")
            .blurb(&blurb("Sharpness of filter"))
            .minimum(0.5)
            .maximum(1.5)
            .default_value(1.0)
            .build(),
        glib::ParamSpecDouble::builder("sharpen")
            .nick("Sharpen")
            .blurb(&blurb("Sharpening"))
            .minimum(0.0)
            .maximum(1.0)
            .default_value(0.0)
            .build(),
        glib::ParamSpecEnum::builder_with_default("dither", VideoDitherMethod::Bayer)
            .nick("Dither")
            .blurb(&blurb("Apply dithering while converting"))
            .build(),
        glib::ParamSpecDouble::builder("envelope")
            .nick("Envelope")
            .blurb(&blurb("Size of filter envelope"))
            .minimum(1.0)
            .maximum(5.0)
            .default_value(2.0)
            .build(),
        glib::ParamSpecUInt::builder("dither-quantization")
            .nick("Dither Quantize")
            .blurb(&blurb("Quantizer to use"))
            .default_value(1)
            .build(),
        glib::ParamSpecEnum::builder_with_default("chroma-resampler", VideoResamplerMethod::Linear)
            .nick("Chroma resampler")
            .blurb(&blurb("Chroma resampler method"))
            .build(),
        glib::ParamSpecEnum::builder_with_default("alpha-mode", VideoAlphaMode::Copy)
            .nick("Alpha Mode")
            .blurb(&blurb("Alpha Mode to use"))
            .build(),
        glib::ParamSpecDouble::builder("alpha-value")
            .nick("Alpha Value")
            .blurb(&blurb("Alpha Value to use"))
            .minimum(0.0)
            .maximum(1.0)
            .default_value(1.0)
            .build(),
        glib::ParamSpecEnum::builder_with_default("chroma-mode", VideoChromaMode::Full)
            .nick("Chroma Mode")
            .blurb(&blurb("Chroma Resampling Mode"))
            .build(),
        glib::ParamSpecEnum::builder_with_default("matrix-mode", VideoMatrixMode::Full)
            .nick("Matrix Mode")
            .blurb(&blurb("Matrix Conversion Mode"))
            .build(),
        glib::ParamSpecEnum::builder_with_default("gamma-mode", VideoGammaMode::None)
            .nick("Gamma Mode")
            .blurb(&blurb("Gamma Conversion Mode"))
            .build(),
        glib::ParamSpecEnum::builder_with_default("primaries-mode", VideoPrimariesMode::None)
            .nick("Primaries Mode")
            .blurb(&blurb("Primaries Conversion Mode"))
            .build(),
        glib::ParamSpecBoolean::builder("qos")
            .nick("QoS")
            .blurb(
                "Handle Quality-of-Service events (passed to the inner converter, as on \
                 videoconvert)",
            )
            .default_value(true)
            .build(),
    ];
    // GStreamer 1.24 added converter-config to videoconvertscale (and so videoconvert).
    if has_converter_config() {
        specs.push(
            glib::ParamSpecBoxed::builder::<gst::Structure>("converter-config")
                .nick("Converter configuration")
                .blurb(&blurb(
                    "A GstStructure describing the configuration that should be used. This \
                     configuration, if set, takes precedence over the other similar conversion \
                     properties",
                ))
                .build(),
        );
    }
    specs
}

/// Whether the running GStreamer's videoconvert has `converter-config` (1.24 and later).
fn has_converter_config() -> bool {
    let (major, minor, _, _) = gst::version();
    (major, minor) >= (1, 24)
}

fn effect_of(name: &str) -> Effect {
    match name {
        "method" | "add-borders" | "sharpness" | "sharpen" | "envelope" => Effect::Scaling,
        "qos" => Effect::None,
        _ => Effect::Picture,
    }
}

/// The stock properties' current values, defaults first.
pub(super) struct StockValues {
    values: Vec<(glib::ParamSpec, Stored)>,
}

impl StockValues {
    pub(super) fn new(pspecs: &[glib::ParamSpec]) -> StockValues {
        let values = pspecs
            .iter()
            .filter(|p| is_stock(p.name()))
            .map(|p| (p.clone(), send_value(p.default_value())))
            .collect();
        StockValues { values }
    }

    pub(super) fn get(&self, name: &str) -> Option<glib::Value> {
        self.values
            .iter()
            .find(|(p, _)| p.name() == name)
            .map(|(_, v)| (**v).clone())
    }

    pub(super) fn set(&mut self, name: &str, value: &glib::Value) {
        if let Some((_, v)) = self.values.iter_mut().find(|(p, _)| p.name() == name) {
            *v = send_value(value);
        }
    }

    /// The values other than the defaults, to set on a new videoconvert(scale).
    pub(super) fn changed(&self) -> Vec<(&'static str, glib::Value)> {
        self.values
            .iter()
            .filter(|(p, v)| !is_default(p, v))
            .map(|(p, v)| (p.name(), (**v).clone()))
            .collect()
    }

    /// Why only videoconvert(scale) can make the picture these values ask for (`None`: any
    /// path can): the first picture-changing property off its default, e.g.
    /// `dither=none is honoured by videoconvert only`.
    pub(super) fn software_reason(&self, scale: bool) -> Option<String> {
        let element = if scale {
            "videoconvertscale"
        } else {
            "videoconvert"
        };
        self.values
            .iter()
            .filter(|(p, _)| match effect_of(p.name()) {
                Effect::Picture => true,
                Effect::Scaling => scale,
                Effect::None => false,
            })
            .find(|(p, v)| !is_default(p, v))
            .map(|(p, v)| format!("{}={} is honoured by {element} only", p.name(), describe(v)))
    }
}

/// Whether `name` is one of the stock properties this module keeps.
pub(super) fn is_stock(name: &str) -> bool {
    !matches!(
        name,
        "mode" | "n-threads" | "cuda-check-interval" | "active-path" | "interop-status"
    ) && !matches!(
        name,
        "name" | "parent" | "async-handling" | "message-forward"
    )
}

/// A property value kept by the bin.
struct Stored(glib::Value);

// SAFETY: every value here is a plain value (enum, number, boolean) or a GstStructure, which
// are not tied to a thread; the bin reads and writes them under its lock only.
unsafe impl Send for Stored {}

impl std::ops::Deref for Stored {
    type Target = glib::Value;
    fn deref(&self) -> &glib::Value {
        &self.0
    }
}

fn send_value(value: &glib::Value) -> Stored {
    Stored(value.clone())
}

fn is_default(pspec: &glib::ParamSpec, value: &glib::Value) -> bool {
    if value.type_() == gst::Structure::static_type() {
        return value
            .get::<Option<gst::Structure>>()
            .ok()
            .flatten()
            .is_none();
    }
    describe(value) == describe(pspec.default_value())
}

/// The value as gst-launch-1.0 would write it (enums by nick).
fn describe(value: &glib::Value) -> String {
    if let Some(e) = glib::EnumValue::from_value(value) {
        return e.1.nick().to_owned();
    }
    value
        .serialize()
        .map_or_else(|_| format!("{value:?}"), |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> StockValues {
        gst::init().unwrap();
        StockValues::new(&pspecs())
    }

    #[test]
    fn the_specs_match_the_installed_videoconvertscale() {
        gst::init().unwrap();
        let Some(factory) = gst::ElementFactory::find("videoconvertscale") else {
            eprintln!("SKIP: videoconvertscale is not installed");
            return;
        };
        let stock = factory.create().build().unwrap();
        for ours in pspecs() {
            let theirs = stock
                .find_property(ours.name())
                .unwrap_or_else(|| panic!("videoconvertscale has no {}", ours.name()));
            // What a new instance has (videoconvertscale turns qos on over its pspec's
            // default), as gst-inspect-1.0 shows it.
            let stock_default = if theirs.value_type() == gst::Structure::static_type() {
                theirs.default_value().clone()
            } else {
                stock.property_value(ours.name())
            };
            assert_eq!(
                describe(ours.default_value()),
                describe(&stock_default),
                "{}",
                ours.name()
            );
            if ours.name() != "method" {
                assert_eq!(ours.value_type(), theirs.value_type(), "{}", ours.name());
            }
        }
        // And nothing of theirs is missing (n-threads the bin has already).
        for theirs in stock.list_properties() {
            let name = theirs.name();
            if matches!(name, "name" | "parent" | "n-threads") {
                continue;
            }
            assert!(
                pspecs().iter().any(|p| p.name() == name),
                "stock property {name} is missing"
            );
        }
    }

    #[test]
    fn defaults_decide_nothing_and_a_changed_value_keeps_software() {
        let mut v = values();
        assert_eq!(v.software_reason(false), None);
        assert!(v.changed().is_empty());
        v.set("qos", &false.to_value());
        assert_eq!(v.software_reason(true), None);
        v.set("method", &ScaleMethod::Lanczos.to_value());
        // Only a scaling bin scales.
        assert_eq!(v.software_reason(false), None);
        assert_eq!(
            v.software_reason(true).as_deref(),
            Some("method=lanczos is honoured by videoconvertscale only")
        );
        v.set("dither", &VideoDitherMethod::None.to_value());
        assert_eq!(
            v.software_reason(false).as_deref(),
            Some("dither=none is honoured by videoconvert only")
        );
        let names: Vec<_> = v.changed().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["method", "dither", "qos"]);
    }
}
