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

/// 4:2:2 chroma (`half`, one sample per two pixels) to one sample per pixel in `full`
/// (`full.len()` pixels), as `videoconvert`'s unpack (each sample on both pixels) followed by its
/// 2× horizontal upsampler for `siting`.
#[inline(always)]
pub(crate) fn upsample_h2(half: &[u8], full: &mut [u8], siting: HSiting) {
    let width = full.len();
    // Odd positions between two samples; the last pixel of an even width keeps its own sample.
    let pairs = (width - 1) / 2;
    full[0] = half[0];
    match siting {
        HSiting::Cosited => {
            for (m, out) in full[1..1 + 2 * pairs].chunks_exact_mut(2).enumerate() {
                out[0] = avg(half[m], half[m + 1]);
                out[1] = half[m + 1];
            }
        }
        HSiting::Centred => {
            for (m, out) in full[1..1 + 2 * pairs].chunks_exact_mut(2).enumerate() {
                out[0] = filt_3_1(half[m], half[m + 1]);
                out[1] = filt_3_1(half[m + 1], half[m]);
            }
        }
    }
    if width.is_multiple_of(2) {
        full[width - 1] = half[width / 2 - 1];
    }
}

/// The vertical 2:1 step: `top` becomes the rounded average of itself and `bottom`.
#[inline(always)]
pub(crate) fn average_into(top: &mut [u8], bottom: &[u8]) {
    for (a, &b) in top.iter_mut().zip(bottom) {
        *a = avg(*a, b);
    }
}

/// The horizontal 2:1 step for `siting`: `line` holds one sample per pixel, `out` gets one per
/// two pixels (`line.len().div_ceil(2)`), written through `put(index, value)` so that planar
/// and interleaved outputs share the filter.
#[inline(always)]
pub(crate) fn downsample_h2(line: &[u8], siting: HSiting, mut put: impl FnMut(usize, u8)) {
    let width = line.len();
    if width < 2 {
        put(0, line[0]);
        return;
    }
    match siting {
        HSiting::Centred => {
            for (j, pair) in line.chunks_exact(2).enumerate() {
                put(j, avg(pair[0], pair[1]));
            }
            if width % 2 == 1 {
                put(width / 2, line[width - 1]);
            }
        }
        HSiting::Cosited => {
            put(0, filt_3_1(line[0], line[1]));
            // Interior samples: the windows line[2j-1..=2j+1] for 2j < width - 2.
            let last = (width - 1) / 2;
            for (j, w) in line[1..]
                .windows(3)
                .step_by(2)
                .take(last.saturating_sub(1))
                .enumerate()
            {
                put(j + 1, filt_1_2_1(w[0], w[1], w[2]));
            }
            // The last sample sees no right neighbour (or ignores it, as `videoconvert` does).
            if last >= 1 {
                put(last, filt_3_1(line[2 * last], line[2 * last - 1]));
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
    fn filters_equal_the_literal_loops_at_every_width() {
        for siting in [HSiting::Centred, HSiting::Cosited] {
            for width in 1usize..40 {
                let half = noise(width.div_ceil(2), width as u32);
                let mut full = vec![0; width];
                upsample_h2(&half, &mut full, siting);
                assert_eq!(
                    full,
                    reference_up(&half, width, siting),
                    "up {siting:?} {width}"
                );

                let line = noise(width, 7 + width as u32);
                let mut out = vec![0; width.div_ceil(2)];
                downsample_h2(&line, siting, |j, v| out[j] = v);
                assert_eq!(
                    out,
                    reference_down(&line, siting),
                    "down {siting:?} {width}"
                );
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
