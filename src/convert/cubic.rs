// SPDX-License-Identifier: MPL-2.0
//! Downscaling one 8-bit plane to GStreamer's picture for resamplers of three taps or more
//! (`compositor`'s pads scale luma with CUBIC: 8 taps at 2:1), in plain loops the compiler
//! vectorizes. A research step for a one-pass mosaic (BENCHMARKS.md, "Scaling and mixing"); no
//! element uses it yet.
//!
//! The taps are GStreamer's own: a `GstVideoScaler` per axis built as `video-converter.c`'s
//! `setup_scale` builds it, read back with `gst_video_scaler_get_coeff`. They are applied as
//! `video-scaler.c`'s 8-bit path does (`LQ` is defined there): each phase's doubles rounded to
//! 16-bit integers of 6 bits precision that sum to 64 (`resampler_convert_coeff`), products and
//! sums in wrapping 16-bit arithmetic (ORC's `mullw`/`addw`), `(sum + 32) >> 6` saturated to
//! 0..=255 after each pass, the vertical pass first (into an 8-bit line) then the horizontal one,
//! the order `gst_video_scaler_2d` takes whenever the rows it reads outnumber the rows it writes.
//! Wrapping sums do not depend on the order of their terms, so any loop order gives the same
//! bytes.
//!
//! Where GStreamer's `video-scaler.c` is slow is gathering each output's input samples one by one
//! (`offset_n`); here the vertical pass runs over whole rows, and on a horizontal stretch where
//! every output has the same taps at input steps of 2 (all but the edges at exactly 2:1) the
//! row is split into even and odd samples, so each tap reads a contiguous slice too.

use std::ptr::NonNull;

use gst_video::ffi;

use super::planes::{Plane, PlaneMut};

/// `SCALE_U8_LQ` in `video-scaler.c`: the taps' precision on the 8-bit path.
const PRECISION: u32 = 6;
/// Columns accumulated together: 64 16-bit sums stay in vector registers across the taps (four
/// AVX2 registers; 32 measured 4× slower on the vertical pass).
const LANES: usize = 64;
/// Outputs a same-taps stretch needs before the even/odd split pays for itself.
const MIN_RUN: usize = 16;

/// One `GstVideoScaler` (one axis), freed on drop.
pub(crate) struct GstScaler(NonNull<ffi::GstVideoScaler>);

impl Drop for GstScaler {
    fn drop(&mut self) {
        // SAFETY: made by gst_video_scaler_new, freed once.
        unsafe { ffi::gst_video_scaler_free(self.0.as_ptr()) }
    }
}

impl GstScaler {
    /// The scaler `setup_scale` builds for `from` to `to` samples with `method`, its taps left
    /// to GStreamer (0), reading the resampler options in `options`.
    pub(crate) fn new(
        method: ffi::GstVideoResamplerMethod,
        from: usize,
        to: usize,
        options: &gst::Structure,
    ) -> Result<GstScaler, String> {
        let size = |n: usize| u32::try_from(n).map_err(|_| format!("size {n} too large"));
        // SAFETY: plain values and an options structure the call only reads.
        let raw = unsafe {
            ffi::gst_video_scaler_new(
                method,
                ffi::GST_VIDEO_SCALER_FLAG_NONE,
                0,
                size(from)?,
                size(to)?,
                options.as_ptr() as *mut gst::ffi::GstStructure,
            )
        };
        NonNull::new(raw)
            .map(GstScaler)
            .ok_or_else(|| format!("GStreamer made no scaler for {from} to {to}"))
    }

    pub(crate) fn as_ptr(&self) -> *mut ffi::GstVideoScaler {
        self.0.as_ptr()
    }
}

/// `resampler_convert_coeff`: the doubles `taps` as integers of `precision` bits that sum to
/// `1 << precision`, found by moving the rounding bias in a bisection (the last try where none
/// sums exactly, as GStreamer leaves it).
fn integer_taps(taps: &[f64], precision: u32) -> Vec<i16> {
    let one = 1i32 << precision;
    let multiplier = one as f64;
    let (mut low, mut high, mut bias) = (0.0f64, 1.0f64, 0.5f64);
    let mut out = vec![0i16; taps.len()];
    for _ in 0..64 {
        let mut sum = 0i32;
        for (o, &t) in out.iter_mut().zip(taps) {
            *o = (bias + t * multiplier).floor() as i16;
            sum += i32::from(*o);
        }
        if sum == one || low == high {
            break;
        }
        if sum < one {
            low = low.max(bias);
            bias += (high - low) / 2.0;
        } else {
            high = high.min(bias);
            bias -= (high - low) / 2.0;
        }
    }
    out
}

/// One axis: for each output sample, the first input sample it reads and its taps.
#[derive(Debug)]
struct Axis {
    taps: usize,
    offsets: Vec<usize>,
    /// `taps` per output, output after output.
    coeffs: Vec<i16>,
    /// Output stretches `start..end` where every output has `start`'s taps and reads 2 input
    /// samples after the one before.
    runs: Vec<(usize, usize)>,
    /// `coeffs` tap after tap (`to` of each), for the gathered path where `runs` is empty.
    by_tap: Vec<i16>,
    /// One past the last input sample any output reads.
    reach: usize,
}

impl Axis {
    /// The taps `scaler` (for `from` to `to` samples) computed, at the 8-bit path's precision.
    fn new(scaler: &GstScaler, from: usize, to: usize) -> Result<Axis, String> {
        // SAFETY: a live scaler.
        let taps = unsafe { ffi::gst_video_scaler_get_max_taps(scaler.as_ptr()) } as usize;
        if taps < 3 {
            return Err(format!(
                "{taps} taps: GStreamer's 1- and 2-tap paths round differently"
            ));
        }
        let (mut offsets, mut coeffs) = (Vec::with_capacity(to), Vec::with_capacity(to * taps));
        for i in 0..to {
            let (mut offset, mut n) = (0u32, 0u32);
            // SAFETY: `i` is below the scaler's output size; the answer points at `n` doubles
            // inside the scaler, read before anything else touches it.
            let raw = unsafe {
                ffi::gst_video_scaler_get_coeff(scaler.as_ptr(), i as u32, &mut offset, &mut n)
            };
            if raw.is_null() || n as usize != taps || offset as usize + taps > from {
                return Err(format!("GStreamer's taps for output {i} are out of range"));
            }
            // SAFETY: see above.
            let doubles = unsafe { std::slice::from_raw_parts(raw, taps) };
            offsets.push(offset as usize);
            coeffs.extend(integer_taps(doubles, PRECISION));
        }
        let mut runs = runs(&offsets, &coeffs, taps);
        // Scattered stretches (integer taps that happen to repeat, 1279 to 640) leave most
        // outputs to the scalar sum: there gathering the whole line is faster.
        if runs.iter().map(|(a, b)| b - a).sum::<usize>() * 10 < to * 9 {
            runs.clear();
        }
        let reach = offsets.iter().max().map_or(0, |o| o + taps);
        let by_tap = (0..taps)
            .flat_map(|j| coeffs.iter().skip(j).step_by(taps).copied())
            .collect();
        Ok(Axis {
            taps,
            offsets,
            coeffs,
            runs,
            by_tap,
            reach,
        })
    }

    fn taps_of(&self, i: usize) -> &[i16] {
        &self.coeffs[i * self.taps..][..self.taps]
    }
}

/// The stretches of at least `MIN_RUN` outputs with the same taps, each reading 2 input samples
/// after the one before.
fn runs(offsets: &[usize], coeffs: &[i16], taps: usize) -> Vec<(usize, usize)> {
    let same = |a: usize, b: usize| {
        offsets[b] == offsets[a] + 2 * (b - a)
            && coeffs[a * taps..][..taps] == coeffs[b * taps..][..taps]
    };
    let mut found = Vec::new();
    let mut start = 0;
    while start < offsets.len() {
        let mut end = start + 1;
        while end < offsets.len() && same(start, end) {
            end += 1;
        }
        if end - start >= MIN_RUN {
            found.push((start, end));
        }
        start = end;
    }
    found
}

/// `out[k] = Σ_j sources[j][k] · taps[j]` in wrapping 16-bit arithmetic, then `(+ 32) >> 6`
/// saturated: ORC's `multaps`/`muladdtaps`/`scaletaps` `_u8_lq` chain. Every source holds at
/// least `out.len()` samples.
#[inline(always)]
fn mac(sources: &[&[u8]], taps: &[i16], out: &mut [u8]) {
    let full = out.len() / LANES * LANES;
    for x in (0..full).step_by(LANES) {
        // Fixed-length slices: the loops below unroll into vector code, the sums in registers.
        let mut acc = [0i16; LANES];
        for (src, &t) in sources.iter().zip(taps) {
            let src = &src[x..x + LANES];
            for k in 0..LANES {
                acc[k] = acc[k].wrapping_add(i16::from(src[k]).wrapping_mul(t));
            }
        }
        let out = &mut out[x..x + LANES];
        for k in 0..LANES {
            out[k] = scaled(acc[k]);
        }
    }
    for (x, o) in out.iter_mut().enumerate().skip(full) {
        let sum = sources.iter().zip(taps).fold(0i16, |a, (src, &t)| {
            a.wrapping_add(i16::from(src[x]).wrapping_mul(t))
        });
        *o = scaled(sum);
    }
}

/// [`mac`] into `line`, and its even and odd samples into `even` and `odd` as well (the
/// horizontal pass's input at 2:1), without a second pass over `line`.
#[inline(always)]
fn mac_split(sources: &[&[u8]], taps: &[i16], line: &mut [u8], even: &mut [u8], odd: &mut [u8]) {
    let full = line.len() / LANES * LANES;
    for x in (0..full).step_by(LANES) {
        let mut acc = [0i16; LANES];
        for (src, &t) in sources.iter().zip(taps) {
            let src = &src[x..x + LANES];
            for k in 0..LANES {
                acc[k] = acc[k].wrapping_add(i16::from(src[k]).wrapping_mul(t));
            }
        }
        let mut bytes = [0u8; LANES];
        for k in 0..LANES {
            bytes[k] = scaled(acc[k]);
        }
        line[x..x + LANES].copy_from_slice(&bytes);
        let (e, o) = (
            &mut even[x / 2..x / 2 + LANES / 2],
            &mut odd[x / 2..x / 2 + LANES / 2],
        );
        for k in 0..LANES / 2 {
            e[k] = bytes[2 * k];
            o[k] = bytes[2 * k + 1];
        }
    }
    for (x, b) in line.iter_mut().enumerate().skip(full) {
        let sum = sources.iter().zip(taps).fold(0i16, |a, (src, &t)| {
            a.wrapping_add(i16::from(src[x]).wrapping_mul(t))
        });
        *b = scaled(sum);
        let half = if x % 2 == 0 { &mut *even } else { &mut *odd };
        half[x / 2] = *b;
    }
}

/// A sum of products back to a sample: `(sum + 32) >> 6`, saturated (ORC's `scaletaps`).
#[inline(always)]
fn scaled(sum: i16) -> u8 {
    (sum.wrapping_add(1 << (PRECISION - 1)) >> PRECISION).clamp(0, 255) as u8
}

/// One output sample from `taps` input samples from `line[offset]` on.
#[inline(always)]
fn mac_one(line: &[u8], offset: usize, taps: &[i16]) -> u8 {
    let sum = line[offset..offset + taps.len()]
        .iter()
        .zip(taps)
        .fold(0i16, |a, (&s, &t)| {
            a.wrapping_add(i16::from(s).wrapping_mul(t))
        });
    (sum.wrapping_add(1 << (PRECISION - 1)) >> PRECISION).clamp(0, 255) as u8
}

/// A downscaler for one plane size, with its scratch lines, reused frame after frame.
pub(crate) struct Cubic {
    from: (usize, usize),
    to: (usize, usize),
    h: Option<Axis>,
    v: Option<Axis>,
    /// The vertical pass's line (input width).
    line: Vec<u8>,
    /// `line`'s even and odd samples, or its samples gathered tap by tap.
    scratch: Scratch,
}

/// The horizontal pass's inputs rearranged so that its loops read contiguous slices.
struct Scratch {
    /// A line's even and odd samples (2:1 stretches).
    even: Vec<u8>,
    odd: Vec<u8>,
    /// For each tap, the sample each output reads with it (elsewhere: `video-scaler.c`'s
    /// gather into tap-major lines).
    gathered: Vec<u8>,
}

impl Cubic {
    /// A scaler from `from` to `to` (width, height) with GStreamer's `method` taps, as
    /// `GstVideoConverter` builds them from `options` (its config), or why it would not be
    /// GStreamer's picture.
    pub(crate) fn new(
        method: ffi::GstVideoResamplerMethod,
        from: (usize, usize),
        to: (usize, usize),
        options: &gst::Structure,
    ) -> Result<Cubic, String> {
        let axis = |f: usize, t: usize| -> Result<Option<Axis>, String> {
            if f == t {
                return Ok(None);
            }
            Axis::new(&GstScaler::new(method, f, t, options)?, f, t).map(Some)
        };
        let (h, v) = (axis(from.0, to.0)?, axis(from.1, to.1)?);
        if let (Some(_), Some(v)) = (&h, &v) {
            // gst_video_scaler_2d scales horizontally first where that touches fewer rows.
            if to.0 * v.offsets[to.1 - 1] <= to.0 * to.1 {
                return Err("GStreamer scales these sizes horizontally first".into());
            }
        }
        Ok(Cubic {
            from,
            to,
            line: vec![0; from.0],
            scratch: Scratch {
                even: vec![0; from.0.div_ceil(2)],
                odd: vec![0; from.0 / 2],
                gathered: vec![0; h.as_ref().map_or(0, |h| h.taps * to.0)],
            },
            h,
            v,
        })
    }

    /// `src` (`from` samples) scaled into `dst` (`to`).
    pub(crate) fn run(&mut self, src: Plane<'_>, dst: &mut PlaneMut<'_>) -> Result<(), String> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { self.run_avx2(src, dst) };
        }
        self.run_any(src, dst)
    }

    /// [`Cubic::run`] compiled for AVX2: the same loops (and the same wrapping 16-bit sums, so
    /// the same bytes), twice as many samples per instruction as the SSE2 baseline.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&mut self, src: Plane<'_>, dst: &mut PlaneMut<'_>) -> Result<(), String> {
        self.run_any(src, dst)
    }

    #[inline(always)]
    fn run_any(&mut self, src: Plane<'_>, dst: &mut PlaneMut<'_>) -> Result<(), String> {
        let ((iw, ih), (ow, oh)) = (self.from, self.to);
        let fits = |len: usize, stride: usize, w: usize, h: usize| {
            stride >= w && h > 0 && (h - 1) * stride + w <= len
        };
        if !fits(src.data.len(), src.stride, iw, ih) {
            return Err(format!("input plane too small for {iw}x{ih}"));
        }
        if !fits(dst.data.len(), dst.stride, ow, oh) {
            return Err(format!("output plane too small for {ow}x{oh}"));
        }
        let mut rows: Vec<&[u8]> = Vec::new();
        for r in 0..oh {
            let out = dst.row(r, ow);
            let Some(v) = &self.v else {
                horizontal(self.h.as_ref(), src.row(r, iw), out, &mut self.scratch);
                continue;
            };
            rows.clear();
            rows.extend((0..v.taps).map(|j| src.row(v.offsets[r] + j, iw)));
            if self.h.is_none() {
                mac(&rows, v.taps_of(r), out);
            } else {
                let split = self.h.as_ref().is_some_and(|h| !h.runs.is_empty());
                if split {
                    mac_split(
                        &rows,
                        v.taps_of(r),
                        &mut self.line,
                        &mut self.scratch.even,
                        &mut self.scratch.odd,
                    );
                } else {
                    mac(&rows, v.taps_of(r), &mut self.line);
                }
                horizontal_split(self.h.as_ref(), &self.line, out, &mut self.scratch, !split);
            }
        }
        Ok(())
    }
}

/// One line scaled along the row (`None`: copied).
#[inline(always)]
fn horizontal(h: Option<&Axis>, line: &[u8], out: &mut [u8], scratch: &mut Scratch) {
    horizontal_split(h, line, out, scratch, true)
}

/// [`horizontal`], `scratch`'s even and odd samples already split from `line` unless `split`.
#[inline(always)]
fn horizontal_split(
    h: Option<&Axis>,
    line: &[u8],
    out: &mut [u8],
    scratch: &mut Scratch,
    split: bool,
) {
    let Some(h) = h else {
        out.copy_from_slice(&line[..out.len()]);
        return;
    };
    if h.runs.is_empty() {
        gathered(h, line, out, &mut scratch.gathered);
        return;
    }
    let (even, odd) = (&mut scratch.even, &mut scratch.odd);
    if split && !h.runs.is_empty() {
        for ((e, o), pair) in even
            .iter_mut()
            .zip(odd.iter_mut())
            .zip(line.chunks_exact(2))
        {
            (*e, *o) = (pair[0], pair[1]);
        }
        if line.len() % 2 == 1 {
            even[line.len() / 2] = line[line.len() - 1];
        }
    }
    let mut at = 0;
    let mut sources: Vec<&[u8]> = Vec::with_capacity(h.taps);
    for &(start, end) in &h.runs {
        for (i, o) in out.iter_mut().enumerate().take(start).skip(at) {
            *o = mac_one(line, h.offsets[i], h.taps_of(i));
        }
        // Output start + k reads sample offsets[start] + j + 2k: for each tap j, every other
        // sample of one parity from (offsets[start] + j) / 2 on.
        sources.clear();
        sources.extend((0..h.taps).map(|j| {
            let p = h.offsets[start] + j;
            let half: &[u8] = if p % 2 == 0 { even } else { odd };
            &half[p / 2..]
        }));
        mac(&sources, h.taps_of(start), &mut out[start..end]);
        at = end;
    }
    for (i, o) in out.iter_mut().enumerate().skip(at) {
        *o = mac_one(line, h.offsets[i], h.taps_of(i));
    }
}

/// A line scaled along the row where the taps change from output to output: each tap's input
/// samples gathered into one line (`gathered`, `h.taps` × `out.len()`), then summed in vector
/// loops with each output's own tap.
#[inline(always)]
fn gathered(h: &Axis, line: &[u8], out: &mut [u8], gathered: &mut [u8]) {
    let n = out.len();
    if line.len() < h.reach || gathered.len() < h.taps * n || h.offsets.len() < n {
        for (i, o) in out.iter_mut().enumerate() {
            *o = mac_one(line, h.offsets[i], h.taps_of(i));
        }
        return;
    }
    for (j, g) in gathered.chunks_exact_mut(n).enumerate() {
        for (g, &o) in g.iter_mut().zip(&h.offsets) {
            // SAFETY: every offset plus every tap index is below `h.reach` <= `line.len()`.
            *g = unsafe { *line.get_unchecked(o + j) };
        }
    }
    let full = n / LANES * LANES;
    for x in (0..full).step_by(LANES) {
        let mut acc = [0i16; LANES];
        for j in 0..h.taps {
            let (s, t) = (
                &gathered[j * n + x..][..LANES],
                &h.by_tap[j * n + x..][..LANES],
            );
            for k in 0..LANES {
                acc[k] = acc[k].wrapping_add(i16::from(s[k]).wrapping_mul(t[k]));
            }
        }
        let out = &mut out[x..x + LANES];
        for k in 0..LANES {
            out[k] = scaled(acc[k]);
        }
    }
    for (i, o) in out.iter_mut().enumerate().skip(full) {
        *o = mac_one(line, h.offsets[i], h.taps_of(i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::noise;

    /// Hard edges and flat areas (where the cubic's lobes overshoot and clamp) over noise.
    fn blocks(w: usize, h: usize, seed: u64) -> Vec<u8> {
        let grain = noise(w * h, seed);
        (0..w * h)
            .map(|k| {
                let (x, y) = (k % w, k / w);
                if (x / 7 + y / 5) % 3 == 0 {
                    if (x / 3) % 2 == 0 { 255 } else { 0 }
                } else {
                    grain[k]
                }
            })
            .collect()
    }

    fn options() -> gst::Structure {
        gst::Structure::new_empty("GstVideoConverter")
    }

    /// GStreamer's picture: `gst_video_scaler_2d` with the scalers `setup_scale` builds.
    fn gst_scaled(
        method: ffi::GstVideoResamplerMethod,
        src: &[u8],
        stride: usize,
        from: (usize, usize),
        to: (usize, usize),
    ) -> Vec<u8> {
        let scaler = |f: usize, t: usize| {
            (f != t).then(|| GstScaler::new(method, f, t, &options()).unwrap())
        };
        let (h, v) = (scaler(from.0, to.0), scaler(from.1, to.1));
        let raw = |s: &Option<GstScaler>| s.as_ref().map_or(std::ptr::null_mut(), |s| s.as_ptr());
        let mut dst = vec![0u8; to.0 * to.1];
        // SAFETY: `src` holds `from.1` rows at `stride`, `dst` `to.1` rows of `to.0`.
        unsafe {
            ffi::gst_video_scaler_2d(
                raw(&h),
                raw(&v),
                ffi::GST_VIDEO_FORMAT_GRAY8,
                src.as_ptr() as *mut _,
                stride as i32,
                dst.as_mut_ptr().cast(),
                to.0 as i32,
                0,
                0,
                to.0 as u32,
                to.1 as u32,
            )
        };
        dst
    }

    fn ours(
        method: ffi::GstVideoResamplerMethod,
        src: &[u8],
        stride: usize,
        from: (usize, usize),
        to: (usize, usize),
    ) -> Vec<u8> {
        let mut dst = vec![0u8; to.0 * to.1];
        let mut scaler = Cubic::new(method, from, to, &options()).unwrap();
        let input = Plane { data: src, stride };
        let mut out = PlaneMut {
            data: &mut dst,
            stride: to.0,
        };
        scaler.run(input, &mut out).unwrap();
        dst
    }

    /// The largest difference between ours and GStreamer's, on noise and on hard edges, with
    /// the input rows padded past their width.
    fn max_diff(
        method: ffi::GstVideoResamplerMethod,
        from: (usize, usize),
        to: (usize, usize),
    ) -> u8 {
        let stride = from.0 + 13;
        let mut worst = 0;
        for (k, src) in [noise(stride * from.1, 7), blocks(stride, from.1, 11)]
            .iter()
            .enumerate()
        {
            let (a, b) = (
                ours(method, src, stride, from, to),
                gst_scaled(method, src, stride, from, to),
            );
            let d = a
                .iter()
                .zip(&b)
                .map(|(x, y)| x.abs_diff(*y))
                .max()
                .unwrap_or(0);
            worst = worst.max(d);
            assert_eq!(a.len(), b.len(), "picture {k}");
        }
        worst
    }

    const CUBIC: ffi::GstVideoResamplerMethod = ffi::GST_VIDEO_RESAMPLER_METHOD_CUBIC;
    const LINEAR: ffi::GstVideoResamplerMethod = ffi::GST_VIDEO_RESAMPLER_METHOD_LINEAR;

    #[test]
    fn integer_taps_sum_to_one_at_six_bits() {
        assert_eq!(integer_taps(&[0.25, 0.5, 0.25], 6), [16, 32, 16]);
        let t = integer_taps(&[-0.013, 0.2, 0.313, 0.313, 0.2, -0.013], 6);
        assert_eq!(t.iter().map(|&x| i32::from(x)).sum::<i32>(), 64);
    }

    #[test]
    fn the_mosaic_tile_is_gstreamers_cubic_picture_byte_for_byte() {
        gst::init().unwrap();
        assert_eq!(max_diff(CUBIC, (1920, 1080), (960, 540)), 0);
        // Through the even/odd stretch: all but a few outputs at each edge.
        let s = Cubic::new(CUBIC, (1920, 1080), (960, 540), &options()).unwrap();
        let h = s.h.as_ref().unwrap();
        assert_eq!(h.taps, 8);
        assert!(
            h.runs.iter().map(|(a, b)| b - a).sum::<usize>() > 940,
            "{:?}",
            h.runs
        );
    }

    #[test]
    fn odd_sizes_and_other_ratios_are_gstreamers_picture_byte_for_byte() {
        gst::init().unwrap();
        for (from, to) in [
            ((1279, 719), (640, 360)),
            ((1920, 1080), (1280, 720)),
            ((1919, 1081), (959, 541)),
            ((101, 77), (43, 31)),
            ((1920, 1080), (960, 1080)),
            ((1920, 1080), (1920, 540)),
        ] {
            assert_eq!(max_diff(CUBIC, from, to), 0, "{from:?} to {to:?}");
        }
    }

    #[test]
    fn the_baseline_build_of_the_loops_is_gstreamers_picture_too() {
        gst::init().unwrap();
        // `run` takes the AVX2 build where the CPU has it; the other one must match as well.
        for (from, to) in [((1920, 1080), (960, 540)), ((1279, 719), (640, 360))] {
            let src = blocks(from.0, from.1, 5);
            let mut dst = vec![0u8; to.0 * to.1];
            let mut scaler = Cubic::new(CUBIC, from, to, &options()).unwrap();
            let input = Plane {
                data: &src,
                stride: from.0,
            };
            let mut out = PlaneMut {
                data: &mut dst,
                stride: to.0,
            };
            scaler.run_any(input, &mut out).unwrap();
            assert!(dst == gst_scaled(CUBIC, &src, from.0, from, to), "{from:?}");
        }
    }

    #[test]
    fn linear_chroma_with_four_taps_is_gstreamers_picture_byte_for_byte() {
        gst::init().unwrap();
        // compositor's chroma planes: its chroma resampler is LINEAR, 4 taps at 2:1.
        assert_eq!(max_diff(LINEAR, (960, 540), (480, 270)), 0);
    }

    #[test]
    fn two_tap_scalers_and_upscales_are_refused() {
        gst::init().unwrap();
        // LINEAR upscales have 2 taps, NEAREST has 1: their paths round differently.
        assert!(Cubic::new(LINEAR, (500, 100), (1000, 100), &options()).is_err());
        let nearest = ffi::GST_VIDEO_RESAMPLER_METHOD_NEAREST;
        assert!(Cubic::new(nearest, (1000, 100), (500, 100), &options()).is_err());
        // A vertical upscale: GStreamer scales horizontally first there.
        assert!(Cubic::new(CUBIC, (640, 360), (1280, 720), &options()).is_err());
    }

    #[test]
    fn planes_too_small_are_refused_not_read_past() {
        gst::init().unwrap();
        let mut s = Cubic::new(CUBIC, (64, 64), (32, 32), &options()).unwrap();
        let src = vec![0u8; 64 * 63];
        let mut dst = vec![0u8; 32 * 32];
        let input = Plane {
            data: &src,
            stride: 64,
        };
        let mut out = PlaneMut {
            data: &mut dst,
            stride: 32,
        };
        assert!(s.run(input, &mut out).is_err());
    }

    fn median_ns(mut f: impl FnMut(), frames: usize) -> u128 {
        let mut runs: Vec<u128> = (0..7)
            .map(|_| {
                let t = std::time::Instant::now();
                for _ in 0..frames {
                    f();
                }
                t.elapsed().as_nanos() / frames as u128
            })
            .collect();
        runs.sort_unstable();
        runs[runs.len() / 2]
    }

    /// `cargo test --release --lib convert::cubic -- --ignored --nocapture`: ns per plane for
    /// ours and `gst_video_scaler_2d`, median of 7 runs of 20 planes, with the load average.
    #[test]
    #[ignore]
    fn bench_against_gst_video_scaler_2d() {
        gst::init().unwrap();
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("load average before: {}", load.trim());
        let mut ns = Vec::new();
        for (method, from, to) in [
            (CUBIC, (1920, 1080), (960, 540)),
            (LINEAR, (960, 540), (480, 270)),
            (CUBIC, (1279, 719), (640, 360)),
            (CUBIC, (1920, 1080), (1280, 720)),
            (CUBIC, (1920, 1080), (1920, 540)),
            (CUBIC, (1920, 1080), (960, 1080)),
        ] {
            let src = noise(from.0 * from.1, 3);
            let mut dst = vec![0u8; to.0 * to.1];
            let mut cubic = Cubic::new(method, from, to, &options()).unwrap();
            let h = GstScaler::new(method, from.0, to.0, &options()).unwrap();
            let v = GstScaler::new(method, from.1, to.1, &options()).unwrap();
            let ns_ours = median_ns(
                || {
                    let mut out = PlaneMut {
                        data: &mut dst,
                        stride: to.0,
                    };
                    cubic
                        .run(
                            Plane {
                                data: &src,
                                stride: from.0,
                            },
                            &mut out,
                        )
                        .unwrap();
                },
                20,
            );
            let ns_gst = median_ns(
                || unsafe {
                    ffi::gst_video_scaler_2d(
                        h.as_ptr(),
                        v.as_ptr(),
                        ffi::GST_VIDEO_FORMAT_GRAY8,
                        src.as_ptr() as *mut _,
                        from.0 as i32,
                        dst.as_mut_ptr().cast(),
                        to.0 as i32,
                        0,
                        0,
                        to.0 as u32,
                        to.1 as u32,
                    )
                },
                20,
            );
            println!(
                "{method:?} {from:?} -> {to:?}: ours {ns_ours} ns, gst_video_scaler_2d {ns_gst} ns, ratio {:.2}",
                ns_ours as f64 / ns_gst as f64
            );
            ns.push((ns_ours, ns_gst));
        }
        // compositor's 2×2 mosaic: four tiles of CUBIC luma and two LINEAR chroma planes each.
        let tiles = |f: fn(&(u128, u128)) -> u128| 4 * (f(&ns[0]) + 2 * f(&ns[1]));
        let (ours, gst) = (tiles(|n| n.0), tiles(|n| n.1));
        println!(
            "2x2 mosaic scaling per output frame: ours {ours} ns, gst_video_scaler_2d {gst} ns, \
             ratio {:.2}",
            ours as f64 / gst as f64
        );
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("load average after: {}", load.trim());
    }
}
