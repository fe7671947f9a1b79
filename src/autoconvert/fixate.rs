// SPDX-License-Identifier: MPL-2.0
//! The output size and pixel-aspect-ratio of a scaling chain, as `videoconvertscale` would
//! choose them.
//!
//! `glcolorscale` fixates sizes by rules of its own (it keeps the pixel-aspect-ratio where
//! videoconvertscale keeps the display aspect ratio through it, e.g. 320x240 into 640x320 gives
//! PAR 1/1 instead of 2/3), so the GL path would negotiate other caps than the software path for
//! the same pipeline. Rather than copy videoconvertscale's fixation, the bin asks a
//! videoconvertscale instance for it, through the same two class functions `GstBaseTransform`
//! calls when it negotiates, and pins the GL chain's output to that size.

use gst::glib;
use gst::glib::translate::{IntoGlibPtr, ToGlibPtr};
use gst::prelude::*;

/// What the scaled output will be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OutputSize {
    pub(super) width: i32,
    pub(super) height: i32,
    pub(super) par: gst::Fraction,
}

/// The size videoconvertscale fixates for the fixed `input` caps towards `downstream` (what
/// the peer answered), or None when it cannot tell (no videoconvertscale, no common caps).
pub(super) fn like_videoconvertscale(
    input: &gst::Caps,
    downstream: &gst::Caps,
) -> Option<OutputSize> {
    let scaler = gst::ElementFactory::make("videoconvertscale")
        .build()
        .ok()?;
    // The size decision does not depend on memory: ask it in system memory, which is what
    // videoconvertscale negotiates.
    let input = in_system_memory(input);
    let downstream = in_system_memory(downstream);
    let fixed = fixate(&scaler, &input, &downstream)?;
    let s = fixed.structure(0)?;
    Some(OutputSize {
        width: s.get("width").ok()?,
        height: s.get("height").ok()?,
        par: s
            .get("pixel-aspect-ratio")
            .unwrap_or_else(|_| gst::Fraction::new(1, 1)),
    })
}

/// The whole output caps (size, format, colorimetry) videoconvertscale fixates for the fixed
/// `input` towards `downstream`, in system memory: what the internal fast scaler must produce
/// to change nothing downstream (`crate::convert::scaling`).
pub(crate) fn videoconvertscale_output(
    input: &gst::Caps,
    downstream: &gst::Caps,
) -> Option<gst::Caps> {
    let scaler = gst::ElementFactory::make("videoconvertscale")
        .build()
        .ok()?;
    fixate(
        &scaler,
        &in_system_memory(input),
        &in_system_memory(downstream),
    )
}

/// `caps` with every structure's features set to plain system memory (raw video only).
fn in_system_memory(caps: &gst::Caps) -> gst::Caps {
    if caps.is_any() {
        return caps.clone();
    }
    let mut out = gst::Caps::new_empty();
    for s in caps.iter().filter(|s| s.name() == "video/x-raw") {
        out.merge_structure_full(s.to_owned(), Some(gst::CapsFeatures::new_empty()));
    }
    out
}

/// transform_caps, intersect with the peer's caps, fixate_caps: what
/// `gst_base_transform_find_transform` does when caps arrive on the sink pad.
fn fixate(scaler: &gst::Element, input: &gst::Caps, downstream: &gst::Caps) -> Option<gst::Caps> {
    let trans = scaler.as_ptr() as *mut gst_base::ffi::GstBaseTransform;
    // SAFETY: `scaler` is a live videoconvertscale, a GstBaseTransform subclass, so its class
    // struct starts with GstBaseTransformClass. Both functions take caps by reference except
    // fixate_caps' othercaps (transfer full), and return new references (transfer full); none
    // of them needs the element to be linked or running.
    unsafe {
        let class = (*(trans as *mut glib::gobject_ffi::GTypeInstance)).g_class
            as *const gst_base::ffi::GstBaseTransformClass;
        let transform_caps = (*class).transform_caps?;
        let fixate_caps = (*class).fixate_caps?;
        let other = transform_caps(
            trans,
            gst::ffi::GST_PAD_SINK,
            input.to_glib_none().0,
            std::ptr::null_mut(),
        );
        if other.is_null() {
            return None;
        }
        let other = gst::Caps::from_glib_full(other);
        let other = downstream.intersect_with_mode(&other, gst::CapsIntersectMode::First);
        if other.is_empty() {
            return None;
        }
        let fixed = fixate_caps(
            trans,
            gst::ffi::GST_PAD_SINK,
            input.to_glib_none().0,
            other.into_glib_ptr(),
        );
        (!fixed.is_null()).then(|| gst::Caps::from_glib_full(fixed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(input: &str, downstream: &str) -> Option<OutputSize> {
        gst::init().unwrap();
        like_videoconvertscale(&input.parse().unwrap(), &downstream.parse().unwrap())
    }

    #[test]
    fn keeps_the_display_aspect_ratio_as_videoconvertscale_does() {
        let out = size(
            "video/x-raw,format=AYUV,width=320,height=240,framerate=30/1",
            "video/x-raw,format=AYUV,width=640,height=320",
        )
        .unwrap();
        assert_eq!(
            out,
            OutputSize {
                width: 640,
                height: 320,
                par: gst::Fraction::new(2, 3)
            }
        );
        let out = size(
            "video/x-raw,format=I420,width=1920,height=1080,pixel-aspect-ratio=1/1,framerate=30/1",
            "video/x-raw(memory:GLMemory),format=NV12,width=1280,pixel-aspect-ratio=1/1",
        )
        .unwrap();
        assert_eq!((out.width, out.height), (1280, 720));
    }

    #[test]
    fn no_common_caps_is_none() {
        assert_eq!(
            size(
                "video/x-raw,format=I420,width=64,height=48,framerate=30/1",
                "audio/x-raw"
            ),
            None
        );
    }
}
