// SPDX-License-Identifier: MPL-2.0
//! The two 4:2:0 outputs the fast converter writes, I420 (three planes) and NV12 (Y and
//! interleaved UV), behind one writer so each conversion computes a chroma row once and the
//! layout is chosen at the end.

use super::planes::PlaneMut;

/// A 4:2:0 picture being written.
pub(crate) enum Out420<'a> {
    I420 {
        y: PlaneMut<'a>,
        u: PlaneMut<'a>,
        v: PlaneMut<'a>,
    },
    Nv12 {
        y: PlaneMut<'a>,
        uv: PlaneMut<'a>,
    },
}

impl<'a> Out420<'a> {
    pub(crate) fn y_row(&mut self, r: usize, width: usize) -> &mut [u8] {
        match self {
            Out420::I420 { y, .. } | Out420::Nv12 { y, .. } => y.row(r, width),
        }
    }

    /// Chroma row `r` (`cw` samples of U and of V): `fill` writes U and V rows; for NV12 they are
    /// then interleaved from `scratch` (at least `2 * cw` bytes).
    #[inline(always)]
    pub(crate) fn chroma_row(
        &mut self,
        r: usize,
        cw: usize,
        scratch: &mut [u8],
        fill: impl FnOnce(&mut [u8], &mut [u8]),
    ) {
        match self {
            Out420::I420 { u, v, .. } => fill(u.row(r, cw), v.row(r, cw)),
            Out420::Nv12 { uv, .. } => {
                let (su, sv) = scratch[..2 * cw].split_at_mut(cw);
                fill(su, sv);
                interleave(su, sv, uv.row(r, 2 * cw));
            }
        }
    }
}

/// `u` and `v` into `uv` as U0 V0 U1 V1 …
#[inline(always)]
pub(crate) fn interleave(u: &[u8], v: &[u8], uv: &mut [u8]) {
    for ((pair, &cu), &cv) in uv.chunks_exact_mut(2).zip(u).zip(v) {
        pair[0] = cu;
        pair[1] = cv;
    }
}
