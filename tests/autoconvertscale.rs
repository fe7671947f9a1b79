// SPDX-License-Identifier: MPL-2.0
//! `stromautoconvertscale` as a transcoder's scaler: the GL path against the software path at
//! the sizes of a 1080p ladder, input sizes that change mid-stream, and the same size in and out
//! (bit-exact with `stromautoconvert`). GStreamer's own videoscale suite runs against it in
//! tests/dropin.rs.

mod common;

use common::init;
use gst::prelude::*;
use gst_video::prelude::*;

/// Frames with their caps, as an appsink received them.
type Frames = Vec<(gst::Caps, gst::Buffer)>;

/// Runs `<source> ! <converter> ! <out_caps> ! appsink` and returns every frame.
fn frames(source: &str, converter: &str, out_caps: &str) -> Frames {
    let pipeline = common::launch(&format!(
        "{source} ! {converter} name=conv ! {out_caps} ! appsink name=sink sync=false"
    ));
    let collector = keep_all(&pipeline);
    let log = common::run_to_eos(&pipeline, common::HANG);
    assert!(log.error().is_none(), "{converter}: {:?}", log.error());
    collector.collected().kept
}

/// Keeps every frame the appsink named `sink` receives.
fn keep_all(pipeline: &gst::Pipeline) -> common::Collector {
    let sink = common::by_name(pipeline, "sink")
        .downcast::<gst_app::AppSink>()
        .unwrap();
    common::Collector::on_appsink(&sink, common::FirstFrame::KeepAll)
}

/// Mean and largest absolute difference of two frames of the same caps, over visible samples.
fn difference(caps: &gst::Caps, a: &gst::Buffer, b: &gst::Buffer) -> (f64, u8) {
    difference_in_rows(caps, a, b, 1.0)
}

/// [`difference`] over the top `fraction` of the picture.
fn difference_in_rows(
    caps: &gst::Caps,
    a: &gst::Buffer,
    b: &gst::Buffer,
    fraction: f64,
) -> (f64, u8) {
    let info = gst_video::VideoInfo::from_caps(caps).unwrap();
    let fa = gst_video::VideoFrameRef::from_buffer_ref_readable(a, &info).unwrap();
    let fb = gst_video::VideoFrameRef::from_buffer_ref_readable(b, &info).unwrap();
    let finfo = info.format_info();
    let (mut sum, mut count, mut max) = (0u64, 0u64, 0u8);
    for plane in 0..info.n_planes() {
        let component = (0..finfo.n_components() as u8)
            .find(|&c| finfo.plane()[c as usize] == plane)
            .unwrap();
        let rows = (finfo.scale_height(component, info.height()) as f64 * fraction) as usize;
        let row_bytes = finfo.scale_width(component, info.width()) as usize
            * finfo.pixel_stride()[component as usize] as usize;
        let (sa, sb) = (
            fa.plane_stride()[plane as usize] as usize,
            fb.plane_stride()[plane as usize] as usize,
        );
        let (da, db) = (fa.plane_data(plane).unwrap(), fb.plane_data(plane).unwrap());
        for r in 0..rows {
            for x in 0..row_bytes {
                let d = da[r * sa + x].abs_diff(db[r * sb + x]);
                sum += u64::from(d);
                max = max.max(d);
                count += 1;
            }
        }
    }
    (sum as f64 / count as f64, max)
}

/// `buffer` (of `caps`) as RGBA, decoded with the colorimetry its caps state: how two frames
/// labelled differently (BT.601 and BT.709 YUV) are compared as pictures.
fn as_rgba(caps: &gst::Caps, buffer: &gst::Buffer) -> (gst::Caps, gst::Buffer) {
    let in_info = gst_video::VideoInfo::from_caps(caps).unwrap();
    let out_info = gst_video::VideoInfo::builder(
        gst_video::VideoFormat::Rgba,
        in_info.width(),
        in_info.height(),
    )
    .fps(in_info.fps())
    .build()
    .unwrap();
    let converter = gst_video::VideoConverter::new(&in_info, &out_info, None).unwrap();
    let src = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &in_info).unwrap();
    let mut out = gst::Buffer::with_size(out_info.size()).unwrap();
    {
        let mut dest =
            gst_video::VideoFrameRef::from_buffer_ref_writable(out.get_mut().unwrap(), &out_info)
                .unwrap();
        converter.frame_ref(&src, &mut dest);
    }
    (out_info.to_caps().unwrap(), out)
}

/// The GL path (glcolorscale, on llvmpipe here) within a mean absolute difference of 6 of the
/// software path (videoconvertscale) for a 1080p source scaled to 720p, 480p and 4K, as
/// pictures: GStreamer 1.22's glcolorconvert writes YUV from RGB as BT.601 whatever the size,
/// so the GL path labels it so (colorimetry=bt601) where videoconvertscale writes BT.709 for
/// HD; both decode to the same picture. 1.26's writes BT.709 as videoconvertscale does.
#[test]
fn gl_and_software_paths_agree_at_ladder_sizes() {
    for pattern in ["smpte", "ball", "pinwheel", "gradient"] {
        let source = format!(
            "videotestsrc num-buffers=2 pattern={pattern} ! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1"
        );
        for (width, height) in [(1280, 720), (854, 480), (3840, 2160)] {
            let out = format!("video/x-raw,format=NV12,width={width},height={height}");
            let gl = frames(&source, "stromautoconvertscale mode=gl", &out);
            let sw = frames(&source, "stromautoconvertscale mode=software", &out);
            assert_eq!((gl.len(), sw.len()), (2, 2));
            let (gl_info, sw_info) = (
                gst_video::VideoInfo::from_caps(&gl[0].0).unwrap(),
                gst_video::VideoInfo::from_caps(&sw[0].0).unwrap(),
            );
            assert_eq!(
                (
                    gl_info.format(),
                    gl_info.width(),
                    gl_info.height(),
                    gl_info.par()
                ),
                (
                    sw_info.format(),
                    sw_info.width(),
                    sw_info.height(),
                    sw_info.par()
                ),
                "{pattern} {width}x{height}: the same format, size and aspect on both paths"
            );
            // 1.26's glcolorconvert writes the colorimetry the caps say, as videoconvertscale.
            let running = gststrom::gstversion::running();
            if gststrom::gstversion::glcolorconvert_follows_colorimetry(running) {
                assert_eq!(
                    gl_info.colorimetry(),
                    sw_info.colorimetry(),
                    "GStreamer {running}"
                );
            } else {
                assert_eq!(
                    gl_info.colorimetry().matrix(),
                    gst_video::VideoColorMatrix::Bt601,
                    "the GL path labels its YUV as the BT.601 it is"
                );
            }
            let (rgba, gl_rgba) = as_rgba(&gl[0].0, &gl[0].1);
            let (_, sw_rgba) = as_rgba(&sw[0].0, &sw[0].1);
            let (mean, max) = difference(&rgba, &gl_rgba, &sw_rgba);
            println!(
                "{pattern} 1080p -> {width}x{height}: GL vs software picture (RGBA) mean abs difference {mean:.3}, max {max}"
            );
            assert!(
                mean <= 6.0,
                "{pattern} {width}x{height}: mean abs difference {mean:.3} > 6"
            );
            if gl_info.colorimetry() == sw_info.colorimetry() {
                let (mean, max) = difference(&sw[0].0, &gl[0].1, &sw[0].1);
                println!("  same colorimetry: YUV mean abs difference {mean:.3}, max {max}");
                assert!(mean <= 6.0);
            }
        }
    }
}

/// stromautoconvert's GL path, HD, YUV to another YUV through the RGBA hop: the same picture
/// as videoconvert, correctly labelled (this was BT.601 written under a BT.709 label before).
#[test]
fn the_gl_path_labels_the_yuv_it_writes() {
    for (width, height) in [(1920, 1080), (1280, 720), (320, 240)] {
        for out in ["NV12", "I420"] {
            let source = format!(
                "videotestsrc num-buffers=1 pattern=smpte100 ! video/x-raw,format=I420,width={width},height={height}"
            );
            let out_caps = format!("video/x-raw,format={out}");
            let gl = frames(&source, "stromautoconvert mode=gl", &out_caps);
            let sw = frames(&source, "stromautoconvert mode=software", &out_caps);
            let (rgba, gl_rgba) = as_rgba(&gl[0].0, &gl[0].1);
            let (_, sw_rgba) = as_rgba(&sw[0].0, &sw[0].1);
            let (mean, max) = difference(&rgba, &gl_rgba, &sw_rgba);
            println!(
                "{width}x{height} I420 -> {out}: GL vs software picture mean {mean:.3}, max {max}"
            );
            assert!(mean <= 2.0, "{width}x{height} -> {out}: mean {mean:.3}");
        }
    }
}

/// Same size in and out: what stromautoconvert gives, byte for byte (the plane copy, or
/// videoconvert's conversion).
#[test]
fn the_same_size_in_and_out_is_bit_exact_with_stromautoconvert() {
    for (from, to) in [
        ("I420", "NV12"),
        ("NV12", "I420"),
        ("BGRx", "NV12"),
        ("UYVY", "I420"),
    ] {
        let source = format!(
            "videotestsrc num-buffers=2 pattern=smpte ! video/x-raw,format={from},width=1920,height=1080,framerate=30/1"
        );
        let out = format!("video/x-raw,format={to}");
        for mode in ["auto", "software"] {
            let scaled = frames(&source, &format!("stromautoconvertscale mode={mode}"), &out);
            let converted = frames(&source, &format!("stromautoconvert mode={mode}"), &out);
            assert_eq!(scaled.len(), 2);
            assert_eq!(scaled[0].0, converted[0].0, "{from} -> {to}");
            assert_eq!(
                difference(&scaled[0].0, &scaled[0].1, &converted[0].1),
                (0.0, 0),
                "{from} -> {to} mode={mode}: differs from stromautoconvert"
            );
        }
    }
}

/// A source whose size changes mid-stream keeps reaching a consumer fixed at one size, every
/// frame rescaled, none lost.
#[test]
fn input_size_changes_midstream_are_rescaled_to_the_same_output() {
    let sizes = [(1280, 720), (1920, 1080), (640, 480), (1280, 720)];
    for mode in ["auto", "software", "gl"] {
        init();
        let pipeline = gst::Pipeline::new();
        let src = gst_app::AppSrc::builder().format(gst::Format::Time).build();
        let conv = gst::ElementFactory::make("stromautoconvertscale")
            .property_from_str("mode", mode)
            .build()
            .unwrap();
        let filter = gst::ElementFactory::make("capsfilter")
            .property(
                "caps",
                "video/x-raw,format=NV12,width=640,height=360"
                    .parse::<gst::Caps>()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let sink = gst::ElementFactory::make("appsink")
            .name("sink")
            .property("sync", false)
            .build()
            .unwrap();
        let elements = [src.upcast_ref(), &conv, &filter, &sink];
        pipeline.add_many(elements).unwrap();
        gst::Element::link_many(elements).unwrap();
        let got = keep_all(&pipeline);
        pipeline.set_state(gst::State::Playing).unwrap();
        let mut n = 0u64;
        for (width, height) in sizes {
            let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
                .fps(gst::Fraction::new(30, 1))
                .build()
                .unwrap();
            src.set_caps(Some(&info.to_caps().unwrap()));
            for _ in 0..5 {
                let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
                {
                    let b = buffer.get_mut().unwrap();
                    b.set_pts(gst::ClockTime::from_mseconds(n * 33));
                    b.map_writable().unwrap().fill((n * 10) as u8);
                }
                src.push_buffer(buffer).unwrap();
                n += 1;
            }
        }
        src.end_of_stream().unwrap();
        let log = common::wait_for_eos(&pipeline.bus().unwrap(), common::HANG);
        assert!(log.error().is_none(), "mode={mode}: {:?}", log.error());
        common::set_state_guarded(&pipeline, gst::State::Null);
        let got = got.collected().kept;
        assert_eq!(got.len(), 20, "mode={mode}: every frame arrives");
        for (caps, _) in got.iter() {
            let info = gst_video::VideoInfo::from_caps(caps).unwrap();
            assert_eq!((info.width(), info.height()), (640, 360), "mode={mode}");
        }
        let pts: Vec<_> = got
            .iter()
            .map(|(_, b)| b.pts().unwrap().mseconds())
            .collect();
        assert_eq!(
            pts,
            (0..20).map(|i| i * 33).collect::<Vec<_>>(),
            "mode={mode}"
        );
    }
}

#[test]
fn it_is_documented_as_a_scaler_with_the_same_properties() {
    init();
    let factory = gst::ElementFactory::find("stromautoconvertscale").unwrap();
    assert_eq!(
        factory.metadata(gst::ELEMENT_METADATA_KLASS),
        Some("Filter/Converter/Video/Scaler")
    );
    let scaler = factory.create().build().unwrap();
    let converter = gst::ElementFactory::make("stromautoconvert")
        .build()
        .unwrap();
    let names = |e: &gst::Element| {
        e.list_properties()
            .iter()
            .map(|p| p.name().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&scaler), names(&converter));
    assert!(scaler.is::<gststrom::autoconvert::AutoConvert>());
}

/// The decision message is `strom-autoconvert`, as for stromautoconvert, and names the chain
/// that scales.
#[test]
fn it_posts_the_strom_autoconvert_message() {
    let (_, log) = common::run_launch(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=320,height=240 \
         ! stromautoconvertscale ! video/x-raw,format=NV12,width=160,height=120 ! fakesink",
    );
    assert!(log.error().is_none(), "{:?}", log.error());
    let decisions = log.decisions();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].get::<&str>("path").unwrap(), "software");
    // An I420 -> NV12 downscale at the same colour: the fast scaler (issue #28).
    assert_eq!(
        decisions[0].get::<&str>("chain").unwrap(),
        "stromfastconvert"
    );
}
