// SPDX-License-Identifier: MPL-2.0
//! Every frame counted: both deciding converters, every mode, with sources that may choose their
//! format (`videotestsrc` with only a size) and with a source that changes its caps on every
//! buffer, into system-memory, GL-memory and mixed consumers. A bin that offered a format its
//! chain refuses lost frames here without an error (issue #23).

mod common;

use gst::prelude::*;

use common::{Collector, HANG, by_name, init, launch, run_to_eos};

const FRAMES: usize = 30;

/// Consumers, by what they take: `(name, caps and elements after the bin, takes GL only)`.
/// `{size}` is the size the scaling bin is asked for (none for the converting one).
const CONSUMERS: [(&str, &str, bool); 4] = [
    ("anything", "identity", false),
    ("system memory", "video/x-raw{size}", false),
    (
        "GL memory",
        "video/x-raw(memory:GLMemory){size} ! gldownload",
        true,
    ),
    // glupload takes both memories: auto mode asks the interop test and picks.
    (
        "both memories",
        "glupload ! video/x-raw(memory:GLMemory){size} ! gldownload",
        false,
    ),
];

/// Runs `description` (ending in a fakesink called `sink`) to EOS; returns the buffers that
/// reached the sink and the run's problems.
fn count_frames(description: &str) -> (usize, Vec<String>) {
    let pipeline = launch(description);
    let sinkpad = by_name(&pipeline, "sink").static_pad("sink").unwrap();
    common::share_gl_display(&pipeline);
    let collector = Collector::on_pad(&sinkpad);
    let log = run_to_eos(&pipeline, HANG);
    (collector.count(), log.problems())
}

#[test]
fn free_format_sources_lose_no_frame_on_any_path() {
    init();
    let mut failures = Vec::new();
    for (element, size) in [
        ("stromautoconvert", ""),
        ("stromautoconvertscale", ",width=160,height=120"),
    ] {
        for mode in ["auto", "gl", "software"] {
            for (consumer, tail, gl_only) in CONSUMERS {
                // mode=software makes system memory only: a GL-only consumer is refused with an
                // error by design (tests/autoconvert.rs checks that error).
                if mode == "software" && gl_only {
                    continue;
                }
                let description = format!(
                    "videotestsrc num-buffers={FRAMES} ! video/x-raw,width=320,height=240 ! \
                     {element} mode={mode} ! {} ! fakesink name=sink",
                    tail.replace("{size}", size)
                );
                let (frames, problems) = count_frames(&description);
                if frames != FRAMES || !problems.is_empty() {
                    failures.push(format!(
                        "{element} mode={mode} into {consumer}: {frames} of {FRAMES} frames, \
                         {problems:?}\n  {description}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The scaling case, which passed one frame and then failed with not-negotiated.
#[test]
fn a_free_format_source_scaled_into_gl_memory_keeps_every_frame() {
    let (frames, problems) = count_frames(&format!(
        "videotestsrc num-buffers={FRAMES} ! video/x-raw,width=320,height=240 ! \
         stromautoconvertscale ! video/x-raw(memory:GLMemory),width=160,height=120 ! gldownload ! \
         fakesink name=sink"
    ));
    assert_eq!((frames, problems), (FRAMES, Vec::<String>::new()));
}

/// The caps of the `n`th buffer of the renegotiating source: another format (including some
/// glupload refuses, where the GL path cannot take them) and, every other buffer, another size.
fn caps_of(n: usize, formats: &[&str]) -> gst::Caps {
    let (width, height) = if n.is_multiple_of(2) {
        (64, 48)
    } else {
        (80, 60)
    };
    gst::Caps::builder("video/x-raw")
        .field("format", formats[n % formats.len()])
        .field("width", width)
        .field("height", height)
        .field("framerate", gst::Fraction::new(30, 1))
        .build()
}

/// Pushes two buffers per format through `element mode=... ! consumer` from an appsrc, the
/// caps changing on every buffer; returns the buffers out and the problems.
fn renegotiate_every_buffer(
    element: &str,
    mode: &str,
    consumer: &str,
    formats: &'static [&'static str],
) -> (usize, usize, Vec<String>) {
    init();
    let pipeline = launch(&format!(
        "appsrc name=src format=time ! {element} mode={mode} ! {consumer} ! fakesink name=sink"
    ));
    common::share_gl_display(&pipeline);
    let src = by_name(&pipeline, "src")
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let sinkpad = by_name(&pipeline, "sink").static_pad("sink").unwrap();
    let collector = Collector::on_pad(&sinkpad);
    let pushed = 2 * formats.len();
    let feeder = std::thread::spawn(move || {
        for n in 0..pushed {
            let caps = caps_of(n, formats);
            let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
            let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
            {
                let b = buffer.get_mut().unwrap();
                b.set_pts(gst::ClockTime::from_mseconds(33 * n as u64));
                b.map_writable().unwrap().fill(0x80);
            }
            let sample = gst::Sample::builder().buffer(&buffer).caps(&caps).build();
            if src.push_sample(&sample).is_err() {
                break;
            }
        }
        let _ = src.end_of_stream();
    });
    let log = run_to_eos(&pipeline, HANG);
    feeder.join().unwrap();
    (pushed, collector.count(), log.problems())
}

/// Formats glupload takes and, for the paths that can convert them on the CPU, two it refuses.
const UPLOADABLE: &[&str] = &["I420", "RGBA", "NV12", "YUY2", "BGRx"];
const ANY_FORMAT: &[&str] = &["I420", "ABGR64_LE", "RGBA", "NV12", "AYUV64", "YUY2"];

#[test]
fn a_source_that_renegotiates_on_every_buffer_loses_no_frame() {
    let mut failures = Vec::new();
    for element in ["stromautoconvert", "stromautoconvertscale"] {
        let cases: [(&str, &str, &'static [&'static str]); 7] = [
            ("auto", "identity", ANY_FORMAT),
            ("auto", "video/x-raw,format=I420", ANY_FORMAT),
            (
                "auto",
                "video/x-raw(memory:GLMemory) ! gldownload",
                ANY_FORMAT,
            ),
            ("auto", "glupload ! gldownload", ANY_FORMAT),
            (
                "gl",
                "video/x-raw(memory:GLMemory) ! gldownload",
                UPLOADABLE,
            ),
            ("gl", "video/x-raw,format=I420", UPLOADABLE),
            ("software", "video/x-raw,format=NV12", ANY_FORMAT),
        ];
        for (mode, consumer, formats) in cases {
            let (pushed, out, problems) =
                renegotiate_every_buffer(element, mode, consumer, formats);
            if pushed != out || !problems.is_empty() {
                failures.push(format!(
                    "{element} mode={mode} ! {consumer}: {out} of {pushed} frames, {problems:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
