// SPDX-License-Identifier: MPL-2.0
//! `stromautoconvertscale`'s fast scaler (`stromfastconvert` in scaling mode) against
//! `videoconvertscale n-threads=1` on the same frames: the picture within a mean absolute
//! difference of 1 per sample (test patterns and a smooth picture with noise), every frame out,
//! odd sizes, and the chain named in the `strom-autoconvert` message; `videoconvertscale` where
//! its own plane path already runs (I420 to I420), where borders are added, for upscales and
//! for stock properties off their defaults.

mod common;

use gst::prelude::*;
use gst_video::prelude::*;

use common::init;

const FRAMES: usize = 4;

/// The decision's chain and the frames' bytes (planes without padding) out of
/// `source ! <scaler> ! out_caps ! appsink`.
fn scale(source: &str, scaler: &str, out_caps: &str) -> (Option<String>, Vec<Vec<u8>>) {
    let pipeline = common::launch(&format!(
        "{source} ! {scaler} ! {out_caps} ! appsink name=sink sync=false"
    ));
    let sink = common::by_name(&pipeline, "sink")
        .downcast::<gst_app::AppSink>()
        .unwrap();
    common::set_state_guarded(&pipeline, gst::State::Playing);
    let mut frames = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(20)) {
        let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
                .unwrap();
        frames.push(samples(&frame));
    }
    let bus = pipeline.bus().unwrap();
    let log = common::bus::drain_bus(&bus);
    common::set_state_guarded(&pipeline, gst::State::Null);
    assert_eq!(log.error(), None, "{source} ! {scaler}");
    let chain = log
        .decisions()
        .last()
        .and_then(|s| s.get::<String>("chain").ok());
    (chain, frames)
}

/// Every plane's visible samples, row after row.
fn samples(frame: &gst_video::VideoFrameRef<&gst::BufferRef>) -> Vec<u8> {
    let mut out = Vec::new();
    for p in 0..frame.n_planes() {
        let comp = frame.format_info().plane()[p as usize];
        let width = frame.comp_width(comp) as usize * frame.comp_pstride(comp) as usize;
        let height = frame.comp_height(comp) as usize;
        let stride = frame.plane_stride()[p as usize] as usize;
        let data = frame.plane_data(p).unwrap();
        for r in 0..height {
            out.extend_from_slice(&data[r * stride..r * stride + width]);
        }
    }
    out
}

fn source(pattern: &str, width: u32, height: u32) -> String {
    format!(
        "videotestsrc num-buffers={FRAMES} pattern={pattern} ! \
         video/x-raw,format=I420,width={width},height={height},colorimetry=bt709,\
         pixel-aspect-ratio=1/1,framerate=30/1"
    )
}

fn mad(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y) as f64)
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn the_fast_scaler_stays_within_one_of_videoconvertscale() {
    init();
    // The ladder's ratios (1.5, 2.25, 3, 2) at small sizes, odd sizes, I420 into NV12; "ball"
    // moves, so frames differ; "snow" is white noise.
    for (pattern, (w, h), out) in [
        (
            "pinwheel",
            (480, 270),
            "video/x-raw,format=NV12,width=320,height=180",
        ),
        (
            "smpte",
            (480, 270),
            "video/x-raw,format=NV12,width=214,height=120",
        ),
        (
            "snow",
            (480, 270),
            "video/x-raw,format=NV12,width=160,height=90",
        ),
        (
            "ball",
            (481, 271),
            "video/x-raw,format=NV12,width=321,height=181",
        ),
        (
            "zone-plate",
            (640, 360),
            "video/x-raw,format=NV12,width=320,height=180",
        ),
    ] {
        let src = source(pattern, w, h);
        let (chain, ours) = scale(&src, "stromautoconvertscale mode=software", out);
        let (_, stock) = scale(&src, "videoconvertscale n-threads=1", out);
        assert_eq!(
            chain.as_deref(),
            Some("stromfastconvert"),
            "{pattern} {out}"
        );
        assert_eq!(ours.len(), FRAMES, "every frame out: {pattern}");
        assert_eq!(stock.len(), FRAMES);
        for (a, b) in ours.iter().zip(&stock) {
            let d = mad(a, b);
            assert!(d <= 1.0, "{pattern} {w}x{h} -> {out}: mean difference {d}");
        }
    }
}

#[test]
fn videoconvertscale_stays_where_the_fast_scaler_is_not_within_bounds() {
    init();
    for out in [
        // I420 to I420: videoconvertscale's plane path is this scaler already.
        "video/x-raw,format=I420,width=320,height=180",
        // 4:3 at square pixels: videoconvertscale adds borders.
        "video/x-raw,format=NV12,width=320,height=240,pixel-aspect-ratio=1/1",
        // Upscales were not measured.
        "video/x-raw,format=NV12,width=640,height=360",
    ] {
        let (chain, frames) = scale(
            &source("smpte", 480, 270),
            "stromautoconvertscale mode=software",
            out,
        );
        assert_eq!(chain.as_deref(), Some("videoconvertscale"), "{out}");
        assert_eq!(frames.len(), FRAMES);
    }
    // More threads than the fast scaler's one: videoconvertscale, which takes them.
    let (chain, _) = scale(
        &source("smpte", 480, 270),
        "stromautoconvertscale mode=software n-threads=2",
        "video/x-raw,format=NV12,width=320,height=180",
    );
    assert_eq!(chain.as_deref(), Some("videoconvertscale"));
    // A stock property off its default keeps videoconvertscale.
    let (chain, _) = scale(
        &source("smpte", 480, 270),
        "stromautoconvertscale mode=software method=lanczos",
        "video/x-raw,format=NV12,width=320,height=180",
    );
    assert_eq!(chain.as_deref(), Some("videoconvertscale"));
}
