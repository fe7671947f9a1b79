// SPDX-License-Identifier: MPL-2.0
//! The internal fast converters: conversions that a deciding bin links instead of `videoconvert`
//! where their output is proven equal to `videoconvert`'s (tested at odd sizes and strides) and
//! they cost a fraction of its CPU. Today: I420 ↔ NV12 as plane copies (`planes.rs`); GStreamer
//! 1.22's `videoconvert` has no fast path for that pair.
//!
//! The element is not registered as a plugin feature: bins create it with [`make`] when
//! [`direct_targets`] says the input can reach a format downstream takes, and use `videoconvert`
//! for everything else.

use gst::glib;

mod imp;
mod planes;

/// The name chains and messages give the element.
pub(crate) const ELEMENT_NAME: &str = "stromfastconvert";

glib::wrapper! {
    pub struct FastConvert(ObjectSubclass<imp::FastConvert>) @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// A new converter, ready to be added to a bin.
pub(crate) fn make() -> gst::Element {
    use gst::prelude::*;
    glib::Object::new::<FastConvert>().upcast()
}

/// How a direct conversion treats the picture's colour description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Same samples in another layout: only right when colorimetry, chroma siting, interlacing
    /// and size are equal on both sides, so these fields pass through unchanged.
    Layout,
}

/// The formats the converter makes directly from `input`, and how.
pub(crate) fn direct_targets(input: &str) -> &'static [(&'static str, Kind)] {
    match input {
        "I420" => &[("NV12", Kind::Layout)],
        "NV12" => &[("I420", Kind::Layout)],
        _ => &[],
    }
}

/// The formats the converter takes in.
fn inputs() -> &'static [&'static str] {
    &["I420", "NV12"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_is_also_an_input_the_other_way() {
        for input in inputs() {
            for (target, kind) in direct_targets(input) {
                assert_eq!(*kind, Kind::Layout);
                assert!(direct_targets(target).iter().any(|(back, _)| back == input));
            }
        }
        assert!(direct_targets("RGBA").is_empty());
    }
}
