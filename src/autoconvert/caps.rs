// SPDX-License-Identifier: MPL-2.0
//! Reading GStreamer caps into the plain inputs of [`super::plan`], and the caps the bin offers
//! before it has a chain.

use super::plan::{Downstream, Formats, Input, Memory, SystemOffer};
use crate::convert::negotiate;
use crate::formats;

use crate::formats::GL_MEMORY;
const SYSTEM_MEMORY: &str = "memory:SystemMemory";
/// Alternate-mode interlacing: each buffer one field, in system memory.
const INTERLACED_FIELDS: &str = "format:Interlaced";
const RAW_VIDEO: &str = "video/x-raw";
const BAYER: &str = "video/x-bayer";

/// Where the frames live: the one `memory:` feature, system memory when there is none (caps
/// features such as `format:Interlaced` alone describe system memory).
fn memory_of(features: &gst::CapsFeaturesRef) -> Memory {
    match features
        .iter()
        .find(|f| f.starts_with("memory:"))
        .map(|f| f.as_str())
    {
        None => Memory::System,
        Some(SYSTEM_MEMORY) => Memory::System,
        Some(GL_MEMORY) => Memory::Gl,
        Some(other) => Memory::Other(other.to_string()),
    }
}

/// The caps features that are not memory types (`format:Interlaced`, `meta:...`).
fn non_memory_features(features: &gst::CapsFeaturesRef) -> Vec<String> {
    features
        .iter()
        .filter(|f| !f.starts_with("memory:"))
        .map(|f| f.to_string())
        .collect()
}

/// `features` with the memory feature replaced by `memory` (None: system memory, which caps
/// leave unsaid when nothing else is there).
fn with_memory(features: &gst::CapsFeaturesRef, memory: Option<&str>) -> gst::CapsFeatures {
    let others = non_memory_features(features);
    let all: Vec<&str> = memory
        .into_iter()
        .chain(others.iter().map(String::as_str))
        .collect();
    if all.is_empty() {
        gst::CapsFeatures::new_empty()
    } else {
        gst::CapsFeatures::new(all)
    }
}

fn formats_of(s: &gst::StructureRef) -> Formats {
    formats::formats_of(s).map_or(Formats::Any, Formats::Only)
}

/// The fixed caps arriving on the sink pad, or why they are not raw video.
pub(crate) fn input_from_caps(caps: &gst::CapsRef) -> Result<Input, String> {
    let (s, features) = caps
        .iter_with_features()
        .next()
        .ok_or_else(|| "empty caps".to_owned())?;
    let bayer = s.name() == BAYER;
    if s.name() != RAW_VIDEO && !bayer {
        return Err(format!(
            "{} is not raw video; stromautoconvert converts video/x-raw and video/x-bayer only \
             (decode it first, e.g. with decodebin)",
            s.name()
        ));
    }
    let format = s
        .get::<&str>("format")
        .map_err(|_| "caps have no fixed format".to_owned())?;
    let is_yuv = !bayer && formats::is_yuv(format);
    let colorimetry = (!bayer)
        .then(|| gst_video::VideoInfo::from_caps(caps).ok())
        .flatten()
        .map(|info| info.colorimetry());
    Ok(Input {
        memory: memory_of(features),
        format: format.to_owned(),
        is_yuv,
        bayer,
        features: non_memory_features(features),
        colorimetry: colorimetry.map_or_else(String::new, |c| c.to_string()),
        gl_misreads_colour: is_yuv && colorimetry.is_some_and(|c| !gl_reads(&c)),
        gl_uploadable: bayer || formats::is_gl_uploadable(format),
    })
}

/// Whether GStreamer 1.22's glcolorconvert reads YUV of colorimetry `c` with the right matrix
/// and range: it takes BT.709 when the caps say exactly `bt709`, and BT.601 limited range for
/// everything else.
fn gl_reads(c: &gst_video::VideoColorimetry) -> bool {
    use gst_video::{VideoColorMatrix, VideoColorRange};
    let bt709: gst_video::VideoColorimetry = "bt709".parse().expect("bt709 is a colorimetry");
    *c == bt709
        || (c.matrix() == VideoColorMatrix::Bt601 && c.range() == VideoColorRange::Range16_235)
}

/// What the last glcolorconvert of a GL chain may write: YUV, labelled BT.601 with `bt601`
/// (GStreamer 1.22 writes YUV from RGB only so, whatever the caps would otherwise say), or any
/// other format, in any memory. `pin` adds a fixed size and pixel-aspect-ratio to both.
pub(crate) fn gl_written_caps(pin: Option<(i32, i32, gst::Fraction)>, bt601: bool) -> gst::Caps {
    static GL_FORMATS: std::sync::LazyLock<(Vec<String>, Vec<String>)> =
        std::sync::LazyLock::new(|| {
            let all = formats::GL_CONVERT_FORMATS.iter().map(|f| f.to_string());
            all.partition(|f| formats::is_yuv(f))
        });
    let (yuv, other) = &*GL_FORMATS;
    let with = |formats: &[String], bt601: bool| {
        let mut s = gst::Structure::builder(RAW_VIDEO)
            .field("format", gst::List::new(formats.iter().map(String::as_str)))
            .build();
        if bt601 {
            s.set("colorimetry", "bt601");
        }
        if let Some((width, height, par)) = pin {
            s.set("width", width);
            s.set("height", height);
            s.set("pixel-aspect-ratio", par);
        }
        s
    };
    let mut caps = gst::Caps::new_empty();
    let caps_mut = caps.get_mut().expect("a new caps is writable");
    caps_mut.append_structure_full(with(yuv, bt601), Some(gst::CapsFeatures::new_any()));
    caps_mut.append_structure_full(with(other, false), Some(gst::CapsFeatures::new_any()));
    caps
}

/// Whether downstream takes the fixed `input` caps exactly as they are.
pub(crate) fn takes_as_is(input: &gst::CapsRef, downstream: &gst::CapsRef) -> bool {
    input.can_intersect(downstream)
}

/// The format the internal fast converter makes from the fixed `input` caps for `downstream`,
/// or `None` to use `videoconvert`. It is used only where `videoconvert` itself would change
/// the format (not pass the input through) and the caps it would output — format chosen by its
/// own scoring, colorimetry, chroma siting, size — are ones the fast converter makes exactly as
/// it does (packed YUV and layouts: the same samples; RGB: the same matrix and range). So the
/// caps and pictures downstream gets do not depend on the choice.
pub(crate) fn direct_target(input: &gst::CapsRef, downstream: &gst::CapsRef) -> Option<String> {
    let (s, features) = input.iter_with_features().next()?;
    // The converter's caps carry no features besides system memory and alternate fields
    // (videoconvert passes the others).
    if s.name() != RAW_VIDEO
        || !features
            .iter()
            .all(|f| f == SYSTEM_MEMORY || f == INTERLACED_FIELDS)
        || downstream.is_any()
        || takes_as_is(input, downstream)
    {
        return None;
    }
    let output = negotiate::videoconvert_output(input, downstream)?;
    // Caps the element's own negotiation cannot reach (a chroma-site field a layout copy keeps,
    // even where GStreamer reads both sides as the same siting) stay videoconvert's.
    if !output.is_subset(&negotiate::outputs_for(input)) {
        return None;
    }
    let in_info = gst_video::VideoInfo::from_caps(input).ok()?;
    let out_info = gst_video::VideoInfo::from_caps(&output).ok()?;
    negotiate::Conversion::new(&in_info, &out_info).ok()?;
    Some(out_info.format().to_str().to_string())
}

/// What the caps downstream answered allow, per memory type.
pub(crate) fn downstream_from_caps(caps: &gst::CapsRef) -> Downstream {
    let mut down = Downstream {
        any: caps.is_any(),
        refuses_gl_colour: !caps.is_any() && !caps.can_intersect(&gl_written_caps(None, true)),
        ..Default::default()
    };
    for (s, features) in caps.iter_with_features() {
        if features.is_any() {
            down.any = true;
            continue;
        }
        if s.name() == BAYER {
            match &mut down.bayer {
                Some(formats) => formats.merge(formats_of(s)),
                None => down.bayer = Some(formats_of(s)),
            }
            continue;
        }
        if s.name() != RAW_VIDEO {
            continue;
        }
        let slot = match memory_of(features) {
            Memory::System => &mut down.system,
            Memory::Gl => &mut down.gl,
            Memory::Other(name) => {
                if !down.other_features.contains(&name) {
                    down.other_features.push(name);
                }
                continue;
            }
        };
        match slot {
            Some(formats) => formats.merge(formats_of(s)),
            None => *slot = Some(formats_of(s)),
        }
    }
    down
}

/// What the bin can take before a chain exists: whatever downstream takes, first (so that upstream
/// can pick passthrough), then the same sizes and rates (any size for a scaling bin) in the
/// formats the chain it would build takes (`offer`: any format for the software path, the ones
/// glupload takes for the GL path), in system or GL memory, and as Bayer.
pub(crate) fn sink_caps_without_chain(
    downstream: &gst::CapsRef,
    scale: bool,
    offer: SystemOffer,
) -> gst::Caps {
    let usable: Vec<(&gst::StructureRef, &gst::CapsFeaturesRef)> = downstream
        .iter_with_features()
        .filter(|(s, f)| (s.name() == RAW_VIDEO || s.name() == BAYER) && !f.is_any())
        .filter(|(_, f)| matches!(memory_of(f), Memory::System | Memory::Gl))
        .collect();
    if usable.is_empty() {
        return match offer {
            SystemOffer::Any => template_caps(),
            // Downstream takes anything, but the GL chain does not.
            SystemOffer::UploadableFirst | SystemOffer::UploadableOnly => {
                let raw = gst::Structure::new_empty(RAW_VIDEO);
                let offered = [
                    (raw.clone(), gst::CapsFeatures::new_empty()),
                    (raw, gst::CapsFeatures::new([GL_MEMORY])),
                    (
                        gst::Structure::new_empty(BAYER),
                        gst::CapsFeatures::new_empty(),
                    ),
                ];
                truthful(&offered, offer)
            }
        };
    }
    let mut offered: Vec<(gst::Structure, gst::CapsFeatures)> = usable
        .iter()
        .map(|&(s, f)| (s.to_owned(), f.to_owned()))
        .collect();
    // Then the same sizes and rates in any format and either memory. Caps features other than
    // memory stay: videoconvert neither adds nor removes them.
    for &(s, features) in &usable {
        let open = open_structure(s, RAW_VIDEO, scale);
        offered.push((open.clone(), with_memory(features, None)));
        if non_memory_features(features).is_empty() {
            offered.push((open.clone(), gst::CapsFeatures::new([GL_MEMORY])));
            // Bayer in: bayer2rgb demosaics it into system memory.
            offered.push((
                open_structure(s, BAYER, scale),
                gst::CapsFeatures::new_empty(),
            ));
        }
    }
    truthful(&offered, offer)
}

/// `offered` as caps, each raw structure limited to the formats its memory's chain takes: GL
/// memory those GL converts (gldownload and glcolorconvert), system memory per `offer`. merge
/// (not simplify) keeps the order, so upstream still sees its best choice first.
fn truthful(offered: &[(gst::Structure, gst::CapsFeatures)], offer: SystemOffer) -> gst::Caps {
    let uploadable = formats::gl_upload_formats();
    let mut caps = gst::Caps::new_empty();
    let mut add = |s: &gst::Structure, f: &gst::CapsFeatures, allowed: Option<&[String]>| {
        let mut s = s.clone();
        if allowed.is_none_or(|allowed| limit_formats(&mut s, allowed)) {
            caps.merge_structure_full(s, Some(f.clone()));
        }
    };
    for (s, features) in offered {
        if s.name() != RAW_VIDEO {
            add(s, features, None);
            continue;
        }
        match (memory_of(features), offer) {
            (Memory::Gl, _) | (Memory::System, SystemOffer::UploadableOnly) => {
                add(s, features, Some(uploadable))
            }
            (Memory::System, SystemOffer::UploadableFirst) => {
                add(s, features, Some(uploadable));
                add(s, features, None);
            }
            _ => add(s, features, None),
        }
    }
    caps
}

/// Limits `s`'s format field to `allowed` (all of them where it leaves the format open);
/// false when none is left.
fn limit_formats(s: &mut gst::Structure, allowed: &[String]) -> bool {
    let kept: Vec<&str> = match formats::formats_of(s) {
        None => allowed.iter().map(String::as_str).collect(),
        Some(listed) => allowed
            .iter()
            .map(String::as_str)
            .filter(|a| listed.iter().any(|l| l == a))
            .collect(),
    };
    if kept.is_empty() {
        return false;
    }
    formats::set_formats(s, &kept);
    true
}

/// `s` renamed to `name`, without what a conversion (and, for a scaling bin, a scale) changes.
fn open_structure(s: &gst::StructureRef, name: &str, scale: bool) -> gst::Structure {
    let mut open = s.to_owned();
    open.set_name(name);
    open.remove_fields(["format", "colorimetry", "chroma-site"]);
    if name == BAYER {
        // Bayer caps carry none of raw video's description fields.
        open.remove_fields(["interlace-mode", "multiview-mode", "multiview-flags"]);
    }
    if scale {
        open.set("width", gst::IntRange::new(1, i32::MAX));
        open.set("height", gst::IntRange::new(1, i32::MAX));
        if open.has_field("pixel-aspect-ratio") {
            open.set(
                "pixel-aspect-ratio",
                gst::FractionRange::new(
                    gst::Fraction::new(1, i32::MAX),
                    gst::Fraction::new(i32::MAX, 1),
                ),
            );
        }
    }
    open
}

/// `video/x-raw(ANY); video/x-bayer`: both ghost pads' template.
pub(crate) fn template_caps() -> gst::Caps {
    let mut caps = gst::Caps::builder(RAW_VIDEO).any_features().build();
    caps.merge(gst::Caps::builder(BAYER).build());
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init() {
        gst::init().unwrap();
    }

    #[test]
    fn reads_input_format_and_memory() {
        init();
        let caps: gst::Caps = "video/x-raw,format=I420,width=64,height=48,framerate=30/1"
            .parse()
            .unwrap();
        let input = input_from_caps(&caps).unwrap();
        assert_eq!(input.memory, Memory::System);
        assert_eq!(input.format, "I420");
        assert!(input.is_yuv);

        let caps: gst::Caps = "video/x-raw(memory:GLMemory),format=RGBA,width=64,height=48"
            .parse()
            .unwrap();
        let input = input_from_caps(&caps).unwrap();
        assert_eq!(input.memory, Memory::Gl);
        assert!(!input.is_yuv);

        let caps: gst::Caps = "video/x-h264,stream-format=byte-stream".parse().unwrap();
        assert!(
            input_from_caps(&caps)
                .unwrap_err()
                .contains("not raw video")
        );
    }

    fn direct(input: &str, downstream: &str) -> Option<String> {
        init();
        let input: gst::Caps = input.parse().unwrap();
        let downstream: gst::Caps = downstream.parse().unwrap();
        direct_target(&input, &downstream)
    }

    #[test]
    fn the_fast_converter_is_chosen_only_where_it_gives_what_downstream_takes() {
        let sized = |f: &str| format!("video/x-raw,format={f},width=64,height=48,framerate=30/1");
        let i420 = format!("{},colorimetry=bt601", sized("I420"));
        let nv12 = format!("{},colorimetry=bt601", sized("NV12"));
        assert_eq!(
            direct(&i420, "video/x-raw,format=NV12").as_deref(),
            Some("NV12")
        );
        assert_eq!(
            direct(&nv12, "video/x-raw,format={ I420, YUY2 }").as_deref(),
            Some("I420")
        );
        // videoconvert would pick YV12 (equal loss, listed first): not a format made here.
        assert_eq!(direct(&nv12, "video/x-raw,format={ YV12, I420 }"), None);
        // Downstream takes the input as it is: videoconvert passes it through.
        assert_eq!(direct(&i420, "video/x-raw,format={ I420, NV12 }"), None);
        // Capture formats.
        for f in ["UYVY", "YUY2", "BGRx", "BGRA", "RGBx", "RGBA"] {
            assert_eq!(
                direct(&sized(f), "video/x-raw,format=NV12").as_deref(),
                Some("NV12"),
                "{f}"
            );
        }
        // UYVY into x264enc: videoconvert keeps 4:2:2 (Y42B), which the fast converter does
        // not make.
        assert_eq!(
            direct(
                &sized("UYVY"),
                "video/x-raw,format={ Y444, Y42B, I420, NV12 }"
            ),
            None
        );
        assert_eq!(
            direct(
                "video/x-raw,format=ARGB,width=64,height=48",
                "video/x-raw,format=NV12"
            ),
            None
        );
        assert_eq!(direct(&i420, "ANY"), None);
        // Another colorimetry, range or size downstream: videoconvert's work.
        assert_eq!(
            direct(&i420, "video/x-raw,format=NV12,colorimetry=bt709"),
            None
        );
        assert_eq!(
            direct(
                &format!("{},colorimetry=1:4:0:0", sized("I420")),
                "video/x-raw,format=NV12,colorimetry=2:4:0:0"
            ),
            None
        );
        assert_eq!(direct(&i420, "video/x-raw,format=NV12,width=32"), None);
        assert_eq!(
            direct(
                &format!("{},chroma-site=jpeg", sized("NV12")),
                "video/x-raw,format=I420,chroma-site=mpeg2"
            ),
            None
        );
        // RGB takes the colorimetry downstream asks for, within the matrices made here.
        assert_eq!(
            direct(&sized("BGRx"), "video/x-raw,format=NV12,colorimetry=bt2020").as_deref(),
            Some("NV12")
        );
        assert_eq!(
            direct(
                &sized("BGRx"),
                "video/x-raw,format=NV12,colorimetry=smpte240m"
            ),
            None
        );
        // Interlaced packed YUV is resampled per field by videoconvert.
        assert_eq!(
            direct(
                &format!("{},interlace-mode=interleaved", sized("UYVY")),
                "video/x-raw,format=NV12"
            ),
            None
        );
        // GL memory in, or GL memory out: not this converter.
        assert_eq!(
            direct(
                "video/x-raw(memory:GLMemory),format=I420,width=64,height=48",
                "video/x-raw(memory:GLMemory),format=NV12"
            ),
            None
        );
        assert_eq!(
            direct(&i420, "video/x-raw(memory:GLMemory),format=NV12"),
            None
        );
    }

    #[test]
    fn reads_what_downstream_accepts() {
        init();
        let caps: gst::Caps =
            "video/x-raw(memory:GLMemory),format=NV12; video/x-raw,format={ NV12, I420 }"
                .parse()
                .unwrap();
        let down = downstream_from_caps(&caps);
        assert_eq!(down.gl, Some(Formats::Only(vec!["NV12".into()])));
        assert_eq!(
            down.system,
            Some(Formats::Only(vec!["NV12".into(), "I420".into()]))
        );
        assert!(!down.any);

        let down = downstream_from_caps(&gst::Caps::new_any());
        assert!(down.any);

        let caps: gst::Caps = "video/x-raw(memory:CUDAMemory),format=NV12"
            .parse()
            .unwrap();
        let down = downstream_from_caps(&caps);
        assert_eq!(down.other_features, vec!["memory:CUDAMemory".to_owned()]);
    }

    #[test]
    fn offers_downstream_first_then_any_format() {
        init();
        let down: gst::Caps = "video/x-raw,format=NV12,width=1920,height=1080"
            .parse()
            .unwrap();
        let offered = sink_caps_without_chain(&down, false, SystemOffer::Any);
        let first = offered.structure(0).unwrap();
        assert_eq!(first.get::<&str>("format").unwrap(), "NV12");
        let i420: gst::Caps = "video/x-raw,format=I420,width=1920,height=1080"
            .parse()
            .unwrap();
        assert!(offered.can_intersect(&i420));
        let gl: gst::Caps = "video/x-raw(memory:GLMemory),format=RGBA,width=1920,height=1080"
            .parse()
            .unwrap();
        assert!(offered.can_intersect(&gl));
        let other_size: gst::Caps = "video/x-raw,format=I420,width=640,height=480"
            .parse()
            .unwrap();
        assert!(!offered.can_intersect(&other_size));
    }

    fn caps(s: &str) -> gst::Caps {
        init();
        s.parse().unwrap()
    }

    #[test]
    fn caps_features_that_are_not_memory_types_describe_system_memory() {
        let input = input_from_caps(&caps(
            "video/x-raw(format:Interlaced),format=AYUV,interlace-mode=alternate",
        ))
        .unwrap();
        assert_eq!(input.memory, Memory::System);
        assert_eq!(input.features, vec!["format:Interlaced".to_owned()]);
        let input = input_from_caps(&caps(
            "video/x-raw(memory:GLMemory, meta:GstVideoOverlayComposition),format=RGBA",
        ))
        .unwrap();
        assert_eq!(input.memory, Memory::Gl);
        assert_eq!(
            input.features,
            vec!["meta:GstVideoOverlayComposition".to_owned()]
        );
        let down = downstream_from_caps(&caps("video/x-raw(format:Interlaced),format=ARGB"));
        assert_eq!(down.system, Some(Formats::Only(vec!["ARGB".into()])));
        assert!(down.other_features.is_empty());
    }

    #[test]
    fn the_offer_keeps_caps_features_that_videoconvert_keeps() {
        let down = caps("video/x-raw(format:Interlaced),format=ARGB,width=1,height=1");
        let offered = sink_caps_without_chain(&down, false, SystemOffer::Any);
        assert!(offered.can_intersect(&caps(
            "video/x-raw(format:Interlaced),format=AYUV,width=1,height=1"
        )));
        // videoconvert neither adds nor removes a caps feature.
        assert!(!offered.can_intersect(&caps("video/x-raw,format=AYUV,width=1,height=1")));
        let plain = sink_caps_without_chain(
            &caps("video/x-raw,format=ARGB,width=1,height=1"),
            false,
            SystemOffer::Any,
        );
        assert!(!plain.can_intersect(&caps(
            "video/x-raw(format:Interlaced),format=AYUV,width=1,height=1"
        )));
    }

    #[test]
    fn bayer_is_read_and_offered_both_ways() {
        let input =
            input_from_caps(&caps("video/x-bayer,format=bggr,width=100,height=100")).unwrap();
        assert!(input.bayer && !input.is_yuv);
        assert_eq!(input.format, "bggr");
        let down = downstream_from_caps(&caps("video/x-bayer,format={ bggr, rggb }"));
        assert_eq!(
            down.bayer,
            Some(Formats::Only(vec!["bggr".into(), "rggb".into()]))
        );
        assert!(down.system.is_none() && down.gl.is_none());
        // Raw downstream: Bayer of the same size may come in (bayer2rgb), and the reverse.
        let offered = sink_caps_without_chain(
            &caps("video/x-raw,format=BGR,width=100,height=100"),
            false,
            SystemOffer::Any,
        );
        assert!(offered.can_intersect(&caps("video/x-bayer,format=grbg,width=100,height=100")));
        let offered = sink_caps_without_chain(
            &caps("video/x-bayer,format=bggr,width=100,height=100"),
            false,
            SystemOffer::Any,
        );
        assert!(offered.can_intersect(&caps("video/x-raw,format=ARGB,width=100,height=100")));
        assert!(offered.can_intersect(&caps("video/x-bayer,format=rggb,width=100,height=100")));
        assert!(template_caps().can_intersect(&caps("video/x-bayer,format=bggr")));
    }

    #[test]
    fn a_scaling_bin_offers_any_size() {
        let down = caps("video/x-raw,format=NV12,width=1280,height=720,pixel-aspect-ratio=1/1");
        let full_hd = caps("video/x-raw,format=I420,width=1920,height=1080,pixel-aspect-ratio=1/1");
        assert!(!sink_caps_without_chain(&down, false, SystemOffer::Any).can_intersect(&full_hd));
        assert!(sink_caps_without_chain(&down, true, SystemOffer::Any).can_intersect(&full_hd));
        let anamorphic =
            caps("video/x-raw,format=I420,width=720,height=576,pixel-aspect-ratio=16/15");
        assert!(sink_caps_without_chain(&down, true, SystemOffer::Any).can_intersect(&anamorphic));
    }

    #[test]
    fn takes_as_is_compares_the_whole_caps() {
        let input = caps("video/x-bayer,format=bggr,width=100,height=100");
        assert!(takes_as_is(&input, &caps("video/x-bayer")));
        assert!(!takes_as_is(&input, &caps("video/x-bayer,format=rggb")));
        assert!(!takes_as_is(&input, &caps("video/x-bayer,width=50")));
    }
}
