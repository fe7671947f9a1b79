// SPDX-License-Identifier: MPL-2.0
//! Packed 4:2:2 (UYVY, YUY2) to 4:2:0 (I420, NV12), equal sample for sample to what GStreamer
//! 1.22's `videoconvert` makes, which takes one of two routes:
//!
//! - [`Route::LineAverage`]: its UYVY/YUY2 → I420 fast path (`video_orc_convert_UYVY_I420`):
//!   luma copied, each chroma sample the rounded average of the two lines; a last odd line keeps
//!   its own chroma.
//! - [`Route::Resample`]: its generic path, taken for NV12: chroma upsampled to 4:4:4 for the
//!   input's siting, the two lines averaged, then filtered down for the output's siting (see
//!   `chroma.rs`). This softens chroma horizontally (`videoconvert` gives UYVY → NV12 other
//!   chroma than UYVY → I420), and the fast converter keeps that, so the bin's output does not
//!   change when it uses the fast converter.

use super::chroma::{self, HSiting};
use super::out420::Out420;
use super::planes::Plane;

/// The packed 4:2:2 formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Packing {
    /// U0 Y0 V0 Y1.
    Uyvy,
    /// Y0 U0 Y1 V0.
    Yuy2,
}

/// Where the samples of one two-pixel group sit, as constants so that the loops compile to
/// fixed shuffles.
trait Group {
    const Y0: usize;
    const U: usize;
    const V: usize;
}

struct Uyvy;
struct Yuy2;

impl Group for Uyvy {
    const Y0: usize = 1;
    const U: usize = 0;
    const V: usize = 2;
}

impl Group for Yuy2 {
    const Y0: usize = 0;
    const U: usize = 1;
    const V: usize = 3;
}

/// How `videoconvert` derives 4:2:0 chroma from 4:2:2 for a given pair of formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    LineAverage,
    Resample { input: HSiting, output: HSiting },
}

/// Scratch rows reused across lines (and frames).
#[derive(Default)]
pub(crate) struct Scratch {
    rows: Vec<u8>,
    resample: chroma::Resample422,
}

/// Converts a `width`×`height` packed picture.
pub(crate) fn to_420(
    packing: Packing,
    route: Route,
    width: usize,
    height: usize,
    src: Plane<'_>,
    mut out: Out420<'_>,
    scratch: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { to_420_avx2(packing, route, width, height, src, &mut out, scratch) };
        return;
    }
    to_420_packing(packing, route, width, height, src, &mut out, scratch);
}

/// The same loops compiled for AVX2, where LLVM vectorises the (de)interleaving with wider
/// shuffles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn to_420_avx2(
    packing: Packing,
    route: Route,
    width: usize,
    height: usize,
    src: Plane<'_>,
    out: &mut Out420<'_>,
    scratch: &mut Scratch,
) {
    to_420_packing(packing, route, width, height, src, out, scratch);
}

#[inline(always)]
fn to_420_packing(
    packing: Packing,
    route: Route,
    width: usize,
    height: usize,
    src: Plane<'_>,
    out: &mut Out420<'_>,
    scratch: &mut Scratch,
) {
    match packing {
        Packing::Uyvy => to_420_body::<Uyvy>(route, width, height, src, out, scratch),
        Packing::Yuy2 => to_420_body::<Yuy2>(route, width, height, src, out, scratch),
    }
}

#[inline(always)]
fn to_420_body<G: Group>(
    route: Route,
    width: usize,
    height: usize,
    src: Plane<'_>,
    out: &mut Out420<'_>,
    scratch: &mut Scratch,
) {
    if width == 0 || height == 0 {
        return;
    }
    let cw = width.div_ceil(2);
    let groups = 4 * cw;
    // U/V of the two lines, NV12 staging.
    scratch.rows.resize(6 * cw, 0);
    let (half, stage) = scratch.rows.split_at_mut(4 * cw);
    let resample = &mut scratch.resample;
    for cr in 0..height.div_ceil(2) {
        let top = src.row(2 * cr, groups);
        // A last odd line pairs with itself: its average is itself, as in `videoconvert`.
        let bottom_row = (2 * cr + 1).min(height - 1);
        let bottom = src.row(bottom_row, groups);
        match route {
            Route::LineAverage => {
                // One pass over both lines, as videoconvert's orc fast path does.
                let (y_top, y_bottom, u, v) =
                    out.line_pair((2 * cr, bottom_row, width), (cr, cw), stage);
                line_pair::<G>(top, bottom, y_top, y_bottom, u, v);
                out.commit_chroma_row(cr, cw, stage);
            }
            Route::Resample { input, output } => {
                luma::<G>(top, out.y_row(2 * cr, width));
                if bottom_row != 2 * cr {
                    luma::<G>(bottom, out.y_row(bottom_row, width));
                }
                let (tu, rest) = half.split_at_mut(cw);
                let (tv, rest) = rest.split_at_mut(cw);
                let (bu, bv) = rest.split_at_mut(cw);
                split_chroma::<G>(top, tu, tv);
                split_chroma::<G>(bottom, bu, bv);
                let (u, v) = out.chroma_row(cr, cw, stage);
                chroma::resample_422(tu, bu, width, input, output, u, resample);
                chroma::resample_422(tv, bv, width, input, output, v, resample);
                out.commit_chroma_row(cr, cw, stage);
            }
        }
    }
}

/// The luma samples of one packed line.
#[inline(always)]
fn luma<G: Group>(src: &[u8], y: &mut [u8]) {
    let (pairs, odd) = (y.len() / 2, y.len() % 2 == 1);
    for (out, group) in y.chunks_exact_mut(2).zip(src.chunks_exact(4)).take(pairs) {
        out[0] = group[G::Y0];
        out[1] = group[G::Y0 + 2];
    }
    if odd {
        y[2 * pairs] = src[4 * pairs + G::Y0];
    }
}

/// The U and V samples of one packed line.
#[inline(always)]
fn split_chroma<G: Group>(src: &[u8], u: &mut [u8], v: &mut [u8]) {
    for ((group, cu), cv) in src.chunks_exact(4).zip(u.iter_mut()).zip(v.iter_mut()) {
        *cu = group[G::U];
        *cv = group[G::V];
    }
}

/// Groups per block in [`line_pair`]: copied through local arrays so that LLVM sees no
/// aliasing between the packed input and the planes and vectorises the shuffles.
const GROUPS: usize = 32;

/// Two packed lines to their luma rows (`y_bottom` is `None` for a last odd line) and the
/// rounded average of their chroma, `(a + b + 1) >> 1` (orc's `avgub`).
#[inline(always)]
fn line_pair<G: Group>(
    top: &[u8],
    bottom: &[u8],
    y_top: &mut [u8],
    mut y_bottom: Option<&mut [u8]>,
    u: &mut [u8],
    v: &mut [u8],
) {
    let avg = |a: u8, b: u8| ((u16::from(a) + u16::from(b) + 1) >> 1) as u8;
    let width = y_top.len();
    let pairs = width / 2;
    let blocks = pairs / GROUPS;
    for n in 0..blocks {
        let (g, p) = (n * GROUPS, 2 * n * GROUPS);
        let mut t = [0u8; 4 * GROUPS];
        let mut b = [0u8; 4 * GROUPS];
        t.copy_from_slice(&top[4 * g..4 * (g + GROUPS)]);
        b.copy_from_slice(&bottom[4 * g..4 * (g + GROUPS)]);
        let (mut yt, mut yb) = ([0u8; 2 * GROUPS], [0u8; 2 * GROUPS]);
        let (mut bu, mut bv) = ([0u8; GROUPS], [0u8; GROUPS]);
        for k in 0..GROUPS {
            yt[2 * k] = t[4 * k + G::Y0];
            yt[2 * k + 1] = t[4 * k + G::Y0 + 2];
            yb[2 * k] = b[4 * k + G::Y0];
            yb[2 * k + 1] = b[4 * k + G::Y0 + 2];
            bu[k] = avg(t[4 * k + G::U], b[4 * k + G::U]);
            bv[k] = avg(t[4 * k + G::V], b[4 * k + G::V]);
        }
        y_top[p..p + 2 * GROUPS].copy_from_slice(&yt);
        if let Some(y) = y_bottom.as_deref_mut() {
            y[p..p + 2 * GROUPS].copy_from_slice(&yb);
        }
        u[g..g + GROUPS].copy_from_slice(&bu);
        v[g..g + GROUPS].copy_from_slice(&bv);
    }
    // The rest, and the last pixel of an odd width (its group's first luma sample).
    for g in blocks * GROUPS..width.div_ceil(2) {
        let (t, b) = (&top[4 * g..4 * g + 4], &bottom[4 * g..4 * g + 4]);
        y_top[2 * g] = t[G::Y0];
        if 2 * g + 1 < width {
            y_top[2 * g + 1] = t[G::Y0 + 2];
        }
        if let Some(y) = y_bottom.as_deref_mut() {
            y[2 * g] = b[G::Y0];
            if 2 * g + 1 < width {
                y[2 * g + 1] = b[G::Y0 + 2];
            }
        }
        u[g] = avg(t[G::U], b[G::U]);
        v[g] = avg(t[G::V], b[G::V]);
    }
}
