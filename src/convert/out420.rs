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
    /// The picture cut into disjoint pictures at luma rows `starts` (even, ascending, the first
    /// 0), chroma rows at half of each.
    pub(crate) fn into_bands(self, starts: &[usize]) -> Vec<Out420<'a>> {
        let luma = || starts.iter().copied();
        let chroma = || starts.iter().map(|s| s / 2);
        match self {
            Out420::I420 { y, u, v } => y
                .into_bands(luma())
                .into_iter()
                .zip(u.into_bands(chroma()))
                .zip(v.into_bands(chroma()))
                .map(|((y, u), v)| Out420::I420 { y, u, v })
                .collect(),
            Out420::Nv12 { y, uv } => y
                .into_bands(luma())
                .into_iter()
                .zip(uv.into_bands(chroma()))
                .map(|(y, uv)| Out420::Nv12 { y, uv })
                .collect(),
        }
    }

    pub(crate) fn y_row(&mut self, r: usize, width: usize) -> &mut [u8] {
        match self {
            Out420::I420 { y, .. } | Out420::Nv12 { y, .. } => y.row(r, width),
        }
    }

    /// Luma rows `top` and `bottom` (`None` when they are the same row) and chroma row `r`
    /// as [`Out420::chroma_row`] gives it, all at once.
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    pub(crate) fn line_pair<'s>(
        &'s mut self,
        (top, bottom, width): (usize, usize, usize),
        (r, cw): (usize, usize),
        stage: &'s mut [u8],
    ) -> (
        &'s mut [u8],
        Option<&'s mut [u8]>,
        &'s mut [u8],
        &'s mut [u8],
    ) {
        let (y, (u, v)) = match self {
            Out420::I420 { y, u, v } => (y, (u.row(r, cw), v.row(r, cw))),
            Out420::Nv12 { y, .. } => (y, stage[..2 * cw].split_at_mut(cw)),
        };
        if bottom == top {
            return (y.row(top, width), None, u, v);
        }
        let stride = y.stride;
        let (head, tail) = y.data.split_at_mut(bottom * stride);
        (
            &mut head[top * stride..top * stride + width],
            Some(&mut tail[..width]),
            u,
            v,
        )
    }

    /// Where chroma row `r` (`cw` samples of U and of V) is to be written: the I420 planes'
    /// rows, or for NV12 two halves of `stage` (at least `2 * cw` bytes), which
    /// [`Out420::commit_chroma_row`] then interleaves. (A slice pair rather than a closure: a
    /// closure would not be compiled for the caller's AVX2.)
    #[inline(always)]
    pub(crate) fn chroma_row<'s>(
        &'s mut self,
        r: usize,
        cw: usize,
        stage: &'s mut [u8],
    ) -> (&'s mut [u8], &'s mut [u8]) {
        match self {
            Out420::I420 { u, v, .. } => (u.row(r, cw), v.row(r, cw)),
            Out420::Nv12 { .. } => stage[..2 * cw].split_at_mut(cw),
        }
    }

    /// Finishes chroma row `r` written through [`Out420::chroma_row`].
    #[inline(always)]
    pub(crate) fn commit_chroma_row(&mut self, r: usize, cw: usize, stage: &[u8]) {
        if let Out420::Nv12 { uv, .. } = self {
            let (u, v) = stage[..2 * cw].split_at(cw);
            interleave(u, v, uv.row(r, 2 * cw));
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
