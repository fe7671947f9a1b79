// SPDX-License-Identifier: MPL-2.0
//! The "direct converter" question: does a hand-written I420→NV12 plane copy and chroma
//! interleave (rows split over threads) beat `videoconvert`, and is it bit-exact with it?
//! Measured here only; the element does not use it.

use std::sync::Barrier;
use std::time::Instant;

use gst::prelude::*;
use gst_video::VideoFrameExt;

/// One I420 frame and what `videoconvert` makes of it, both from the same `videotestsrc` buffer.
pub struct Reference {
    pub i420: gst_video::VideoFrame<gst_video::video_frame::Readable>,
    pub nv12: gst_video::VideoFrame<gst_video::video_frame::Readable>,
}

/// Random pixels (`pattern=snow`), so a chroma mix-up cannot hide in flat colour.
pub fn reference(width: u32, height: u32) -> Result<Reference, String> {
    let description = format!(
        "videotestsrc num-buffers=1 pattern=snow ! video/x-raw,format=I420,width={width},height={height} \
         ! tee name=t t. ! queue ! appsink name=i420 sync=false \
         t. ! queue ! videoconvert ! video/x-raw,format=NV12 ! appsink name=nv12 sync=false"
    );
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let pull = |name: &str| -> Result<gst_video::VideoFrame<_>, String> {
        let sink = pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or("no appsink")?;
        let sample = sink
            .try_pull_sample(gst::ClockTime::from_seconds(30))
            .ok_or(format!("no {name} frame"))?;
        let caps = sample.caps().ok_or("no caps")?;
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| e.to_string())?;
        let buffer = sample.buffer_owned().ok_or("no buffer")?;
        gst_video::VideoFrame::from_buffer_readable(buffer, &info)
            .map_err(|_| "cannot map frame".to_owned())
    };
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    let result = pull("i420").and_then(|i420| {
        Ok(Reference {
            i420,
            nv12: pull("nv12")?,
        })
    });
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// A tightly packed NV12 image.
pub struct Nv12 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Nv12 {
    pub fn new(width: usize, height: usize) -> Nv12 {
        let chroma = width.div_ceil(2) * 2 * height.div_ceil(2);
        Nv12 {
            width,
            height,
            data: vec![0; width * height + chroma],
        }
    }

    fn uv_stride(&self) -> usize {
        self.width.div_ceil(2) * 2
    }
}

/// The planes of an I420 frame.
#[derive(Clone, Copy)]
struct Source<'a> {
    planes: [&'a [u8]; 3],
    strides: [usize; 3],
}

impl<'a> Source<'a> {
    fn of(
        frame: &'a gst_video::VideoFrame<gst_video::video_frame::Readable>,
    ) -> Result<Self, String> {
        let plane = |i: u32| frame.plane_data(i).map_err(|e| e.to_string());
        let s = frame.plane_stride();
        Ok(Source {
            planes: [plane(0)?, plane(1)?, plane(2)?],
            strides: [s[0] as usize, s[1] as usize, s[2] as usize],
        })
    }
}

/// One thread's rows: a band of the Y plane and a band of the UV plane.
struct Share<'a> {
    y_first_row: usize,
    y: &'a mut [u8],
    uv_first_row: usize,
    uv: &'a mut [u8],
}

/// Splits `dst` into `threads` disjoint bands of rows.
fn shares(dst: &mut Nv12, threads: usize) -> Vec<Share<'_>> {
    let (w, h) = (dst.width, dst.height);
    let uv_stride = dst.uv_stride();
    let y_rows = h.div_ceil(threads);
    let uv_rows = h.div_ceil(2).div_ceil(threads);
    let (dy, duv) = dst.data.split_at_mut(w * h);
    let mut y_chunks = dy.chunks_mut((y_rows * w).max(1));
    let mut uv_chunks = duv.chunks_mut((uv_rows * uv_stride).max(1));
    (0..threads)
        .map(|t| Share {
            y_first_row: t * y_rows,
            y: y_chunks.next().unwrap_or_default(),
            uv_first_row: t * uv_rows,
            uv: uv_chunks.next().unwrap_or_default(),
        })
        .collect()
}

/// Converts one band: copies its Y rows and interleaves its U and V rows.
fn convert_share(src: Source<'_>, width: usize, share: &mut Share<'_>) {
    let [y, u, v] = src.planes;
    let [ys, us, vs] = src.strides;
    let cw = width.div_ceil(2);
    for (r, row) in share.y.chunks_mut(width).enumerate() {
        let at = (share.y_first_row + r) * ys;
        row.copy_from_slice(&y[at..at + width]);
    }
    for (r, row) in share.uv.chunks_mut(cw * 2).enumerate() {
        let sr = share.uv_first_row + r;
        interleave(&u[sr * us..sr * us + cw], &v[sr * vs..sr * vs + cw], row);
    }
}

/// Copies Y and interleaves U and V of `src` into `dst`, rows split over `threads` threads.
pub fn convert(
    src: &gst_video::VideoFrame<gst_video::video_frame::Readable>,
    dst: &mut Nv12,
    threads: usize,
) -> Result<(), String> {
    let source = Source::of(src)?;
    let width = dst.width;
    std::thread::scope(|scope| {
        for mut share in shares(dst, threads.max(1)) {
            scope.spawn(move || convert_share(source, width, &mut share));
        }
    });
    Ok(())
}

fn interleave(u: &[u8], v: &[u8], out: &mut [u8]) {
    for ((pair, &cu), &cv) in out.chunks_exact_mut(2).zip(u).zip(v) {
        pair[0] = cu;
        pair[1] = cv;
    }
}

/// Whether `ours` equals `videoconvert`'s NV12 byte for byte (visible pixels; padding ignored).
pub fn bit_exact(
    theirs: &gst_video::VideoFrame<gst_video::video_frame::Readable>,
    ours: &Nv12,
) -> Result<bool, String> {
    let strides = theirs.plane_stride();
    let y = theirs.plane_data(0).map_err(|e| e.to_string())?;
    let uv = theirs.plane_data(1).map_err(|e| e.to_string())?;
    let (w, h) = (ours.width, ours.height);
    let (ys, uvs) = (strides[0] as usize, strides[1] as usize);
    let uv_width = ours.uv_stride();
    let (oy, ouv) = ours.data.split_at(w * h);
    let luma = (0..h).all(|r| y[r * ys..r * ys + w] == oy[r * w..(r + 1) * w]);
    let chroma = (0..h.div_ceil(2))
        .all(|r| uv[r * uvs..r * uvs + uv_width] == ouv[r * uv_width..(r + 1) * uv_width]);
    Ok(luma && chroma)
}

/// Frames per second of [`convert`] on `frame` over `frames` frames into one reused output (as
/// a buffer pool would give), with `threads` persistent workers meeting at a barrier per frame
/// (as `videoconvert`'s task runner does), so thread start-up is not counted per frame.
pub fn throughput(
    frame: &gst_video::VideoFrame<gst_video::video_frame::Readable>,
    frames: u32,
    threads: usize,
) -> Result<f64, String> {
    let source = Source::of(frame)?;
    let mut out = Nv12::new(frame.width() as usize, frame.height() as usize);
    let width = out.width;
    let threads = threads.max(1);
    let barrier = Barrier::new(threads);
    let mut started = Instant::now();
    std::thread::scope(|scope| {
        let mut shares = shares(&mut out, threads);
        let mut mine = shares.pop();
        for mut share in shares {
            let barrier = &barrier;
            scope.spawn(move || {
                for _ in 0..frames {
                    barrier.wait();
                    convert_share(source, width, &mut share);
                    barrier.wait();
                }
            });
        }
        for i in 0..frames {
            if i == 1 {
                // The first frame warms caches and threads; time the rest.
                started = Instant::now();
            }
            barrier.wait();
            if let Some(share) = mine.as_mut() {
                convert_share(source, width, share);
            }
            barrier.wait();
        }
    });
    Ok(f64::from(frames.saturating_sub(1)) / started.elapsed().as_secs_f64())
}
