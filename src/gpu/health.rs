// SPDX-License-Identifier: MPL-2.0
//! Is CUDA still there for the GL frames? The interop test runs once per process; a GPU can
//! fall off the bus (Xid 79), be reset, or have its driver unloaded afterwards, and from then on
//! the encoder that reads the GL frames through CUDA fails. `stromautoconvert` re-asks CUDA, while
//! frames flow, for the devices behind the GL context of its chain (`cuGLGetDevices`, the check
//! nvcodec makes before it trusts GL memory) and switches to system memory when the answer is
//! gone. The call needs no CUDA context, so a check costs one GL-thread round trip, not the
//! hundreds of MiB of GPU memory a retained context would hold.

use std::time::{Duration, Instant};

use gst_gl::prelude::*;

use super::cuda::{CuDevice, CudaDriver, CudaError};

/// When the next check is due: on the first buffer, then once per interval.
#[derive(Debug, Clone)]
pub(crate) struct CheckSchedule {
    interval: Duration,
    last: Option<Instant>,
}

impl CheckSchedule {
    /// A zero interval means never.
    pub(crate) fn new(interval: Duration) -> CheckSchedule {
        CheckSchedule {
            interval,
            last: None,
        }
    }

    pub(crate) fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// True when a check should run at `now`; the check is then counted as made.
    pub(crate) fn take_due(&mut self, now: Instant) -> bool {
        if self.interval.is_zero() {
            return false;
        }
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if due {
            self.last = Some(now);
        }
        due
    }

    /// The check taken by [`take_due`](Self::take_due) did not run: due again at once.
    pub(crate) fn retry(&mut self) {
        self.last = None;
    }
}

/// Why CUDA no longer serves the GL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteropLost {
    /// For people, e.g. `cuGLGetDevices returned CUDA_ERROR_UNKNOWN`.
    pub(crate) cause: String,
    /// `CUDA_ERROR_*` name when a CUDA call failed.
    pub(crate) cuda_error: Option<String>,
}

/// Reads what `cuGLGetDevices` answered: the check fails when the call failed or when `device`
/// (the one the interop test registered a buffer on) is no longer behind the GL context.
pub(crate) fn verdict(
    answer: Result<Vec<CuDevice>, CudaError>,
    device: Option<CuDevice>,
) -> Result<(), InteropLost> {
    match answer {
        Err(err) => Err(InteropLost {
            cause: err.to_string(),
            cuda_error: Some(err.name),
        }),
        Ok(devices) if devices.is_empty() => Err(InteropLost {
            cause: "cuGLGetDevices names no CUDA device behind the GL context any more".into(),
            cuda_error: None,
        }),
        Ok(devices) => match device {
            Some(device) if !devices.contains(&device) => Err(InteropLost {
                cause: format!(
                    "CUDA device {device} is no longer behind the GL context (cuGLGetDevices \
                     names {devices:?})"
                ),
                cuda_error: None,
            }),
            _ => Ok(()),
        },
    }
}

/// Runs the check in `context`'s GL thread. Blocks the caller for one GL-thread round trip.
pub fn check_gl_context(
    context: &gst_gl::GLContext,
    device: Option<CuDevice>,
) -> Result<(), InteropLost> {
    let driver = CudaDriver::get().map_err(|err| InteropLost {
        cause: err.to_string(),
        cuda_error: None,
    })?;
    let mut answer = None;
    context.thread_add(|_| answer = Some(driver.gl_devices()));
    let answer = answer.ok_or_else(|| InteropLost {
        cause: "the GL thread did not run the CUDA check".into(),
        cuda_error: None,
    })?;
    verdict(answer, device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_check_is_due_at_once_then_once_per_interval() {
        let mut schedule = CheckSchedule::new(Duration::from_millis(100));
        let t0 = Instant::now();
        assert!(schedule.take_due(t0));
        assert!(!schedule.take_due(t0 + Duration::from_millis(99)));
        assert!(schedule.take_due(t0 + Duration::from_millis(100)));
        assert!(!schedule.take_due(t0 + Duration::from_millis(150)));
        assert!(schedule.take_due(t0 + Duration::from_millis(250)));
    }

    #[test]
    fn a_check_that_could_not_run_is_due_again() {
        let mut schedule = CheckSchedule::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(schedule.take_due(t0));
        schedule.retry();
        assert!(schedule.take_due(t0 + Duration::from_millis(1)));
        assert!(!schedule.take_due(t0 + Duration::from_millis(2)));
    }

    #[test]
    fn zero_interval_never_checks() {
        let mut schedule = CheckSchedule::new(Duration::ZERO);
        assert!(!schedule.take_due(Instant::now()));
        schedule.set_interval(Duration::from_millis(1));
        assert!(schedule.take_due(Instant::now()));
    }

    #[test]
    fn a_failing_call_names_the_cuda_error() {
        let err = CudaError {
            call: "cuGLGetDevices",
            code: 999,
            name: "CUDA_ERROR_UNKNOWN".into(),
        };
        let lost = verdict(Err(err), Some(0)).unwrap_err();
        assert_eq!(lost.cuda_error.as_deref(), Some("CUDA_ERROR_UNKNOWN"));
        assert_eq!(lost.cause, "cuGLGetDevices returned CUDA_ERROR_UNKNOWN");
    }

    #[test]
    fn the_tested_device_must_still_be_behind_gl() {
        assert_eq!(verdict(Ok(vec![0]), Some(0)), Ok(()));
        assert_eq!(verdict(Ok(vec![1]), None), Ok(()));
        let moved = verdict(Ok(vec![1]), Some(0)).unwrap_err();
        assert!(moved.cause.contains("CUDA device 0 is no longer"));
        let none = verdict(Ok(vec![]), Some(0)).unwrap_err();
        assert!(none.cause.contains("no CUDA device"));
        assert_eq!(none.cuda_error, None);
    }
}
