// SPDX-License-Identifier: MPL-2.0
//! How many threads a frame is converted on, and where it is cut into row bands.
//!
//! Every conversion here computes each 4:2:0 chroma row from its own two luma lines (the
//! vertical filter is the line-pair average) and filters only horizontally within a line, so a
//! band that starts on an even row needs nothing from its neighbours: converted band by band,
//! in any order and on any thread, the frame is the same, sample for sample, as converted
//! whole (`frame.rs` tests this for every conversion).
//!
//! Threads cost CPU (a wake-up per helper and frame, 6–9 µs measured on the 2-core test
//! machine), and CPU per frame is what a server running many streams pays, so by default a
//! conversion gets more than one thread only where one thread does not reach 1.5× the frame
//! rate of one-thread `videoconvert` (see [`one_thread_is_enough`]).

use super::negotiate::Conversion;
use super::packed::Route;

/// Bands are at least this tall (even, as every band start must be): below it the hand-off
/// costs more than the rows.
const MIN_BAND_ROWS: usize = 16;

/// Bands per thread: threads take bands from a shared counter, so a helper that wakes late
/// (another process had its core) takes fewer and the frame does not wait for it.
const BANDS_PER_THREAD: usize = 4;

/// One frame's split: how many threads, and the first row of each band (the first is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    pub(crate) threads: usize,
    pub(crate) starts: Vec<usize>,
}

impl Split {
    /// The whole frame on the calling thread.
    pub(crate) fn single() -> Split {
        Split {
            threads: 1,
            starts: vec![0],
        }
    }

    /// Rows of band `k` of a `height`-row frame.
    pub(crate) fn rows(&self, k: usize, height: usize) -> std::ops::Range<usize> {
        let end = self.starts.get(k + 1).copied().unwrap_or(height);
        self.starts[k]..end
    }
}

/// Whether one thread makes `conversion` at ≥ 1.5× the frame rate of `videoconvert`'s default
/// single thread, at 1080p and 2160p (BENCHMARKS.md, "CPU per frame": 2.1× to 16× for every
/// conversion but one). The exception is UYVY/YUY2 → I420: `videoconvert` has a fast path of
/// its own there (`video_orc_convert_UYVY_I420`), a single pass like ours, and both run at
/// 1.3–2.3× the cost of a `memcpy` of the frame, so one thread cannot be 1.5× faster than it.
pub(crate) fn one_thread_is_enough(conversion: &Conversion) -> bool {
    !matches!(
        conversion,
        Conversion::Packed {
            route: Route::LineAverage,
            ..
        }
    )
}

/// The threads the element's `n-threads` gives `conversion`: 0 is automatic (one thread where
/// that is enough, else one per CPU this process may use, `usable`); any other number is taken
/// as it is, for every conversion.
pub(crate) fn threads_for(conversion: &Conversion, n_threads: u32, usable: u32) -> usize {
    let threads = match n_threads {
        0 if one_thread_is_enough(conversion) => 1,
        0 => usable,
        n => n,
    };
    usize::try_from(threads).unwrap_or(1).max(1)
}

/// A `height`-row frame split for `threads` threads: up to [`BANDS_PER_THREAD`] bands each, no
/// band shorter than [`MIN_BAND_ROWS`] (but the last), every band starting on an even row.
pub(crate) fn split(height: usize, threads: usize) -> Split {
    let bands = threads
        .saturating_mul(BANDS_PER_THREAD)
        .min(height / MIN_BAND_ROWS)
        .max(1);
    let threads = threads.min(bands).max(1);
    if threads == 1 {
        return Split::single();
    }
    // Band k starts at k·height/bands rounded down to even: strictly increasing, since
    // height/bands ≥ MIN_BAND_ROWS > 2.
    let starts = (0..bands).map(|k| (k * height / bands) & !1).collect();
    Split { threads, starts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::chroma::HSiting;
    use crate::convert::negotiate::Planar;
    use crate::convert::packed::Packing;

    fn packed(route: Route) -> Conversion {
        Conversion::Packed {
            packing: Packing::Uyvy,
            route,
            to: Planar::I420,
        }
    }

    #[test]
    fn only_the_conversions_one_thread_cannot_speed_up_enough_get_threads_by_default() {
        let average = packed(Route::LineAverage);
        let resample = packed(Route::Resample {
            input: HSiting::Cosited,
            output: HSiting::Cosited,
        });
        assert_eq!(threads_for(&average, 0, 6), 6);
        assert_eq!(threads_for(&resample, 0, 6), 1);
        assert_eq!(threads_for(&Conversion::Nv12ToI420, 0, 6), 1);
        // An explicit number is obeyed everywhere; 1 is one thread.
        assert_eq!(threads_for(&resample, 3, 6), 3);
        assert_eq!(threads_for(&average, 1, 6), 1);
    }

    #[test]
    fn bands_start_on_even_rows_cover_the_frame_and_are_not_too_thin() {
        for height in (1..200).chain([577, 578, 1080, 2160]) {
            for threads in 1..6 {
                let split = split(height, threads);
                assert!(split.threads >= 1 && split.threads <= threads);
                assert_eq!(split.starts[0], 0);
                let mut covered = 0;
                for k in 0..split.starts.len() {
                    let rows = split.rows(k, height);
                    assert_eq!(rows.start, covered, "{height} rows, {threads} threads");
                    assert_eq!(rows.start % 2, 0);
                    assert!(rows.len() >= MIN_BAND_ROWS || split.starts.len() == 1);
                    covered = rows.end;
                }
                assert_eq!(covered, height);
                assert!(split.starts.len() <= threads * BANDS_PER_THREAD);
            }
        }
        assert_eq!(split(1080, 2).starts.len(), 8);
        assert_eq!(split(47, 3).threads, 2);
        assert_eq!(split(15, 4), Split::single());
    }
}
