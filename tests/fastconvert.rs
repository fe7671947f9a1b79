// SPDX-License-Identifier: MPL-2.0
//! The fast converter (`stromfastconvert`, inside `stromautoconvert`) against `videoconvert` on
//! the same noise buffers: every conversion bit-exact (packed YUV, I420/NV12, and RGB → YUV for
//! BT.601/709/2020 in limited and full range; the bound for RGB was a mean of 0.5 and a
//! maximum of 8), at odd sizes and both chroma sitings, with GstVideoMeta strides and offsets
//! that change from buffer to buffer; the same output caps as `videoconvert`; and `videoconvert`,
//! never a copy, wherever the colour description changes.

mod common;

use gst::prelude::*;
use gst_video::prelude::*;

use common::{init, noise};

/// How the test lays out its input buffers.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// GStreamer's default strides, no meta.
    Packed,
    /// Wider strides and a leading offset, different for every buffer, given by a GstVideoMeta.
    VaryingMeta,
}

const FRAMES: usize = 3;

/// `FRAMES` buffers of noise for `info`, laid out as `layout` says.
fn input_buffers(info: &gst_video::VideoInfo, layout: Layout) -> Vec<gst::Buffer> {
    (0..FRAMES)
        .map(|i| {
            let mut buffer = match layout {
                Layout::Packed => gst::Buffer::from_mut_slice(noise(info.size(), i as u64 + 1)),
                Layout::VaryingMeta => {
                    let extra = 64 * (i + 1);
                    let lead = 32 * i + 16;
                    let mut offsets = Vec::new();
                    let mut strides = Vec::new();
                    let mut size = lead;
                    for p in 0..info.n_planes() as usize {
                        let stride = info.stride()[p] as usize + extra;
                        let rows = plane_rows(info, p);
                        offsets.push(size);
                        strides.push(stride as i32);
                        size += stride * rows;
                    }
                    let mut buffer = gst::Buffer::from_mut_slice(noise(size, i as u64 + 7));
                    gst_video::VideoMeta::add_full(
                        buffer.get_mut().unwrap(),
                        gst_video::VideoFrameFlags::empty(),
                        info.format(),
                        info.width(),
                        info.height(),
                        &offsets,
                        &strides,
                    )
                    .unwrap();
                    buffer
                }
            };
            buffer
                .get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
            buffer
        })
        .collect()
}

/// Rows of plane `p`: the height of the first component stored in it.
fn plane_rows(info: &gst_video::VideoInfo, p: usize) -> usize {
    let finfo = info.format_info();
    let component = (0..finfo.n_components() as u8)
        .find(|&c| finfo.plane()[c as usize] as usize == p)
        .expect("a component in every plane");
    finfo.scale_height(component, info.height()) as usize
}

/// What came out: the caps and each frame's visible samples, plane by plane.
struct Output {
    caps: gst::Caps,
    frames: Vec<Vec<Vec<u8>>>,
    chain: Option<String>,
}

/// `appsrc ! <converter> ! <consumer> ! appsink` on `buffers`.
fn run(converter: &str, input: &gst::Caps, consumer: &str, buffers: &[gst::Buffer]) -> Output {
    init();
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time ! {converter} ! {consumer} ! appsink name=sink sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    src.set_caps(Some(input));
    for buffer in buffers {
        src.push_buffer(buffer.clone()).unwrap();
    }
    src.end_of_stream().unwrap();
    let sink = common::by_name(&pipeline, "sink")
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let collector = common::Collector::on_appsink(&sink, common::FirstFrame::KeepAll);
    let log = common::run_to_eos(&pipeline, common::HANG);
    assert!(log.error().is_none(), "{converter}: {:?}", log.error());
    let chain = log
        .decisions()
        .first()
        .and_then(|d| d.get::<String>("chain").ok());
    let samples = collector.collected().kept;
    assert_eq!(samples.len(), buffers.len(), "{converter}: frames out");
    let caps = samples[0].0.clone();
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    let frames = samples
        .iter()
        .map(|(_, buffer)| visible_planes(&info, buffer))
        .collect();
    Output {
        caps,
        frames,
        chain,
    }
}

/// Each plane's visible bytes, read through the buffer's own GstVideoMeta where it has one.
fn visible_planes(info: &gst_video::VideoInfo, buffer: &gst::BufferRef) -> Vec<Vec<u8>> {
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info).unwrap();
    let finfo = info.format_info();
    (0..info.n_planes() as usize)
        .map(|p| {
            let component = (0..finfo.n_components() as u8)
                .find(|&c| finfo.plane()[c as usize] as usize == p)
                .unwrap();
            let rows = finfo.scale_height(component, info.height()) as usize;
            let row_bytes = finfo.scale_width(component, info.width()) as usize
                * finfo.pixel_stride()[component as usize] as usize;
            let stride = frame.plane_stride()[p] as usize;
            let data = frame.plane_data(p as u32).unwrap();
            (0..rows)
                .flat_map(|r| data[r * stride..r * stride + row_bytes].iter().copied())
                .collect()
        })
        .collect()
}

/// Mean and maximum absolute difference over all samples of all frames.
fn difference(a: &Output, b: &Output) -> (f64, u8) {
    let (mut sum, mut n, mut max) = (0u64, 0u64, 0u8);
    for (fa, fb) in a.frames.iter().zip(&b.frames) {
        for (pa, pb) in fa.iter().zip(fb) {
            assert_eq!(pa.len(), pb.len());
            for (x, y) in pa.iter().zip(pb) {
                let d = x.abs_diff(*y);
                sum += u64::from(d);
                max = max.max(d);
                n += 1;
            }
        }
    }
    (sum as f64 / n.max(1) as f64, max)
}

/// Converts the same buffers with the bin and with `videoconvert`, checks the bin used the fast
/// converter, the caps are equal and every sample is.
fn compare(input: &str, consumer: &str, layout: Layout) {
    compare_on_threads(input, consumer, layout, &[]);
}

/// [`compare`] with the bin's default threads, and with each `n-threads` of `threads` (the fast
/// converter then splits every frame into row bands over that many threads).
fn compare_on_threads(input: &str, consumer: &str, layout: Layout, threads: &[u32]) {
    init();
    let input: gst::Caps = input.parse().unwrap();
    let info = gst_video::VideoInfo::from_caps(&input).unwrap();
    let buffers = input_buffers(&info, layout);
    let reference = run("videoconvert", &input, consumer, &buffers);
    let bins = std::iter::once("stromautoconvert mode=software".to_owned()).chain(
        threads
            .iter()
            .map(|n| format!("stromautoconvert mode=software n-threads={n}")),
    );
    for bin in bins {
        let ours = run(&bin, &input, consumer, &buffers);
        let what = format!("{bin}: {input} -> {consumer} ({layout:?})");
        assert_eq!(
            ours.chain.as_deref(),
            Some("stromfastconvert"),
            "{what}: the fast converter is used"
        );
        assert_eq!(ours.caps, reference.caps, "{what}: output caps");
        let (mean, max) = difference(&ours, &reference);
        assert_eq!(max, 0, "{what}: differs from videoconvert (mean {mean:.3})");
    }
}

/// Sizes: even and odd, below and above 576 lines (where GStreamer's defaults switch from
/// BT.601 and centred chroma to BT.709 and mpeg2 siting).
const SIZES: [(u32, u32); 4] = [(64, 48), (63, 47), (642, 578), (641, 577)];

fn caps_for(format: &str, (w, h): (u32, u32), extra: &str) -> String {
    format!("video/x-raw,format={format},width={w},height={h},framerate=25/1{extra}")
}

#[test]
fn packed_yuv_to_420_is_bit_exact_with_videoconvert() {
    for from in ["UYVY", "YUY2"] {
        for to in ["I420", "NV12"] {
            for size in SIZES {
                for layout in [Layout::Packed, Layout::VaryingMeta] {
                    compare(
                        &caps_for(from, size, ""),
                        &format!("video/x-raw,format={to}"),
                        layout,
                    );
                }
            }
        }
    }
}

/// Every conversion the fast converter makes, as (input, output) formats.
const CONVERSIONS: [(&str, &str); 14] = [
    ("UYVY", "I420"),
    ("UYVY", "NV12"),
    ("YUY2", "I420"),
    ("YUY2", "NV12"),
    ("I420", "NV12"),
    ("NV12", "I420"),
    ("BGRx", "I420"),
    ("BGRx", "NV12"),
    ("BGRA", "I420"),
    ("BGRA", "NV12"),
    ("RGBx", "I420"),
    ("RGBx", "NV12"),
    ("RGBA", "I420"),
    ("RGBA", "NV12"),
];

#[test]
fn row_bands_on_several_threads_give_the_one_thread_picture_for_every_conversion() {
    // 2 and 3 threads, 4 bands each where the height allows (at least 16 rows a band): bands
    // of odd heights at the bottom, chroma rows split at half the band starts, and strides and
    // offsets that change from buffer to buffer. Equal to videoconvert is equal to the
    // one-thread picture, which `compare` checks as well.
    for (from, to) in CONVERSIONS {
        for size in SIZES {
            for layout in [Layout::Packed, Layout::VaryingMeta] {
                compare_on_threads(
                    &caps_for(from, size, ""),
                    &format!("video/x-raw,format={to}"),
                    layout,
                    &[1, 2, 3],
                );
            }
        }
    }
}

#[test]
fn packed_yuv_keeps_bit_exactness_for_every_chroma_siting_pair() {
    // The input's siting is the upsampling filter's, the output's the downsampling one's.
    for from in ["UYVY", "YUY2"] {
        for in_site in ["jpeg", "mpeg2"] {
            for out_site in ["", ",chroma-site=jpeg", ",chroma-site=mpeg2"] {
                for size in [(63, 47), (642, 578)] {
                    compare_on_threads(
                        &caps_for(
                            from,
                            size,
                            &format!(",colorimetry=bt709,chroma-site={in_site}"),
                        ),
                        &format!("video/x-raw,format=NV12{out_site}"),
                        Layout::Packed,
                        &[3],
                    );
                }
            }
        }
    }
}

#[test]
fn i420_nv12_layouts_are_bit_exact_with_strides_and_odd_sizes() {
    for (from, to) in [("I420", "NV12"), ("NV12", "I420")] {
        for size in SIZES {
            for layout in [Layout::Packed, Layout::VaryingMeta] {
                compare(
                    &caps_for(from, size, ""),
                    &format!("video/x-raw,format={to}"),
                    layout,
                );
            }
        }
    }
}

#[test]
fn rgb_to_yuv_is_bit_exact_with_videoconvert_for_every_matrix_and_range() {
    // bt601/bt709/bt2020 limited range; 1:4, 1:3, 1:6 the same matrices in full range.
    let colorimetries = [
        "", "bt601", "bt709", "bt2020", "1:4:0:0", "1:3:0:0", "1:6:0:0",
    ];
    for from in ["BGRx", "BGRA", "RGBx", "RGBA"] {
        for to in ["I420", "NV12"] {
            for (i, colorimetry) in colorimetries.iter().enumerate() {
                // Every size for one format pair, the rest on one odd and one HD size.
                let sizes: &[(u32, u32)] = if from == "BGRx" && to == "NV12" {
                    &SIZES
                } else {
                    &[(63, 47), (641, 577)]
                };
                for &size in sizes {
                    let consumer = if colorimetry.is_empty() {
                        format!("video/x-raw,format={to}")
                    } else {
                        format!("video/x-raw,format={to},colorimetry={colorimetry}")
                    };
                    let layout = if i % 2 == 0 {
                        Layout::Packed
                    } else {
                        Layout::VaryingMeta
                    };
                    compare(&caps_for(from, size, ""), &consumer, layout);
                }
            }
        }
    }
}

#[test]
fn rgb_to_yuv_follows_the_chroma_siting_downstream_asks_for() {
    for site in ["jpeg", "mpeg2"] {
        for size in [(63, 47), (642, 578)] {
            compare_on_threads(
                &caps_for("BGRA", size, ",colorimetry=sRGB"),
                &format!("video/x-raw,format=NV12,colorimetry=bt709,chroma-site={site}"),
                Layout::Packed,
                &[3],
            );
        }
    }
}

/// Runs the bin alone and returns its decision's chain.
fn chain_for(input: &str, consumer: &str) -> (String, Output) {
    init();
    let input: gst::Caps = input.parse().unwrap();
    let info = gst_video::VideoInfo::from_caps(&input).unwrap();
    let buffers = input_buffers(&info, Layout::Packed);
    let ours = run("stromautoconvert mode=software", &input, consumer, &buffers);
    (ours.chain.clone().unwrap_or_default(), ours)
}

#[test]
fn a_colorimetry_change_is_never_a_plain_copy() {
    for (input, consumer) in [
        (
            caps_for("I420", (64, 48), ",colorimetry=bt601"),
            "video/x-raw,format=NV12,colorimetry=bt709",
        ),
        (
            caps_for("NV12", (64, 48), ",colorimetry=bt709"),
            "video/x-raw,format=I420,colorimetry=1:3:5:1",
        ),
        (
            caps_for("UYVY", (64, 48), ",colorimetry=bt601"),
            "video/x-raw,format=NV12,colorimetry=bt709",
        ),
        (
            caps_for("YUY2", (642, 578), ",colorimetry=bt709"),
            "video/x-raw,format=I420,colorimetry=bt2020",
        ),
        // A different chroma siting for the same subsampling is a resample too.
        (
            caps_for("NV12", (64, 48), ",chroma-site=jpeg"),
            "video/x-raw,format=I420,chroma-site=mpeg2",
        ),
    ] {
        let (chain, ours) = chain_for(&input, consumer);
        assert_eq!(chain, "videoconvert", "{input} -> {consumer}");
        // And the picture is videoconvert's (as the bin runs it: one thread per core, which
        // is not always the one-thread picture; one thread where GStreamer 1.26's threads
        // change the picture), not the input's samples moved.
        let parsed: gst::Caps = input.parse().unwrap();
        let info = gst_video::VideoInfo::from_caps(&parsed).unwrap();
        let buffers = input_buffers(&info, Layout::Packed);
        let one_thread = gststrom::gstversion::videoconvert_threads_change_the_picture(
            gststrom::gstversion::running(),
        );
        let reference = if one_thread {
            "videoconvert n-threads=1"
        } else {
            "videoconvert n-threads=0"
        };
        let reference = run(reference, &parsed, consumer, &buffers);
        assert_eq!(difference(&ours, &reference).1, 0, "{input} -> {consumer}");
    }
}

#[test]
fn the_element_refuses_to_copy_between_colorimetries() {
    init();
    // Linked directly, with each side's colorimetry pinned: negotiation fails, nothing flows.
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("videotestsrc")
        .property("num-buffers", 2)
        .build()
        .unwrap();
    let in_caps = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            "video/x-raw,format=I420,width=64,height=48,colorimetry=bt601"
                .parse::<gst::Caps>()
                .unwrap(),
        )
        .build()
        .unwrap();
    let fast = gststrom_fast_converter();
    let out_caps = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            "video/x-raw,format=NV12,colorimetry=bt709"
                .parse::<gst::Caps>()
                .unwrap(),
        )
        .build()
        .unwrap();
    let sink = gst::ElementFactory::make("fakesink").build().unwrap();
    pipeline
        .add_many([&src, &in_caps, &fast, &out_caps, &sink])
        .unwrap();
    gst::Element::link_many([&src, &in_caps, &fast]).unwrap();
    out_caps.link(&sink).unwrap();
    // The caps query already says no: a layout copy keeps the input's colorimetry.
    assert!(fast.link(&out_caps).is_err(), "linked across colorimetries");
    let pad = fast.static_pad("src").unwrap();
    let caps = pad.query_caps(None);
    assert!(
        caps.iter()
            .all(|s| s.get::<&str>("colorimetry").ok() != Some("bt709")),
        "{caps}"
    );
}

/// The internal element, reached through a bin that builds it (it is not a plugin feature).
fn gststrom_fast_converter() -> gst::Element {
    init();
    // stromautoconvert builds it for I420 -> NV12; take it out of a built chain.
    let (_, log) = common::run_launch(
        "videotestsrc num-buffers=1 ! video/x-raw,format=I420,width=64,height=48 ! \
         stromautoconvert name=conv mode=software ! video/x-raw,format=NV12 ! fakesink",
    );
    assert!(log.error().is_none());
    gst::glib::Object::with_type(
        gst::glib::Type::from_name("GstStromFastConvert").expect("type registered"),
    )
    .downcast::<gst::Element>()
    .unwrap()
}
