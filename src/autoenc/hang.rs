// SPDX-License-Identifier: MPL-2.0
//! Whether an encoder has hung: it takes frames but returns nothing. A GPU encoder whose device
//! stalls does this without an error; the bin then treats it as failed and moves on.
//!
//! Quiet is measured from the first frame pushed after the last output, in wall time and in the
//! input's running time both: wall time alone would blame an encoder whose source paused (no
//! input, nothing to return), running time alone one whose non-live source runs far ahead of
//! real time while its lookahead fills.

use std::time::{Duration, Instant};

/// Frames have gone in since the encoder last returned one.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Quiet {
    since: Option<(Instant, Option<u64>)>,
}

impl Quiet {
    /// A frame with running time `running_time` goes into the encoder at `now`.
    pub(super) fn input(&mut self, now: Instant, running_time: Option<u64>) {
        if self.since.is_none() {
            self.since = Some((now, running_time));
        }
    }

    /// The encoder returned something.
    pub(super) fn output(&mut self) {
        self.since = None;
    }

    /// How long the encoder has been quiet while frames went in, when that is more than
    /// `timeout` in both wall time and the input's running time (a zero timeout never hangs).
    pub(super) fn hung(
        &self,
        now: Instant,
        running_time: Option<u64>,
        timeout: Duration,
    ) -> Option<Duration> {
        let (start, start_rt) = self.since?;
        let quiet = now.checked_duration_since(start)?;
        let timeout_ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let stream = running_time?.checked_sub(start_rt?)?;
        (!timeout.is_zero() && quiet > timeout && stream > timeout_ns).then_some(quiet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn quiet_in_wall_and_stream_time_is_a_hang() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(2);
        let mut q = Quiet::default();
        assert_eq!(q.hung(t0, Some(0), timeout), None);
        q.input(t0, Some(0));
        q.input(t0 + Duration::from_secs(1), Some(S));
        assert_eq!(q.hung(t0 + Duration::from_secs(1), Some(S), timeout), None);
        let later = t0 + Duration::from_secs(3);
        assert_eq!(
            q.hung(later, Some(3 * S), timeout),
            Some(Duration::from_secs(3))
        );
        // Zero disables the check.
        assert_eq!(q.hung(later, Some(3 * S), Duration::ZERO), None);
        q.output();
        assert_eq!(q.hung(later, Some(3 * S), timeout), None);
    }

    #[test]
    fn a_paused_source_or_a_fast_one_is_not_a_hang() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(2);
        // The source paused: ten seconds of wall time, a frame of stream time.
        let mut q = Quiet::default();
        q.input(t0, Some(0));
        assert_eq!(
            q.hung(t0 + Duration::from_secs(10), Some(S / 30), timeout),
            None
        );
        // A file read faster than real time: 8 s of stream in 100 ms (a lookahead filling).
        assert_eq!(
            q.hung(t0 + Duration::from_millis(100), Some(8 * S), timeout),
            None
        );
        // Without running times nothing can be said.
        let mut q = Quiet::default();
        q.input(t0, None);
        assert_eq!(q.hung(t0 + Duration::from_secs(10), None, timeout), None);
    }
}
