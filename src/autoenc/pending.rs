// SPDX-License-Identifier: MPL-2.0
//! The raw frames the encoder has taken but not yet returned encoded: what the next candidate
//! gets when this one fails, so that no frame is lost.
//!
//! A frame is confirmed when an output buffer with its running time comes out of the encoder.
//! Encoders keep the input's timestamps (GstVideoEncoder restores them), but may shift them into
//! another segment (`x264enc` adds 1000 hours so that DTS never goes negative): running times
//! are what both sides agree on. Reordering encoders return frames out of order, so the match is
//! by time, not position. An output without a timestamp confirms the oldest frame; one whose
//! time matches no frame confirms nothing (a header buffer sent with its frame's time, the
//! frame's own buffer after it). An encoder that stamped its output with times of its own would
//! confirm nothing: the queue's limit bounds it, and a switch would repeat up to that many
//! frames rather than lose one.

use std::collections::VecDeque;

/// More than any encoder holds (x264's largest lookahead is 250 frames); past it the oldest
/// entry is dropped, as an encoder that returns fewer frames than it takes (frame skipping)
/// would otherwise grow the queue for ever.
pub(super) const LIMIT: usize = 512;

/// How far an output's running time may be from its frame's: encoders round (a 90 kHz clock is
/// 11 µs; 1 ns was seen here), and half a millisecond is less than half the spacing of frames
/// up to 1000 fps.
const TOLERANCE_NS: u64 = 500_000;

struct Entry<T> {
    running_time: Option<u64>,
    item: T,
}

pub(super) struct Pending<T> {
    entries: VecDeque<Entry<T>>,
    limit: usize,
}

impl<T: Clone> Default for Pending<T> {
    fn default() -> Self {
        Pending::with_limit(LIMIT)
    }
}

impl<T: Clone> Pending<T> {
    pub(super) fn with_limit(limit: usize) -> Pending<T> {
        Pending {
            entries: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Records a frame about to enter the encoder. Returns whether the oldest one had to go.
    pub(super) fn push(&mut self, running_time: Option<u64>, item: T) -> bool {
        let overflow = self.entries.len() >= self.limit;
        if overflow {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry { running_time, item });
        overflow
    }

    /// An encoded buffer for `running_time` came out: its frame is done. Returns whether a frame
    /// was confirmed.
    pub(super) fn confirm(&mut self, running_time: Option<u64>) -> bool {
        let Some(rt) = running_time else {
            return self.entries.pop_front().is_some();
        };
        let nearest = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i, e.running_time?.abs_diff(rt))))
            .filter(|&(_, distance)| distance <= TOLERANCE_NS)
            .min_by_key(|&(_, distance)| distance);
        nearest.is_some_and(|(i, _)| self.entries.remove(i).is_some())
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_reordering_encoder_confirms_in_order() {
        let mut p = Pending::default();
        for n in 0..4u64 {
            p.push(Some(n * 10), n);
        }
        assert!(p.confirm(Some(0)));
        assert!(p.confirm(Some(10)));
        assert_eq!(p.snapshot(), [2, 3]);
    }

    #[test]
    fn a_reordering_encoder_confirms_by_time() {
        // I0 P3 B1 B2 come out in decode order; frames 4 and 5 are still inside.
        let mut p = Pending::default();
        for n in 0..6u64 {
            p.push(Some(n), n);
        }
        for rt in [0, 3, 1, 2] {
            assert!(p.confirm(Some(rt)));
        }
        assert_eq!(p.snapshot(), [4, 5]);
    }

    #[test]
    fn outputs_without_time_confirm_the_oldest_and_unmatched_times_nothing() {
        let ms = |n: u64| n * 1_000_000;
        let mut p = Pending::default();
        p.push(None, 'a');
        p.push(None, 'b');
        p.push(Some(ms(7)), 'c');
        assert!(p.confirm(None));
        assert!(!p.confirm(Some(ms(99))));
        assert_eq!(p.snapshot(), ['b', 'c']);
        // A header buffer with its frame's time, then the frame: one confirmation.
        assert!(p.confirm(Some(ms(7))));
        assert!(!p.confirm(Some(ms(7))));
        assert_eq!(p.snapshot(), ['b']);
        assert!(p.confirm(None));
        assert!(!p.confirm(None));
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn rounded_times_still_match_their_frame() {
        let ms = |n: u64| n * 1_000_000;
        let mut p = Pending::default();
        for n in 0..3 {
            p.push(Some(ms(100 * n)), n);
        }
        assert!(p.confirm(Some(ms(100) - 1)));
        assert!(p.confirm(Some(ms(200) + 11_000)));
        assert!(!p.confirm(Some(ms(50))));
        assert_eq!(p.snapshot(), [0]);
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut p = Pending::with_limit(3);
        assert!(!p.push(Some(0), 0));
        assert!(!p.push(Some(1), 1));
        assert!(!p.push(Some(2), 2));
        assert!(p.push(Some(3), 3));
        assert_eq!(p.snapshot(), [1, 2, 3]);
        p.clear();
        assert_eq!(p.len(), 0);
    }
}
