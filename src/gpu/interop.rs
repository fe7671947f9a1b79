// SPDX-License-Identifier: MPL-2.0
//! The CUDA-GL interop test: will what the encoder downstream does with GL memory work, in this
//! process, on the encoder's CUDA device?
//!
//! It mimics `nvh264enc` 1.22 (`gstnvbaseenc.c`, `gstcudacontext.c`, `gstcudautils.c`): the
//! driver opened as `libcuda.so.1` only, a context of its own made with `cuCtxCreate` on the
//! consumer's `cuda-device-id` (else the first CUDA device behind the GL context), a GL pixel
//! buffer registered in the GL thread with that context pushed, mapped read-only, its device
//! pointer read, unmapped and unregistered.
//!
//! Verdicts are cached per (GL display, CUDA device): a second pipeline whose encoder sits on
//! another GPU gets its own test, the same device again reuses the answer. What every display and
//! device share (WSL2, no driver, `cuInit`, no device) is asked once per process. Read by
//! `stromautoconvert`, `strom-doctor` and the tests alike; cheap checks first, so a machine
//! without a driver pays microseconds, not a GL context.
//!
//! A verdict can be overridden later by what actually happened: the consumer refusing the first
//! GL frames ([`refuse`], for that display and device) or CUDA failing mid-stream ([`revoke`],
//! for that device on every display). Both last for the process.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::cuda::{CuDevice, CudaDriver, CudaError, LoadError};
use super::gl::{self, DisplayKey, GlFunctions, GlInfo, TestDisplay};
use super::health::InteropLost;
use super::loader::{self, ShadowLibrary};
use super::platform::{self, EglVendorFile};
use crate::sync::lock;

/// The outcome class, which is also the first word of [`InteropReport::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InteropOutcome {
    /// Registration and mapping of a GL buffer in CUDA worked.
    Ok,
    /// A CUDA call of the test failed, or the consumer refused GL memory.
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

/// The CUDA device the test registered a GL buffer on (or tried to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InteropDevice {
    /// Its CUDA ordinal in this process (after `CUDA_VISIBLE_DEVICES`).
    pub(crate) handle: i32,
    /// Empty when the driver could not name it.
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
    /// The device the test ran on (the consumer's, else the first behind GL), when it got there.
    pub(crate) device: Option<InteropDevice>,
    /// The CUDA ordinals behind the GL context (`cuGLGetDevices`), when CUDA was asked.
    pub(crate) gl_devices: Option<Vec<i32>>,
    /// The device downstream named (`cuda-device-id`); None: the first device behind GL.
    pub(crate) requested_device: Option<u32>,
    /// The GL display tested on, when the test got that far.
    pub(crate) display: Option<DisplayKey>,
    /// A `libcuda.so` on the loader path that is not the driver: reported, never used.
    pub(crate) shadow: Option<ShadowLibrary>,
    /// How long the test took.
    pub(crate) elapsed: Duration,
}

impl InteropReport {
    /// True when zero-copy GL → CUDA works.
    pub(crate) fn works(&self) -> bool {
        self.outcome == InteropOutcome::Ok
    }

    /// The CUDA ordinal tested, when the test got to a device.
    pub(crate) fn tested_device(&self) -> Option<i32> {
        self.device.as_ref().map(|d| d.handle)
    }

    /// `gl-devices` as the bus message carries it: `0,1`; empty when GL has no CUDA device.
    pub(crate) fn gl_devices_text(&self) -> Option<String> {
        self.gl_devices.as_ref().map(|devices| {
            devices
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// The clause about a `libcuda.so` that is not the driver, for messages that carry their own
    /// reason.
    pub(crate) fn shadow_note(&self) -> Option<String> {
        self.shadow
            .as_ref()
            .map(|shadow| shadow.describe(driver_path()))
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
            gl_devices: None,
            requested_device: None,
            display: None,
            shadow: None,
            elapsed: Duration::ZERO,
        }
    }

    fn with_cuda_error(mut self, err: &CudaError) -> InteropReport {
        self.cuda_error = Some(err.name.clone());
        self
    }

    /// Records a `libcuda.so` that is not the driver (messages name it through
    /// [`shadow_note`](Self::shadow_note); `strom-doctor` has a row of its own for it).
    fn with_shadow(mut self, shadow: Option<&ShadowLibrary>) -> Self {
        self.shadow = shadow.cloned();
        self
    }
}

/// One verdict, filled by the first asker; concurrent askers of the same key wait for it.
type VerdictCell = Arc<OnceLock<Arc<InteropReport>>>;

/// The process's verdicts.
#[derive(Default)]
struct Verdicts {
    /// One cell per (display, requested device): different keys test in parallel.
    tested: HashMap<(DisplayKey, Option<u32>), VerdictCell>,
    /// The consumer refused GL memory from this display on this device.
    refused: HashMap<(DisplayKey, i32), Arc<InteropReport>>,
    /// CUDA stopped serving GL on this device after a test had passed.
    lost: HashMap<i32, Arc<InteropReport>>,
    latest: Option<Arc<InteropReport>>,
}

static VERDICTS: LazyLock<Mutex<Verdicts>> = LazyLock::new(Mutex::default);
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// The process-wide part of the test: CUDA usable at all, and how many devices it sees.
struct DriverLevel {
    answer: Result<(&'static CudaDriver, usize), Arc<InteropReport>>,
    elapsed: Duration,
    /// Whether a device test has already counted `elapsed` into its time.
    counted: AtomicBool,
}

fn driver_level() -> (&'static DriverLevel, bool) {
    static LEVEL: OnceLock<DriverLevel> = OnceLock::new();
    let mut ran_here = false;
    let level = LEVEL.get_or_init(|| {
        ran_here = true;
        let started = Instant::now();
        let answer = driver_steps().map_err(|mut report| {
            RUNS.fetch_add(1, Ordering::SeqCst);
            report.elapsed = started.elapsed();
            Arc::new(*report)
        });
        DriverLevel {
            answer,
            elapsed: started.elapsed(),
            counted: AtomicBool::new(false),
        }
    });
    if let (Err(report), true) = (&level.answer, ran_here) {
        lock(&VERDICTS).latest = Some(report.clone());
    }
    (level, ran_here)
}

/// The verdict for a consumer reading GL frames of `display_owner`'s pipeline on CUDA device
/// `consumer_device` (None: the first device behind the GL context), running the test on first
/// use. The flag says whether this call ran it (callers report the test's time once and 0 after).
/// `display_owner`: an element whose pipeline's GL display the test shares (None: a display of
/// its own, for tools).
pub fn probe_cached(
    display_owner: Option<&gst::Element>,
    consumer_device: Option<u32>,
) -> (Arc<InteropReport>, bool) {
    let (level, ran_level) = driver_level();
    let (driver, count) = match &level.answer {
        Ok(found) => *found,
        Err(report) => return (report.clone(), ran_level),
    };
    let display = gl::test_display(display_owner);
    let key = display.as_ref().map_or_else(
        |_| DisplayKey {
            kind: "unavailable".into(),
            handle: 0,
        },
        TestDisplay::key,
    );
    let cell = lock(&VERDICTS)
        .tested
        .entry((key.clone(), consumer_device))
        .or_default()
        .clone();
    let mut ran_here = false;
    let report = cell
        .get_or_init(|| {
            ran_here = true;
            let started = Instant::now();
            let mut report = match &display {
                Ok(display) => probe_on(driver, count, display, consumer_device),
                Err(err) => no_gl_context(err),
            };
            report.elapsed = started.elapsed();
            if !level.counted.swap(true, Ordering::SeqCst) {
                report.elapsed += level.elapsed;
            }
            RUNS.fetch_add(1, Ordering::SeqCst);
            Arc::new(report)
        })
        .clone();
    let mut verdicts = lock(&VERDICTS);
    if ran_here {
        remember_aliases(&mut verdicts, &key, consumer_device, &report);
        verdicts.latest = Some(report.clone());
    }
    (effective(&verdicts, report), ran_here)
}

/// A test of "the first device behind GL" that found device N also answers a consumer that names
/// N, and the other way round.
fn remember_aliases(
    verdicts: &mut Verdicts,
    key: &DisplayKey,
    requested: Option<u32>,
    report: &Arc<InteropReport>,
) {
    let Some(tested) = report.tested_device() else {
        return;
    };
    let first_behind_gl = report.gl_devices.as_ref().and_then(|d| d.first().copied());
    let alias = match requested {
        None => u32::try_from(tested).ok(),
        Some(_) if first_behind_gl == Some(tested) => None,
        Some(_) => return,
    };
    let cell = verdicts
        .tested
        .entry((key.clone(), alias))
        .or_default()
        .clone();
    let _ = cell.set(report.clone());
}

/// `report`, or what overrode it since: CUDA lost on its device, or the consumer's refusal.
fn effective(verdicts: &Verdicts, report: Arc<InteropReport>) -> Arc<InteropReport> {
    let Some(device) = report.tested_device() else {
        return report;
    };
    if let Some(lost) = verdicts.lost.get(&device) {
        return lost.clone();
    }
    report
        .display
        .as_ref()
        .and_then(|display| verdicts.refused.get(&(display.clone(), device)))
        .cloned()
        .unwrap_or(report)
}

/// The most recent verdict of this process (with what overrode it), if a test has run.
pub(crate) fn latest() -> Option<Arc<InteropReport>> {
    let verdicts = lock(&VERDICTS);
    let report = verdicts.latest.clone()?;
    Some(effective(&verdicts, report))
}

/// Records that the consumer refused the GL memory of the test's display on the test's device
/// (`why`, for people): every later decision for that display and device reads the returned
/// failed report. The first refusal recorded wins.
pub(crate) fn refuse(report: &InteropReport, consumer: &str, why: &str) -> Arc<InteropReport> {
    let mut refused = InteropReport::new(
        InteropOutcome::Failed,
        &format!("{consumer} refused GL memory"),
        format!(
            "{why}; GL zero-copy stays off for this GL display and CUDA device until the process \
             restarts"
        ),
    );
    keep_what_the_test_found(&mut refused, report);
    let mut verdicts = lock(&VERDICTS);
    let Some((display, device)) = report.display.clone().zip(report.tested_device()) else {
        return Arc::new(refused);
    };
    verdicts
        .refused
        .entry((display, device))
        .or_insert_with(|| Arc::new(refused))
        .clone()
}

/// Records that CUDA stopped serving GL on the test's device after the test had passed (a GPU
/// reset, an Xid error, a driver unload): every later decision for that device, on any display,
/// reads the returned failed report. A driver in that state does not come back inside a
/// process, so there is no way back short of a restart. The first loss recorded wins.
pub(crate) fn revoke(report: &InteropReport, lost: &InteropLost) -> Arc<InteropReport> {
    let revoked = revoked_report(Some(report), lost);
    let Some(device) = report.tested_device() else {
        return Arc::new(revoked);
    };
    lock(&VERDICTS)
        .lost
        .entry(device)
        .or_insert_with(|| Arc::new(revoked))
        .clone()
}

fn keep_what_the_test_found(into: &mut InteropReport, passed: &InteropReport) {
    into.gl = passed.gl.clone();
    into.cuda_devices = passed.cuda_devices;
    into.device = passed.device.clone();
    into.gl_devices = passed.gl_devices.clone();
    into.requested_device = passed.requested_device;
    into.display = passed.display.clone();
    into.shadow = passed.shadow.clone();
}

fn revoked_report(passed: Option<&InteropReport>, lost: &InteropLost) -> InteropReport {
    let device = passed
        .and_then(InteropReport::tested_device)
        .map_or_else(String::new, |d| format!(" on CUDA device {d}"));
    let mut report = InteropReport::new(
        InteropOutcome::Failed,
        lost.cuda_error.as_deref().unwrap_or("CUDA lost"),
        format!(
            "{} after the interop test had passed{device}: CUDA no longer reaches the GL context \
             (GPU reset, Xid error or driver unload: see nvidia-smi and dmesg); GL zero-copy on \
             that device stays off until the process restarts",
            lost.cause
        ),
    );
    report.cuda_error = lost.cuda_error.clone();
    if let Some(passed) = passed {
        keep_what_the_test_found(&mut report, passed);
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

/// How many times a test has actually run in this process: once per (display, device) at most.
/// A test hook (cargo feature `testing`), not part of the public API.
#[cfg(feature = "testing")]
pub fn run_count() -> usize {
    RUNS.load(Ordering::SeqCst)
}

/// A `libcuda.so` on the loader path that is not the `libcuda.so.1` in use, looked for once.
pub(crate) fn shadow_library() -> Option<&'static ShadowLibrary> {
    static SHADOW: OnceLock<Option<ShadowLibrary>> = OnceLock::new();
    SHADOW
        .get_or_init(|| {
            let driver = CudaDriver::get().ok().and_then(CudaDriver::library_path);
            loader::shadowing_libcuda(driver)
        })
        .as_ref()
}

fn driver_path() -> Option<&'static Path> {
    CudaDriver::get().ok().and_then(CudaDriver::library_path)
}

/// WSL2, the driver, `cuInit`, the device count, the GL entry points: the same for every display
/// and device. The driver and its device count when all is well.
fn driver_steps() -> Result<(&'static CudaDriver, usize), Box<InteropReport>> {
    if platform::is_wsl() {
        return Err(Box::new(InteropReport::new(
            InteropOutcome::Skipped,
            "WSL2",
            "CUDA-GL interop is unsupported on WSL2: its GPU driver offers CUDA but no NVIDIA \
             OpenGL/EGL, so GL frames cannot reach the encoder without a copy"
                .into(),
        )));
    }
    let shadow = shadow_library();
    let driver =
        CudaDriver::get().map_err(|err| Box::new(driver_missing(&err).with_shadow(shadow)))?;
    let path = driver.library_path();
    if let Err(err) = driver.init() {
        return Err(Box::new(
            InteropReport::new(
                InteropOutcome::Unavailable,
                &err.name,
                format!(
                    "{err}: the NVIDIA driver is installed but CUDA cannot start{}{}",
                    stub_driver_hint(&err, path),
                    visible_devices_hint()
                ),
            )
            .with_cuda_error(&err)
            .with_shadow(shadow),
        ));
    }
    let count = driver.device_count().map_err(|err| {
        Box::new(
            InteropReport::new(InteropOutcome::Unavailable, &err.name, err.to_string())
                .with_cuda_error(&err)
                .with_shadow(shadow),
        )
    })?;
    if count == 0 {
        let mut report = InteropReport::new(
            InteropOutcome::Unavailable,
            "no CUDA device",
            format!("CUDA reports no device{}", visible_devices_hint()),
        )
        .with_shadow(shadow);
        report.cuda_devices = Some(0);
        return Err(Box::new(report));
    }
    if let Err(err) = driver.gl_interop_symbols() {
        let mut report = InteropReport::new(
            InteropOutcome::Unavailable,
            &err.to_string(),
            format!("{err}: this driver build has no CUDA-GL interop"),
        )
        .with_shadow(shadow);
        report.cuda_devices = Some(count);
        return Err(Box::new(report));
    }
    Ok((driver, count))
}

/// `cuInit` answering `CUDA_ERROR_STUB_LIBRARY`: `libcuda.so.1` is the toolkit's stub itself.
fn stub_driver_hint(err: &CudaError, path: Option<&Path>) -> String {
    if err.name != "CUDA_ERROR_STUB_LIBRARY" {
        return String::new();
    }
    format!(
        " ({} is the CUDA toolkit's link-time stub, not the driver: remove its folder from \
         LD_LIBRARY_PATH, and give the container the driver with --gpus all)",
        path.map_or_else(
            || loader::LIBCUDA_SONAME.to_owned(),
            |p| p.display().to_string()
        )
    )
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
        &err.short(),
        format!("{err}: {hint}"),
    )
}

fn no_gl_context(err: &str) -> InteropReport {
    InteropReport::new(
        InteropOutcome::Unavailable,
        "no GL context",
        format!(
            "{err}; for headless machines and containers set {}",
            gl::GL_HEADLESS_FIX
        ),
    )
}

/// Why the GL thread part stopped.
#[derive(Debug)]
enum GlThreadFailure {
    /// `cuGLGetDevices` names no CUDA device: GL does not run on an NVIDIA GPU.
    NoDeviceBehindGl,
    Cuda(CudaError),
}

/// What happened inside the GL thread.
#[derive(Debug)]
struct GlThreadAnswer {
    gl_devices: Option<Vec<i32>>,
    device: Option<InteropDevice>,
    result: Result<(), GlThreadFailure>,
}

/// The per-(display, device) test, on `display` (found before, for the cache key).
fn probe_on(
    driver: &'static CudaDriver,
    count: usize,
    display: &TestDisplay,
    consumer_device: Option<u32>,
) -> InteropReport {
    let outcome = gl::run_on_display(display, |gl_fns| {
        test_in_gl_thread(driver, gl_fns, consumer_device)
    });
    let mut report = match outcome {
        Ok((gl_info, answer)) => {
            let mut report = report_from_gl_thread(answer, &gl_info, consumer_device);
            report.gl = Some(gl_info);
            report
        }
        Err(err) => no_gl_context(&err),
    };
    report.cuda_devices = Some(count);
    report.requested_device = consumer_device;
    report.display = Some(display.key());
    report.with_shadow(shadow_library())
}

/// In the GL thread, what the encoder will do: find the devices behind GL, pick the consumer's,
/// make a context there and register, map and unmap a pixel buffer in it.
fn test_in_gl_thread(
    driver: &CudaDriver,
    gl_fns: &GlFunctions,
    consumer_device: Option<u32>,
) -> GlThreadAnswer {
    let gl_devices = match driver.gl_devices() {
        Ok(devices) => devices,
        Err(err) => {
            return GlThreadAnswer {
                gl_devices: None,
                device: None,
                result: Err(GlThreadFailure::Cuda(err)),
            };
        }
    };
    // No CUDA device drives this GL context (Mesa, another vendor): nothing CUDA can register,
    // whichever device the consumer is on.
    let chosen = consumer_device
        .map(|d| i32::try_from(d).unwrap_or(i32::MAX))
        .or_else(|| gl_devices.first().copied())
        .filter(|_| !gl_devices.is_empty());
    let Some(ordinal) = chosen else {
        return GlThreadAnswer {
            gl_devices: Some(gl_devices),
            device: None,
            result: Err(GlThreadFailure::NoDeviceBehindGl),
        };
    };
    let mut device = InteropDevice {
        handle: ordinal,
        name: String::new(),
    };
    let result = register_on(driver, gl_fns, ordinal, &mut device).map_err(GlThreadFailure::Cuda);
    GlThreadAnswer {
        gl_devices: Some(gl_devices),
        device: Some(device),
        result,
    }
}

/// nvenc's sequence on CUDA device `ordinal`: `cuDeviceGet`, its name and compute capability,
/// `cuCtxCreate` + pop, then with the context pushed a 1080p NV12 frame's worth of pixel buffer
/// registered, mapped read-only, pointed at, unmapped and unregistered; the context destroyed.
fn register_on(
    driver: &CudaDriver,
    gl_fns: &GlFunctions,
    ordinal: i32,
    device: &mut InteropDevice,
) -> Result<(), CudaError> {
    let handle: CuDevice = driver.device(usize::try_from(ordinal).unwrap_or(usize::MAX))?;
    device.name = driver.device_name(handle).unwrap_or_default();
    driver.compute_capability(handle)?;
    let context = driver.create_context(handle)?;
    driver.with_context(&context, || {
        gl_fns.with_pixel_buffer(1920 * 1080 * 3 / 2, |pbo| {
            driver.register_and_map_gl_buffer(pbo)
        })
    })
}

fn report_from_gl_thread(
    answer: GlThreadAnswer,
    gl_info: &GlInfo,
    requested: Option<u32>,
) -> InteropReport {
    let GlThreadAnswer {
        gl_devices,
        device,
        result,
    } = answer;
    let mut report = match (result, &device) {
        (Ok(()), Some(device)) => InteropReport::new(
            InteropOutcome::Ok,
            "",
            format!(
                "CUDA device {} ({}) registered and mapped a GL buffer of the {} context{}{}",
                device.handle,
                device.name,
                gl_info.renderer,
                which_device(requested),
                cross_gpu_note(device.handle, gl_devices.as_deref())
            ),
        ),
        (Err(GlThreadFailure::NoDeviceBehindGl), _) if gl_info.is_mesa_or_software() => {
            InteropReport::new(
                InteropOutcome::Skipped,
                &format!("GL is {}", gl_info.short_name()),
                format!(
                    "GL runs on {} ({}), not on the NVIDIA GPU, so CUDA cannot read its memory; {}",
                    gl_info.short_name(),
                    gl_info.renderer,
                    gl_hints(gl_info).join("; ")
                ),
            )
        }
        (Err(GlThreadFailure::NoDeviceBehindGl), _) => InteropReport::new(
            InteropOutcome::Failed,
            "no CUDA device behind the GL context",
            format!(
                "cuGLGetDevices names no CUDA device for GL renderer {}{}",
                gl_info.renderer,
                visible_devices_hint()
            ),
        ),
        (Err(GlThreadFailure::Cuda(err)), _) => {
            let mut hints = Vec::new();
            if let Some(device) = &device {
                hints.extend(device_mismatch_hint(device.handle, gl_devices.as_deref()));
            }
            hints.extend(gl_hints(gl_info));
            hints.extend(visible_devices_note());
            let hint = if hints.is_empty() {
                String::new()
            } else {
                format!(" ({})", hints.join("; "))
            };
            let on = device.as_ref().map_or_else(String::new, |d| {
                format!(" on CUDA device {}{}", d.handle, which_device(requested))
            });
            InteropReport::new(
                InteropOutcome::Failed,
                &err.name,
                format!("{err}{on}{hint}"),
            )
            .with_cuda_error(&err)
        }
        (Ok(()), None) => unreachable_ok(),
    };
    report.device = device;
    report.gl_devices = gl_devices;
    report
}

/// `test_in_gl_thread` only succeeds on a device; kept as a report rather than a panic.
fn unreachable_ok() -> InteropReport {
    InteropReport::new(
        InteropOutcome::Failed,
        "no device tested",
        "internal: the test passed without a device".into(),
    )
}

fn which_device(requested: Option<u32>) -> &'static str {
    match requested {
        Some(_) => " (the device the encoder reads GL frames on: its cuda-device-id)",
        None => " (the first CUDA device behind the GL context)",
    }
}

fn cross_gpu_note(device: i32, gl_devices: Option<&[i32]>) -> String {
    device_mismatch(device, gl_devices).map_or_else(String::new, |gl| {
        format!("; GL runs on CUDA device(s) {gl}, so frames cross GPUs")
    })
}

/// The GL devices as text when `device` is not among them.
fn device_mismatch(device: i32, gl_devices: Option<&[i32]>) -> Option<String> {
    let gl_devices = gl_devices?;
    (!gl_devices.is_empty() && !gl_devices.contains(&device)).then(|| {
        gl_devices
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    })
}

fn device_mismatch_hint(device: i32, gl_devices: Option<&[i32]>) -> Option<String> {
    let gl = device_mismatch(device, gl_devices)?;
    let first = gl.split(',').next().unwrap_or("0");
    Some(format!(
        "the encoder reads on CUDA device {device} but GL runs on CUDA device(s) {gl}: encode on \
         that GPU (nvh264enc is device 0, nvh264device{first}enc device {first}) or render GL on \
         device {device}; EGL device order need not follow CUDA ordinals or CUDA_VISIBLE_DEVICES"
    ))
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

    fn device(handle: i32) -> InteropDevice {
        InteropDevice {
            handle,
            name: "NVIDIA H100".into(),
        }
    }

    fn answer(
        gl_devices: &[i32],
        tested: Option<i32>,
        result: Result<(), GlThreadFailure>,
    ) -> GlThreadAnswer {
        GlThreadAnswer {
            gl_devices: Some(gl_devices.to_vec()),
            device: tested.map(device),
            result,
        }
    }

    fn os_error() -> CudaError {
        CudaError {
            call: "cuGraphicsGLRegisterBuffer",
            code: 304,
            name: "CUDA_ERROR_OPERATING_SYSTEM".into(),
        }
    }

    #[test]
    fn statuses_read_as_documented() {
        let none = answer(&[], None, Err(GlThreadFailure::NoDeviceBehindGl));
        let report = report_from_gl_thread(none, &mesa(), None);
        assert_eq!(report.outcome, InteropOutcome::Skipped);
        assert_eq!(report.status, "skipped: GL is Mesa llvmpipe");
        assert!(report.reason.contains("GST_GL_WINDOW=egl-device"));
        assert_eq!(report.gl_devices_text().as_deref(), Some(""));

        let failed = answer(&[0], Some(0), Err(GlThreadFailure::Cuda(os_error())));
        let report = report_from_gl_thread(failed, &nvidia(), None);
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
        assert_eq!(report.tested_device(), Some(0));
    }

    #[test]
    fn success_names_the_device_and_how_it_was_chosen() {
        let report = report_from_gl_thread(answer(&[1], Some(1), Ok(())), &nvidia(), None);
        assert!(report.works());
        assert_eq!(report.status, "ok");
        assert_eq!(report.device, Some(device(1)));
        assert!(
            report
                .reason
                .contains("first CUDA device behind the GL context")
        );

        let asked = report_from_gl_thread(answer(&[0, 1], Some(1), Ok(())), &nvidia(), Some(1));
        assert_eq!(asked.gl_devices_text().as_deref(), Some("0,1"));
        assert!(asked.reason.contains("cuda-device-id"));
        assert!(!asked.reason.contains("cross GPUs"));
    }

    #[test]
    fn a_consumer_on_another_gpu_than_gl_is_named_in_the_reason() {
        let crossed = report_from_gl_thread(answer(&[1], Some(0), Ok(())), &nvidia(), Some(0));
        assert!(crossed.works());
        assert!(
            crossed.reason.contains("GL runs on CUDA device(s) 1"),
            "{}",
            crossed.reason
        );

        let failed = answer(&[1], Some(0), Err(GlThreadFailure::Cuda(os_error())));
        let report = report_from_gl_thread(failed, &nvidia(), Some(0));
        assert!(
            report.reason.contains("on CUDA device 0"),
            "{}",
            report.reason
        );
        assert!(
            report.reason.contains("nvh264device1enc"),
            "{}",
            report.reason
        );
    }

    #[test]
    fn failure_on_mesa_carries_the_gl_hint() {
        let err = CudaError {
            call: "cuGLGetDevices",
            code: 219,
            name: "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT".into(),
        };
        let failed = GlThreadAnswer {
            gl_devices: None,
            device: None,
            result: Err(GlThreadFailure::Cuda(err)),
        };
        let report = report_from_gl_thread(failed, &mesa(), None);
        assert_eq!(report.status, "failed: CUDA_ERROR_INVALID_GRAPHICS_CONTEXT");
        assert!(report.reason.contains("GL is Mesa llvmpipe"));
        assert_eq!(report.gl_devices_text(), None);
    }

    #[test]
    fn a_revoked_report_reads_as_failed_and_keeps_what_the_test_found() {
        let mut passed = report_from_gl_thread(answer(&[0], Some(0), Ok(())), &nvidia(), None);
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
        assert!(revoked.reason.contains("on CUDA device 0"));
        assert_eq!(revoked.gl, passed.gl);
        assert_eq!(revoked.device, passed.device);
        assert_eq!(revoked.gl_devices, passed.gl_devices);

        let without_code = InteropLost {
            cause: "no device".into(),
            cuda_error: None,
        };
        assert_eq!(
            revoked_report(None, &without_code).status,
            "failed: CUDA lost"
        );
    }

    fn verdict_on(display: &DisplayKey, tested: i32) -> Arc<InteropReport> {
        let mut report =
            report_from_gl_thread(answer(&[0, 1], Some(tested), Ok(())), &nvidia(), None);
        report.display = Some(display.clone());
        Arc::new(report)
    }

    #[test]
    fn overrides_apply_to_their_device_only() {
        let display = DisplayKey {
            kind: "egl-device".into(),
            handle: 0x1234,
        };
        let other_display = DisplayKey {
            kind: "egl-device".into(),
            handle: 0x5678,
        };
        let mut verdicts = Verdicts::default();
        let on0 = verdict_on(&display, 0);
        let on1 = verdict_on(&display, 1);
        let refused = InteropReport::new(InteropOutcome::Failed, "x refused GL memory", "x".into());
        verdicts
            .refused
            .insert((display.clone(), 0), Arc::new(refused));
        assert!(!effective(&verdicts, on0.clone()).works());
        assert!(effective(&verdicts, on1.clone()).works());
        assert!(effective(&verdicts, verdict_on(&other_display, 0)).works());

        let lost = revoked_report(
            Some(&on1),
            &InteropLost {
                cause: "gone".into(),
                cuda_error: None,
            },
        );
        verdicts.lost.insert(1, Arc::new(lost));
        assert!(!effective(&verdicts, verdict_on(&other_display, 1)).works());
        assert!(effective(&verdicts, verdict_on(&other_display, 0)).works());
    }

    #[test]
    fn a_first_behind_gl_verdict_also_answers_that_device_by_number() {
        let display = DisplayKey {
            kind: "egl-device".into(),
            handle: 1,
        };
        let mut verdicts = Verdicts::default();
        let report = verdict_on(&display, 0);
        remember_aliases(&mut verdicts, &display, None, &report);
        let alias = verdicts.tested.get(&(display.clone(), Some(0))).unwrap();
        assert_eq!(alias.get(), Some(&report));

        let mut verdicts = Verdicts::default();
        remember_aliases(&mut verdicts, &display, Some(0), &report);
        assert!(verdicts.tested.contains_key(&(display.clone(), None)));

        // Device 1 is not the first behind GL: it answers only for itself.
        let mut verdicts = Verdicts::default();
        remember_aliases(&mut verdicts, &display, Some(1), &verdict_on(&display, 1));
        assert!(verdicts.tested.is_empty());
    }

    #[test]
    fn missing_driver_is_unavailable() {
        let report = driver_missing(&LoadError::NotFound);
        assert_eq!(report.status, "unavailable: libcuda.so.1 not found");
        assert!(!report.works());
        let broken = driver_missing(&LoadError::Unloadable("wrong ELF class".into()));
        assert_eq!(broken.status, "unavailable: libcuda.so.1 does not load");
        assert!(broken.reason.contains("wrong ELF class"));
    }

    #[test]
    fn a_shadowing_stub_is_named_in_the_note() {
        let stub = ShadowLibrary {
            path: "/usr/local/cuda/lib64/stubs/libcuda.so".into(),
            looks_like_stub: true,
        };
        let report = driver_missing(&LoadError::NotFound).with_shadow(Some(&stub));
        let note = report.shadow_note().expect("a note");
        assert!(note.contains("stubs/libcuda.so"), "{note}");
        assert!(note.contains("CUDA_ERROR_STUB_LIBRARY"));
        assert_eq!(report.status, "unavailable: libcuda.so.1 not found");
        assert_eq!(report.shadow, Some(stub));
    }

    #[test]
    fn cuinit_from_the_stub_says_so() {
        let err = CudaError {
            call: "cuInit",
            code: 34,
            name: "CUDA_ERROR_STUB_LIBRARY".into(),
        };
        let hint = stub_driver_hint(&err, Some(Path::new("/x/stubs/libcuda.so.1")));
        assert!(hint.contains("/x/stubs/libcuda.so.1 is the CUDA toolkit's link-time stub"));
        assert!(stub_driver_hint(&os_error(), None).is_empty());
    }
}
