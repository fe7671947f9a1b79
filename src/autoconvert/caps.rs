// SPDX-License-Identifier: MPL-2.0
//! Reading GStreamer caps into the plain inputs of [`super::plan`], and the caps the bin offers
//! before it has a chain.

use super::plan::{Downstream, Formats, Input, Memory};
use crate::convert;
use crate::formats;

pub(crate) const GL_MEMORY: &str = "memory:GLMemory";
const SYSTEM_MEMORY: &str = "memory:SystemMemory";
const RAW_VIDEO: &str = "video/x-raw";

fn memory_of(features: &gst::CapsFeaturesRef) -> Memory {
    if features.contains(GL_MEMORY) {
        Memory::Gl
    } else if features.is_empty() || features.contains(SYSTEM_MEMORY) {
        Memory::System
    } else {
        Memory::Other(
            features
                .iter()
                .next()
                .map_or_else(|| "unknown".to_owned(), |f| f.to_string()),
        )
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
    if s.name() != RAW_VIDEO {
        return Err(format!(
            "{} is not raw video; stromautoconvert converts video/x-raw only \
             (decode it first, e.g. with decodebin)",
            s.name()
        ));
    }
    let format = s
        .get::<&str>("format")
        .map_err(|_| "caps have no fixed format".to_owned())?;
    Ok(Input {
        memory: memory_of(features),
        format: format.to_owned(),
        is_yuv: formats::is_yuv(format),
    })
}

/// A format the internal fast converter makes from the fixed `input` caps that `downstream`
/// takes in system memory, in downstream's order of preference; `None` when downstream takes
/// the input as it is (`videoconvert` then passes it through) or no direct conversion fits.
///
/// A layout-only conversion keeps every other field (colorimetry, chroma site, interlacing,
/// size), so it fits only where downstream takes exactly those: a change of colorimetry or
/// range is `videoconvert`'s work.
pub(crate) fn direct_target(input: &gst::CapsRef, downstream: &gst::CapsRef) -> Option<String> {
    let (s, features) = input.iter_with_features().next()?;
    if memory_of(features) != Memory::System
        || downstream.is_any()
        || input.can_intersect(downstream)
    {
        return None;
    }
    let targets = convert::direct_targets(s.get::<&str>("format").ok()?);
    let candidates: Vec<(&str, gst::Caps)> = targets
        .iter()
        .map(|&(target, convert::Kind::Layout)| {
            let mut candidate = input.to_owned();
            if let Some(s) = candidate.make_mut().structure_mut(0) {
                s.set("format", target);
            }
            (target, candidate)
        })
        .collect();
    downstream.iter_with_features().find_map(|(s, features)| {
        let mut one = gst::Caps::new_empty();
        one.get_mut()?
            .append_structure_full(s.to_owned(), Some(features.to_owned()));
        candidates
            .iter()
            .find(|(_, candidate)| candidate.can_intersect(&one))
            .map(|(target, _)| (*target).to_owned())
    })
}

/// What the caps downstream answered allow, per memory type.
pub(crate) fn downstream_from_caps(caps: &gst::CapsRef) -> Downstream {
    let mut down = Downstream {
        any: caps.is_any(),
        ..Default::default()
    };
    for (s, features) in caps.iter_with_features() {
        if features.is_any() {
            down.any = true;
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
/// can pick passthrough), then the same sizes and rates in any format, in system or GL memory.
pub(crate) fn sink_caps_without_chain(downstream: &gst::CapsRef) -> gst::Caps {
    if downstream.is_any() || downstream.is_empty() {
        return template_caps();
    }
    let raw: Vec<(&gst::StructureRef, &gst::CapsFeaturesRef)> = downstream
        .iter_with_features()
        .filter(|(s, f)| s.name() == RAW_VIDEO && !f.is_any())
        .filter(|(_, f)| matches!(memory_of(f), Memory::System | Memory::Gl))
        .collect();
    if raw.is_empty() {
        return template_caps();
    }
    let mut caps = gst::Caps::new_empty();
    for &(s, features) in &raw {
        caps.merge_structure_full(s.to_owned(), Some(features.to_owned()));
    }
    // Then the same sizes and rates in any format and either memory. merge (not simplify) keeps
    // the exact downstream structures first, so upstream can still pick passthrough.
    for &(s, _) in &raw {
        let mut open = s.to_owned();
        open.remove_fields(["format", "colorimetry", "chroma-site"]);
        caps.merge_structure_full(open.clone(), Some(gst::CapsFeatures::new_empty()));
        caps.merge_structure_full(open, Some(gst::CapsFeatures::new([GL_MEMORY])));
    }
    caps
}

/// `video/x-raw(ANY)`: both ghost pads' template.
pub(crate) fn template_caps() -> gst::Caps {
    gst::Caps::builder(RAW_VIDEO).any_features().build()
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
        let i420 = "video/x-raw,format=I420,width=64,height=48,colorimetry=bt601";
        let nv12 = "video/x-raw,format=NV12,width=64,height=48,colorimetry=bt601";
        assert_eq!(
            direct(i420, "video/x-raw,format=NV12").as_deref(),
            Some("NV12")
        );
        assert_eq!(
            direct(nv12, "video/x-raw,format={ YV12, I420 }").as_deref(),
            Some("I420")
        );
        // Downstream takes the input as it is: videoconvert passes it through.
        assert_eq!(direct(i420, "video/x-raw,format={ I420, NV12 }"), None);
        // Not a pair it converts, or no constraint at all.
        assert_eq!(
            direct("video/x-raw,format=BGRx", "video/x-raw,format=NV12"),
            None
        );
        assert_eq!(direct(i420, "ANY"), None);
        // Another colorimetry, range or size downstream: videoconvert's work.
        assert_eq!(
            direct(i420, "video/x-raw,format=NV12,colorimetry=bt709"),
            None
        );
        assert_eq!(
            direct(
                "video/x-raw,format=I420,colorimetry=1:4:0:0",
                "video/x-raw,format=NV12,colorimetry=2:4:0:0"
            ),
            None
        );
        assert_eq!(direct(i420, "video/x-raw,format=NV12,width=32"), None);
        // GL memory in, or GL memory out: not this converter.
        assert_eq!(
            direct(
                "video/x-raw(memory:GLMemory),format=I420",
                "video/x-raw(memory:GLMemory),format=NV12"
            ),
            None
        );
        assert_eq!(
            direct(i420, "video/x-raw(memory:GLMemory),format=NV12"),
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
        let offered = sink_caps_without_chain(&down);
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
}
