// SPDX-License-Identifier: MPL-2.0
//! I420 ↔ NV12 as plane copies: the two formats hold the same samples and differ only in how the
//! chroma planes are laid out, so converting is a copy of Y and an (de)interleave of U and V.
//! GStreamer 1.22's `videoconvert` has no fast path for this pair and goes through its generic
//! unpack/pack code; these loops are bit-exact with it and an order of magnitude faster.

/// A read-only plane: its bytes and its row stride.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) stride: usize,
}

/// A writable plane.
pub(crate) struct PlaneMut<'a> {
    pub(crate) data: &'a mut [u8],
    pub(crate) stride: usize,
}

impl<'a> Plane<'a> {
    pub(crate) fn row(&self, r: usize, len: usize) -> &[u8] {
        &self.data[r * self.stride..r * self.stride + len]
    }

    /// The plane from row `r` on, as a plane of its own (a band's input).
    pub(crate) fn rows_from(self, r: usize) -> Plane<'a> {
        Plane {
            data: &self.data[(r * self.stride).min(self.data.len())..],
            stride: self.stride,
        }
    }
}

impl<'a> PlaneMut<'a> {
    pub(crate) fn row(&mut self, r: usize, len: usize) -> &mut [u8] {
        &mut self.data[r * self.stride..r * self.stride + len]
    }

    /// The plane cut into disjoint planes at rows `starts` (ascending, the first 0): band `k`
    /// holds rows `starts[k]..starts[k + 1]` (the last, the rest of the plane).
    pub(crate) fn into_bands(self, starts: impl IntoIterator<Item = usize>) -> Vec<PlaneMut<'a>> {
        let stride = self.stride;
        let mut rest = self.data;
        let mut at = 0;
        let mut bands = Vec::new();
        for start in starts.into_iter().skip(1) {
            let cut = ((start - at) * stride).min(rest.len());
            let (band, tail) = std::mem::take(&mut rest).split_at_mut(cut);
            bands.push(PlaneMut { data: band, stride });
            rest = tail;
            at = start;
        }
        bands.push(PlaneMut { data: rest, stride });
        bands
    }
}

/// Width and height of the chroma planes of a 4:2:0 picture.
fn chroma_size(width: usize, height: usize) -> (usize, usize) {
    (width.div_ceil(2), height.div_ceil(2))
}

#[inline(always)]
fn copy_plane(src: Plane<'_>, dst: &mut PlaneMut<'_>, width: usize, height: usize) {
    for r in 0..height {
        dst.row(r, width).copy_from_slice(src.row(r, width));
    }
}

/// Runs `$body(args)` compiled for AVX2 where the CPU has it (LLVM then vectorises the
/// (de)interleaving loops with 32-byte shuffles), else for the baseline target.
macro_rules! with_avx2 {
    ($body:ident($($arg:ident: $ty:ty),*)) => {
        $crate::convert::planes::with_avx2!($body($($arg: $ty),*) -> ())
    };
    ($body:ident($($arg:ident: $ty:ty),*) -> $ret:ty) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            #[allow(clippy::unused_unit)]
            fn avx2($($arg: $ty),*) -> $ret {
                $body($($arg),*)
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked on the line above).
                return unsafe { avx2($($arg),*) };
            }
        }
        $body($($arg),*)
    }};
}
pub(crate) use with_avx2;

/// I420 (Y, U, V planes) → NV12 (Y plane, interleaved UV plane).
pub(crate) fn i420_to_nv12(
    width: usize,
    height: usize,
    planes: [Plane<'_>; 3],
    out: [PlaneMut<'_>; 2],
) {
    with_avx2!(i420_to_nv12_body(width: usize, height: usize, planes: [Plane<'_>; 3], out: [PlaneMut<'_>; 2]))
}

#[inline(always)]
fn i420_to_nv12_body(
    width: usize,
    height: usize,
    [y, u, v]: [Plane<'_>; 3],
    [mut out_y, mut out_uv]: [PlaneMut<'_>; 2],
) {
    copy_plane(y, &mut out_y, width, height);
    let (cw, ch) = chroma_size(width, height);
    for r in 0..ch {
        let (u_row, v_row) = (u.row(r, cw), v.row(r, cw));
        for ((pair, &cu), &cv) in out_uv
            .row(r, cw * 2)
            .chunks_exact_mut(2)
            .zip(u_row)
            .zip(v_row)
        {
            pair[0] = cu;
            pair[1] = cv;
        }
    }
}

/// NV12 (Y plane, interleaved UV plane) → I420 (Y, U, V planes).
pub(crate) fn nv12_to_i420(
    width: usize,
    height: usize,
    planes: [Plane<'_>; 2],
    out: [PlaneMut<'_>; 3],
) {
    with_avx2!(nv12_to_i420_body(width: usize, height: usize, planes: [Plane<'_>; 2], out: [PlaneMut<'_>; 3]))
}

#[inline(always)]
fn nv12_to_i420_body(
    width: usize,
    height: usize,
    [y, uv]: [Plane<'_>; 2],
    [mut out_y, mut out_u, mut out_v]: [PlaneMut<'_>; 3],
) {
    copy_plane(y, &mut out_y, width, height);
    let (cw, ch) = chroma_size(width, height);
    for r in 0..ch {
        let uv_row = uv.row(r, cw * 2);
        let (u_row, v_row) = (out_u.row(r, cw), out_v.row(r, cw));
        for ((cu, cv), pair) in u_row
            .iter_mut()
            .zip(v_row.iter_mut())
            .zip(uv_row.chunks_exact(2))
        {
            *cu = pair[0];
            *cv = pair[1];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An odd-sized picture with padded strides, so edge columns and rows are exercised.
    const W: usize = 5;
    const H: usize = 3;

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn i420_to_nv12_and_back_is_lossless() {
        let (cw, ch) = chroma_size(W, H);
        assert_eq!((cw, ch), (3, 2));
        let (ys, cs) = (8, 4);
        let (y, u, v) = (pattern(ys * H, 1), pattern(cs * ch, 2), pattern(cs * ch, 3));
        let (mut ny, mut nuv) = (vec![0; W * H], vec![0; cw * 2 * ch]);
        i420_to_nv12(
            W,
            H,
            [
                Plane {
                    data: &y,
                    stride: ys,
                },
                Plane {
                    data: &u,
                    stride: cs,
                },
                Plane {
                    data: &v,
                    stride: cs,
                },
            ],
            [
                PlaneMut {
                    data: &mut ny,
                    stride: W,
                },
                PlaneMut {
                    data: &mut nuv,
                    stride: cw * 2,
                },
            ],
        );
        for r in 0..H {
            assert_eq!(ny[r * W..(r + 1) * W], y[r * ys..r * ys + W]);
        }
        assert_eq!(nuv[0..2], [u[0], v[0]]);
        assert_eq!(nuv[cw * 2 + 4..cw * 2 + 6], [u[cs + 2], v[cs + 2]]);

        let (mut iy, mut iu, mut iv) = (vec![0; W * H], vec![0; cw * ch], vec![0; cw * ch]);
        nv12_to_i420(
            W,
            H,
            [
                Plane {
                    data: &ny,
                    stride: W,
                },
                Plane {
                    data: &nuv,
                    stride: cw * 2,
                },
            ],
            [
                PlaneMut {
                    data: &mut iy,
                    stride: W,
                },
                PlaneMut {
                    data: &mut iu,
                    stride: cw,
                },
                PlaneMut {
                    data: &mut iv,
                    stride: cw,
                },
            ],
        );
        assert_eq!(iy, ny);
        for r in 0..ch {
            assert_eq!(iu[r * cw..(r + 1) * cw], u[r * cs..r * cs + cw]);
            assert_eq!(iv[r * cw..(r + 1) * cw], v[r * cs..r * cs + cw]);
        }
    }
}
