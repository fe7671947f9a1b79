// SPDX-License-Identifier: MPL-2.0
//! The caps the bin offers: raw video of any memory in, the codec's parsed stream out, and the
//! order in which a flexible upstream is offered raw formats.

use super::Codec;
use crate::formats;

/// 8-bit 4:2:0, what every decoder plays and every encoder of the table takes (NVENC and VA
/// prefer NV12, software encoders I420): offered first, so that a source free to choose (a
/// `videotestsrc`) does not pick the first format of the encoder's template (x264enc lists
/// Y444 first, which gives a High 4:4:4 stream few players decode) and so that the format does
/// not change with the encoder when the bin falls back.
const PREFERRED_FORMATS: [&str; 3] = ["NV12", "I420", "YV12"];

/// The parser's output for `codec`: every stream-format and alignment it can give downstream.
pub(super) fn codec_caps(codec: Codec) -> gst::Caps {
    let (stream_formats, alignments): (&[&str], &[&str]) = match codec {
        Codec::H264 => (&["avc", "avc3", "byte-stream"], &["au", "nal"]),
        Codec::H265 => (&["hvc1", "hev1", "byte-stream"], &["au", "nal"]),
        Codec::Av1 => (&["obu-stream", "annexb"], &["obu", "tu", "frame"]),
    };
    gst::Caps::builder(codec.media_type())
        .field(
            "stream-format",
            gst::List::new(stream_formats.iter().copied()),
        )
        .field("alignment", gst::List::new(alignments.iter().copied()))
        .build()
}

/// Every codec's [`codec_caps`]: the src template.
pub(super) fn all_codec_caps() -> gst::Caps {
    let mut caps = gst::Caps::new_empty();
    for codec in [Codec::H264, Codec::H265, Codec::Av1] {
        caps.merge(codec_caps(codec));
    }
    caps
}

/// Raw video in any memory: the sink template, and the answer before there is a chain.
pub(super) fn raw_caps() -> gst::Caps {
    gst::Caps::builder("video/x-raw").any_features().build()
}

/// `caps` with, in front of each raw video structure that allows one of the preferred formats,
/// a copy restricted to them (in the structure's own order); the rest unchanged.
pub(super) fn prefer_common_formats(caps: &gst::CapsRef) -> gst::Caps {
    if caps.is_any() {
        return caps.to_owned();
    }
    let mut out = gst::Caps::new_empty();
    {
        let out = out.get_mut().expect("new caps are writable");
        for (s, features) in caps.iter_with_features() {
            if s.name() == "video/x-raw" {
                let listed = formats::formats_of(s);
                let preferred: Vec<&str> = match &listed {
                    Some(listed) => listed
                        .iter()
                        .map(String::as_str)
                        .filter(|f| PREFERRED_FORMATS.contains(f))
                        .collect(),
                    None => PREFERRED_FORMATS.to_vec(),
                };
                let only_preferred = listed.as_ref().is_some_and(|l| l.len() == preferred.len());
                if !preferred.is_empty() && !only_preferred {
                    let mut first = s.to_owned();
                    formats::set_formats(&mut first, &preferred);
                    out.append_structure_full(first, Some(features.to_owned()));
                }
            }
            out.append_structure_full(s.to_owned(), Some(features.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(s: &str) -> gst::Caps {
        s.parse().unwrap()
    }

    #[test]
    fn common_formats_come_first_in_the_offers_own_order() {
        gst::init().unwrap();
        let x264 =
            caps("video/x-raw, format={ Y444, Y42B, I420, YV12, NV12, I420_10LE }, width=[1, 100]");
        let ordered = prefer_common_formats(&x264);
        assert_eq!(ordered.size(), 2);
        let first = ordered.structure(0).unwrap();
        assert_eq!(
            formats::formats_of(first).unwrap(),
            ["I420", "YV12", "NV12"]
        );
        assert_eq!(first.get::<gst::IntRange<i32>>("width").unwrap().max(), 100);
        assert!(ordered.structure(1).unwrap() == x264.structure(0).unwrap());
        // The same caps, only ordered: an upstream fixating them picks I420.
        assert!(ordered.is_subset(&x264) && x264.is_subset(&ordered));
    }

    #[test]
    fn offers_without_a_common_format_or_with_only_those_are_unchanged() {
        gst::init().unwrap();
        for offer in [
            "video/x-raw, format=Y444",
            "video/x-raw, format=NV12",
            "video/x-raw(memory:GLMemory), format={ NV12, I420 }",
            "video/x-h264",
        ] {
            let offer = caps(offer);
            assert_eq!(prefer_common_formats(&offer), offer);
        }
        assert!(prefer_common_formats(&gst::Caps::new_any()).is_any());
    }

    #[test]
    fn an_open_format_gets_the_common_ones_first_and_features_are_kept() {
        gst::init().unwrap();
        let ordered = prefer_common_formats(&caps("video/x-raw(memory:GLMemory), width=16"));
        assert_eq!(ordered.size(), 2);
        let (first, features) = ordered.iter_with_features().next().unwrap();
        assert_eq!(formats::formats_of(first).unwrap(), PREFERRED_FORMATS);
        assert!(features.contains("memory:GLMemory"));
    }

    #[test]
    fn codec_caps_are_what_the_parsers_give() {
        gst::init().unwrap();
        for codec in [Codec::H264, Codec::H265, Codec::Av1] {
            let parser = gst::ElementFactory::find(codec.parser()).expect("parser installed");
            let template = parser
                .static_pad_templates()
                .into_iter()
                .find(|t| t.direction() == gst::PadDirection::Src)
                .unwrap()
                .caps();
            assert!(template.can_intersect(&codec_caps(codec)), "{codec:?}");
            let mut stripped = template.copy();
            stripped
                .make_mut()
                .structure_mut(0)
                .unwrap()
                .remove_field("parsed");
            assert!(
                stripped.is_subset(&codec_caps(codec)),
                "{codec:?}: {template}"
            );
        }
        assert_eq!(all_codec_caps().size(), 3);
    }
}
