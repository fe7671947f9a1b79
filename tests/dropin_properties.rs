// SPDX-License-Identifier: MPL-2.0
//! The stock converters' properties on `stromautoconvert` and `stromautoconvertscale`: set as on
//! `videoconvert` / `videoconvertscale`, they give those elements' picture byte for byte, and a
//! value GL cannot honour keeps the software path (the message says so).
//!
//! Ported property cases, from GStreamer's sources:
//! - gst-plugins-base `tests/check/elements/videoscale.c`: the scaling tests run once per
//!   `method` (here every method, against videoconvertscale byte for byte);
//! - gst-plugins-base `tests/check/elements/videoconvert.c`: `test_converter_config_update`
//!   (1.24 and later, where `converter-config` exists; a SKIP on 1.22).
//!
//! The other properties (dither, chroma resampling, alpha, matrix, gamma, primaries) have no
//! case upstream; each is compared with videoconvert on a conversion it changes.

mod common;

use common::{Collector, FirstFrame, HANG, by_name, init, launch, run_to_eos};
use gst::prelude::*;
use gst_video::prelude::*;

/// The first output buffer's caps and picture (its samples without row padding, which is not
/// written) of `<source> ! <converter> ! <out_caps>`.
fn first_frame(source: &str, converter: &str, out_caps: &str) -> (gst::Caps, Vec<u8>) {
    let pipeline = launch(&format!(
        "{source} ! {converter} ! {out_caps} ! appsink name=sink sync=false"
    ));
    common::share_gl_display(&pipeline);
    let sink = by_name(&pipeline, "sink")
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let collector = Collector::on_appsink(&sink, FirstFrame::KeepAll);
    let log = run_to_eos(&pipeline, HANG);
    assert!(log.error().is_none(), "{converter}: {:?}", log.error());
    let (caps, buffer) = collector.collected().kept.swap_remove(0);
    let info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    let samples = visible(&info, &buffer);
    (caps, samples)
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

#[test]
fn videoscale_suite_every_method_equals_videoconvertscale() {
    init();
    let methods = [
        "nearest-neighbour",
        "bilinear",
        "4-tap",
        "lanczos",
        "bilinear2",
        "sinc",
        "hermite",
        "spline",
        "catrom",
        "mitchell",
    ];
    for method in methods {
        for format in ["I420", "RGBA", "YUY2"] {
            for ((sw, sh), (dw, dh)) in [((160, 120), (64, 48)), ((64, 48), (111, 30))] {
                let source = format!(
                    "videotestsrc num-buffers=1 pattern=smpte ! \
                     video/x-raw,format={format},width={sw},height={sh},framerate=30/1"
                );
                let out = format!("video/x-raw,format={format},width={dw},height={dh}");
                let reference =
                    first_frame(&source, &format!("videoconvertscale method={method}"), &out);
                for mode in ["auto", "software"] {
                    let ours = first_frame(
                        &source,
                        &format!("stromautoconvertscale mode={mode} method={method}"),
                        &out,
                    );
                    assert!(
                        ours == reference,
                        "method={method} {format} {sw}x{sh} -> {dw}x{dh} mode={mode}: {} vs {}, \
                         {} vs {} bytes, first difference at {:?}",
                        ours.0,
                        reference.0,
                        ours.1.len(),
                        reference.1.len(),
                        ours.1.iter().zip(&reference.1).position(|(a, b)| a != b)
                    );
                }
            }
        }
    }
}

#[test]
fn scaling_properties_equal_videoconvertscale() {
    init();
    let source = "videotestsrc num-buffers=1 pattern=smpte ! \
                  video/x-raw,format=I420,width=160,height=120,pixel-aspect-ratio=1/1,framerate=30/1";
    for (props, out) in [
        (
            "method=lanczos sharpness=1.4 sharpen=0.5 envelope=4",
            "video/x-raw,width=64,height=48",
        ),
        // A display aspect ratio only borders keep: with add-borders=false the picture stretches.
        (
            "add-borders=false",
            "video/x-raw,width=200,height=60,pixel-aspect-ratio=1/1",
        ),
        (
            "add-borders=true",
            "video/x-raw,width=200,height=60,pixel-aspect-ratio=1/1",
        ),
    ] {
        let reference = first_frame(source, &format!("videoconvertscale {props}"), out);
        let ours = first_frame(source, &format!("stromautoconvertscale {props}"), out);
        assert!(ours == reference, "{props}");
    }
}

#[test]
fn conversion_properties_equal_videoconvert() {
    init();
    let cases = [
        // Depth reduction: dither decides the low bits.
        (
            "video/x-raw,format=I420_10LE,width=64,height=48",
            "dither=none",
            "video/x-raw,format=I420",
        ),
        (
            "video/x-raw,format=I420_10LE,width=64,height=48",
            "dither=floyd-steinberg dither-quantization=4",
            "video/x-raw,format=I420",
        ),
        // Chroma upsampling: the resampler and the chroma mode.
        (
            "video/x-raw,format=I420,width=64,height=48",
            "chroma-resampler=cubic",
            "video/x-raw,format=Y444",
        ),
        (
            "video/x-raw,format=I420,width=64,height=48",
            "chroma-mode=none",
            "video/x-raw,format=Y444",
        ),
        // Alpha.
        (
            "video/x-raw,format=RGBA,width=64,height=48",
            "alpha-mode=set alpha-value=0.25",
            "video/x-raw,format=ARGB",
        ),
        (
            "video/x-raw,format=RGBA,width=64,height=48",
            "alpha-mode=mult alpha-value=0.5",
            "video/x-raw,format=BGRA",
        ),
        // Matrix, gamma and primaries between colorimetries.
        (
            "video/x-raw,format=I420,width=64,height=48,colorimetry=bt601",
            "matrix-mode=none",
            "video/x-raw,format=RGBA",
        ),
        (
            "video/x-raw,format=RGBA,width=64,height=48,colorimetry=sRGB",
            "gamma-mode=remap primaries-mode=fast",
            "video/x-raw,format=I420,colorimetry=bt2020",
        ),
        // A value that changes no picture: still the same output.
        (
            "video/x-raw,format=I420,width=64,height=48",
            "qos=false",
            "video/x-raw,format=NV12",
        ),
    ];
    for (input, props, out) in cases {
        let source = format!("videotestsrc num-buffers=1 pattern=smpte ! {input},framerate=30/1");
        let reference = first_frame(&source, &format!("videoconvert {props}"), out);
        for element in ["stromautoconvert", "stromautoconvertscale"] {
            for mode in ["auto", "software"] {
                let ours = first_frame(&source, &format!("{element} mode={mode} {props}"), out);
                assert!(
                    ours == reference,
                    "{element} mode={mode} {props}: {input} -> {out}"
                );
            }
        }
    }
}

/// The decision message of `description` (with a bin called `conv`).
fn decision(description: &str) -> gst::Structure {
    let pipeline = launch(description);
    common::share_gl_display(&pipeline);
    let log = run_to_eos(&pipeline, HANG);
    assert!(log.error().is_none(), "{description}: {:?}", log.error());
    log.decisions()
        .first()
        .map(|s| (*s).to_owned())
        .expect("a strom-autoconvert message")
}

#[test]
fn a_value_gl_cannot_honour_keeps_software_and_the_message_says_so() {
    init();
    let d = decision(
        "videotestsrc num-buffers=2 ! video/x-raw,width=320,height=240 ! \
         stromautoconvertscale name=conv method=lanczos ! \
         video/x-raw(memory:GLMemory),width=160,height=120 ! fakesink",
    );
    assert_eq!(d.get::<&str>("path"), Ok("software"), "{d}");
    assert!(
        d.get::<&str>("reason")
            .unwrap()
            .starts_with("method=lanczos is honoured by videoconvertscale only"),
        "{d}"
    );
    // The defaults leave GL free: the same consumer gets the GL path.
    let d = decision(
        "videotestsrc num-buffers=2 ! video/x-raw,width=320,height=240 ! \
         stromautoconvertscale name=conv method=bilinear ! \
         video/x-raw(memory:GLMemory),width=160,height=120 ! fakesink",
    );
    assert_eq!(d.get::<&str>("path"), Ok("gl"), "{d}");
    // A scaling property changes nothing on the converting bin (it does not scale).
    let d = decision(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420 ! stromautoconvert name=conv \
         method=lanczos ! video/x-raw(memory:GLMemory),format=NV12 ! fakesink",
    );
    assert_eq!(d.get::<&str>("path"), Ok("gl"), "{d}");
    // mode=gl cannot honour it: an error that says why.
    let pipeline = launch(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420 ! stromautoconvert mode=gl \
         dither=none ! video/x-raw(memory:GLMemory),format=NV12 ! fakesink",
    );
    let log = run_to_eos(&pipeline, HANG);
    let error = log.error().expect("mode=gl refuses");
    assert!(
        error.contains("dither=none is honoured by videoconvert only"),
        "{error}"
    );
}

#[test]
fn properties_set_while_playing_reach_the_inner_converter() {
    init();
    let pipeline = launch(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=64,height=48 ! \
         stromautoconvert name=conv mode=software ! video/x-raw,format=RGBA ! fakesink",
    );
    let conv = by_name(&pipeline, "conv");
    pipeline.set_state(gst::State::Paused).unwrap();
    let _ = pipeline.state(gst::ClockTime::from_seconds(30));
    conv.set_property_from_str("dither", "sierra-lite");
    conv.set_property("alpha-value", 0.5f64);
    let inner = conv
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .iterate_elements()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "videoconvert"))
        .expect("the software chain's videoconvert");
    assert_eq!(inner.property::<f64>("alpha-value"), 0.5);
    assert_eq!(
        inner.property_value("dither").serialize().unwrap().as_str(),
        "sierra-lite"
    );
    assert_eq!(conv.property::<f64>("alpha-value"), 0.5);
    pipeline.set_state(gst::State::Null).unwrap();
}

/// videoconvert.c `test_converter_config_update`, where the property exists (1.24 and later).
#[test]
fn videoconvert_suite_converter_config() {
    init();
    let (major, minor, _, _) = gst::version();
    if (major, minor) < (1, 24) {
        return common::skip(format_args!(
            "converter-config exists from GStreamer 1.24; this is {major}.{minor}: not checked"
        ));
    }
    let source = "videotestsrc num-buffers=1 pattern=smpte ! \
                  video/x-raw,format=RGBA,width=64,height=48,framerate=30/1";
    let config = "converter-config=\"video-converter-config,dither-method=(int)0\"";
    for element in ["stromautoconvert", "stromautoconvertscale"] {
        let conv = gst::ElementFactory::make(element).build().unwrap();
        assert!(
            conv.find_property("converter-config").is_some(),
            "{element}"
        );
        let reference = first_frame(
            source,
            &format!("videoconvert {config}"),
            "video/x-raw,format=I420",
        );
        let ours = first_frame(
            source,
            &format!("{element} {config}"),
            "video/x-raw,format=I420",
        );
        assert!(ours == reference, "{element}");
    }
}
