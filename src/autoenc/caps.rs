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

/// 8-bit 4:4:4: what an encoder gets for a picture with an odd width or height, which 4:2:0
/// cannot hold at its exact size (x264 refuses it, openh264 drops a column): stock `x264enc`
/// picks Y444 for such sizes too.
const ODD_SIZE_FORMATS: [&str; 1] = ["Y444"];

/// The profiles of `codec` that are 8-bit 4:2:0 (what browsers and hardware decoders play).
fn profiles_420_8bit(codec: Codec) -> &'static [&'static str] {
    match codec {
        Codec::H264 => &[
            "constrained-baseline",
            "baseline",
            "main",
            "extended",
            "high",
            "progressive-high",
            "constrained-high",
        ],
        Codec::H265 => &["main", "main-still-picture", "main-intra"],
        Codec::Av1 => &["main"],
    }
}

/// Whether `downstream` takes an 8-bit 4:2:0 stream of `codec`: it does unless its caps ask only
/// for other profiles, chroma formats or bit depths.
pub(super) fn downstream_takes_420_8bit(codec: Codec, downstream: &gst::CapsRef) -> bool {
    let probe = gst::Caps::builder(codec.media_type())
        .field(
            "profile",
            gst::List::new(profiles_420_8bit(codec).iter().copied()),
        )
        .field("chroma-format", "4:2:0")
        .field("bit-depth-luma", 8u32)
        .build();
    downstream.can_intersect(&probe)
}

/// What the format gate between the converter and the encoder lets through.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum FormatGate {
    /// Anything the encoder takes: downstream asked for another profile or chroma format, or
    /// the encoder takes no 8-bit 4:2:0 format at all.
    Open,
    /// Only these caps: the encoder's own, restricted to 8-bit 4:2:0 (or 4:4:4 for an odd
    /// size).
    Only(gst::Caps),
    /// The encoder cannot take the picture at its exact size (odd size, no 4:4:4 format).
    Impossible(String),
}

/// The gate for an encoder whose sink pad takes `encoder`, when downstream accepts `downstream`
/// and the input is `size` (None before the caps are known): 8-bit 4:2:0, so that the output
/// plays everywhere and does not change with the encoder; 4:4:4 for odd sizes so that the
/// picture keeps its size; the encoder's own choice when downstream asks for another profile.
pub(super) fn format_gate(
    codec: Codec,
    encoder: &gst::CapsRef,
    downstream: &gst::CapsRef,
    size: Option<(i32, i32)>,
) -> FormatGate {
    if !downstream_takes_420_8bit(codec, downstream) {
        return FormatGate::Open;
    }
    let odd = size.filter(|(w, h)| w % 2 != 0 || h % 2 != 0);
    let formats: &[&str] = if odd.is_some() {
        &ODD_SIZE_FORMATS
    } else {
        &PREFERRED_FORMATS
    };
    let only = restrict_formats(encoder, formats);
    match (only.is_empty(), odd) {
        (false, _) => FormatGate::Only(only),
        (true, None) => FormatGate::Open,
        (true, Some((w, h))) => FormatGate::Impossible(format!(
            "takes no {} input, which a picture of {w}x{h} (odd size) needs to be encoded at its \
             exact size",
            formats.join("/")
        )),
    }
}

/// The raw video structures of `caps` restricted to those of `formats` they allow, features
/// kept; ANY caps give the formats in any memory.
fn restrict_formats(caps: &gst::CapsRef, formats: &[&str]) -> gst::Caps {
    if caps.is_any() {
        let mut any = gst::Caps::builder("video/x-raw").any_features().build();
        formats::set_formats(
            any.make_mut().structure_mut(0).expect("one structure"),
            formats,
        );
        return any;
    }
    let mut out = gst::Caps::new_empty();
    {
        let out = out.get_mut().expect("new caps are writable");
        for (s, features) in caps.iter_with_features() {
            if s.name() != "video/x-raw" {
                continue;
            }
            let allowed: Vec<&str> = match formats::formats_of(s) {
                Some(listed) => formats
                    .iter()
                    .copied()
                    .filter(|f| listed.iter().any(|l| l == f))
                    .collect(),
                None => formats.to_vec(),
            };
            if allowed.is_empty() {
                continue;
            }
            let mut only = s.to_owned();
            formats::set_formats(&mut only, &allowed);
            out.append_structure_full(only, Some(features.to_owned()));
        }
    }
    out
}

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

    #[test]
    fn the_gate_gives_420_8bit_unless_downstream_asks_for_another_profile() {
        gst::init().unwrap();
        let x264 =
            caps("video/x-raw, format={ Y444, Y42B, I420, YV12, NV12, NV16 }, width=[1, 16384]");
        let any = gst::Caps::new_any();
        let FormatGate::Only(only) = format_gate(Codec::H264, &x264, &any, None) else {
            panic!("a gate")
        };
        assert_eq!(
            formats::formats_of(only.structure(0).unwrap()).unwrap(),
            ["NV12", "I420", "YV12"]
        );
        for asks_other in [
            "video/x-h264, profile=high-4:2:2",
            "video/x-h264, profile={ high-4:4:4, high-10 }",
            "video/x-h264, chroma-format=4:2:2",
        ] {
            assert_eq!(
                format_gate(Codec::H264, &x264, &caps(asks_other), Some((320, 240))),
                FormatGate::Open,
                "{asks_other}"
            );
        }
        for takes_420 in [
            "video/x-h264, stream-format=avc",
            "video/x-h264, profile={ main, high-4:4:4 }",
        ] {
            assert!(matches!(
                format_gate(Codec::H264, &x264, &caps(takes_420), None),
                FormatGate::Only(_)
            ));
        }
        let h265 = caps("video/x-h265, profile=main-422-10");
        assert_eq!(
            format_gate(Codec::H265, &x264, &h265, None),
            FormatGate::Open
        );
        let av1 = caps("video/x-av1, profile=main");
        assert!(matches!(
            format_gate(Codec::Av1, &x264, &av1, None),
            FormatGate::Only(_)
        ));
    }

    #[test]
    fn odd_sizes_get_444_or_are_refused_and_gl_memory_is_kept() {
        gst::init().unwrap();
        let any = gst::Caps::new_any();
        let x264 = caps("video/x-raw, format={ Y444, I420, NV12 }");
        for size in [(853, 480), (1279, 720), (1, 1), (4097, 1), (2, 3)] {
            let FormatGate::Only(only) = format_gate(Codec::H264, &x264, &any, Some(size)) else {
                panic!("{size:?}")
            };
            assert_eq!(only, caps("video/x-raw, format=Y444"));
        }
        let openh264 = caps("video/x-raw, format=I420");
        let FormatGate::Impossible(why) =
            format_gate(Codec::H264, &openh264, &any, Some((853, 480)))
        else {
            panic!("openh264 cannot keep 853 columns")
        };
        assert!(why.contains("853x480 (odd size)"), "{why}");
        let ten_bit = caps("video/x-raw, format=P010_10LE");
        assert_eq!(
            format_gate(Codec::H265, &ten_bit, &any, Some((320, 240))),
            FormatGate::Open
        );
        let gl = caps("video/x-raw(memory:GLMemory), format={ NV12, RGBA }");
        let FormatGate::Only(only) = format_gate(Codec::H264, &gl, &any, None) else {
            panic!("GL gate")
        };
        assert_eq!(only, caps("video/x-raw(memory:GLMemory), format=NV12"));
    }
}
