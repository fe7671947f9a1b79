// SPDX-License-Identifier: MPL-2.0
//! The bin's caps, read and written: what downstream accepts per memory (for `plan.rs`), the pad
//! templates, and caps moved between system and GL memory.

use super::plan::{Downstream, Formats};
use crate::formats::GL_MEMORY;

/// What downstream's caps accept, per memory.
pub(super) fn downstream_of(caps: &gst::CapsRef) -> Downstream {
    let mut down = Downstream {
        any: caps.is_any(),
        ..Default::default()
    };
    for (s, features) in caps.iter_with_features() {
        if features.is_any() {
            down.any = true;
        } else if s.name() != "video/x-raw" {
            continue;
        } else if features.contains(GL_MEMORY) {
            down.gl = Some(Formats::Any);
        } else if features.is_empty() || features.contains("memory:SystemMemory") {
            down.system = Some(Formats::Any);
        } else if let Some(f) = features.iter().next() {
            let f = f.to_string();
            if !down.other_features.contains(&f) {
                down.other_features.push(f);
            }
        }
    }
    down
}

/// What both paths can take and give: raw video in system or GL memory.
/// As informative as compositor's and glvideomixer's templates: every raw format this GStreamer
/// knows (compositor's list, best first) in system memory, and the formats GL converts in GL
/// memory ([`crate::formats::system_formats`], [`crate::formats::GL_CONVERT_FORMATS`]).
pub(super) fn template_caps() -> gst::Caps {
    let system = crate::formats::system_formats();
    let mut caps = gst::Caps::builder("video/x-raw")
        .field("format", gst::List::new(system.iter().map(String::as_str)))
        .field("width", gst::IntRange::new(1, i32::MAX))
        .field("height", gst::IntRange::new(1, i32::MAX))
        .field(
            "framerate",
            gst::FractionRange::new(gst::Fraction::new(0, 1), gst::Fraction::new(i32::MAX, 1)),
        )
        .build();
    caps.merge(
        gst::Caps::builder("video/x-raw")
            .features([GL_MEMORY])
            .field(
                "format",
                gst::List::new(crate::formats::GL_CONVERT_FORMATS.iter().copied()),
            )
            .field("width", gst::IntRange::new(1, i32::MAX))
            .field("height", gst::IntRange::new(1, i32::MAX))
            .field(
                "framerate",
                gst::FractionRange::new(gst::Fraction::new(0, 1), gst::Fraction::new(i32::MAX, 1)),
            )
            .build(),
    );
    caps
}

pub(super) fn filtered(caps: gst::Caps, filter: Option<&gst::CapsRef>) -> gst::Caps {
    match filter {
        Some(filter) => filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
        None => caps,
    }
}

pub(super) fn is_gl_memory(caps: &gst::CapsRef) -> bool {
    caps.features(0).is_some_and(|f| f.contains(GL_MEMORY))
}

/// `caps` with every structure's features replaced by `feature` (None: system memory).
pub(super) fn with_features(caps: &gst::CapsRef, feature: Option<&str>) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    {
        let out = out.get_mut().expect("a new caps is writable");
        for s in caps.iter() {
            let features = match feature {
                Some(f) => gst::CapsFeatures::new([f]),
                None => gst::CapsFeatures::new_empty(),
            };
            out.append_structure_full(s.to_owned(), Some(features));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_move_between_memories_with_their_fields() {
        gst::init().unwrap();
        let caps: gst::Caps = "video/x-raw,format=RGBA,width=64; video/x-raw,format=I420"
            .parse()
            .unwrap();
        let gl = with_features(&caps, Some(GL_MEMORY));
        assert!(is_gl_memory(&gl));
        assert_eq!(gl.size(), 2);
        let back = with_features(&gl, None);
        assert_eq!(back, caps);
        assert!(!is_gl_memory(&back));
    }
}
