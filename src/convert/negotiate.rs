// SPDX-License-Identifier: MPL-2.0
//! Caps for the fast converter, as plain functions shared by the element and by the bins that
//! choose it:
//!
//! - [`videoconvert_output`]: the output caps GStreamer 1.22's `videoconvert` settles on for an
//!   input and what downstream accepts (its `transform_caps`, format scoring, `gst_caps_fixate`
//!   and colorimetry transfer, ported from `gstvideoconvert.c`). A bin uses the fast converter
//!   only when those caps are ones it converts exactly, so the stream downstream sees does not
//!   change with the choice, and the element fixates to the same caps.
//! - [`Conversion::new`]: what the element does between two fixed caps, or why it cannot.
//! - [`outputs_for`] / [`inputs_for`]: the element's `transform_caps`.

use gst_video::{VideoFormat, VideoFormatFlags, VideoInfo, VideoInterlaceMode};

use super::chroma::HSiting;
use super::packed::{Packing, Route};
use super::rgb::{Encoding, Order};
use super::{Kind, direct_targets, inputs};
use crate::formats;

const SYSTEM_MEMORY: &str = "memory:SystemMemory";

/// One fixed conversion the element runs, read from its input and output caps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Conversion {
    I420ToNv12,
    Nv12ToI420,
    Packed {
        packing: Packing,
        route: Route,
        to: Planar,
    },
    Rgb {
        order: Order,
        encoding: Encoding,
        siting: HSiting,
        to: Planar,
    },
}

/// The 4:2:0 layouts written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Planar {
    I420,
    Nv12,
}

impl Conversion {
    /// The conversion from `input` to `output`, or why the element does not make `output` from
    /// `input` the way `videoconvert` would.
    pub(crate) fn new(input: &VideoInfo, output: &VideoInfo) -> Result<Conversion, String> {
        if (input.width(), input.height()) != (output.width(), output.height()) {
            return Err("the sizes differ (scaling is videoconvertscale's work)".into());
        }
        let kind = direct_targets(input.format().to_str())
            .iter()
            .find(|(target, _)| *target == output.format().to_str())
            .map(|(_, kind)| *kind)
            .ok_or_else(|| {
                format!(
                    "no direct conversion from {} to {}",
                    input.format().to_str(),
                    output.format().to_str()
                )
            })?;
        let to = match output.format() {
            VideoFormat::I420 => Planar::I420,
            VideoFormat::Nv12 => Planar::Nv12,
            other => return Err(format!("{} is not a 4:2:0 output", other.to_str())),
        };
        match kind {
            Kind::Layout => {
                same_colour(input, output)?;
                if input.chroma_site() != output.chroma_site() {
                    return Err("the chroma siting changes (videoconvert resamples)".into());
                }
                interlaced_chroma_rows_match(input)?;
                Ok(match to {
                    Planar::Nv12 => Conversion::I420ToNv12,
                    Planar::I420 => Conversion::Nv12ToI420,
                })
            }
            Kind::Subsample => {
                same_colour(input, output)?;
                progressive(input)?;
                let packing = match input.format() {
                    VideoFormat::Uyvy => Packing::Uyvy,
                    _ => Packing::Yuy2,
                };
                // videoconvert's UYVY/YUY2 → I420 fast path averages line pairs whatever the
                // siting; every other pair goes through its resampling generic path.
                let route = match to {
                    Planar::I420 => Route::LineAverage,
                    Planar::Nv12 => Route::Resample {
                        input: siting(input)?,
                        output: siting(output)?,
                    },
                };
                Ok(Conversion::Packed { packing, route, to })
            }
            Kind::Matrix => {
                progressive(input)?;
                rgb_input_range(input)?;
                let order = match input.format() {
                    VideoFormat::Bgrx | VideoFormat::Bgra => Order::Bgrx,
                    _ => Order::Rgbx,
                };
                Ok(Conversion::Rgb {
                    order,
                    encoding: Encoding::for_output(&output.colorimetry())?,
                    siting: siting(output)?,
                    to,
                })
            }
        }
    }
}

fn same_colour(input: &VideoInfo, output: &VideoInfo) -> Result<(), String> {
    if input.colorimetry() != output.colorimetry() {
        return Err(format!(
            "the colorimetry changes ({} to {}): videoconvert converts it",
            input.colorimetry(),
            output.colorimetry()
        ));
    }
    Ok(())
}

fn progressive(info: &VideoInfo) -> Result<(), String> {
    if info.interlace_mode() != VideoInterlaceMode::Progressive {
        return Err("interlaced video (videoconvert resamples chroma per field)".into());
    }
    Ok(())
}

/// Interlaced 4:2:0 keeps each field's chroma in its own rows (lines 4k and 4k+1 carry chroma
/// rows 2k and 2k+1), so `videoconvert` writes one more chroma row than ceil(height/2) where
/// the height is 4k+2 (GStreamer sizes the planes for it); the plane copy copies ceil(height/2)
/// and is equal for every other height.
fn interlaced_chroma_rows_match(info: &VideoInfo) -> Result<(), String> {
    let height = match info.interlace_mode() {
        VideoInterlaceMode::Progressive => return Ok(()),
        VideoInterlaceMode::Alternate => info.field_height(),
        _ => info.height(),
    };
    if height % 4 == 2 {
        return Err(format!(
            "interlaced 4:2:0 {height} lines high (4k+2: videoconvert writes an extra chroma row)"
        ));
    }
    Ok(())
}

fn siting(info: &VideoInfo) -> Result<HSiting, String> {
    HSiting::from_site(info.chroma_site())
        .ok_or_else(|| format!("chroma-site {:?} is not converted here", info.chroma_site()))
}

/// Limited-range RGB input would need its range expanded; GStreamer reads unknown as full.
fn rgb_input_range(info: &VideoInfo) -> Result<(), String> {
    match info.colorimetry().range() {
        gst_video::VideoColorRange::Range16_235 => {
            Err("limited-range RGB input (videoconvert expands it)".into())
        }
        _ => Ok(()),
    }
}

/// The fields of the output that a conversion of `kind` leaves open: the rest are the input's.
fn open_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Layout => &[],
        // 4:2:2 → 4:2:0 keeps the colour but resamples chroma: the output siting is its own.
        Kind::Subsample => &["chroma-site"],
        Kind::Matrix => &["colorimetry", "chroma-site"],
    }
}

/// The element's `transform_caps` towards the source pad: every direct target of each input
/// format, with the fields its conversion decides left open.
pub(crate) fn outputs_for(caps: &gst::CapsRef) -> gst::Caps {
    map_structures(caps, |format| {
        direct_targets(format)
            .iter()
            .map(|&(target, kind)| (target, kind))
            .collect()
    })
}

/// The element's `transform_caps` towards the sink pad: every input that reaches each output
/// format.
pub(crate) fn inputs_for(caps: &gst::CapsRef) -> gst::Caps {
    map_structures(caps, |format| {
        inputs()
            .iter()
            .filter_map(|&input| {
                direct_targets(input)
                    .iter()
                    .find(|(target, _)| *target == format)
                    .map(|&(_, kind)| (input, kind))
            })
            .collect()
    })
}

fn map_structures(
    caps: &gst::CapsRef,
    mapping: impl Fn(&str) -> Vec<(&'static str, Kind)>,
) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    let all: Vec<String> = inputs().iter().map(|f| (*f).to_owned()).collect();
    for (s, features) in caps.iter_with_features() {
        let formats = formats::formats_of(s).unwrap_or_else(|| all.clone());
        // One structure per kind, so that each leaves its own fields open.
        for kind in [Kind::Layout, Kind::Subsample, Kind::Matrix] {
            let mut mapped: Vec<&str> = Vec::new();
            for (target, _) in formats
                .iter()
                .flat_map(|f| mapping(f))
                .filter(|(_, k)| *k == kind)
            {
                if !mapped.contains(&target) {
                    mapped.push(target);
                }
            }
            if mapped.is_empty() {
                continue;
            }
            let mut s = s.to_owned();
            formats::set_formats(&mut s, &mapped);
            s.remove_fields(open_fields(kind).iter().copied());
            out.merge_structure_full(s, Some(features.to_owned()));
        }
    }
    out
}

/// What `videoconvert` outputs for the fixed `input` when downstream answers `downstream` to a
/// caps query; `None` where it would pass the input through or nothing fits.
pub(crate) fn videoconvert_output(
    input: &gst::CapsRef,
    downstream: &gst::CapsRef,
) -> Option<gst::Caps> {
    let offered = remove_format_info(input);
    let othercaps = offered.intersect_with_mode(downstream, gst::CapsIntersectMode::First);
    if othercaps.is_empty() {
        return None;
    }
    let fixed = fixate_like_videoconvert(input, othercaps);
    (!fixed.is_subset(input)).then_some(fixed)
}

/// `gst_video_convert_caps_remove_format_info`: system-memory structures lose the fields
/// `videoconvert` converts.
fn remove_format_info(caps: &gst::CapsRef) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    for (s, features) in caps.iter_with_features() {
        let mut s = s.to_owned();
        // As videoconvert: system memory, alternate-mode fields included.
        let system = features.is_empty()
            || features.contains(SYSTEM_MEMORY)
            || features
                .iter()
                .all(|f| f == gst_video::CAPS_FEATURE_FORMAT_INTERLACED);
        if !features.is_any() && system {
            s.remove_fields(["format", "colorimetry", "chroma-site"]);
        }
        if let Some(out) = out.get_mut() {
            out.append_structure_full(s, Some(features.to_owned()));
        }
    }
    out
}

/// `gst_video_convert_fixate_caps` for the sink direction: prefer the input's own caps, else
/// the least lossy format, fixate the rest, and carry the input's colorimetry over.
pub(crate) fn fixate_like_videoconvert(input: &gst::CapsRef, othercaps: gst::Caps) -> gst::Caps {
    let intersection = othercaps.intersect(input);
    let mut result = if intersection.is_empty() {
        othercaps
    } else {
        intersection
    };
    fixate_format(input, &mut result);
    result.fixate();
    if result.is_subset(input) {
        return input.to_owned();
    }
    transfer_colorimetry_from_input(input, &mut result);
    result
}

/// `gst_video_convert_fixate_format`: the format of least loss from the input's, in the order
/// the caps list them, set on the first structure.
fn fixate_format(input: &gst::CapsRef, result: &mut gst::Caps) {
    let Some(in_info) = input
        .structure(0)
        .and_then(|s| s.get::<&str>("format").ok())
        .map(VideoFormat::from_string)
        .filter(|f| *f != VideoFormat::Unknown)
        .map(gst_video::VideoFormatInfo::from_format)
    else {
        return;
    };
    let mut best: Option<(u32, VideoFormat)> = None;
    'structures: for s in result.iter() {
        for name in formats::formats_of(s).unwrap_or_default() {
            let format = VideoFormat::from_string(&name);
            if format == VideoFormat::Unknown {
                continue;
            }
            let loss = format_loss(&in_info, &gst_video::VideoFormatInfo::from_format(format));
            if best.is_none_or(|(min, _)| loss < min) {
                best = Some((loss, format));
            }
            if loss == 0 {
                break 'structures;
            }
        }
    }
    if let (Some((_, format)), Some(s)) = (best, result.make_mut().structure_mut(0)) {
        s.set("format", format.to_str());
    }
}

/// Entry 1 of a per-component array, 0 where the format has one component.
fn second(per_component: &[u32]) -> u32 {
    per_component.get(1).copied().unwrap_or(0)
}

/// `score_value` of `gstvideoconvert.c`: how much a conversion between two formats loses.
fn format_loss(from: &gst_video::VideoFormatInfo, to: &gst_video::VideoFormatInfo) -> u32 {
    if from.format() == to.format() {
        return 0;
    }
    let ignored = VideoFormatFlags::LE | VideoFormatFlags::COMPLEX | VideoFormatFlags::UNPACK;
    let (f, t) = (from.flags() - ignored, to.flags() - ignored);
    let colour = VideoFormatFlags::YUV | VideoFormatFlags::RGB | VideoFormatFlags::GRAY;
    let differ = |mask: VideoFormatFlags| (f & mask) != (t & mask);
    let mut loss = 1;
    if differ(VideoFormatFlags::PALETTE) {
        loss += 1;
        if t.contains(VideoFormatFlags::PALETTE) {
            loss += 64;
        }
    }
    if differ(colour) {
        loss += 2;
        if t.contains(VideoFormatFlags::GRAY) {
            loss += 128;
        }
    }
    if differ(VideoFormatFlags::ALPHA) {
        loss += 1;
        if f.contains(VideoFormatFlags::ALPHA) {
            loss += 8;
        }
    }
    // The second component's subsampling; 0 for one-component formats (GRAY8), as the C
    // arrays (always four entries, zero-filled) give it.
    let (from_h, to_h) = (second(from.h_sub()), second(to.h_sub()));
    let (from_w, to_w) = (second(from.w_sub()), second(to.w_sub()));
    if from_h != to_h {
        loss += 1;
        if from_h < to_h {
            loss += 32;
        }
    }
    if from_w != to_w {
        loss += 1;
        if from_w < to_w {
            loss += 16;
        }
    }
    if from.bits() != to.bits() {
        loss += 1;
        if from.bits() > to.bits() {
            loss += 4 + (from.bits() - to.bits());
        }
    }
    loss
}

/// `transfer_colorimetry_from_input`: an output without colorimetry takes the input's (same
/// colour model) or the default for its size with the input's primaries and transfer (YUV ↔
/// RGB); an output without chroma-site takes the input's when the subsampling is unchanged.
fn transfer_colorimetry_from_input(input: &gst::CapsRef, result: &mut gst::Caps) {
    let Some(out_s) = result.structure(0) else {
        return;
    };
    let (has_colorimetry, has_site) = (
        out_s.has_field("colorimetry"),
        out_s.has_field("chroma-site"),
    );
    if has_colorimetry && has_site {
        return;
    }
    let (Ok(in_info), Ok(out_info)) = (VideoInfo::from_caps(input), VideoInfo::from_caps(result))
    else {
        return;
    };
    let Some(in_s) = input.structure(0) else {
        return;
    };
    let in_colorimetry = in_s.value("colorimetry").ok().cloned();
    let in_site = in_s.value("chroma-site").ok().cloned();
    let (fi, fo) = (in_info.format_info(), out_info.format_info());
    let model = |f: &gst_video::VideoFormatInfo| (f.is_yuv(), f.is_rgb(), f.is_gray());
    let Some(out_s) = result.make_mut().structure_mut(0) else {
        return;
    };
    if !has_colorimetry && let Some(value) = in_colorimetry {
        if model(&fi) == model(&fo) && (fi.is_yuv() || fi.is_rgb() || fi.is_gray()) {
            out_s.set_value("colorimetry", value);
        } else {
            let default = out_info.colorimetry();
            let colorimetry = gst_video::VideoColorimetry::new(
                default.range(),
                default.matrix(),
                in_info.colorimetry().transfer(),
                in_info.colorimetry().primaries(),
            );
            out_s.set("colorimetry", colorimetry.to_string());
        }
    }
    if !has_site
        && fo.is_yuv()
        && fi.is_yuv()
        && let Some(site) = in_site
        && fi.w_sub() == fo.w_sub()
        && fi.h_sub() == fo.h_sub()
    {
        out_s.set_value("chroma-site", site);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(s: &str) -> gst::Caps {
        gst::init().unwrap();
        s.parse().unwrap()
    }

    fn format_of(c: &gst::Caps) -> String {
        c.structure(0)
            .unwrap()
            .get::<String>("format")
            .unwrap_or_default()
    }

    #[test]
    fn format_choice_follows_videoconvert_scoring() {
        let uyvy = caps("video/x-raw,format=UYVY,width=64,height=48,framerate=30/1");
        // 4:2:2 is kept where downstream takes it (x264enc's list starts Y444, Y42B, I420, …).
        let x264 = caps("video/x-raw,format={ Y444, Y42B, I420, YV12, NV12 }");
        let out = videoconvert_output(&uyvy, &x264).unwrap();
        assert_eq!(format_of(&out), "Y42B");
        // Equal losses: downstream's order decides.
        let out = videoconvert_output(&uyvy, &caps("video/x-raw,format={ NV12, I420 }")).unwrap();
        assert_eq!(format_of(&out), "NV12");
        let bgrx = caps("video/x-raw,format=BGRx,width=64,height=48");
        // RGB with alpha: losing alpha costs more than keeping it.
        let out = videoconvert_output(&bgrx, &caps("video/x-raw,format={ I420, NV12 }")).unwrap();
        assert_eq!(format_of(&out), "I420");
        // Downstream takes the input: videoconvert passes it through.
        assert!(videoconvert_output(&bgrx, &caps("video/x-raw,format={ NV12, BGRx }")).is_none());
    }

    #[test]
    fn rgb_to_yuv_gets_the_default_matrix_for_its_size_with_the_input_transfer() {
        let hd = caps("video/x-raw,format=BGRx,width=1920,height=1080,colorimetry=sRGB");
        let out = videoconvert_output(&hd, &caps("video/x-raw,format=NV12")).unwrap();
        let info = VideoInfo::from_caps(&out).unwrap();
        assert_eq!(
            info.colorimetry().matrix(),
            gst_video::VideoColorMatrix::Bt709
        );
        assert_eq!(
            info.colorimetry().range(),
            gst_video::VideoColorRange::Range16_235
        );
        assert_eq!(
            info.colorimetry().transfer(),
            gst_video::VideoTransferFunction::Srgb
        );
        // 1.22 keeps BT.709 for UHD too (caps `2:3:7:1`, as videoconvert prints).
        let uhd = caps("video/x-raw,format=BGRx,width=3840,height=2160,colorimetry=sRGB");
        let out = videoconvert_output(&uhd, &caps("video/x-raw,format=NV12")).unwrap();
        let s = out.structure(0).unwrap();
        assert_eq!(s.get::<&str>("colorimetry").unwrap(), "2:3:7:1");
        // Downstream's own colorimetry wins.
        let out =
            videoconvert_output(&hd, &caps("video/x-raw,format=NV12,colorimetry=bt601")).unwrap();
        let info = VideoInfo::from_caps(&out).unwrap();
        assert_eq!(
            info.colorimetry().matrix(),
            gst_video::VideoColorMatrix::Bt601
        );
    }

    #[test]
    fn yuv_keeps_its_colorimetry_and_a_layout_change_its_siting() {
        let nv12 =
            caps("video/x-raw,format=NV12,width=64,height=48,colorimetry=bt709,chroma-site=mpeg2");
        let out = videoconvert_output(&nv12, &caps("video/x-raw,format=I420")).unwrap();
        let s = out.structure(0).unwrap();
        assert_eq!(s.get::<&str>("colorimetry").unwrap(), "bt709");
        assert_eq!(s.get::<&str>("chroma-site").unwrap(), "mpeg2");
        let uyvy =
            caps("video/x-raw,format=UYVY,width=64,height=48,colorimetry=bt709,chroma-site=mpeg2");
        let out = videoconvert_output(&uyvy, &caps("video/x-raw,format=NV12")).unwrap();
        assert!(!out.structure(0).unwrap().has_field("chroma-site"));
    }

    fn info(s: &str) -> VideoInfo {
        VideoInfo::from_caps(&caps(s)).unwrap()
    }

    #[test]
    fn conversions_refuse_what_videoconvert_would_do_differently() {
        let i420 = "video/x-raw,format=I420,width=64,height=48";
        let nv12 = "video/x-raw,format=NV12,width=64,height=48";
        assert_eq!(
            Conversion::new(&info(i420), &info(nv12)),
            Ok(Conversion::I420ToNv12)
        );
        // A colorimetry change is never a plain copy.
        let err = Conversion::new(
            &info(&format!("{i420},colorimetry=bt601")),
            &info(&format!("{nv12},colorimetry=bt709")),
        )
        .unwrap_err();
        assert!(err.contains("colorimetry"), "{err}");
        let err = Conversion::new(
            &info(&format!("{i420},colorimetry=bt709")),
            &info(&format!("{nv12},colorimetry=1:3:5:1")),
        )
        .unwrap_err();
        assert!(err.contains("colorimetry"), "{err}");
        let interlaced = |s: &str, height: u32| {
            let s = s.replace("height=48", &format!("height={height}"));
            info(&format!("{s},interlace-mode=interleaved"))
        };
        for (height, copies) in [(48, true), (49, true), (51, true), (50, false), (6, false)] {
            assert_eq!(
                Conversion::new(&interlaced(i420, height), &interlaced(nv12, height)).is_ok(),
                copies,
                "interlaced height {height}"
            );
        }
        let uyvy = "video/x-raw,format=UYVY,width=64,height=48,colorimetry=bt601";
        assert!(Conversion::new(&info(uyvy), &info(&format!("{nv12},colorimetry=bt709"))).is_err());
        assert!(
            Conversion::new(
                &info(&format!("{uyvy},interlace-mode=interleaved")),
                &info(&format!(
                    "{nv12},colorimetry=bt601,interlace-mode=interleaved"
                ))
            )
            .is_err()
        );
        assert!(
            Conversion::new(
                &info(uyvy),
                &info(&format!("{nv12},colorimetry=bt601,chroma-site=cosited"))
            )
            .is_err()
        );
        // RGB: the output colorimetry is applied, within the matrices handled.
        let bgrx = "video/x-raw,format=BGRx,width=64,height=48";
        for c in ["bt601", "bt709", "bt2020", "1:4:0:0", "2:3:0:0", "1:6:0:0"] {
            let conv = Conversion::new(&info(bgrx), &info(&format!("{nv12},colorimetry={c}")));
            assert!(matches!(conv, Ok(Conversion::Rgb { .. })), "{c}: {conv:?}");
        }
        assert!(
            Conversion::new(&info(bgrx), &info(&format!("{nv12},colorimetry=smpte240m"))).is_err()
        );
        assert!(
            Conversion::new(
                &info(&format!("{bgrx},colorimetry=2:1:0:0")),
                &info(&format!("{nv12},colorimetry=bt709"))
            )
            .is_err()
        );
        assert!(
            Conversion::new(
                &info(bgrx),
                &info("video/x-raw,format=NV12,width=32,height=48")
            )
            .is_err()
        );
    }

    #[test]
    fn transform_caps_open_only_what_each_conversion_decides() {
        let out = outputs_for(&caps(
            "video/x-raw,format=BGRx,width=64,height=48,colorimetry=sRGB",
        ));
        let s = out.structure(0).unwrap();
        assert!(!s.has_field("colorimetry"));
        assert_eq!(formats::formats_of(s).unwrap(), ["I420", "NV12"]);
        let out = outputs_for(&caps(
            "video/x-raw,format=I420,colorimetry=bt709,chroma-site=jpeg",
        ));
        let s = out.structure(0).unwrap();
        assert_eq!(s.get::<&str>("colorimetry").unwrap(), "bt709");
        assert_eq!(s.get::<&str>("chroma-site").unwrap(), "jpeg");
        let back = inputs_for(&caps("video/x-raw,format=NV12,colorimetry=bt709"));
        let all: Vec<String> = back
            .iter()
            .flat_map(|s| formats::formats_of(s).unwrap())
            .collect();
        for f in ["I420", "UYVY", "YUY2", "BGRx", "BGRA", "RGBx", "RGBA"] {
            assert!(all.iter().any(|a| a == f), "{f} in {back}");
        }
    }
}
