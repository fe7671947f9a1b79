// SPDX-License-Identifier: MPL-2.0
//! `videoconvert`'s chroma resampling, reproduced sample for sample so that the fast converter's
//! pictures equal (packed YUV) or stay within a rounding of (RGB) what `videoconvert` makes.
//!
//! GStreamer 1.22's generic converter (`video-chroma.c`) works on full-resolution lines: it
//! upsamples 4:2:2 chroma to 4:4:4 (`up_h2`, `up_h2_cs`), averages each pair of lines for 4:2:0
//! (`down_v2`, `(a + b + 1) >> 1`), then filters each line horizontally (`down_h2`: pair average;
//! `down_h2_cs`: 1-2-1 at the cosited sample). Which filters run depends on the chroma siting of
//! each side: horizontally cosited (`mpeg2`, the default for HD and UHD caps without
//! colorimetry) or centred (`jpeg`, and "unknown", which GStreamer treats as centred). Rounding
//! happens after every stage, so the stages run in that order here too.

/// Horizontal siting of a chroma sample, the only part of `chroma-site` these filters read.
/// Vertically cosited and alternate-line (DV) sitings take other paths in `videoconvert` and
/// are not converted here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HSiting {
    /// Between the two luma samples (`jpeg`, `none`, unknown).
    Centred,
    /// On the left luma sample (`mpeg2`).
    Cosited,
}

impl HSiting {
    /// The siting `videoconvert` uses for `site`, or `None` where its filters differ from the two
    /// handled here (vertical cositing, alternate lines).
    pub(crate) fn from_site(site: gst_video::VideoChromaSite) -> Option<HSiting> {
        use gst_video::VideoChromaSite as S;
        if site.intersects(S::V_COSITED | S::ALT_LINE) {
            return None;
        }
        Some(if site.contains(S::H_COSITED) {
            HSiting::Cosited
        } else {
            HSiting::Centred
        })
    }
}

#[inline(always)]
fn avg(a: u8, b: u8) -> u8 {
    ((u16::from(a) + u16::from(b) + 1) >> 1) as u8
}

#[inline(always)]
fn filt_3_1(a: u8, b: u8) -> u8 {
    ((3 * u16::from(a) + u16::from(b) + 2) >> 2) as u8
}

#[inline(always)]
fn filt_1_2_1(a: u8, b: u8, c: u8) -> u8 {
    ((u16::from(a) + 2 * u16::from(b) + u16::from(c) + 2) >> 2) as u8
}

/// Scratch for [`resample_422`]: the even and odd positions of the upsampled lines.
#[derive(Default)]
pub(crate) struct Resample422 {
    buf: Vec<u8>,
}

/// Two 4:2:2 chroma lines (`top`, `bottom`: `width.div_ceil(2)` samples each) to one 4:2:0
/// line in `out`, as `videoconvert`'s generic path does: each line upsampled to one sample per
/// pixel for the `input` siting, the two averaged, the result filtered down for `output`.
///
/// Computed at half resolution: the full-resolution line is kept as its even positions
/// (`2j`) and odd positions (`2j + 1`), each a function of neighbouring input samples, so every
/// step is a contiguous pass over `width / 2` samples and no full line is ever written.
#[inline(always)]
pub(crate) fn resample_422(
    top: &[u8],
    bottom: &[u8],
    width: usize,
    input: HSiting,
    output: HSiting,
    out: &mut [u8],
    scratch: &mut Resample422,
) {
    let (cw, odds) = (width.div_ceil(2), width / 2);
    scratch.buf.resize(2 * cw + 2 * odds, 0);
    let (even, odd) = scratch.buf.split_at_mut(2 * cw);
    let (even_top, even_bottom) = even.split_at_mut(cw);
    let (odd_top, odd_bottom) = odd.split_at_mut(odds);
    upsampled_positions(&top[..cw], width, input, even_top, odd_top);
    upsampled_positions(&bottom[..cw], width, input, even_bottom, odd_bottom);
    average_into(even_top, even_bottom);
    average_into(odd_top, odd_bottom);
    downsample_positions(even_top, odd_top, width, output, &mut out[..cw]);
}

/// The even and odd positions of `half` upsampled by `videoconvert`'s `up_h2` (centred) or
/// `up_h2_cs` (cosited), after its unpack put each sample on both pixels of its pair.
#[inline(always)]
fn upsampled_positions(
    half: &[u8],
    width: usize,
    siting: HSiting,
    even: &mut [u8],
    odd: &mut [u8],
) {
    // Odd positions 2j+1 < width - 1 lie between samples j and j+1; the last pixel of an even
    // width keeps its own sample.
    let pairs = (width - 1) / 2;
    match siting {
        HSiting::Cosited => {
            even.copy_from_slice(half);
            for ((o, &a), &b) in odd[..pairs].iter_mut().zip(half).zip(&half[1..]) {
                *o = avg(a, b);
            }
        }
        HSiting::Centred => {
            even[0] = half[0];
            for ((e, &a), &b) in even[1..].iter_mut().zip(&half[1..]).zip(half) {
                *e = filt_3_1(a, b);
            }
            for ((o, &a), &b) in odd[..pairs].iter_mut().zip(half).zip(&half[1..]) {
                *o = filt_3_1(a, b);
            }
        }
    }
    if width.is_multiple_of(2) {
        odd[width / 2 - 1] = half[width / 2 - 1];
    }
}

/// `videoconvert`'s 2:1 horizontal filter (`down_h2` centred, `down_h2_cs` cosited) on a line
/// given as its even and odd positions.
#[inline(always)]
fn downsample_positions(even: &[u8], odd: &[u8], width: usize, siting: HSiting, out: &mut [u8]) {
    if width < 2 {
        out[0] = even[0];
        return;
    }
    match siting {
        HSiting::Centred => {
            for ((o, &e), &d) in out.iter_mut().zip(even).zip(odd) {
                *o = avg(e, d);
            }
            if !width.is_multiple_of(2) {
                out[width / 2] = even[width / 2];
            }
        }
        HSiting::Cosited => {
            let last = (width - 1) / 2;
            out[0] = filt_3_1(even[0], odd[0]);
            if last >= 1 {
                for (((o, &l), &e), &r) in out[1..last]
                    .iter_mut()
                    .zip(odd)
                    .zip(&even[1..])
                    .zip(&odd[1..])
                {
                    *o = filt_1_2_1(l, e, r);
                }
                out[last] = filt_3_1(even[last], odd[last - 1]);
            }
        }
    }
}

/// Samples per block in the loops below: each block is copied into local arrays first, which
/// tells LLVM that input and output do not overlap (slices split from one buffer and inlined
/// lose that), so it vectorises instead of running a byte at a time.
const BLOCK: usize = 32;

/// The vertical 2:1 step: `top` becomes the rounded average of itself and `bottom`.
#[inline(always)]
pub(crate) fn average_into(top: &mut [u8], bottom: &[u8]) {
    let n = top.len().min(bottom.len());
    let (top, bottom) = (&mut top[..n], &bottom[..n]);
    let mut tops = top.chunks_exact_mut(BLOCK);
    let mut bottoms = bottom.chunks_exact(BLOCK);
    for (t, b) in (&mut tops).zip(&mut bottoms) {
        let mut a: [u8; BLOCK] = t.try_into().unwrap_or([0; BLOCK]);
        let b: [u8; BLOCK] = b.try_into().unwrap_or([0; BLOCK]);
        for k in 0..BLOCK {
            a[k] = avg(a[k], b[k]);
        }
        t.copy_from_slice(&a);
    }
    for (a, &b) in tops.into_remainder().iter_mut().zip(bottoms.remainder()) {
        *a = avg(*a, b);
    }
}

/// The horizontal 2:1 step for `siting`: `line` holds one sample per pixel, `out` gets one per
/// two pixels (`line.len().div_ceil(2)`).
#[inline(always)]
pub(crate) fn downsample_h2(line: &[u8], siting: HSiting, out: &mut [u8]) {
    let width = line.len();
    let out = &mut out[..width.div_ceil(2)];
    if width < 2 {
        out[0] = line[0];
        return;
    }
    match siting {
        HSiting::Centred => {
            let pairs = width / 2;
            let mut outs = out[..pairs].chunks_exact_mut(BLOCK);
            let mut ins = line[..2 * pairs].chunks_exact(2 * BLOCK);
            for (o, i) in (&mut outs).zip(&mut ins) {
                let i: [u8; 2 * BLOCK] = i.try_into().unwrap_or([0; 2 * BLOCK]);
                let mut block = [0u8; BLOCK];
                for k in 0..BLOCK {
                    block[k] = avg(i[2 * k], i[2 * k + 1]);
                }
                o.copy_from_slice(&block);
            }
            for (o, pair) in outs
                .into_remainder()
                .iter_mut()
                .zip(ins.remainder().chunks_exact(2))
            {
                *o = avg(pair[0], pair[1]);
            }
            if !width.is_multiple_of(2) {
                out[pairs] = line[width - 1];
            }
        }
        HSiting::Cosited => {
            // The last sample sees no right neighbour (or ignores it, as `videoconvert` does).
            let last = (width - 1) / 2;
            out[0] = filt_3_1(line[0], line[1]);
            if last >= 1 {
                // Interior sample j of 1..last: line[2j-1], line[2j] (pair j-1 from line[1])
                // and line[2j+1] (the first of pair j).
                let inner = &mut out[1..last];
                let full_blocks = inner.len() / BLOCK;
                for (n, o) in inner.chunks_exact_mut(BLOCK).enumerate() {
                    // Samples j = 1 + n*BLOCK + k read line[2j-1 ..= 2j+1].
                    let start = 2 * (1 + n * BLOCK) - 1;
                    let mut i = [0u8; 2 * BLOCK + 1];
                    i.copy_from_slice(&line[start..start + 2 * BLOCK + 1]);
                    // Split into the odd (line[2j±1]) and even (line[2j]) samples first, so
                    // the filter runs on contiguous lanes.
                    let (mut odd, mut even) = ([0u8; BLOCK + 1], [0u8; BLOCK]);
                    for k in 0..BLOCK {
                        odd[k] = i[2 * k];
                        even[k] = i[2 * k + 1];
                    }
                    odd[BLOCK] = i[2 * BLOCK];
                    let mut block = [0u8; BLOCK];
                    for k in 0..BLOCK {
                        block[k] = filt_1_2_1(odd[k], even[k], odd[k + 1]);
                    }
                    o.copy_from_slice(&block);
                }
                for j in 1 + full_blocks * BLOCK..last {
                    inner[j - 1] = filt_1_2_1(line[2 * j - 1], line[2 * j], line[2 * j + 1]);
                }
                out[last] = filt_3_1(line[2 * last], line[2 * last - 1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `video-chroma.c`'s in-place loops, transcribed literally, as the reference.
    fn reference_up(half: &[u8], width: usize, siting: HSiting) -> Vec<u8> {
        let mut p: Vec<u8> = (0..width).map(|k| half[k / 2]).collect();
        let mut i = 1;
        match siting {
            HSiting::Cosited => {
                while i + 1 < width {
                    p[i] = avg(p[i - 1], p[i + 1]);
                    i += 2;
                }
            }
            HSiting::Centred => {
                let mut tr1 = p[0];
                while i + 1 < width {
                    let tr0 = tr1;
                    tr1 = p[i + 1];
                    p[i] = filt_3_1(tr0, tr1);
                    p[i + 1] = filt_3_1(tr1, tr0);
                    i += 2;
                }
            }
        }
        p
    }

    fn reference_down(line: &[u8], siting: HSiting) -> Vec<u8> {
        let width = line.len();
        let mut p = line.to_vec();
        match siting {
            HSiting::Centred => {
                for i in 0..width / 2 {
                    p[2 * i] = avg(p[2 * i], p[2 * i + 1]);
                }
            }
            HSiting::Cosited if width >= 2 => {
                p[0] = filt_3_1(line[0], line[1]);
                let mut i = 2;
                while i + 2 < width {
                    p[i] = filt_1_2_1(p[i - 1], p[i], p[i + 1]);
                    i += 2;
                }
                if i < width {
                    p[i] = filt_3_1(p[i], p[i - 1]);
                }
            }
            HSiting::Cosited => {}
        }
        p.iter().step_by(2).copied().collect()
    }

    fn noise(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn downsampling_equals_the_literal_loops_at_every_width() {
        for siting in [HSiting::Centred, HSiting::Cosited] {
            for width in (1usize..40).chain((60..300).step_by(7)) {
                let line = noise(width, 7 + width as u32);
                let mut out = vec![0; width.div_ceil(2)];
                downsample_h2(&line, siting, &mut out);
                assert_eq!(
                    out,
                    reference_down(&line, siting),
                    "down {siting:?} {width}"
                );
            }
        }
    }

    #[test]
    fn half_resolution_resampling_equals_the_full_resolution_steps() {
        let mut scratch = Resample422::default();
        for input in [HSiting::Centred, HSiting::Cosited] {
            for output in [HSiting::Centred, HSiting::Cosited] {
                for width in (1usize..40).chain((60..300).step_by(7)) {
                    let cw = width.div_ceil(2);
                    let (top, bottom) = (noise(cw, 3 * width as u32), noise(cw, 5 * width as u32));
                    let mut line = reference_up(&top, width, input);
                    let lower = reference_up(&bottom, width, input);
                    average_into(&mut line, &lower);
                    let expected = reference_down(&line, output);
                    let mut out = vec![0; cw];
                    resample_422(&top, &bottom, width, input, output, &mut out, &mut scratch);
                    assert_eq!(out, expected, "{input:?} -> {output:?} width {width}");
                }
            }
        }
    }

    #[test]
    fn sitings_follow_chroma_site_flags() {
        use gst_video::VideoChromaSite as S;
        assert_eq!(HSiting::from_site(S::MPEG2), Some(HSiting::Cosited));
        assert_eq!(HSiting::from_site(S::JPEG), Some(HSiting::Centred));
        assert_eq!(HSiting::from_site(S::empty()), Some(HSiting::Centred));
        assert_eq!(HSiting::from_site(S::COSITED), None);
        assert_eq!(HSiting::from_site(S::DV), None);
    }
}
