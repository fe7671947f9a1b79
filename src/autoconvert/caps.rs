//! Reading GStreamer caps into the plain inputs of [`super::plan`], and the caps the bin offers
//! before it has a chain.

use super::plan::{Downstream, Formats, Input, Memory};

pub const GL_MEMORY: &str = "memory:GLMemory";
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
    if let Ok(format) = s.get::<&str>("format") {
        return Formats::Only(vec![format.to_owned()]);
    }
    if let Ok(list) = s.get::<gst::List>("format") {
        return Formats::Only(list.iter().filter_map(|v| v.get::<String>().ok()).collect());
    }
    Formats::Any
}

/// The fixed caps arriving on the sink pad, or why they are not raw video.
pub fn input_from_caps(caps: &gst::CapsRef) -> Result<Input, String> {
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
    let video_format = gst_video::VideoFormat::from_string(format);
    let is_yuv = video_format != gst_video::VideoFormat::Unknown
        && gst_video::VideoFormatInfo::from_format(video_format).is_yuv();
    Ok(Input {
        memory: memory_of(features),
        format: format.to_owned(),
        is_yuv,
    })
}

/// What the caps downstream answered allow, per memory type.
pub fn downstream_from_caps(caps: &gst::CapsRef) -> Downstream {
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
pub fn sink_caps_without_chain(downstream: &gst::CapsRef) -> gst::Caps {
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
pub fn template_caps() -> gst::Caps {
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
