// SPDX-License-Identifier: MPL-2.0
//! Raw video format facts and the reading of `format` fields, in one place for every element.

/// The caps feature of frames in GL memory (`GST_CAPS_FEATURE_MEMORY_GL_MEMORY`).
pub(crate) const GL_MEMORY: &str = "memory:GLMemory";

/// The caps feature of frames in CUDA memory (`GST_CAPS_FEATURE_MEMORY_CUDA_MEMORY`): the one
/// memory the planner names beyond system and GL (`crate::path::Path::CudaMemory`).
pub(crate) const CUDA_MEMORY: &str = "memory:CUDAMemory";

/// The `format` field of a caps structure: `None` when it leaves the format open (absent, or not
/// a string or list of strings).
pub(crate) fn formats_of(s: &gst::StructureRef) -> Option<Vec<String>> {
    if let Ok(format) = s.get::<&str>("format") {
        return Some(vec![format.to_owned()]);
    }
    s.get::<gst::List>("format")
        .ok()
        .map(|list| list.iter().filter_map(|v| v.get::<String>().ok()).collect())
}

/// Sets `format` to one name or, for several, a list.
pub(crate) fn set_formats(s: &mut gst::StructureRef, formats: &[&str]) {
    match formats {
        [one] => s.set("format", *one),
        many => s.set("format", gst::List::new(many.iter().copied())),
    }
}

/// Whether `format` names a YUV format GStreamer knows.
pub(crate) fn is_yuv(format: &str) -> bool {
    let video_format = gst_video::VideoFormat::from_string(format);
    video_format != gst_video::VideoFormat::Unknown
        && gst_video::VideoFormatInfo::from_format(video_format).is_yuv()
}

/// Every raw format the running GStreamer knows, best first (the order of `compositor`'s
/// template): the system-memory formats of a template that takes any. The binding's list is
/// checked against the running library, so a format the installed GStreamer does not know is
/// never named.
pub(crate) fn system_formats() -> Vec<String> {
    gst_video::VideoFormat::iter_raw()
        .map(|f| f.to_str().to_string())
        .filter(|name| gst_video::VideoFormat::from_string(name) != gst_video::VideoFormat::Unknown)
        .collect()
}

/// The formats GStreamer 1.22's `glcolorconvert` converts between (its pad templates).
pub(crate) const GL_CONVERT_FORMATS: &[&str] = &[
    "RGBA",
    "RGB",
    "RGBx",
    "BGR",
    "BGRx",
    "BGRA",
    "xRGB",
    "xBGR",
    "ARGB",
    "ABGR",
    "GBRA",
    "GBR",
    "RGBP",
    "BGRP",
    "Y444",
    "I420",
    "YV12",
    "Y42B",
    "Y41B",
    "NV12",
    "NV21",
    "NV16",
    "NV61",
    "YUY2",
    "UYVY",
    "Y210",
    "AYUV",
    "VUYA",
    "Y410",
    "GRAY8",
    "GRAY16_LE",
    "GRAY16_BE",
    "RGB16",
    "BGR16",
    "ARGB64",
    "A420",
    "AV12",
    "NV12_16L32S",
    "NV12_4L4",
    "BGR10A2_LE",
    "RGB10A2_LE",
    "P010_10LE",
    "P012_LE",
    "P016_LE",
    "Y212_LE",
    "Y412_LE",
];

/// The YUV formats GStreamer 1.26's `glcolorconvert` converts into each other directly
/// (measured on 1.26.2 with Mesa llvmpipe, each from and to I420; it agrees with the planar list
/// of 1.26's `gstglcolorconvert.c`). Y444_12LE is in that list but refused on 1.26.2; semi-planar
/// (NV12, NV21, NV16, NV24, P010), YV12 and packed 4:4:4 (AYUV, VUYA, Y410) convert only to and
/// from RGB. [`crate::gstversion::glcolorconvert_converts_yuv_directly`] reads it.
pub(crate) const GL_DIRECT_YUV_FORMATS: [&str; 25] = [
    "I420",
    "Y42B",
    "Y444",
    "Y41B",
    "YUY2",
    "UYVY",
    "v210",
    "A420",
    "A422",
    "A444",
    "I420_10LE",
    "I420_12LE",
    "I422_10LE",
    "I422_12LE",
    "Y444_10LE",
    "Y444_16LE",
    "A420_10LE",
    "A420_12LE",
    "A420_16LE",
    "A422_10LE",
    "A422_12LE",
    "A422_16LE",
    "A444_10LE",
    "A444_12LE",
    "A444_16LE",
];

/// The system-memory formats `glupload` takes, read once from its sink pad template in the
/// registry, so that they follow the installed GStreamer; [`GL_CONVERT_FORMATS`] where glupload
/// is not installed.
pub(crate) fn gl_upload_formats() -> &'static [String] {
    static FORMATS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        let from_registry = gst::ElementFactory::find("glupload")
            .map(|factory| upload_formats_of(&factory))
            .unwrap_or_default();
        if from_registry.is_empty() {
            GL_CONVERT_FORMATS.iter().map(|f| f.to_string()).collect()
        } else {
            from_registry
        }
    });
    &FORMATS
}

/// The formats of `factory`'s sink template structures in plain system memory.
fn upload_formats_of(factory: &gst::ElementFactory) -> Vec<String> {
    let mut formats: Vec<String> = Vec::new();
    for template in factory.static_pad_templates() {
        if template.direction() != gst::PadDirection::Sink {
            continue;
        }
        let caps = template.caps();
        for (s, features) in caps.iter_with_features() {
            // Plain or SystemMemory, not another memory nor the texture-upload meta.
            let system = features.iter().all(|f| {
                f == "memory:SystemMemory"
                    || !(f.starts_with("memory:") || f == "meta:GstVideoGLTextureUploadMeta")
            });
            if !system || s.name() != "video/x-raw" {
                continue;
            }
            for format in formats_of(s).unwrap_or_default() {
                if !formats.contains(&format) {
                    formats.push(format);
                }
            }
        }
    }
    formats
}

/// Whether `glupload` takes raw video of `format` in system memory.
pub(crate) fn is_gl_uploadable(format: &str) -> bool {
    gl_upload_formats().iter().any(|f| f == format)
}

/// RGB formats `glcolorconvert` (1.22) can produce from YUV.
pub(crate) fn is_gl_rgb_format(format: &str) -> bool {
    matches!(
        format,
        "RGBA"
            | "BGRA"
            | "RGBx"
            | "BGRx"
            | "ARGB"
            | "ABGR"
            | "xRGB"
            | "xBGR"
            | "RGB"
            | "BGR"
            | "RGB16"
            | "BGR16"
            | "RGBA64_LE"
            | "RGB10A2_LE"
            | "BGR10A2_LE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_single_formats_lists_and_open_fields() {
        gst::init().unwrap();
        let caps: gst::Caps = "video/x-raw,format=NV12; video/x-raw,format={ I420, YV12 }; \
                               video/x-raw"
            .parse()
            .unwrap();
        let all: Vec<_> = caps.iter().map(formats_of).collect();
        assert_eq!(
            all,
            [
                Some(vec!["NV12".to_owned()]),
                Some(vec!["I420".to_owned(), "YV12".to_owned()]),
                None
            ]
        );
        let mut s = gst::Structure::new_empty("video/x-raw");
        set_formats(&mut s, &["I420"]);
        assert_eq!(s.get::<&str>("format").unwrap(), "I420");
        set_formats(&mut s, &["I420", "NV12"]);
        assert_eq!(formats_of(&s).unwrap(), ["I420", "NV12"]);
    }

    #[test]
    fn yuv_and_rgb_are_told_apart() {
        gst::init().unwrap();
        assert!(is_yuv("NV12") && is_yuv("UYVY") && !is_yuv("RGBA") && !is_yuv("bogus"));
        assert!(is_gl_rgb_format("BGRx") && !is_gl_rgb_format("NV12"));
    }

    #[test]
    fn glupload_formats_come_from_the_registry() {
        gst::init().unwrap();
        assert!(is_gl_uploadable("NV12") && is_gl_uploadable("RGBA"));
        // 16-bit-per-channel ABGR is not in glupload's template (1.22 and 1.26): offering it
        // to a GL chain lost every such frame.
        assert!(!is_gl_uploadable("ABGR64_LE"));
        assert!(!is_gl_uploadable("not-a-format"));
    }
}
