// SPDX-License-Identifier: MPL-2.0
//! Scaling I420 into NV12 as `videoconvertscale` does at its defaults, through GStreamer's own
//! scaler (`GstVideoScaler`) one plane at a time, on one thread.
//!
//! `videoconvertscale`'s default `method=bilinear` is GStreamer's LINEAR resampler limited to
//! two taps (`GST_VIDEO_RESAMPLER_OPT_MAX_TAPS` = 2), and its `chroma-resampler` is LINEAR with
//! the same options. Where input and output formats are the same (I420 to I420, NV12 to NV12)
//! `GstVideoConverter` takes its plane fastpath: one `gst_video_scaler_2d` per plane, luma and
//! chroma alike. I420 to NV12 is not in its fastpath table, so there it takes the generic path:
//! every line unpacked to AYUV, chroma upsampled, scaled as 4:4:4, chroma downsampled, packed,
//! at about 9× the CPU of the plane path (`BENCHMARKS.md`, "Scaling and mixing").
//!
//! Here I420 to NV12 is the plane path with the same scalers (built by [`scaler`] as
//! `video-converter.c`'s `setup_scale` builds them from the options `gstvideoconvertscale.c`
//! passes) and NV12's chroma interleaved from the two scaled chroma planes: the picture
//! `videoconvertscale` makes for I420 to I420, interleaved. It differs from the generic path's
//! by rounding (luma at most 1 per sample) and by the generic path's 4:4:4 chroma round trip:
//! mean absolute difference 0.0–0.6 per sample on the whole ladder (`tests/scaling.rs`,
//! `scripts/bench_scaling.py`, BENCHMARKS.md "Scaling and mixing").
//!
//! [`Scaling::new`] says whether a pair of caps is one this module scales (else
//! `videoconvertscale` stays), [`Scaler`] does it frame by frame.

use std::ffi::CStr;
use std::ptr::NonNull;

use gst_video::ffi;
use gst_video::{VideoFormat, VideoInfo, VideoInterlaceMode};

use super::negotiate::Planar;
use super::out420::Out420;
use super::planes::{Plane, PlaneMut};
/// One fixed scaling, read from the input and output caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scaling {
    pub(crate) from: Planar,
    pub(crate) to: Planar,
    pub(crate) in_size: (usize, usize),
    pub(crate) out_size: (usize, usize),
}

/// A picture's size and pixel-aspect-ratio, as far as the border decision needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) par: (i32, i32),
}

impl Scaling {
    /// The scaling from `input` to `output`, or why `videoconvertscale` (at its default
    /// properties) must do it instead.
    pub(crate) fn new(input: &VideoInfo, output: &VideoInfo) -> Result<Scaling, String> {
        // Same format in and out is videoconvertscale's plane fastpath already, this scaler.
        let (from, to) = match (input.format(), output.format()) {
            (VideoFormat::I420, VideoFormat::Nv12) => (Planar::I420, Planar::Nv12),
            (from, to) => {
                return Err(format!(
                    "{} to {} is not scaled here (I420 to NV12 is)",
                    from.to_str(),
                    to.to_str()
                ));
            }
        };
        if input.interlace_mode() != VideoInterlaceMode::Progressive
            || output.interlace_mode() != VideoInterlaceMode::Progressive
        {
            return Err("interlaced video (videoconvertscale scales each field)".into());
        }
        if input.colorimetry() != output.colorimetry() {
            return Err(format!(
                "the colorimetry changes ({} to {})",
                input.colorimetry(),
                output.colorimetry()
            ));
        }
        if input.chroma_site() != output.chroma_site() {
            return Err("the chroma siting changes".into());
        }
        let frame = |info: &VideoInfo| Frame {
            width: info.width(),
            height: info.height(),
            par: (info.par().numer(), info.par().denom()),
        };
        if let Some((w, h)) = borders(frame(input), frame(output)).filter(|&b| b != (0, 0)) {
            return Err(format!(
                "videoconvertscale adds black borders ({w}x{h}) to keep the display aspect \
                 ratio (add-borders)"
            ));
        }
        let size = |info: &VideoInfo| (info.width() as usize, info.height() as usize);
        let (i, o) = (size(input), size(output));
        if !within_measured_ratio(i.0, o.0) || !within_measured_ratio(i.1, o.1) || i == o {
            return Err(format!(
                "{}x{} to {}x{} is not a downscale, where the picture was measured within 1 of \
                 videoconvertscale's",
                i.0, i.1, o.0, o.1
            ));
        }
        Ok(Scaling {
            from,
            to,
            in_size: size(input),
            out_size: size(output),
        })
    }
}

/// Downscaling on an axis: the whole ladder (1080p and 2160p to 1080p, 720p, 480p, 360p) was
/// measured within a mean absolute difference of 1 of `videoconvertscale`'s picture on natural
/// content and test patterns (BENCHMARKS.md, "Scaling and mixing"); upscaling was not.
fn within_measured_ratio(from: usize, to: usize) -> bool {
    to <= from
}

/// The black borders (total columns, total rows) `videoconvertscale` with `add-borders=true`
/// (its default) puts around the picture: where the display aspect ratios of input and output
/// differ, the picture is scaled to the output's width (or height, when that would not fit)
/// at the input's aspect ratio. `None` where it cannot compute the ratios (it then adds none).
pub(crate) fn borders(input: Frame, output: Frame) -> Option<(u32, u32)> {
    let dar = |f: Frame| {
        multiply(
            (f.width as i64, f.height as i64),
            (f.par.0 as i64, f.par.1 as i64),
        )
    };
    let (from, to) = (dar(input)?, dar(output)?);
    if from == to {
        return Some((0, 0));
    }
    let (n, d) = multiply(from, (output.par.1 as i64, output.par.0 as i64))?;
    let to_h = (output.width as i64 * d / n) as u32;
    if to_h <= output.height {
        return Some((0, output.height - to_h));
    }
    let to_w = (output.height as i64 * n / d) as u32;
    Some((output.width.saturating_sub(to_w), 0))
}

/// `gst_util_fraction_multiply`: the reduced product, `None` when zero or out of `i32`.
fn multiply(a: (i64, i64), b: (i64, i64)) -> Option<(i64, i64)> {
    let (n, d) = (a.0 * b.0, a.1 * b.1);
    if n <= 0 || d <= 0 {
        return None;
    }
    let g = gcd(n, d);
    let (n, d) = (n / g, d / g);
    (n <= i32::MAX as i64 && d <= i32::MAX as i64).then_some((n, d))
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The options `videoconvertscale` gives `GstVideoConverter` at its default properties, as far
/// as the scaler reads them: `method=bilinear` (two taps), `envelope=2`, `sharpness=1`,
/// `sharpen=0`.
fn default_options() -> gst::Structure {
    let name = |key: &'static [u8]| {
        CStr::from_bytes_with_nul(key)
            .ok()
            .and_then(|k| k.to_str().ok())
            .unwrap_or_default()
    };
    gst::Structure::builder("videoconvertscale")
        .field(name(ffi::GST_VIDEO_RESAMPLER_OPT_MAX_TAPS), 2i32)
        .field(name(ffi::GST_VIDEO_RESAMPLER_OPT_ENVELOPE), 2.0f64)
        .field(name(ffi::GST_VIDEO_RESAMPLER_OPT_SHARPNESS), 1.0f64)
        .field(name(ffi::GST_VIDEO_RESAMPLER_OPT_SHARPEN), 0.0f64)
        .build()
}

/// One `GstVideoScaler` (one axis, one size pair), freed on drop.
struct GstScaler(NonNull<ffi::GstVideoScaler>);

// SAFETY: a GstVideoScaler is plain memory (coefficients and scratch lines) with no thread
// affinity; `Scaler` uses it from one thread at a time (`&mut self`).
unsafe impl Send for GstScaler {}

impl Drop for GstScaler {
    fn drop(&mut self) {
        // SAFETY: made by gst_video_scaler_new, freed once.
        unsafe { ffi::gst_video_scaler_free(self.0.as_ptr()) }
    }
}

/// The LINEAR scaler `setup_scale` builds for `from` to `to` samples on one axis (`None`
/// where the size does not change: the plane path copies that axis).
fn scaler(from: usize, to: usize, options: &gst::Structure) -> Result<Option<GstScaler>, String> {
    if from == to {
        return Ok(None);
    }
    let size = |n: usize| u32::try_from(n).map_err(|_| format!("size {n} too large"));
    // SAFETY: plain values and an options structure the call only reads.
    let raw = unsafe {
        ffi::gst_video_scaler_new(
            ffi::GST_VIDEO_RESAMPLER_METHOD_LINEAR,
            ffi::GST_VIDEO_SCALER_FLAG_NONE,
            0,
            size(from)?,
            size(to)?,
            options.as_ptr() as *mut gst::ffi::GstStructure,
        )
    };
    NonNull::new(raw)
        .map(|p| Some(GstScaler(p)))
        .ok_or_else(|| format!("GStreamer made no scaler for {from} to {to}"))
}

/// The two scalers of one plane and the sizes they were made for.
struct PlaneScaler {
    from: (usize, usize),
    to: (usize, usize),
    h: Option<GstScaler>,
    v: Option<GstScaler>,
}

impl PlaneScaler {
    fn new(
        from: (usize, usize),
        to: (usize, usize),
        options: &gst::Structure,
    ) -> Result<Self, String> {
        Ok(PlaneScaler {
            from,
            to,
            h: scaler(from.0, to.0, options)?,
            v: scaler(from.1, to.1, options)?,
        })
    }

    /// `src` (`self.from` samples) scaled into `dst` (`self.to`), as `convert_plane_hv` does.
    fn run(&mut self, src: Plane<'_>, dst: &mut PlaneMut<'_>) -> Result<(), String> {
        let (iw, ih) = self.from;
        let (ow, oh) = self.to;
        let fits = |len: usize, stride: usize, w: usize, h: usize| {
            stride >= w && h > 0 && (h - 1) * stride + w <= len && i32::try_from(stride).is_ok()
        };
        if !fits(src.data.len(), src.stride, iw, ih) {
            return Err(format!("input plane too small for {iw}x{ih}"));
        }
        if !fits(dst.data.len(), dst.stride, ow, oh) {
            return Err(format!("output plane too small for {ow}x{oh}"));
        }
        let raw = |s: &Option<GstScaler>| s.as_ref().map_or(std::ptr::null_mut(), |s| s.0.as_ptr());
        // SAFETY: both planes were checked to hold their rows at their strides; the scaler
        // reads `ih` rows of `iw` samples (GRAY8: one byte each) and writes `oh` rows of `ow`.
        unsafe {
            ffi::gst_video_scaler_2d(
                raw(&self.h),
                raw(&self.v),
                ffi::GST_VIDEO_FORMAT_GRAY8,
                src.data.as_ptr() as *mut _,
                src.stride as i32,
                dst.data.as_mut_ptr().cast(),
                dst.stride as i32,
                0,
                0,
                ow as u32,
                oh as u32,
            )
        };
        Ok(())
    }
}

/// Width and height of the chroma planes of a 4:2:0 picture.
fn chroma(size: (usize, usize)) -> (usize, usize) {
    (size.0.div_ceil(2), size.1.div_ceil(2))
}

/// The scalers and scratch chroma planes one stream reuses from frame to frame.
#[derive(Default)]
pub(crate) struct Scaler {
    /// Luma and chroma scalers, for the scaling they were made for.
    planes: Option<(Scaling, PlaneScaler, PlaneScaler)>,
    /// The scaled U and V planes, before NV12's interleave.
    u: Vec<u8>,
    v: Vec<u8>,
}

impl Scaler {
    /// Scales the I420 picture `input` (its three planes) into `out` (NV12).
    pub(crate) fn scale(
        &mut self,
        scaling: &Scaling,
        input: &[Plane<'_>],
        out: Out420<'_>,
    ) -> Result<(), String> {
        let (ic, oc) = (chroma(scaling.in_size), chroma(scaling.out_size));
        if self.planes.as_ref().is_none_or(|(s, ..)| s != scaling) {
            let options = default_options();
            let luma = PlaneScaler::new(scaling.in_size, scaling.out_size, &options)?;
            self.planes = Some((*scaling, luma, PlaneScaler::new(ic, oc, &options)?));
        }
        let Some((_, luma, chroma)) = self.planes.as_mut() else {
            return Err("no scalers".into());
        };
        let [y_in, u_in, v_in] = match input {
            [y, u, v, ..] => [*y, *u, *v],
            _ => return Err("input without its three planes".into()),
        };
        let Out420::Nv12 { mut y, mut uv } = out else {
            return Err("only NV12 output is scaled here".into());
        };
        luma.run(y_in, &mut y)?;
        self.u.resize(oc.0 * oc.1, 0);
        self.v.resize(oc.0 * oc.1, 0);
        let scratch = |data| PlaneMut { data, stride: oc.0 };
        chroma.run(u_in, &mut scratch(&mut self.u))?;
        chroma.run(v_in, &mut scratch(&mut self.v))?;
        interleave(&self.u, &self.v, oc, &mut uv);
        Ok(())
    }
}

/// U and V (`size` each, `size.0` wide) into NV12's chroma plane.
fn interleave(u: &[u8], v: &[u8], size: (usize, usize), uv: &mut PlaneMut<'_>) {
    for r in 0..size.1 {
        let row = uv.row(r, size.0 * 2);
        let (us, vs) = (&u[r * size.0..][..size.0], &v[r * size.0..][..size.0]);
        for ((pair, &a), &b) in row.chunks_exact_mut(2).zip(us).zip(vs) {
            pair[0] = a;
            pair[1] = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn frame(width: u32, height: u32, par: (i32, i32)) -> Frame {
        Frame { width, height, par }
    }

    #[test]
    fn borders_only_where_the_display_aspect_ratio_would_change() {
        // The ladder: 16:9 into 16:9 sizes at square pixels.
        let hd = frame(1920, 1080, (1, 1));
        assert_eq!(borders(hd, frame(1280, 720, (1, 1))), Some((0, 0)));
        assert_eq!(borders(hd, frame(640, 360, (1, 1))), Some((0, 0)));
        // 854x480 is not exactly 16:9, yet the rounded picture fills it.
        assert_eq!(borders(hd, frame(854, 480, (1, 1))), Some((0, 0)));
        // As fixation chooses it: the PAR makes up the difference.
        assert_eq!(borders(hd, frame(854, 480, (1280, 1281))), Some((0, 0)));
        // 4:3 into 16:9: columns; 16:9 into 4:3: rows.
        assert_eq!(
            borders(frame(640, 480, (1, 1)), frame(1280, 720, (1, 1))),
            Some((320, 0))
        );
        assert_eq!(borders(hd, frame(640, 480, (1, 1))), Some((0, 120)));
    }

    /// BT.709, MPEG-2 siting at every size (GStreamer's defaults change at 576 lines).
    fn info(format: VideoFormat, w: u32, h: u32) -> VideoInfo {
        let bt709 = gst_video::VideoColorimetry::from_str("bt709").unwrap();
        VideoInfo::builder(format, w, h)
            .colorimetry(&bt709)
            .chroma_site(gst_video::VideoChromaSite::MPEG2)
            .build()
            .unwrap()
    }

    #[test]
    fn only_progressive_i420_to_nv12_downscales_at_the_same_colour_and_shape_are_scaled_here() {
        gst::init().unwrap();
        let hd = info(VideoFormat::I420, 1920, 1080);
        let s = Scaling::new(&hd, &info(VideoFormat::Nv12, 1280, 720)).unwrap();
        assert_eq!((s.from, s.to), (Planar::I420, Planar::Nv12));
        assert_eq!(s.out_size, (1280, 720));
        Scaling::new(&hd, &info(VideoFormat::Nv12, 854, 480)).unwrap();
        assert!(Scaling::new(&hd, &info(VideoFormat::Nv12, 640, 360)).is_ok());
        let uhd = info(VideoFormat::I420, 3840, 2160);
        assert!(Scaling::new(&uhd, &info(VideoFormat::Nv12, 1920, 1080)).is_ok());
        // Borders (4:3 out of 16:9), same format (stock's plane path), upscales, same size.
        assert!(Scaling::new(&hd, &info(VideoFormat::Nv12, 640, 480)).is_err());
        assert!(Scaling::new(&hd, &info(VideoFormat::I420, 1280, 720)).is_err());
        let small = info(VideoFormat::I420, 1280, 720);
        assert!(Scaling::new(&small, &info(VideoFormat::Nv12, 1920, 1080)).is_err());
        assert!(Scaling::new(&hd, &info(VideoFormat::Nv12, 1920, 1080)).is_err());
        assert!(Scaling::new(&hd, &info(VideoFormat::Yuy2, 1280, 720)).is_err());
        assert!(Scaling::new(&info(VideoFormat::Bgrx, 1920, 1080), &hd).is_err());
    }

    /// A picture whose samples rise along a row.
    fn ramp(w: usize, h: usize) -> Vec<u8> {
        (0..h)
            .flat_map(|_| (0..w).map(move |c| (c * 255 / (w - 1)) as u8))
            .collect()
    }

    #[test]
    fn odd_sizes_and_padded_strides_fill_every_sample_and_keep_a_ramp_a_ramp() {
        gst::init().unwrap();
        let (iw, ih, ow, oh) = (101usize, 77usize, 43usize, 31usize);
        let (icw, ich, ocw, och) = (51, 39, 22, 16);
        let (y, u) = (ramp(iw, ih), ramp(icw, ich));
        let v: Vec<u8> = u.iter().map(|s| 255 - s).collect();
        let input = [
            Plane {
                data: &y,
                stride: iw,
            },
            Plane {
                data: &u,
                stride: icw,
            },
            Plane {
                data: &v,
                stride: icw,
            },
        ];
        // Output strides padded past the row, as GStreamer's are; the padding is left alone.
        let (mut oy, mut ouv) = (vec![7u8; 48 * oh], vec![7u8; 48 * och]);
        let scaling = Scaling {
            from: Planar::I420,
            to: Planar::Nv12,
            in_size: (iw, ih),
            out_size: (ow, oh),
        };
        let out = Out420::Nv12 {
            y: PlaneMut {
                data: &mut oy,
                stride: 48,
            },
            uv: PlaneMut {
                data: &mut ouv,
                stride: 48,
            },
        };
        Scaler::default().scale(&scaling, &input, out).unwrap();
        for r in 0..oh {
            let row = &oy[r * 48..][..48];
            assert!(row[..ow].windows(2).all(|w| w[0] < w[1]), "{row:?}");
            assert!(row[ow..].iter().all(|&s| s == 7));
        }
        for r in 0..och {
            let row = &ouv[r * 48..][..48];
            let (us, vs): (Vec<u8>, Vec<u8>) =
                row[..ocw * 2].chunks(2).map(|p| (p[0], p[1])).unzip();
            assert!(us.windows(2).all(|w| w[0] < w[1]), "{us:?}");
            assert!(us.iter().zip(&vs).all(|(a, b)| a.abs_diff(255 - b) <= 1));
            assert!(row[ocw * 2..].iter().all(|&s| s == 7));
        }
    }

    #[test]
    fn planes_too_small_are_refused_not_read_past() {
        gst::init().unwrap();
        let scaling = Scaling {
            from: Planar::I420,
            to: Planar::Nv12,
            in_size: (64, 64),
            out_size: (32, 32),
        };
        let (y, c) = (vec![0u8; 64 * 63], vec![0u8; 32 * 32]);
        let input = [
            Plane {
                data: &y,
                stride: 64,
            },
            Plane {
                data: &c,
                stride: 32,
            },
            Plane {
                data: &c,
                stride: 32,
            },
        ];
        let (mut oy, mut ouv) = (vec![0u8; 32 * 32], vec![0u8; 32 * 16]);
        let out = Out420::Nv12 {
            y: PlaneMut {
                data: &mut oy,
                stride: 32,
            },
            uv: PlaneMut {
                data: &mut ouv,
                stride: 32,
            },
        };
        assert!(Scaler::default().scale(&scaling, &input, out).is_err());
    }
}
