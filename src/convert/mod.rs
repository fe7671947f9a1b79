// SPDX-License-Identifier: MPL-2.0
//! The internal fast converter: conversions that a deciding bin links instead of `videoconvert`
//! where their output is proven equal to `videoconvert`'s, or within a rounding of it (tested
//! at odd sizes and strides), at a fraction of its CPU time per frame:
//!
//! - I420 ↔ NV12 as plane copies (`planes.rs`);
//! - UYVY, YUY2 → I420, NV12, bit-exact with `videoconvert`'s fast path (I420) and its
//!   generic path's chroma filters (NV12) (`packed.rs`, `chroma.rs`);
//! - BGRx, BGRA, RGBx, RGBA → I420, NV12 for the BT.601/709/2020 matrix and range the output
//!   caps state, through the `yuv` crate's SIMD code and `videoconvert`'s chroma filters
//!   (`rgb.rs`).
//!
//! The element is not registered as a plugin feature: bins create it with [`make`] when
//! [`negotiate::videoconvert_output`] says `videoconvert` would produce caps that
//! [`negotiate::Conversion::new`] converts, and use `videoconvert` for everything else.
//!
//! In scaling mode ([`make_scaler`]) it also scales I420 into NV12 at `videoconvertscale`'s
//! default picture through GStreamer's own scaler, one plane at a time (`scale.rs`), where
//! [`scaling::scaled_target`] says so.
//!
//! Threads (`n-threads`, which the bins pass on): by default one per stream where one thread
//! already runs at 1.5× `videoconvert`'s default speed or more, CPU time per frame being what a
//! server with many streams pays; where it does not (UYVY/YUY2 → I420, against `videoconvert`'s
//! own fast path), the frame is cut into row bands shared out over parked worker threads
//! (`bands.rs`, `frame.rs`, `pool.rs`), with the same picture as on one thread.

use gst::glib;

mod bands;
mod chroma;
// Research step for a one-pass mosaic (BENCHMARKS.md, "Scaling and mixing"): no element uses it
// yet, only its tests, so it is built for them and not into the plugin.
#[cfg(test)]
#[allow(dead_code)]
mod cubic;
mod frame;
mod imp;
pub(crate) mod negotiate;
mod out420;
mod packed;
mod planes;
mod pool;
mod rgb;
mod scale;
pub(crate) mod scaling;

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

/// A new converter in scaling mode (for `stromautoconvertscale`): besides its conversions it
/// scales I420 into smaller NV12 as `videoconvertscale` does at its defaults
/// (`scale.rs`, `scaling.rs`), and fixates its output caps as `videoconvertscale` would.
pub(crate) fn make_scaler() -> gst::Element {
    use gst::prelude::*;
    use gst::subclass::prelude::*;
    let element = glib::Object::new::<FastConvert>();
    element.imp().set_scales();
    element.upcast()
}

/// How a direct conversion treats the picture's colour description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Same samples in another layout: only right when colorimetry, chroma siting, interlacing
    /// and size are equal on both sides, so these fields pass through unchanged.
    Layout,
    /// 4:2:2 → 4:2:0 of the same colour: colorimetry and size unchanged, the chroma resampled
    /// from the input's siting to the output's.
    Subsample,
    /// RGB → Y′CbCr: the output colorimetry's matrix and range are applied (BT.601/709/2020,
    /// limited or full), the chroma filtered down for the output's siting.
    Matrix,
}

const TO_420: [(&str, Kind); 2] = [("I420", Kind::Subsample), ("NV12", Kind::Subsample)];
const RGB_TO_420: [(&str, Kind); 2] = [("I420", Kind::Matrix), ("NV12", Kind::Matrix)];

/// The formats the converter makes directly from `input`, and how.
pub(crate) fn direct_targets(input: &str) -> &'static [(&'static str, Kind)] {
    match input {
        "I420" => &[("NV12", Kind::Layout)],
        "NV12" => &[("I420", Kind::Layout)],
        "UYVY" | "YUY2" => &TO_420,
        "BGRx" | "BGRA" | "RGBx" | "RGBA" => &RGB_TO_420,
        _ => &[],
    }
}

/// The formats the converter takes in.
fn inputs() -> &'static [&'static str] {
    &[
        "I420", "NV12", "UYVY", "YUY2", "BGRx", "BGRA", "RGBx", "RGBA",
    ]
}

/// Deterministic pseudo-random bytes (xorshift) for the converters' unit tests: picture content
/// no shortcut can special-case, the same on every run.
#[cfg(test)]
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_pairs_go_both_ways_and_every_target_is_420() {
        for input in inputs() {
            assert!(!direct_targets(input).is_empty(), "{input}");
            for (target, kind) in direct_targets(input) {
                assert!(["I420", "NV12"].contains(target));
                if *kind == Kind::Layout {
                    assert!(direct_targets(target).iter().any(|(back, _)| back == input));
                }
            }
        }
        assert!(direct_targets("ARGB").is_empty());
        assert!(direct_targets("v210").is_empty());
    }
}
