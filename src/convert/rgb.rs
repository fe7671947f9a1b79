// SPDX-License-Identifier: MPL-2.0
//! 8-bit RGB with a fourth byte (BGRx, BGRA, RGBx, RGBA) to 4:2:0 Y′CbCr for the matrix and
//! range the output caps state (BT.601, BT.709, BT.2020; limited or full range), bit-exact with
//! GStreamer 1.22's `videoconvert`.
//!
//! `videoconvert` converts each pixel with an integer matrix, the colour matrix scaled by 256
//! and rounded (`color_matrix_convert`, printed at `GST_DEBUG=video-converter:7`), and one floor
//! at the end (`video_converter_matrix8_table`): `Y = (66 R + 129 G + 25 B + 4096) >> 8` for
//! BT.601 limited range. The SIMD libraries compared for this (the `yuv` crate,
//! `dcv-color-primitives`, libyuv) round to nearest instead, a systematic half step: against
//! `videoconvert` they differ by a mean of 0.43 to 0.53 per sample on noise, and their own 4:2:0
//! paths (2×2 averages) by up to 51 with `mpeg2` siting (the default for HD caps). So the matrix
//! here is `videoconvert`'s, in plain loops that LLVM vectorises (AVX2 where the CPU has it),
//! and the chroma goes through `videoconvert`'s own filters (`chroma.rs`): the same samples.
//!
//! `videoconvert` applies no gamma or primaries conversion by default (`gamma-mode=none`,
//! `primaries-mode=none`), so the matrix and the two ranges are all that decides the samples.

use super::chroma::{self, HSiting};
use super::out420::Out420;
use super::planes::Plane;

/// Rows converted per band: even (chroma takes line pairs), small enough that the band's
/// full-resolution chroma stays in cache.
const BAND: usize = 16;

/// Byte order of the input pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// B G R x/A in memory.
    Bgrx,
    /// R G B x/A in memory.
    Rgbx,
}

/// `videoconvert`'s integer RGB → Y′CbCr matrix: rows Y, U, V of (R, G, B, offset), in units
/// of 1/256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoding {
    rows: [[i32; 4]; 3],
}

impl Encoding {
    /// The encoding for output colorimetry `c`, or why it is not one this converter makes.
    pub(crate) fn for_output(c: &gst_video::VideoColorimetry) -> Result<Encoding, String> {
        use gst_video::{VideoColorMatrix as M, VideoColorRange as R};
        let (kr, kb) = match c.matrix() {
            M::Bt601 => (0.299, 0.114),
            M::Bt709 => (0.2126, 0.0722),
            M::Bt2020 => (0.2627, 0.0593),
            other => return Err(format!("matrix {other:?} (only BT.601, BT.709, BT.2020)")),
        };
        // GStreamer reads an unknown range as full range (gst_video_color_range_offsets).
        let full = match c.range() {
            R::Range16_235 => false,
            R::Range0_255 | R::Unknown => true,
            other => return Err(format!("range {other:?}")),
        };
        Ok(Encoding::new(kr, kb, full))
    }

    /// The matrix `videoconvert` computes for `kr`, `kb` and the range: the Y′CbCr rows scaled
    /// to the output range, times 256, rounded to integers (`rint`).
    fn new(kr: f64, kb: f64, full: bool) -> Encoding {
        let kg = 1.0 - kr - kb;
        let (y_scale, c_scale, y_offset) = if full {
            (1.0, 1.0, 0.0)
        } else {
            (219.0 / 255.0, 224.0 / 255.0, 16.0)
        };
        let y = [kr, kg, kb].map(|k| k * y_scale);
        let u = [-kr, -kg, 1.0 - kb].map(|k| k / (2.0 * (1.0 - kb)) * c_scale);
        let v = [1.0 - kr, -kg, -kb].map(|k| k / (2.0 * (1.0 - kr)) * c_scale);
        let row = |m: [f64; 3], offset: f64| {
            let [r, g, b] = m.map(|k| (k * 256.0).round_ties_even() as i32);
            [r, g, b, (offset * 256.0) as i32]
        };
        Encoding {
            rows: [row(y, y_offset), row(u, 128.0), row(v, 128.0)],
        }
    }
}

/// Band buffers reused across frames.
#[derive(Default)]
pub(crate) struct Scratch {
    band: Vec<u8>,
}

/// Converts a `width`×`height` picture; `siting` is the output's horizontal chroma siting.
#[allow(clippy::too_many_arguments)]
pub(crate) fn to_420(
    order: Order,
    encoding: Encoding,
    siting: HSiting,
    width: usize,
    height: usize,
    src: Plane<'_>,
    out: Out420<'_>,
    scratch: &mut Scratch,
) {
    super::planes::with_avx2!(to_420_body(order: Order, encoding: Encoding, siting: HSiting, width: usize, height: usize, src: Plane<'_>, out: Out420<'_>, scratch: &mut Scratch))
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn to_420_body(
    order: Order,
    encoding: Encoding,
    siting: HSiting,
    width: usize,
    height: usize,
    src: Plane<'_>,
    mut out: Out420<'_>,
    scratch: &mut Scratch,
) {
    if width == 0 || height == 0 {
        return;
    }
    let cw = width.div_ceil(2);
    scratch.band.resize(2 * BAND * width + 2 * cw, 0);
    let (band, stage) = scratch.band.split_at_mut(2 * BAND * width);
    let (band_u, band_v) = band.split_at_mut(BAND * width);
    for first in (0..height).step_by(BAND) {
        let rows = BAND.min(height - first);
        band_444(
            order, encoding, width, first, rows, src, &mut out, band_u, band_v,
        );
        for pair in 0..rows.div_ceil(2) {
            let (t, b) = (2 * pair, (2 * pair + 1).min(rows - 1));
            let (u_top, u_bottom) = two_lines(band_u, width, t, b);
            let (v_top, v_bottom) = two_lines(band_v, width, t, b);
            chroma::average_into(u_top, u_bottom);
            chroma::average_into(v_top, v_bottom);
            let row = first / 2 + pair;
            let (u, v) = out.chroma_row(row, cw, stage);
            chroma::downsample_h2(u_top, siting, u);
            chroma::downsample_h2(v_top, siting, v);
            out.commit_chroma_row(row, cw, stage);
        }
    }
}

/// Lines `t` and `b` of a band buffer, the first writable; `b == t` for a last odd line, whose
/// average with itself is itself (as `videoconvert`, which skips the average there).
fn two_lines(band: &mut [u8], width: usize, t: usize, b: usize) -> (&mut [u8], &[u8]) {
    if b == t {
        // Nothing to average with: an empty bottom leaves the line as it is.
        return (&mut band[t * width..(t + 1) * width], &[]);
    }
    let (head, tail) = band.split_at_mut(b * width);
    (&mut head[t * width..(t + 1) * width], &tail[..width])
}

/// Rows `first..first + rows` to 4:4:4: Y into the output plane, U and V into the band.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn band_444(
    order: Order,
    encoding: Encoding,
    width: usize,
    first: usize,
    rows: usize,
    src: Plane<'_>,
    out: &mut Out420<'_>,
    band_u: &mut [u8],
    band_v: &mut [u8],
) {
    for r in 0..rows {
        let pixels = src.row(first + r, 4 * width);
        let y = out.y_row(first + r, width);
        let (u, v) = (
            &mut band_u[r * width..(r + 1) * width],
            &mut band_v[r * width..(r + 1) * width],
        );
        match order {
            Order::Bgrx => matrix_row::<2, 1, 0>(encoding, pixels, y, u, v),
            Order::Rgbx => matrix_row::<0, 1, 2>(encoding, pixels, y, u, v),
        }
    }
}

/// One line through the matrix; `R`, `G`, `B` are the byte positions in a pixel.
///
/// In 16-bit wrapping arithmetic: for these matrices every true sum `c·(R, G, B) + offset` lies
/// in 0..=65535 (checked by `sums_fit_in_16_bits`), and arithmetic modulo 2¹⁶ gives that sum
/// exactly whatever the partial sums do, so the result equals `videoconvert`'s 64-bit table
/// path while LLVM packs 16 pixels per AVX2 multiply. No clamp is needed either (which is why
/// `videoconvert` takes its no-clip path for them).
#[inline(always)]
fn matrix_row<const R: usize, const G: usize, const B: usize>(
    encoding: Encoding,
    pixels: &[u8],
    y: &mut [u8],
    u: &mut [u8],
    v: &mut [u8],
) {
    let rows = encoding.rows.map(|row| row.map(|c| c as u16));
    let apply = |c: [u16; 4], r: u16, g: u16, b: u16| {
        (c[0]
            .wrapping_mul(r)
            .wrapping_add(c[1].wrapping_mul(g))
            .wrapping_add(c[2].wrapping_mul(b))
            .wrapping_add(c[3])
            >> 8) as u8
    };
    for (((px, y), u), v) in pixels
        .chunks_exact(4)
        .zip(y.iter_mut())
        .zip(u.iter_mut())
        .zip(v.iter_mut())
    {
        let (r, g, b) = (u16::from(px[R]), u16::from(px[G]), u16::from(px[B]));
        *y = apply(rows[0], r, g, b);
        *u = apply(rows[1], r, g, b);
        *v = apply(rows[2], r, g, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_are_the_ones_videoconvert_prints() {
        // `GST_DEBUG=video-converter:7`, "color_matrix_convert", GStreamer 1.22.0.
        let cases = [
            (
                (0.299, 0.114, false),
                [
                    [66, 129, 25, 4096],
                    [-38, -74, 112, 32768],
                    [112, -94, -18, 32768],
                ],
            ),
            (
                (0.2126, 0.0722, false),
                [
                    [47, 157, 16, 4096],
                    [-26, -87, 112, 32768],
                    [112, -102, -10, 32768],
                ],
            ),
            (
                (0.2627, 0.0593, false),
                [
                    [58, 149, 13, 4096],
                    [-31, -81, 112, 32768],
                    [112, -103, -9, 32768],
                ],
            ),
            (
                (0.299, 0.114, true),
                [
                    [77, 150, 29, 0],
                    [-43, -85, 128, 32768],
                    [128, -107, -21, 32768],
                ],
            ),
            (
                (0.2126, 0.0722, true),
                [
                    [54, 183, 18, 0],
                    [-29, -99, 128, 32768],
                    [128, -116, -12, 32768],
                ],
            ),
            (
                (0.2627, 0.0593, true),
                [
                    [67, 174, 15, 0],
                    [-36, -92, 128, 32768],
                    [128, -118, -10, 32768],
                ],
            ),
        ];
        for ((kr, kb, full), rows) in cases {
            assert_eq!(
                Encoding::new(kr, kb, full).rows,
                rows,
                "Kr {kr} full {full}"
            );
        }
    }
}
