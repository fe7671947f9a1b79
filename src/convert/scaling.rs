// SPDX-License-Identifier: MPL-2.0
//! The fast converter's scaling mode (made by [`super::make_scaler`] for
//! `stromautoconvertscale`): its caps, and the decision a scaling bin reads, "does the fast
//! scaler make what `videoconvertscale` would here?".
//!
//! The output caps are the ones a stock `videoconvertscale` fixates (the bin and the element ask
//! one, so size, pixel-aspect-ratio, format and colorimetry are the stock choice), and the fast
//! scaler takes them only where [`Scaling::new`] says its picture is `videoconvertscale`'s at
//! the default properties: I420 to smaller NV12, progressive, same colour, no borders. The
//! bin keeps `videoconvertscale` for everything else, and for any stock property off its
//! default (`method`, `add-borders`, `sharpness`, ...: `stock.rs` decides that).

use super::scale::Scaling;
use crate::formats;

/// The one scaling done here: I420 in, NV12 out (`scale.rs` says why).
pub(crate) const SCALED: (&str, &str) = ("I420", "NV12");

/// The format of the picture the fast scaler makes for the fixed `input` caps towards
/// `downstream` (what the peer answers to a caps query), where it makes `videoconvertscale`'s
/// picture at another size; `None` where `videoconvertscale` must do it (or passes through).
///
/// `n_threads` is the bin's `n-threads`: the fast scaler runs on one thread, which is the
/// automatic choice (0) here as for the fast converter's conversions (one thread is at 2.6× or
/// more of `videoconvertscale`'s default wall speed, BENCHMARKS.md), and 1; a bin asked for
/// more threads keeps `videoconvertscale`, which takes them.
pub(crate) fn scaled_target(
    input: &gst::Caps,
    downstream: &gst::Caps,
    n_threads: u32,
) -> Option<String> {
    let (s, features) = input.iter_with_features().next()?;
    if n_threads > 1
        || s.name() != "video/x-raw"
        || !features.iter().all(|f| f == "memory:SystemMemory")
        || downstream.is_any()
    {
        return None;
    }
    let output = crate::autoconvert::fixate::videoconvertscale_output(input, downstream)?;
    if output.is_subset(input) {
        return None;
    }
    let in_info = gst_video::VideoInfo::from_caps(input).ok()?;
    let out_info = gst_video::VideoInfo::from_caps(&output).ok()?;
    if (in_info.width(), in_info.height()) == (out_info.width(), out_info.height()) {
        return None;
    }
    Scaling::new(&in_info, &out_info).ok()?;
    Some(out_info.format().to_str().to_string())
}

/// What the scaling mode adds to the element's `transform_caps`: for each structure of `caps`
/// that has `from`, `to` at any size and pixel-aspect-ratio, the fields a scaling leaves alone
/// (colour, siting) open here and checked by [`Scaling::new`]. Sink to source: I420 in, NV12 out
/// (`SCALED`); source to sink the other way round.
pub(crate) fn any_size(caps: &gst::CapsRef, (from, to): (&str, &str)) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    for (s, features) in caps.iter_with_features() {
        let has_from = formats::formats_of(s).is_none_or(|list| list.iter().any(|f| f == from));
        if !has_from || features.iter().any(|f| f != "memory:SystemMemory") {
            continue;
        }
        let mut s = s.to_owned();
        formats::set_formats(&mut s, &[to]);
        s.remove_fields(["colorimetry", "chroma-site"]);
        s.set("width", gst::IntRange::new(1, i32::MAX));
        s.set("height", gst::IntRange::new(1, i32::MAX));
        s.set(
            "pixel-aspect-ratio",
            gst::FractionRange::new(
                gst::Fraction::new(1, i32::MAX),
                gst::Fraction::new(i32::MAX, 1),
            ),
        );
        out.merge_structure_full(s, Some(features.to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(input: &str, downstream: &str) -> Option<String> {
        gst::init().unwrap();
        scaled_target(&input.parse().unwrap(), &downstream.parse().unwrap(), 0)
    }

    const HD: &str = "video/x-raw,format=I420,width=1920,height=1080,framerate=30/1,\
                      pixel-aspect-ratio=1/1,colorimetry=bt709,chroma-site=mpeg2";

    #[test]
    fn the_ladder_is_scaled_here() {
        assert_eq!(
            target(HD, "video/x-raw,format=NV12,width=1280,height=720").as_deref(),
            Some("NV12")
        );
        assert_eq!(
            target(HD, "video/x-raw,format=NV12,width=854,height=480").as_deref(),
            Some("NV12")
        );
        // More threads asked for than the fast scaler's one: videoconvertscale takes them.
        let (input, down) = (
            HD.parse().unwrap(),
            "video/x-raw,format=NV12,width=1280,height=720",
        );
        assert_eq!(
            scaled_target(&input, &down.parse().unwrap(), 1).as_deref(),
            Some("NV12")
        );
        assert_eq!(scaled_target(&input, &down.parse().unwrap(), 4), None);
        // I420 to I420 is videoconvertscale's plane fastpath already: it stays.
        assert_eq!(
            target(HD, "video/x-raw,format=I420,width=640,height=360"),
            None
        );
    }

    #[test]
    fn everything_else_stays_with_videoconvertscale() {
        // Borders (4:3 output at square pixels), another format, the same size, any caps.
        assert_eq!(
            target(
                HD,
                "video/x-raw,format=I420,width=640,height=480,pixel-aspect-ratio=1/1"
            ),
            None
        );
        assert_eq!(
            target(HD, "video/x-raw,format=BGRx,width=1280,height=720"),
            None
        );
        assert_eq!(target(HD, "video/x-raw,format=NV12"), None);
        assert_eq!(target(HD, "ANY"), None);
        assert_eq!(
            target(
                "video/x-raw,format=YUY2,width=1920,height=1080,framerate=30/1",
                "video/x-raw,format=NV12,width=1280,height=720"
            ),
            None
        );
    }

    #[test]
    fn any_size_offers_nv12_for_i420_and_i420_for_nv12() {
        gst::init().unwrap();
        let caps: gst::Caps = HD.parse().unwrap();
        let any = any_size(&caps, SCALED);
        let small = |format: &str| -> gst::Caps {
            format!("video/x-raw,format={format},width=33,height=17")
                .parse()
                .unwrap()
        };
        assert!(any.can_intersect(&small("NV12")));
        assert!(!any.can_intersect(&small("I420")));
        let nv12: gst::Caps = "video/x-raw,format=NV12,width=64,height=48"
            .parse()
            .unwrap();
        assert!(any_size(&nv12, (SCALED.1, SCALED.0)).can_intersect(&small("I420")));
        let bgrx: gst::Caps = "video/x-raw,format=BGRx,width=64,height=48"
            .parse()
            .unwrap();
        assert!(any_size(&bgrx, SCALED).is_empty());
    }
}
