// SPDX-License-Identifier: MPL-2.0
//! `stromautoconvert` and `stromautoconvertscale` as drop-in replacements: GStreamer's own check
//! suites for the elements they replace, ported with the element name swapped, and the cases
//! where a plane copy would be wrong (colorimetry, range, matrix) compared byte for byte with
//! `videoconvert`.
//!
//! Ported, from GStreamer 1.22's sources:
//! - gst-plugins-bad `tests/check/elements/autovideoconvert.c`: `test_autovideoconvert_rbg2bayer`,
//!   `test_autovideoconvert_videoconvert` (no error and no warning on the bus, EOS reached);
//! - gst-plugins-base `tests/check/elements/videoconvert.c`: `test_template_formats` (as: every
//!   format videoconvert's templates list converts through the bin both ways),
//!   `test_negotiate_alternate`, `test_videometa_layout_changes`. `test_converter_config_update`
//!   needs the `converter-config` property, which 1.22's videoconvert does not have;
//! - gst-plugins-base `tests/check/elements/videoscale.c` (for the scaling variant):
//!   `test_negotiation`, `test_negotiate_alternate`, `test_basetransform_negotiation`, the
//!   passthrough tests and the up/downscale size groups.

mod common;

use common::init;
use gst::prelude::*;
use gst_check::Harness;
use gst_video::prelude::*;

/// Both elements, as a user would swap them in.
const ELEMENTS: [&str; 2] = ["stromautoconvert", "stromautoconvertscale"];

/// Plays `description` to EOS and asserts what the upstream suites' `run_test` asserts: EOS,
/// and no error or warning on the bus.
fn assert_clean(description: &str) {
    let (_, log) = common::run_launch(description);
    assert!(
        log.error().is_none() && log.warning_messages().is_empty(),
        "'{description}': {:?}",
        log.problems()
    );
}

// ---------------------------------------------------------------- autovideoconvert.c

#[test]
fn autovideoconvert_suite_rgb_to_bayer() {
    for element in ELEMENTS {
        for mode in ["auto", "software"] {
            assert_clean(&format!(
                "videotestsrc num-buffers=1 ! video/x-raw,format=ARGB,depth=32,width=100,height=100,framerate=10/1 \
                 ! {element} mode={mode} ! video/x-bayer,width=100,height=100,format=bggr,framerate=10/1 ! fakesink"
            ));
        }
    }
}

#[test]
fn autovideoconvert_suite_videoconvert() {
    for element in ELEMENTS {
        for mode in ["auto", "software", "gl"] {
            assert_clean(&format!(
                "videotestsrc num-buffers=1 ! video/x-raw, format=RGB,width=100,height=100,framerate=10/1 \
                 ! {element} mode={mode} ! video/x-raw,format=BGR,width=100,height=100,framerate=10/1 ! fakesink"
            ));
        }
    }
}

#[test]
fn bayer_in_every_pattern_and_back() {
    for element in ELEMENTS {
        for pattern in ["bggr", "grbg", "gbrg", "rggb"] {
            assert_clean(&format!(
                "videotestsrc num-buffers=2 ! video/x-raw,format=ARGB,width=64,height=48 ! rgb2bayer \
                 ! video/x-bayer,format={pattern} ! {element} ! video/x-raw,format=I420 ! fakesink"
            ));
            assert_clean(&format!(
                "videotestsrc num-buffers=2 ! video/x-raw,format=ARGB,width=64,height=48 ! rgb2bayer \
                 ! video/x-bayer,format={pattern} ! {element} ! video/x-bayer,format=rggb ! fakesink"
            ));
        }
    }
}

/// Demosaiced frames handed on as they are (downstream takes bayer2rgb's ARGB, no pool from it)
/// are whole frames on every version: GStreamer 1.26's bayer2rgb sizes them by its Bayer input
/// unless it is offered a pool, which the bins do there.
#[test]
fn demosaiced_frames_are_whole_frames() {
    for element in ELEMENTS {
        let pipeline = common::launch(&format!(
            "videotestsrc num-buffers=2 ! video/x-raw,format=ARGB,width=64,height=48 ! rgb2bayer \
             ! video/x-bayer,format=bggr ! {element} ! video/x-raw,format=ARGB \
             ! appsink name=sink sync=false"
        ));
        let sink = common::by_name(&pipeline, "sink")
            .downcast::<gst_app::AppSink>()
            .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let sample = sink
            .try_pull_sample(gst::ClockTime::from_seconds(30))
            .expect("a frame");
        assert_eq!(sample.buffer().unwrap().size(), 64 * 48 * 4, "{element}");
        pipeline.set_state(gst::State::Null).unwrap();
    }
}

// ---------------------------------------------------------------- videoconvert.c

/// The formats `videoconvert`'s own templates list (its first, non-ANY structure).
fn videoconvert_formats() -> Vec<String> {
    init();
    let factory = gst::ElementFactory::find("videoconvert").expect("videoconvert");
    let template = factory
        .static_pad_templates()
        .into_iter()
        .find(|t| t.direction() == gst::PadDirection::Sink)
        .expect("a sink template");
    let caps = template.caps();
    let s = caps.structure(0).expect("a structure");
    s.get::<gst::List>("format")
        .expect("a format list")
        .iter()
        .filter_map(|v| v.get::<String>().ok())
        .collect()
}

/// Pushes one frame of `input` caps through `element` towards `output` caps with a Harness;
/// returns the flow and the output buffer, if any.
fn push_one(
    element: &str,
    input: &str,
    output: &str,
    buffer: gst::Buffer,
) -> (
    Result<gst::FlowSuccess, gst::FlowError>,
    Option<gst::Buffer>,
) {
    init();
    let mut h = Harness::new(element);
    h.set_sink_caps_str(output);
    h.set_src_caps_str(input);
    let flow = h.push(buffer);
    let out = h.try_pull();
    (flow, out)
}

fn frame_of(caps: &str) -> gst::Buffer {
    let info = gst_video::VideoInfo::from_caps(&caps.parse::<gst::Caps>().unwrap())
        .unwrap_or_else(|_| panic!("video caps {caps}"));
    let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
    {
        let buffer = buffer.get_mut().unwrap();
        buffer.set_pts(gst::ClockTime::ZERO);
        let mut map = buffer.map_writable().unwrap();
        for (i, b) in map.iter_mut().enumerate() {
            *b = (i * 7 % 251) as u8;
        }
    }
    buffer
}

/// `test_template_formats`, as a drop-in must read it: every format videoconvert converts, our
/// bins convert too, into and out of a common format.
#[test]
fn videoconvert_suite_template_formats_all_convert() {
    let formats = videoconvert_formats();
    assert!(
        formats.len() > 80,
        "videoconvert lists {} formats",
        formats.len()
    );
    let mut failures = Vec::new();
    for element in ELEMENTS {
        for format in &formats {
            let raw = format!("video/x-raw,format={format},width=16,height=8,framerate=30/1");
            let i420 = "video/x-raw,format=I420,width=16,height=8,framerate=30/1";
            for (input, output) in [(raw.as_str(), i420), (i420, raw.as_str())] {
                let (flow, out) = push_one(element, input, output, frame_of(input));
                if flow.is_err() || out.is_none() {
                    failures.push(format!("{element}: {input} -> {output}: {flow:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn videoconvert_suite_negotiate_alternate() {
    let plain = "video/x-raw,interlace-mode=alternate,width=1,height=1,format=AYUV";
    let interlaced_in =
        "video/x-raw(format:Interlaced),interlace-mode=alternate,width=1,height=1,format=ARGB";
    let interlaced_out =
        "video/x-raw(format:Interlaced),interlace-mode=alternate,width=1,height=1,format=AYUV";
    let plain_in = "video/x-raw,interlace-mode=alternate,width=1,height=1,format=ARGB";
    for element in ELEMENTS {
        let buffer = || gst::Buffer::from_slice([0u8; 4]);
        let (flow, _) = push_one(element, interlaced_in, plain, buffer());
        assert_eq!(
            flow,
            Err(gst::FlowError::NotNegotiated),
            "{element}: case 1"
        );
        let (flow, _) = push_one(element, plain_in, interlaced_out, buffer());
        assert_eq!(
            flow,
            Err(gst::FlowError::NotNegotiated),
            "{element}: case 2"
        );
        let (flow, out) = push_one(element, interlaced_in, interlaced_out, buffer());
        assert_eq!(flow, Ok(gst::FlowSuccess::Ok), "{element}: case 3");
        assert!(out.is_some(), "{element}: case 3 gives a frame");
    }
}

/// A `width`x`height` frame of `format` whose planes sit at `offsets` with `strides`, described
/// by a `GstVideoMeta`; every visible sample is `pixel(plane, x_byte, row)`.
fn frame_with_layout(
    format: gst_video::VideoFormat,
    width: u32,
    height: u32,
    offsets: &[usize],
    strides: &[i32],
    pixel: impl Fn(usize, usize, usize) -> u8,
) -> gst::Buffer {
    let info = gst_video::VideoInfo::builder(format, width, height)
        .build()
        .unwrap();
    let finfo = info.format_info();
    let mut size = 0;
    let mut rows_of = Vec::new();
    for plane in 0..info.n_planes() as usize {
        let component = (0..finfo.n_components() as u8)
            .find(|&c| finfo.plane()[c as usize] as usize == plane)
            .unwrap();
        let rows = finfo.scale_height(component, height) as usize;
        rows_of.push(rows);
        size = size.max(offsets[plane] + rows * strides[plane] as usize);
    }
    let mut buffer = gst::Buffer::with_size(size).unwrap();
    {
        let b = buffer.get_mut().unwrap();
        {
            let mut map = b.map_writable().unwrap();
            map.fill(0xAA);
            for plane in 0..info.n_planes() as usize {
                let row_bytes = (info.stride()[plane] as usize).min(strides[plane] as usize);
                for row in 0..rows_of[plane] {
                    for x in 0..row_bytes {
                        map[offsets[plane] + row * strides[plane] as usize + x] =
                            pixel(plane, x, row);
                    }
                }
            }
        }
        gst_video::VideoMeta::add_full(
            b,
            gst_video::VideoFrameFlags::empty(),
            format,
            width,
            height,
            offsets,
            strides,
        )
        .unwrap();
    }
    buffer
}

/// The picture's samples, plane by plane, without row padding.
fn visible(info: &gst_video::VideoInfo, buffer: &gst::BufferRef) -> Vec<u8> {
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info).unwrap();
    let finfo = info.format_info();
    let mut samples = Vec::new();
    for plane in 0..info.n_planes() {
        let component = (0..finfo.n_components() as u8)
            .find(|&c| finfo.plane()[c as usize] == plane)
            .unwrap();
        let rows = finfo.scale_height(component, info.height()) as usize;
        let row_bytes = finfo.scale_width(component, info.width()) as usize
            * finfo.pixel_stride()[component as usize] as usize;
        let stride = frame.plane_stride()[plane as usize] as usize;
        let data = frame.plane_data(plane).unwrap();
        for r in 0..rows {
            samples.extend_from_slice(&data[r * stride..r * stride + row_bytes]);
        }
    }
    samples
}

/// `test_videometa_layout_changes`, and the same for the plane copies (I420 <-> NV12) and the
/// scaling variant: a GstVideoMeta layout that changes from buffer to buffer gives the same
/// pixels.
#[test]
fn videoconvert_suite_videometa_layout_changes() {
    use gst_video::VideoFormat::{Gray8, I420, Nv12};
    let pixel = |plane: usize, x: usize, row: usize| (16 + plane * 40 + x * 3 + row * 11) as u8;
    /// Two layouts (plane offsets, plane strides) of one `width`x`height` frame.
    type Layouts<'a> = ([&'a [usize]; 2], [&'a [i32]; 2]);
    let cases: [(gst_video::VideoFormat, &str, u32, u32, Layouts); 3] = [
        // The upstream case: 2x2 GRAY8 at offset 0 stride 2, then offset 3 stride 4.
        (Gray8, "RGB", 2, 2, ([&[0], &[3]], [&[2], &[4]])),
        (
            I420,
            "NV12",
            6,
            4,
            ([&[0, 24, 30], &[5, 80, 112]], [&[6, 3, 3], &[16, 8, 12]]),
        ),
        (
            Nv12,
            "I420",
            6,
            4,
            ([&[0, 24], &[7, 100]], [&[6, 6], &[12, 20]]),
        ),
    ];
    for (element, mode) in ELEMENTS
        .iter()
        .flat_map(|e| ["auto", "gl"].map(|m| (*e, m)))
    {
        for (format, to, w, h, (offsets, strides)) in cases {
            init();
            let mut harness = Harness::new(element);
            harness
                .element()
                .unwrap()
                .set_property_from_str("mode", mode);
            let from = format.to_str();
            harness.set_src_caps_str(&format!(
                "video/x-raw,format={from},width={w},height={h},framerate=30/1"
            ));
            let out_caps = format!("video/x-raw,format={to},width={w},height={h},framerate=30/1");
            harness.set_sink_caps_str(&out_caps);
            let first = harness
                .push_and_pull(frame_with_layout(
                    format, w, h, offsets[0], strides[0], pixel,
                ))
                .unwrap();
            let second = harness
                .push_and_pull(frame_with_layout(
                    format, w, h, offsets[1], strides[1], pixel,
                ))
                .unwrap();
            let info =
                gst_video::VideoInfo::from_caps(&out_caps.parse::<gst::Caps>().unwrap()).unwrap();
            assert_eq!(
                visible(&info, &first),
                visible(&info, &second),
                "{element} mode={mode}: {from} -> {to}: the layout change changed the pixels"
            );
        }
    }
}

// ---------------------------------------------------------------- colorimetry: never a plain copy

/// The first output frame of `<source> ! <converter> ! <out_caps>`, with its caps: the
/// visible samples, read through the buffer's own layout.
fn first_frame(source: &str, converter: &str, out_caps: &str) -> (gst::Caps, Vec<u8>) {
    let pipeline = common::launch(&format!(
        "{source} ! {converter} ! {out_caps} ! appsink name=sink sync=false"
    ));
    let sink = common::by_name(&pipeline, "sink")
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let collector = common::Collector::on_appsink(&sink, common::FirstFrame::KeepAll);
    let log = common::run_to_eos(&pipeline, common::HANG);
    assert!(log.error().is_none(), "{converter}: {:?}", log.error());
    let (caps, buffer) = collector.collected().kept.swap_remove(0);
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    let bytes = visible(&info, &buffer);
    (caps, bytes)
}

/// A layout-only copy is right only when nothing but the layout differs: colorimetry (matrix,
/// range, transfer, primaries), chroma siting and size must match. Everything else must be
/// exactly `videoconvert`'s output.
#[test]
fn colorimetry_range_and_matrix_changes_equal_videoconvert() {
    let cases = [
        ("I420", "bt601", "NV12", "bt709"),
        ("I420", "bt709", "NV12", "bt601"),
        ("I420", "bt709", "NV12", "bt2020"),
        ("NV12", "bt2020", "I420", "bt709"),
        // full range -> limited range, same matrix (BT.601)
        ("I420", "1:4:0:0", "NV12", "2:4:0:0"),
        ("NV12", "2:4:0:0", "I420", "1:4:0:0"),
        // same matrix, other transfer and primaries
        ("I420", "2:4:5:4", "NV12", "2:4:5:1"),
    ];
    for element in ELEMENTS {
        for (from, from_cm, to, to_cm) in cases {
            let source = format!(
                "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={from},width=322,height=242,colorimetry={from_cm}"
            );
            let out = format!("video/x-raw,format={to},colorimetry={to_cm}");
            let (caps, ours) = first_frame(&source, element, &out);
            let (ref_caps, reference) = first_frame(&source, "videoconvert", &out);
            assert_eq!(
                caps, ref_caps,
                "{element}: {from}/{from_cm} -> {to}/{to_cm}"
            );
            assert!(
                ours == reference,
                "{element}: {from}/{from_cm} -> {to}/{to_cm} differs from videoconvert"
            );
        }
        // Chroma siting differs: videoconvert's work as well.
        let source = "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format=I420,width=322,height=242,chroma-site=jpeg";
        let out = "video/x-raw,format=NV12,chroma-site=mpeg2";
        assert!(first_frame(source, element, out) == first_frame(source, "videoconvert", out));
    }
}

#[test]
fn the_issue_pipeline_with_another_colorimetry_negotiates() {
    for element in ELEMENTS {
        assert_clean(&format!(
            "videotestsrc num-buffers=3 ! video/x-raw,format=I420,colorimetry=bt601 ! {element} \
             ! video/x-raw,format=NV12,colorimetry=bt709 ! fakesink"
        ));
    }
}

// ---------------------------------------------------------------- videoscale.c (scaling variant)

/// `_test_negotiation`: prerolls `src ! scaler ! sink` caps and returns the negotiated caps.
fn negotiated(element: &str, props: &str, src: &str, sink: &str) -> gst::Caps {
    init();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 pattern=2 ! {src} ! {element} {props} ! capsfilter name=out caps=\"{sink}\" ! fakesink"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    assert_eq!(
        pipeline.set_state(gst::State::Paused),
        Ok(gst::StateChangeSuccess::Async)
    );
    let (result, _, _) = pipeline.state(gst::ClockTime::from_seconds(30));
    assert_eq!(
        result,
        Ok(gst::StateChangeSuccess::Success),
        "{src} -> {sink}"
    );
    let caps = pipeline
        .by_name("out")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .current_caps()
        .unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    caps
}

fn size_and_par(caps: &gst::Caps) -> (i32, i32, gst::Fraction) {
    let s = caps.structure(0).unwrap();
    (
        s.get("width").unwrap(),
        s.get("height").unwrap(),
        s.get("pixel-aspect-ratio")
            .unwrap_or_else(|_| gst::Fraction::new(1, 1)),
    )
}

/// Width, height and pixel-aspect-ratio (n, d) a negotiation must end with.
type Negotiated = (i32, i32, i32, i32);

/// The cases of videoscale.c's `test_negotiation`, expected results included.
const NEGOTIATION_CASES: [(&str, &str, Negotiated); 9] = [
    (
        "video/x-raw,format=AYUV,width=720,height=576,pixel-aspect-ratio=16/15",
        "video/x-raw,format=AYUV,width=768,height=576",
        (768, 576, 1, 1),
    ),
    (
        "video/x-raw,format=AYUV,width=320,height=240",
        "video/x-raw,format=AYUV,width=640,height=320",
        (640, 320, 2, 3),
    ),
    (
        "video/x-raw,format=AYUV,width=320,height=240",
        "video/x-raw,format=AYUV,width=640,height=320,pixel-aspect-ratio=[0/1, 1/1]",
        (640, 320, 2, 3),
    ),
    (
        "video/x-raw,format=AYUV,width=1920,height=2560,pixel-aspect-ratio=1/1",
        "video/x-raw,format=AYUV,width=[1, 2048],height=[1, 2048],pixel-aspect-ratio=1/1",
        (1536, 2048, 1, 1),
    ),
    (
        "video/x-raw,format=AYUV,width=1920,height=2560,pixel-aspect-ratio=1/1",
        "video/x-raw,format=AYUV,width=[1, 2048],height=[1, 2048]",
        (1920, 2048, 4, 5),
    ),
    (
        "video/x-raw,format=AYUV,width=1920,height=2560",
        "video/x-raw,format=AYUV,width=[1, 2048],height=[1, 2048]",
        (1920, 2048, 4, 5),
    ),
    (
        "video/x-raw,format=AYUV,width=1920,height=2560",
        "video/x-raw,format=AYUV,width=1200,height=[1, 2048],pixel-aspect-ratio=1/1",
        (1200, 1600, 1, 1),
    ),
    // "Doesn't keep DAR but must be possible!"
    (
        "video/x-raw,format=AYUV,width=320,height=240,pixel-aspect-ratio=1/1",
        "video/x-raw,format=AYUV,width=200,height=200,pixel-aspect-ratio=1/2",
        (200, 200, 1, 2),
    ),
    (
        "video/x-raw,format=AYUV,width=854,height=480",
        "video/x-raw,format=AYUV,width=[2, 512, 2],height=[2, 512, 2],pixel-aspect-ratio=1/1",
        (512, 288, 1, 1),
    ),
];

#[test]
fn videoscale_suite_negotiation() {
    for mode in ["auto", "software", "gl"] {
        for (src, sink, (w, h, par_n, par_d)) in NEGOTIATION_CASES {
            let caps = negotiated("stromautoconvertscale", &format!("mode={mode}"), src, sink);
            assert_eq!(
                size_and_par(&caps),
                (w, h, gst::Fraction::new(par_n, par_d)),
                "mode={mode}: {src} -> {sink}: {caps}"
            );
        }
    }
}

#[test]
fn videoscale_suite_negotiate_alternate() {
    // Buffers are made before `push_one` runs, so GStreamer must be initialised first (the test
    // panicked when run on its own).
    init();
    let buffer = || gst::Buffer::from_slice([0u8; 4]);
    let element = "stromautoconvertscale";
    let (flow, _) = push_one(
        element,
        "video/x-raw(format:Interlaced),interlace-mode=alternate,width=1,height=2,format=ARGB",
        "video/x-raw,width=1,height=1,format=ARGB",
        buffer(),
    );
    assert_eq!(flow, Err(gst::FlowError::NotNegotiated), "case 1");
    let (flow, _) = push_one(
        element,
        "video/x-raw,interlace-mode=alternate,width=1,height=2,format=ARGB",
        "video/x-raw(format:Interlaced),width=1,height=1,format=ARGB",
        buffer(),
    );
    assert_eq!(flow, Err(gst::FlowError::NotNegotiated), "case 2");
    let (flow, out) = push_one(
        element,
        "video/x-raw(format:Interlaced),interlace-mode=alternate,width=1,height=2,format=ARGB",
        "video/x-raw(format:Interlaced),interlace-mode=alternate,width=1,height=1,format=ARGB",
        buffer(),
    );
    assert_eq!(flow, Ok(gst::FlowSuccess::Ok), "case 3");
    assert!(out.is_some());
}

/// `test_basetransform_negotiation`: same caps but the pixel-aspect-ratio: negotiates, three
/// buffers arrive.
#[test]
fn videoscale_suite_basetransform_negotiation() {
    for mode in ["auto", "software"] {
        assert_clean(&format!(
            "videotestsrc num-buffers=3 ! video/x-raw,format=UYVY,width=352,height=288,framerate=30/1,pixel-aspect-ratio=1/1 \
             ! stromautoconvertscale mode={mode} \
             ! video/x-raw,format=UYVY,width=352,height=288,framerate=30/1,pixel-aspect-ratio=12/11 ! fakesink"
        ));
    }
}

/// The passthrough tests: the same caps on both sides, and the buffers are the very ones that
/// came in (same memory), in every format videoconvertscale scales.
#[test]
fn videoscale_suite_passthrough() {
    use std::sync::{Arc, Mutex};
    init();
    for format in [
        "I420", "NV12", "YUY2", "UYVY", "AYUV", "BGRx", "RGBA", "GRAY8", "v210",
    ] {
        let caps = format!("video/x-raw,format={format},width=640,height=480,framerate=30/1");
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=2 ! {caps} ! identity name=before ! stromautoconvertscale \
             ! {caps} ! fakesink name=sink signal-handoffs=true"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let seen = Arc::new(Mutex::new((Vec::new(), Vec::new())));
        let record = |name: &str, into_first: bool| {
            let seen = seen.clone();
            pipeline
                .by_name(name)
                .unwrap()
                .static_pad(if name == "sink" { "sink" } else { "src" })
                .unwrap()
                .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                    if let Some(buffer) = info.buffer() {
                        let ptr = buffer.map_readable().unwrap().as_ptr() as usize;
                        let mut seen = seen.lock().unwrap();
                        if into_first {
                            seen.0.push(ptr)
                        } else {
                            seen.1.push(ptr)
                        }
                    }
                    gst::PadProbeReturn::Ok
                });
        };
        record("before", true);
        record("sink", false);
        let log = common::run_to_eos(&pipeline, common::HANG);
        assert!(log.error().is_none(), "{format}: {:?}", log.error());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.0.len(), 2, "{format}");
        assert_eq!(seen.0, seen.1, "{format}: the buffers were copied");
    }
}

/// The up/downscale groups (640x480, 1x1, 641x481 <-> 111x30, 30x111, 320x1, 1x240) for the
/// formats videotestsrc makes, each against videoconvertscale byte for byte.
#[test]
fn videoscale_suite_up_and_downscale_equal_videoconvertscale() {
    let sizes = [
        ((640, 480), (320, 240)),
        ((320, 240), (640, 480)),
        ((640, 480), (1, 1)),
        ((1, 1), (640, 480)),
        ((641, 481), (111, 30)),
        ((111, 30), (641, 481)),
        ((641, 481), (30, 111)),
        ((30, 111), (641, 481)),
        ((640, 480), (320, 1)),
        ((320, 1), (640, 480)),
        ((640, 480), (1, 240)),
        ((1, 240), (640, 480)),
    ];
    for format in ["I420", "NV12", "YUY2", "AYUV", "BGRx", "RGB", "GRAY8"] {
        for ((sw, sh), (dw, dh)) in sizes {
            let source = format!(
                "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={format},width={sw},height={sh},framerate=30/1"
            );
            let out = format!("video/x-raw,format={format},width={dw},height={dh}");
            for mode in ["auto", "software"] {
                let ours =
                    first_frame(&source, &format!("stromautoconvertscale mode={mode}"), &out);
                let reference = first_frame(&source, "videoconvertscale", &out);
                assert!(
                    ours == reference,
                    "{format} {sw}x{sh} -> {dw}x{dh} mode={mode}: differs from videoconvertscale"
                );
            }
        }
    }
}
