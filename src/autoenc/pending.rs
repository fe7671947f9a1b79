// SPDX-License-Identifier: MPL-2.0
//! The raw frames the encoder has taken but not yet returned encoded: what the next candidate
//! gets when this one fails, so that no frame is lost.
//!
//! A frame is confirmed when an output buffer with its running time comes out of the encoder.
//! Encoders keep the input's timestamps (GstVideoEncoder restores them), but may shift them into
//! another segment (`x264enc` adds 1000 hours so that DTS never goes negative): running times
//! are what both sides agree on. Reordering encoders return frames out of order, so the match is
//! by time, not position. An output without a timestamp confirms nothing (it cannot say which
//! frame it is); one whose time matches no frame confirms nothing either (a header buffer sent
//! with its frame's time, the frame's own buffer after it).
//!
//! A frame the encoder has output is only done once that output has left the bin: with B-frames
//! an output is held back (see `output.rs`) until every frame before it in display order is out
//! too, so that a switch never leaves downstream a frame whose predecessors never come. Until
//! then the frame is marked output but kept; a switch takes every mark back.
//!
//! An output's decoding time also says which frames the encoder dropped: every frame presented
//! before it was output before it (a frame's DTS is at most its PTS, and DTS only grows), so a
//! pending frame older than that DTS will never come out and is not replayed stale.
//!
//! What is held is bounded in bytes and in time (the span of running times), so that an
//! encoder that stamps its own times, or drops frames without a DTS to say so, cannot make the
//! bin keep gigabytes of 4K frames: past the bounds the oldest frames go (a switch then repeats
//! none of them, and loses them instead).

use std::collections::VecDeque;

/// A backstop on the count, whatever the bounds in bytes and time: more than any encoder holds
/// (x264's largest lookahead is 250 frames).
pub(super) const LIMIT: usize = 512;

/// How far an output's running time may be from its frame's: encoders round (a 90 kHz clock is
/// 11 µs; 1 ns was seen here), and half a millisecond is less than half the spacing of frames
/// up to 1000 fps.
const TOLERANCE_NS: u64 = 500_000;

/// How much may be held: the newest frame is always kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bounds {
    pub max_bytes: u64,
    /// The largest span of running times from the oldest held frame to the newest, in ns.
    pub max_time_ns: u64,
    pub max_frames: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_bytes: u64::MAX,
            max_time_ns: u64::MAX,
            max_frames: LIMIT,
        }
    }
}

struct Entry<T> {
    running_time: Option<u64>,
    bytes: u64,
    item: T,
    /// The encoder has output it; the output is held in the bin, not yet sent on.
    out: bool,
}

pub(super) struct Pending<T> {
    entries: VecDeque<Entry<T>>,
    bounds: Bounds,
    bytes: u64,
}

impl<T: Clone> Default for Pending<T> {
    fn default() -> Self {
        Pending::with_bounds(Bounds::default())
    }
}

impl<T: Clone> Pending<T> {
    pub(super) fn with_bounds(bounds: Bounds) -> Pending<T> {
        Pending {
            entries: VecDeque::new(),
            bounds: Bounds {
                max_frames: bounds.max_frames.max(1),
                ..bounds
            },
            bytes: 0,
        }
    }

    /// Records a frame of `bytes` about to enter the encoder. Returns how many of the oldest
    /// had to go to stay within the bounds.
    pub(super) fn push(&mut self, running_time: Option<u64>, bytes: u64, item: T) -> usize {
        self.entries.push_back(Entry {
            running_time,
            bytes,
            item,
            out: false,
        });
        self.bytes += bytes;
        let mut evicted = 0;
        while self.entries.len() > 1 && self.over_bounds() {
            self.pop_front();
            evicted += 1;
        }
        evicted
    }

    fn over_bounds(&self) -> bool {
        let span = match (self.entries.front(), self.entries.back()) {
            (Some(first), Some(last)) => last
                .running_time
                .zip(first.running_time)
                .map_or(0, |(l, f)| l.saturating_sub(f)),
            _ => 0,
        };
        self.entries.len() > self.bounds.max_frames
            || self.bytes > self.bounds.max_bytes
            || span > self.bounds.max_time_ns
    }

    fn pop_front(&mut self) {
        if let Some(entry) = self.entries.pop_front() {
            self.bytes -= entry.bytes;
        }
    }

    /// An encoded buffer for `running_time` came out: its frame is marked output (done at
    /// [`Pending::release`]). Returns whether a frame was marked.
    pub(super) fn output(&mut self, running_time: Option<u64>) -> bool {
        let Some(rt) = running_time else {
            return false;
        };
        let nearest = self
            .entries
            .iter_mut()
            .filter(|e| !e.out)
            .filter_map(|e| Some((e.running_time?.abs_diff(rt), e)))
            .filter(|(distance, _)| *distance <= TOLERANCE_NS)
            .min_by_key(|(distance, _)| *distance);
        match nearest {
            Some((_, entry)) => {
                entry.out = true;
                true
            }
            None => false,
        }
    }

    /// Whether every frame presented before `newest` (the newest output held) has been output:
    /// sent on now, the outputs leave no hole in display order behind them.
    pub(super) fn closed_before(&self, newest: Option<u64>) -> bool {
        let Some(newest) = newest else {
            return true;
        };
        !self
            .entries
            .iter()
            .any(|e| !e.out && e.running_time.is_some_and(|rt| rt + TOLERANCE_NS < newest))
    }

    /// The outputs held were sent on: their frames are done. Returns how many.
    pub(super) fn release(&mut self) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| !e.out);
        self.bytes = self.entries.iter().map(|e| e.bytes).sum();
        before - self.entries.len()
    }

    /// The outputs held were thrown away (the encoder failed): their frames are owed again.
    pub(super) fn take_back(&mut self) {
        for entry in &mut self.entries {
            entry.out = false;
        }
    }

    /// Marks the frame of `running_time` output and sends it on at once.
    #[cfg(test)]
    fn confirm(&mut self, running_time: Option<u64>) -> bool {
        let marked = self.output(running_time);
        self.release();
        marked
    }

    /// An output with decoding time `dts` came out: frames presented before it that are still
    /// pending were dropped by the encoder. Returns how many were let go.
    pub(super) fn drop_older_than(&mut self, dts: Option<u64>) -> usize {
        let Some(dts) = dts else {
            return 0;
        };
        let before = self.entries.len();
        self.entries
            .retain(|e| e.out || e.running_time.is_none_or(|rt| rt + TOLERANCE_NS >= dts));
        self.bytes = self.entries.iter().map(|e| e.bytes).sum();
        before - self.entries.len()
    }

    /// Each held item, to replace in place (a copy for a buffer only this queue still holds).
    pub(super) fn items_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().map(|e| &mut e.item)
    }

    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The frames still pending, oldest first: what the next encoder gets again.
    pub(super) fn snapshot(&self) -> Vec<T> {
        self.entries.iter().map(|e| e.item.clone()).collect()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_reordering_encoder_confirms_in_order() {
        let mut p = Pending::default();
        for n in 0..4u64 {
            p.push(Some(n * 10), 1, n);
        }
        assert!(p.confirm(Some(0)));
        assert!(p.confirm(Some(10)));
        assert_eq!(p.snapshot(), [2, 3]);
        assert_eq!(p.bytes(), 2);
    }

    #[test]
    fn a_reordering_encoder_confirms_by_time() {
        // I0 P3 B1 B2 come out in decode order; frames 4 and 5 are still inside.
        let mut p = Pending::default();
        for n in 0..6u64 {
            p.push(Some(n), 1, n);
        }
        for rt in [0, 3, 1, 2] {
            assert!(p.confirm(Some(rt)));
        }
        assert_eq!(p.snapshot(), [4, 5]);
    }

    #[test]
    fn outputs_without_time_or_with_unmatched_times_confirm_nothing() {
        let ms = |n: u64| n * 1_000_000;
        let mut p = Pending::default();
        p.push(None, 1, 'a');
        p.push(Some(ms(7)), 1, 'c');
        assert!(!p.confirm(None));
        assert!(!p.confirm(Some(ms(99))));
        assert_eq!(p.snapshot(), ['a', 'c']);
        // A header buffer with its frame's time, then the frame: one confirmation.
        assert!(p.confirm(Some(ms(7))));
        assert!(!p.confirm(Some(ms(7))));
        assert_eq!(p.snapshot(), ['a']);
    }

    #[test]
    fn rounded_times_still_match_their_frame() {
        let ms = |n: u64| n * 1_000_000;
        let mut p = Pending::default();
        for n in 0..3 {
            p.push(Some(ms(100 * n)), 1, n);
        }
        assert!(p.confirm(Some(ms(100) - 1)));
        assert!(p.confirm(Some(ms(200) + 11_000)));
        assert!(!p.confirm(Some(ms(50))));
        assert_eq!(p.snapshot(), [0]);
    }

    #[test]
    fn frames_the_encoder_dropped_are_let_go_at_a_later_dts() {
        // Frame 1 was dropped; B-frames: frame 3 comes out (DTS 2) before frame 2 (DTS 3).
        let ms = |n: u64| n * 1_000_000;
        let mut p = Pending::default();
        for n in 0..6u64 {
            p.push(Some(ms(n * 10)), 1, n);
        }
        assert!(p.confirm(Some(0)));
        assert_eq!(p.drop_older_than(Some(0)), 0);
        assert!(p.confirm(Some(ms(30))));
        assert_eq!(p.drop_older_than(Some(ms(20))), 1);
        assert_eq!(p.snapshot(), [2, 4, 5]);
        assert_eq!(p.drop_older_than(None), 0);
        assert_eq!(p.bytes(), 3);
    }

    #[test]
    fn the_queue_is_bounded_in_count_bytes_and_time() {
        let by_count = Bounds {
            max_frames: 3,
            ..Bounds::default()
        };
        let mut p = Pending::with_bounds(by_count);
        for n in 0..3 {
            assert_eq!(p.push(Some(n), 1, n), 0);
        }
        assert_eq!(p.push(Some(3), 1, 3), 1);
        assert_eq!(p.snapshot(), [1, 2, 3]);
        p.clear();
        assert_eq!((p.len(), p.bytes()), (0, 0));

        let mut p = Pending::with_bounds(Bounds {
            max_bytes: 250,
            ..Bounds::default()
        });
        assert_eq!(p.push(Some(0), 100, 0), 0);
        assert_eq!(p.push(Some(1), 100, 1), 0);
        assert_eq!(p.push(Some(2), 100, 2), 1);
        assert_eq!((p.snapshot(), p.bytes()), (vec![1, 2], 200));
        // The newest frame stays, however large.
        assert_eq!(p.push(Some(3), 1000, 3), 2);
        assert_eq!(p.snapshot(), [3]);

        let second = 1_000_000_000;
        let mut p = Pending::with_bounds(Bounds {
            max_time_ns: 2 * second,
            ..Bounds::default()
        });
        for n in 0..=60u64 {
            p.push(Some(n * second / 30), 1, n);
        }
        assert_eq!(p.len(), 61);
        p.push(Some(61 * second / 30), 1, 61);
        assert_eq!(p.snapshot().first(), Some(&1));
    }

    #[test]
    fn b_frame_outputs_close_display_order_before_they_are_done() {
        // I0 P3 B1 B2 in decode order: P3 alone would leave 1 and 2 behind it.
        let ms = |n: u64| n * 1_000_000;
        let mut p = Pending::default();
        for n in 0..6u64 {
            p.push(Some(ms(n * 10)), 1, n);
        }
        assert!(p.output(Some(0)));
        assert!(p.closed_before(Some(0)));
        assert_eq!(p.release(), 1);
        assert!(p.output(Some(ms(30))));
        assert!(!p.closed_before(Some(ms(30))));
        assert!(p.output(Some(ms(10))));
        assert!(!p.closed_before(Some(ms(30))));
        // A switch now: 1 and 3 are owed again, with 2, 4 and 5.
        let mut q = Pending::default();
        for n in 1..6u64 {
            q.push(Some(ms(n * 10)), 1, n);
        }
        q.output(Some(ms(30)));
        q.output(Some(ms(10)));
        q.take_back();
        assert_eq!(q.snapshot(), [1, 2, 3, 4, 5]);
        // No switch: B2 closes it.
        assert!(p.output(Some(ms(20))));
        assert!(p.closed_before(Some(ms(30))));
        assert_eq!(p.release(), 3);
        assert_eq!((p.snapshot(), p.bytes()), (vec![4, 5], 2));
        // A frame output but held is not let go as dropped at a later DTS.
        assert!(p.output(Some(ms(50))));
        assert_eq!(p.drop_older_than(Some(ms(60))), 1);
        assert_eq!(p.snapshot(), [5]);
        assert!(p.closed_before(None));
    }
}
