// SPDX-License-Identifier: MPL-2.0
//! Hostile buffers: raw video whose `GstVideoMeta` (or size) lies about its memory, pushed
//! through every converting element. Each element drops such a buffer with a warning naming the
//! cause, never crashes (each element runs in a child process, so a crash names it) and never
//! panics; a meta frame larger than the caps is converted as `videoconvert` converts it (its top
//! left part, byte for byte); interlaced I420 ↔ NV12 through the plane copy equals
//! `videoconvert`; random layouts (a bounded proptest) through the software bin convert as
//! `videoconvert` does or are dropped.

mod common;

use gst::prelude::*;
use gst_video::prelude::*;
use gst_video::{VideoFormat, VideoInfo};
use proptest::prelude::*;

use common::{child_name, init, is_child, noise, run_child};

/// The caps' frame size of the cases.
const W: u32 = 640;
const H: u32 = 480;

/// Input → output formats: one of each kind of conversion the fast converter makes.
const PAIRS: [(&str, &str); 5] = [
    ("UYVY", "NV12"),
    ("YUY2", "I420"),
    ("BGRx", "NV12"),
    ("I420", "NV12"),
    ("NV12", "I420"),
];

/// Every element that converts, in every mode that changes its path.
const ELEMENTS: [&str; 9] = [
    "stromautoconvert",
    "stromautoconvert mode=software",
    "stromautoconvert mode=gl",
    "stromautoconvertscale",
    "stromautoconvertscale mode=software",
    "stromautoconvertscale mode=gl",
    "stromcompositor mode=gl",
    "stromcompositor",
    "stromcompositor mode=software",
];

fn info(format: &str, width: u32, height: u32) -> VideoInfo {
    init();
    VideoInfo::builder(VideoFormat::from_string(format), width, height)
        .build()
        .unwrap()
}

/// What a meta says: format, frame size, offsets, strides.
type MetaLayout<'a> = (VideoFormat, (u32, u32), &'a [usize], &'a [i32]);

/// A buffer of `blocks` memory blocks (their sizes) of noise, with a meta when `meta` gives
/// (format, size, offsets, strides).
fn buffer(blocks: &[usize], meta: Option<MetaLayout<'_>>) -> gst::Buffer {
    let mut buffer = gst::Buffer::new();
    {
        let b = buffer.get_mut().unwrap();
        for (i, &len) in blocks.iter().enumerate() {
            b.append_memory(gst::Memory::from_mut_slice(noise(len, i as u64 + 3)));
        }
        if let Some((format, (w, h), offsets, strides)) = meta {
            gst_video::VideoMeta::add_full(
                b,
                gst_video::VideoFrameFlags::empty(),
                format,
                w,
                h,
                offsets,
                strides,
            )
            .unwrap();
        }
    }
    buffer
}

/// The same-plane-count format a lying meta claims instead of `format`.
fn other_format(format: VideoFormat) -> VideoFormat {
    match format {
        VideoFormat::Uyvy => VideoFormat::Yuy2,
        VideoFormat::Yuy2 => VideoFormat::Uyvy,
        VideoFormat::I420 => VideoFormat::Yv12,
        VideoFormat::Nv12 => VideoFormat::Nv21,
        _ => VideoFormat::Rgbx,
    }
}

/// One buffer per lie the issue names (and a few more), each about a `caps` frame.
fn lies(caps: &VideoInfo) -> Vec<(&'static str, gst::Buffer)> {
    let format = caps.format();
    let size = caps.size();
    let offsets: Vec<usize> = caps.offset().to_vec();
    let strides: Vec<i32> = caps.stride().to_vec();
    let scaled = |k: i32| strides.iter().map(|s| s * k).collect::<Vec<i32>>();
    let moved: Vec<usize> = offsets.iter().map(|o| o + size / 2).collect();
    let mut past = offsets.clone();
    *past.last_mut().unwrap() = size + 16;
    let mut narrow = strides.clone();
    narrow[0] = 1;
    let negative = scaled(-1);
    let small = info(format.to_str(), caps.width() / 2, caps.height() / 2);
    let whole = (format, (caps.width(), caps.height()));
    vec![
        (
            "strides past the end",
            buffer(&[size], Some((whole.0, whole.1, &offsets, &scaled(4)))),
        ),
        (
            "offsets near the end",
            buffer(&[size], Some((whole.0, whole.1, &moved, &strides))),
        ),
        (
            "short buffer, honest meta",
            buffer(&[size / 3], Some((whole.0, whole.1, &offsets, &strides))),
        ),
        ("short buffer, no meta", buffer(&[size / 3], None)),
        (
            "offset past the end",
            buffer(&[size], Some((whole.0, whole.1, &past, &strides))),
        ),
        (
            "stride under a row",
            buffer(&[size], Some((whole.0, whole.1, &offsets, &narrow))),
        ),
        (
            "negative stride",
            buffer(&[size], Some((whole.0, whole.1, &offsets, &negative))),
        ),
        (
            "meta smaller than the caps",
            buffer(
                &[size],
                Some((
                    format,
                    (small.width(), small.height()),
                    small.offset(),
                    small.stride(),
                )),
            ),
        ),
        (
            "a plane across two memories",
            buffer(
                &[size / 2, size - size / 2],
                Some((whole.0, whole.1, &offsets, &strides)),
            ),
        ),
        (
            "meta of another format",
            buffer(
                &[size],
                Some((other_format(format), whole.1, &offsets, &strides)),
            ),
        ),
    ]
}

/// What a pipeline gave: frames out (their visible planes), warnings and the error, if any.
struct Run {
    frames: Vec<Vec<Vec<u8>>>,
    /// The chain the bin's decision message names, where it posted one.
    chain: Option<String>,
    warnings: Vec<String>,
    error: Option<String>,
}

/// `appsrc ! <element> ! <out> ! appsink` on `buffers` (timestamped 40 ms apart), the caps
/// being `caps`.
fn run(element: &str, caps: &gst::Caps, out: &str, buffers: Vec<gst::Buffer>) -> Run {
    init();
    let pipeline = common::launch(&format!(
        "appsrc name=src format=time ! {element} ! {out} ! appsink name=sink sync=false"
    ));
    let src = common::by_name(&pipeline, "src")
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    src.set_caps(Some(caps));
    let sink = common::by_name(&pipeline, "sink")
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let collector = common::Collector::on_appsink(&sink, common::FirstFrame::KeepAll);
    for (i, mut buffer) in buffers.into_iter().enumerate() {
        {
            let b = buffer.make_mut();
            b.set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
            b.set_duration(gst::ClockTime::from_mseconds(40));
        }
        // A refused push (the stream failed) shows as the error below.
        let _ = src.push_buffer(buffer);
    }
    let _ = src.end_of_stream();
    let log = common::run_to_eos(&pipeline, common::HANG);
    let kept = collector.collected().kept;
    let frames = kept
        .iter()
        .map(|(caps, buffer)| visible_planes(&VideoInfo::from_caps(caps).unwrap(), buffer))
        .collect();
    Run {
        frames,
        chain: log
            .decisions()
            .first()
            .and_then(|d| d.get::<String>("chain").ok()),
        warnings: log.warning_messages(),
        error: log.error(),
    }
}

/// The chroma rows of interlaced 4:2:0 that hold samples: lines 4k and 4k+1 carry rows 2k and
/// 2k+1 (each field its own), so 4k+2 lines fill 2k+2 rows, one more than ceil(lines / 2).
fn interlaced_chroma_rows(lines: usize) -> usize {
    (0..lines)
        .filter(|line| line & 2 == 0)
        .map(|line| ((line & !3) >> 1) + (line & 1) + 1)
        .max()
        .unwrap_or(0)
}

/// Each plane's rows that hold samples (interlaced 4:2:0: see [`interlaced_chroma_rows`]), read
/// through the buffer's own meta where it has one.
fn visible_planes(info: &VideoInfo, buffer: &gst::BufferRef) -> Vec<Vec<u8>> {
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info).unwrap();
    let finfo = info.format_info();
    let interlaced = info.interlace_mode() != gst_video::VideoInterlaceMode::Progressive;
    // An alternate-mode buffer is one field.
    let lines = frame.info().field_height();
    (0..info.n_planes() as usize)
        .map(|p| {
            let c = finfo.component(p as u32)[0] as u8;
            let mut rows = finfo.scale_height(c, lines) as usize;
            if interlaced && finfo.h_sub()[c as usize] > 0 {
                rows = interlaced_chroma_rows(lines as usize);
            }
            let row_bytes = finfo.scale_width(c, info.width()) as usize
                * finfo.pixel_stride()[c as usize] as usize;
            let stride = frame.plane_stride()[p] as usize;
            let data = frame.plane_data(p as u32).unwrap();
            // The extra interlaced chroma row lies past the slice GStreamer's bindings give.
            let data = unsafe { std::slice::from_raw_parts(data.as_ptr(), stride * rows) };
            (0..rows)
                .flat_map(|r| data[r * stride..r * stride + row_bytes].iter().copied())
                .collect()
        })
        .collect()
}

fn raw_caps(format: &str, width: u32, height: u32) -> gst::Caps {
    format!("video/x-raw,format={format},width={width},height={height},framerate=25/1")
        .parse()
        .unwrap()
}

/// Pushes every lie, then one honest frame, through `element` for every pair: the honest
/// frame comes out, each lie is dropped, the warning names the count and a cause.
fn lies_are_dropped(element: &str) {
    for (input, output) in PAIRS {
        let caps_info = info(input, W, H);
        let mut buffers: Vec<gst::Buffer> = lies(&caps_info).into_iter().map(|(_, b)| b).collect();
        let lied = buffers.len();
        buffers.push(buffer(&[caps_info.size()], None));
        let run = run(
            element,
            &raw_caps(input, W, H),
            &format!("video/x-raw,format={output}"),
            buffers,
        );
        let what = format!("{element}: {input} -> {output}");
        assert!(run.error.is_none(), "{what}: {:?}", run.error);
        assert!(
            !run.frames.is_empty(),
            "{what}: the honest frame did not come out"
        );
        if !element.starts_with("stromcompositor") {
            assert_eq!(run.frames.len(), 1, "{what}: a lie came out");
        }
        // Warnings are posted at the first drop and at powers of two.
        let posted = 1usize << (usize::BITS - 1 - lied.leading_zeros());
        let counted = format!("dropped {posted} malformed raw video buffer(s), the last because");
        assert!(
            run.warnings.iter().any(|w| w.contains(&counted)),
            "{what}: no warning counting {lied} drops: {:?}",
            run.warnings
        );
    }
}

#[test]
#[ignore = "run by every_element_drops_every_lie_without_crashing, in its own process"]
fn child_lies() {
    if !is_child() {
        return;
    }
    let element = std::env::var("STROM_HOSTILE_ELEMENT").unwrap();
    lies_are_dropped(&element);
}

#[test]
fn every_element_drops_every_lie_without_crashing() {
    for element in ELEMENTS {
        run_child(
            &child_name!(child_lies),
            &[("STROM_HOSTILE_ELEMENT", element)],
        );
    }
}

/// A 1920x1080 frame of noise described by its meta, on `width`x`height` caps; and the same
/// picture's top left part as a plain `width`x`height` buffer.
fn large_meta_frame(format: &str, width: u32, height: u32) -> (gst::Buffer, gst::Buffer) {
    let big = info(format, 1920, 1080);
    let data = noise(big.size(), 11);
    let mut large = gst::Buffer::from_mut_slice(data.clone());
    gst_video::VideoMeta::add_full(
        large.get_mut().unwrap(),
        gst_video::VideoFrameFlags::empty(),
        big.format(),
        1920,
        1080,
        big.offset(),
        big.stride(),
    )
    .unwrap();
    let small = info(format, width, height);
    let mut cropped = vec![0u8; small.size()];
    let finfo = small.format_info();
    for p in 0..small.n_planes() as usize {
        let c = finfo.component(p as u32)[0] as u8;
        let rows = finfo.scale_height(c, height) as usize;
        let row_bytes = (0..finfo.n_components() as u8)
            .filter(|&k| finfo.plane()[k as usize] as usize == p)
            .map(|k| {
                finfo.scale_width(k, width) as usize * finfo.pixel_stride()[k as usize] as usize
            })
            .max()
            .unwrap();
        for r in 0..rows {
            let from = big.offset()[p] + r * big.stride()[p] as usize;
            let to = small.offset()[p] + r * small.stride()[p] as usize;
            cropped[to..to + row_bytes].copy_from_slice(&data[from..from + row_bytes]);
        }
    }
    (large, gst::Buffer::from_mut_slice(cropped))
}

#[test]
fn a_larger_meta_frame_converts_as_videoconvert_converts_it() {
    init();
    for (input, output) in PAIRS {
        let caps = raw_caps(input, W, H);
        let out = format!("video/x-raw,format={output},width={W},height={H}");
        let (large, cropped) = large_meta_frame(input, W, H);
        let reference = run("videoconvert", &caps, &out, vec![large.clone()]);
        assert_eq!(
            reference.frames.len(),
            1,
            "videoconvert {input}: {:?}",
            reference.error
        );
        // What videoconvert does: the caps' part of the meta frame, its top left.
        let cropped_reference = run("videoconvert", &caps, &out, vec![cropped.clone()]);
        assert!(
            reference.frames == cropped_reference.frames,
            "videoconvert crops {input}"
        );
        for element in [
            "stromautoconvert mode=software",
            "stromautoconvertscale mode=software",
            "stromautoconvert",
            "stromautoconvertscale",
            "stromautoconvert mode=gl",
            "stromautoconvertscale mode=gl",
        ] {
            let ours = run(element, &caps, &out, vec![large.clone()]);
            let what = format!("{element}: {input} -> {output}");
            assert!(ours.error.is_none(), "{what}: {:?}", ours.error);
            assert_eq!(ours.frames.len(), 1, "{what}: {:?}", ours.warnings);
            // The GL path is not videoconvert's arithmetic: it must crop the same way.
            let expected = match element.contains("mode=software") {
                true => &reference.frames,
                false => &run(element, &caps, &out, vec![cropped.clone()]).frames,
            };
            assert!(
                &ours.frames == expected,
                "{what}: not videoconvert's picture"
            );
        }
        // compositor (like videoconvert) takes the caps' part of the frame; glvideomixer is
        // given the same part.
        for element in [
            "stromcompositor mode=software",
            "stromcompositor",
            "stromcompositor mode=gl",
        ] {
            let ours = run(element, &caps, &out, vec![large.clone()]);
            let expected = match element.contains("mode=software") {
                true => run("compositor", &caps, &out, vec![large.clone()]),
                false => run(element, &caps, &out, vec![cropped.clone()]),
            };
            let what = format!("{element}: {input} -> {output}");
            assert!(
                ours.error.is_none() && expected.error.is_none(),
                "{what}: {:?}",
                ours.error
            );
            assert!(
                !ours.frames.is_empty() && !expected.frames.is_empty(),
                "{what}"
            );
            assert!(
                ours.frames[0] == expected.frames[0],
                "{what}: not the caps' part of the frame"
            );
        }
    }
}

/// Interlaced I420 ↔ NV12 (interleaved at every height class modulo 4, and alternate fields)
/// through `stromautoconvert mode=software` equals `videoconvert`, taking the plane copy except
/// at 4k+2 lines (a field's), where `videoconvert` writes one more chroma row than the copy would.
#[test]
fn interlaced_plane_copy_equals_videoconvert() {
    init();
    let modes = [
        (
            gst_video::VideoInterlaceMode::Interleaved,
            [480, 8, 6, 7, 5, 2],
        ),
        (
            gst_video::VideoInterlaceMode::Alternate,
            [480, 16, 12, 10, 8, 4],
        ),
    ];
    for (input, output) in [("I420", "NV12"), ("NV12", "I420")] {
        for (mode, heights) in modes {
            for height in heights {
                let caps_info = VideoInfo::builder(VideoFormat::from_string(input), 18, height)
                    .interlace_mode(mode)
                    .build()
                    .unwrap();
                let caps = caps_info.to_caps().unwrap();
                let buffers: Vec<gst::Buffer> = (0..2)
                    .map(|i| {
                        let mut buffer = gst::Buffer::from_mut_slice(noise(caps_info.size(), i));
                        let field = match i {
                            0 => gst_video::VideoBufferFlags::TOP_FIELD,
                            _ => gst_video::VideoBufferFlags::BOTTOM_FIELD,
                        };
                        if mode == gst_video::VideoInterlaceMode::Alternate {
                            buffer
                                .get_mut()
                                .unwrap()
                                .set_flags(gst::BufferFlags::from_bits_retain(field.bits()));
                        }
                        buffer
                    })
                    .collect();
                let out = match mode {
                    gst_video::VideoInterlaceMode::Alternate => {
                        format!("video/x-raw(format:Interlaced),format={output}")
                    }
                    _ => format!("video/x-raw,format={output}"),
                };
                let reference = run("videoconvert", &caps, &out, buffers.clone());
                let ours = run("stromautoconvert mode=software", &caps, &out, buffers);
                let what = format!("{mode:?} {input} -> {output} at height {height}");
                assert!(ours.error.is_none(), "{what}: {:?}", ours.error);
                assert_eq!(reference.frames.len(), 2, "{what}: {:?}", reference.error);
                assert!(
                    ours.frames == reference.frames,
                    "{what}: not videoconvert's picture"
                );
                let lines = caps_info.field_height();
                let copied = ours
                    .chain
                    .as_deref()
                    .is_some_and(|c| c.contains("stromfastconvert"));
                assert_eq!(copied, lines % 4 != 2, "{what}: chain {:?}", ours.chain);
            }
        }
    }
}

/// `cases` random cases from a fixed seed, so CI runs the same ones; `STROM_FUZZ_CASES` and
/// `STROM_FUZZ_SEED` run more, or others (see README, "Fuzzing").
fn fuzz_config(cases: u32) -> ProptestConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: env("STROM_FUZZ_CASES").map_or(cases, |n: u64| n as u32),
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(env("STROM_FUZZ_SEED").unwrap_or(25)),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(fuzz_config(24))]

    /// Random layouts (sizes from 1x1, odd and even; strides around a row; offsets; buffer
    /// lengths around the frame) through the software bin: either the frame converts as
    /// `videoconvert` converts it, or it is dropped with a warning; never a crash or panic.
    #[test]
    fn random_layouts_through_the_bin_convert_or_are_dropped(
        pair in 0..PAIRS.len(),
        width in 1u32..40,
        height in 1u32..40,
        pad in proptest::collection::vec(-3i32..24, 3),
        lead in 0usize..64,
        cut in -64isize..64,
    ) {
        let (input, output) = PAIRS[pair];
        let caps_info = info(input, width, height);
        let n = caps_info.n_planes() as usize;
        let mut offsets = Vec::new();
        let mut strides = Vec::new();
        let mut at = lead;
        let finfo = caps_info.format_info();
        for (p, extra) in pad.iter().enumerate().take(n) {
            let c = finfo.component(p as u32)[0] as u8;
            let rows = finfo.scale_height(c, height) as usize;
            let stride = caps_info.stride()[p] + extra;
            offsets.push(at);
            strides.push(stride);
            at += stride.max(0) as usize * rows;
        }
        let len = (at as isize + cut).max(1) as usize;
        let lying = buffer(&[len], Some((caps_info.format(), (width, height), &offsets, &strides)));
        let caps = raw_caps(input, width, height);
        let out = format!("video/x-raw,format={output}");
        // Printed first: a crash shows no proptest report.
        eprintln!("case: {input} {width}x{height} offsets {offsets:?} strides {strides:?} length {len}");
        let ours = run("stromautoconvert mode=software", &caps, &out, vec![lying.clone()]);
        prop_assert!(ours.error.is_none(), "{:?}", ours.error);
        match ours.frames.len() {
            0 => prop_assert!(ours.warnings.iter().any(|w| w.contains("malformed")), "{:?}", ours.warnings),
            _ => {
                // Accepted: videoconvert reads the same memory safely, so compare.
                let reference = run("videoconvert", &caps, &out, vec![lying]);
                prop_assert!(ours.frames == reference.frames, "{input} {width}x{height}");
            }
        }
    }
}
