// SPDX-License-Identifier: MPL-2.0
//! The CUDA-GL interop test: does what `nvh264enc` will do with GL memory work in this process?
//!
//! Run once per process (thread-safe, cached) and read by `stromautoconvert`, `strom-doctor` and
//! the tests alike. The order puts the cheap checks first so that a machine without a driver pays
//! microseconds, not a GL context.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::cuda::{CudaDriver, CudaError, LoadError};
use super::gl::{self, GlInfo};
use super::health::InteropLost;
use super::platform::{self, EglVendorFile};

/// The outcome class, which is also the first word of [`InteropReport::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InteropOutcome {
    /// Registration and mapping of a GL buffer in CUDA worked.
    Ok,
    /// A CUDA call of the test failed.
    Failed,
    /// CUDA itself, or a GL context, is not there to test with.
    Unavailable,
    /// Not attempted because it cannot work here (WSL2, GL not on an NVIDIA GPU).
    Skipped,
}

impl InteropOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InteropOutcome::Ok => "ok",
            InteropOutcome::Failed => "failed",
            InteropOutcome::Unavailable => "unavailable",
            InteropOutcome::Skipped => "skipped",
        }
    }
}

/// The CUDA device that drives the GL context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InteropDevice {
    /// The device handle `cuGLGetDevices` returned (its CUDA ordinal in this process).
    pub(crate) handle: i32,
    pub(crate) name: String,
}

/// Everything the test learned.
#[derive(Debug, Clone, PartialEq)]
pub struct InteropReport {
    pub(crate) outcome: InteropOutcome,
    /// Short and stable, for properties and scripts: `ok`, `failed: CUDA_ERROR_OPERATING_SYSTEM`,
    /// `unavailable: libcuda.so.1 not found`, `skipped: WSL2`, `skipped: GL is Mesa llvmpipe`.
    pub(crate) status: String,
    /// One sentence for people: what happened, and the hint that fixes it.
    pub(crate) reason: String,
    /// `CUDA_ERROR_*` name when a CUDA call failed.
    pub(crate) cuda_error: Option<String>,
    /// The GL context's identity, when one was made.
    pub(crate) gl: Option<GlInfo>,
    /// CUDA devices visible to this process, when the driver answered.
    pub(crate) cuda_devices: Option<usize>,
    /// The device behind the GL context, when CUDA named one.
    pub(crate) device: Option<InteropDevice>,
    /// How long the test took.
    pub(crate) elapsed: Duration,
}

impl InteropReport {
    /// True when zero-copy GL → CUDA works.
    pub(crate) fn works(&self) -> bool {
        self.outcome == InteropOutcome::Ok
    }

    fn new(outcome: InteropOutcome, detail: &str, reason: String) -> InteropReport {
        let status = if detail.is_empty() {
            outcome.as_str().to_owned()
        } else {
            format!("{}: {detail}", outcome.as_str())
        };
        InteropReport {
            outcome,
            status,
            reason,
            cuda_error: None,
            gl: None,
            cuda_devices: None,
            device: None,
            elapsed: Duration::ZERO,
        }
    }

    fn with_cuda_error(mut self, err: &CudaError) -> InteropReport {
        self.cuda_error = Some(err.name.clone());
        self
    }
}

static CACHED: OnceLock<InteropReport> = OnceLock::new();
/// Set when CUDA failed after the test had passed (see [`revoke`]); overrides [`CACHED`].
static REVOKED: OnceLock<InteropReport> = OnceLock::new();
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// The process-wide report, running the test on first use. The flag says whether this call ran it
/// (so callers report the test's time once and 0 after). `display_owner`: an element whose
/// pipeline's GL display the test shares (None: a display of its own, for tools).
pub fn probe_cached(display_owner: Option<&gst::Element>) -> (&'static InteropReport, bool) {
    if let Some(revoked) = REVOKED.get() {
        return (revoked, false);
    }
    let mut ran_here = false;
    let report = CACHED.get_or_init(|| {
        ran_here = true;
        probe(display_owner)
    });
    (report, ran_here)
}

/// The cached report if the test has run in this process (the revoked one after [`revoke`]).
pub(crate) fn cached() -> Option<&'static InteropReport> {
    REVOKED.get().or_else(|| CACHED.get())
}

/// Records that CUDA stopped serving GL after the test had passed (a GPU reset, an Xid error, a
/// driver unload): every later decision in this process reads the returned failed report instead
/// of the cached success. A driver in that state does not come back inside a process, so there
/// is no way back short of a restart. The first loss recorded wins.
pub(crate) fn revoke(lost: &InteropLost) -> &'static InteropReport {
    REVOKED.get_or_init(|| revoked_report(CACHED.get(), lost))
}

fn revoked_report(passed: Option<&InteropReport>, lost: &InteropLost) -> InteropReport {
    let mut report = InteropReport::new(
        InteropOutcome::Failed,
        lost.cuda_error.as_deref().unwrap_or("CUDA lost"),
        format!(
            "{} after the interop test had passed: CUDA no longer reaches the GL context (GPU \
             reset, Xid error or driver unload: see nvidia-smi and dmesg); GL zero-copy stays \
             off until the process restarts",
            lost.cause
        ),
    );
    report.cuda_error = lost.cuda_error.clone();
    if let Some(passed) = passed {
        report.gl = passed.gl.clone();
        report.cuda_devices = passed.cuda_devices;
        report.device = passed.device.clone();
    }
    report
}

/// A report with `status` (`ok` works, anything else does not), for unit tests elsewhere.
#[cfg(test)]
pub(crate) fn report_for_tests(status: &str) -> InteropReport {
    let (outcome, detail) = match status.split_once(": ") {
        None if status == "ok" => (InteropOutcome::Ok, ""),
        _ => (InteropOutcome::Failed, status),
    };
    let mut report = InteropReport::new(outcome, detail, status.to_owned());
    report.status = status.to_owned();
    report
}

/// How many times the test has actually run in this process (it should be at most once).
pub fn run_count() -> usize {
    RUNS.load(Ordering::SeqCst)
}

/// Runs the whole test now, uncached.
pub(crate) fn probe(display_owner: Option<&gst::Element>) -> InteropReport {
    RUNS.fetch_add(1, Ordering::SeqCst);
    let started = Instant::now();
    let mut report = run_steps(display_owner);
    report.elapsed = started.elapsed();
    report
}

fn run_steps(display_owner: Option<&gst::Element>) -> InteropReport {
    if platform::is_wsl() {
        return InteropReport::new(
            InteropOutcome::Skipped,
            "WSL2",
            "CUDA-GL interop is unsupported on WSL2: its GPU driver offers CUDA but no NVIDIA \
             OpenGL/EGL, so GL frames cannot reach the encoder without a copy"
                .into(),
        );
    }
    let driver = match CudaDriver::get() {
        Ok(driver) => driver,
        Err(err) => return driver_missing(&err),
    };
    if let Err(err) = driver.init() {
        return InteropReport::new(
            InteropOutcome::Unavailable,
            &err.name,
            format!(
                "{err}: the NVIDIA driver is installed but CUDA cannot start{}",
                visible_devices_hint()
            ),
        )
        .with_cuda_error(&err);
    }
    let count = match driver.device_count() {
        Ok(count) => count,
        Err(err) => {
            return InteropReport::new(InteropOutcome::Unavailable, &err.name, err.to_string())
                .with_cuda_error(&err);
        }
    };
    if count == 0 {
        let mut report = InteropReport::new(
            InteropOutcome::Unavailable,
            "no CUDA device",
            format!("CUDA reports no device{}", visible_devices_hint()),
        );
        report.cuda_devices = Some(0);
        return report;
    }
    if let Err(err) = driver.gl_interop_symbols() {
        let mut report = InteropReport::new(
            InteropOutcome::Unavailable,
            &err.to_string(),
            format!("{err}: this driver build has no CUDA-GL interop"),
        );
        report.cuda_devices = Some(count);
        return report;
    }
    let mut report = test_in_gl_thread(driver, display_owner);
    report.cuda_devices = Some(count);
    report
}

fn driver_missing(err: &LoadError) -> InteropReport {
    let hint = if platform::in_container() {
        "the container has no NVIDIA driver mounted: run it with --gpus all (or the nvidia \
         runtime) and NVIDIA_DRIVER_CAPABILITIES=all"
    } else {
        "no NVIDIA driver is installed (scripts/install-nvidia-driver.sh installs one)"
    };
    InteropReport::new(
        InteropOutcome::Unavailable,
        &err.to_string(),
        format!("{err}: {hint}"),
    )
}

/// What happened inside the GL thread.
enum GlThreadResult {
    Registered(InteropDevice),
    NoDeviceBehindGl,
    Failed(CudaError, Option<InteropDevice>),
}

fn test_in_gl_thread(
    driver: &'static CudaDriver,
    display_owner: Option<&gst::Element>,
) -> InteropReport {
    let outcome = gl::run_in_gl_thread(display_owner, |gl_fns| {
        let devices = match driver.gl_devices() {
            Ok(devices) => devices,
            Err(err) => return GlThreadResult::Failed(err, None),
        };
        let Some(&handle) = devices.first() else {
            return GlThreadResult::NoDeviceBehindGl;
        };
        let device = InteropDevice {
            handle,
            name: driver.device_name(handle).unwrap_or_default(),
        };
        // One 1080p NV12 frame, the size nvh264enc would map.
        let registered = driver.with_primary_context(handle, || {
            gl_fns.with_pixel_buffer(1920 * 1080 * 3 / 2, |pbo| {
                driver.register_and_map_gl_buffer(pbo)
            })
        });
        match registered {
            Ok(()) => GlThreadResult::Registered(device),
            Err(err) => GlThreadResult::Failed(err, Some(device)),
        }
    });
    let (gl_info, result) = match outcome {
        Ok(done) => done,
        Err(err) => {
            return InteropReport::new(
                InteropOutcome::Unavailable,
                "no GL context",
                format!(
                    "{err}; for headless machines and containers set {}",
                    gl::GL_HEADLESS_FIX
                ),
            );
        }
    };
    let mut report = report_from_gl_thread(result, &gl_info);
    report.gl = Some(gl_info);
    report
}

fn report_from_gl_thread(result: GlThreadResult, gl_info: &GlInfo) -> InteropReport {
    match result {
        GlThreadResult::Registered(device) => {
            let mut report = InteropReport::new(
                InteropOutcome::Ok,
                "",
                format!(
                    "CUDA device {} ({}) registered and mapped a GL buffer of the {} context",
                    device.handle, device.name, gl_info.renderer
                ),
            );
            report.device = Some(device);
            report
        }
        GlThreadResult::NoDeviceBehindGl if gl_info.is_mesa_or_software() => InteropReport::new(
            InteropOutcome::Skipped,
            &format!("GL is {}", gl_info.short_name()),
            format!(
                "GL runs on {} ({}), not on the NVIDIA GPU, so CUDA cannot read its memory; {}",
                gl_info.short_name(),
                gl_info.renderer,
                gl_hints(gl_info).join("; ")
            ),
        ),
        GlThreadResult::NoDeviceBehindGl => InteropReport::new(
            InteropOutcome::Failed,
            "no CUDA device behind the GL context",
            format!(
                "cuGLGetDevices names no CUDA device for GL renderer {}{}",
                gl_info.renderer,
                visible_devices_hint()
            ),
        ),
        GlThreadResult::Failed(err, device) => {
            let mut hints = gl_hints(gl_info);
            if let Some(h) = visible_devices_note() {
                hints.push(h);
            }
            let hint = if hints.is_empty() {
                String::new()
            } else {
                format!(" ({})", hints.join("; "))
            };
            let mut report =
                InteropReport::new(InteropOutcome::Failed, &err.name, format!("{err}{hint}"))
                    .with_cuda_error(&err);
            report.device = device;
            report
        }
    }
}

/// Hints about the GL side that explain most interop failures.
fn gl_hints(gl_info: &GlInfo) -> Vec<String> {
    let mut hints = Vec::new();
    if gl_info.is_mesa_or_software() {
        hints.push(format!(
            "GL is {}: set {} and make sure the NVIDIA EGL vendor file is installed",
            gl_info.short_name(),
            gl::GL_HEADLESS_FIX
        ));
    }
    match platform::nvidia_egl_vendor_file() {
        EglVendorFile::Found(_) => {}
        EglVendorFile::Missing => hints.push(format!(
            "the NVIDIA EGL vendor file {} is missing",
            platform::NVIDIA_EGL_VENDOR_FILE
        )),
        EglVendorFile::OverriddenWithoutNvidia(list) => hints.push(format!(
            "__EGL_VENDOR_LIBRARY_FILENAMES={list} does not name {}",
            platform::NVIDIA_EGL_LIBRARY
        )),
    }
    hints
}

fn visible_devices_note() -> Option<String> {
    platform::cuda_visible_devices()
        .map(|v| format!("CUDA_VISIBLE_DEVICES={v} may hide the GPU that drives GL from CUDA"))
}

fn visible_devices_hint() -> String {
    visible_devices_note().map_or_else(String::new, |note| format!(" ({note})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesa() -> GlInfo {
        crate::gpu::gl::llvmpipe_for_tests()
    }

    fn nvidia() -> GlInfo {
        GlInfo {
            vendor: "NVIDIA Corporation".into(),
            renderer: "NVIDIA H100/PCIe/SSE2".into(),
            version: "4.6.0 NVIDIA 550.54".into(),
            display: "egl-device".into(),
        }
    }

    #[test]
    fn statuses_read_as_documented() {
        let report = report_from_gl_thread(GlThreadResult::NoDeviceBehindGl, &mesa());
        assert_eq!(report.outcome, InteropOutcome::Skipped);
        assert_eq!(report.status, "skipped: GL is Mesa llvmpipe");
        assert!(report.reason.contains("GST_GL_WINDOW=egl-device"));

        let err = CudaError {
            call: "cuGraphicsGLRegisterBuffer",
            code: 304,
            name: "CUDA_ERROR_OPERATING_SYSTEM".into(),
        };
        let report = report_from_gl_thread(GlThreadResult::Failed(err, None), &nvidia());
        assert_eq!(report.status, "failed: CUDA_ERROR_OPERATING_SYSTEM");
        assert_eq!(
            report.cuda_error.as_deref(),
            Some("CUDA_ERROR_OPERATING_SYSTEM")
        );
        assert!(
            report
                .reason
                .starts_with("cuGraphicsGLRegisterBuffer returned CUDA_ERROR_OPERATING_SYSTEM")
        );
    }

    #[test]
    fn success_names_the_device() {
        let device = InteropDevice {
            handle: 1,
            name: "NVIDIA H100".into(),
        };
        let report = report_from_gl_thread(GlThreadResult::Registered(device.clone()), &nvidia());
        assert!(report.works());
        assert_eq!(report.status, "ok");
        assert_eq!(report.device, Some(device));
    }

    #[test]
    fn failure_on_mesa_carries_the_gl_hint() {
        let err = CudaError {
            call: "cuGLGetDevices",
            code: 219,
            name: "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT".into(),
        };
        let report = report_from_gl_thread(GlThreadResult::Failed(err, None), &mesa());
        assert_eq!(report.status, "failed: CUDA_ERROR_INVALID_GRAPHICS_CONTEXT");
        assert!(report.reason.contains("GL is Mesa llvmpipe"));
    }

    #[test]
    fn a_revoked_report_reads_as_failed_and_keeps_what_the_test_found() {
        let device = InteropDevice {
            handle: 0,
            name: "NVIDIA H100".into(),
        };
        let mut passed = report_from_gl_thread(GlThreadResult::Registered(device), &nvidia());
        passed.gl = Some(nvidia());
        let lost = InteropLost {
            cause: "cuGLGetDevices returned CUDA_ERROR_UNKNOWN".into(),
            cuda_error: Some("CUDA_ERROR_UNKNOWN".into()),
        };
        let revoked = revoked_report(Some(&passed), &lost);
        assert!(!revoked.works());
        assert_eq!(revoked.status, "failed: CUDA_ERROR_UNKNOWN");
        assert!(
            revoked
                .reason
                .starts_with("cuGLGetDevices returned CUDA_ERROR_UNKNOWN after")
        );
        assert_eq!(revoked.gl, passed.gl);
        assert_eq!(revoked.device, passed.device);

        let without_code = InteropLost {
            cause: "no device".into(),
            cuda_error: None,
        };
        assert_eq!(
            revoked_report(None, &without_code).status,
            "failed: CUDA lost"
        );
    }

    #[test]
    fn missing_driver_is_unavailable() {
        let report = driver_missing(&LoadError::NotFound);
        assert_eq!(report.status, "unavailable: libcuda.so.1 not found");
        assert!(!report.works());
    }
}
