// SPDX-License-Identifier: MPL-2.0
//! The `stromgpumonitor` subclass: a passthrough `BaseTransform` whose only work happens on a
//! sampling thread that runs while the element is PLAYING.
//!
//! The thread waits on a periodic id of the pipeline clock, so it ticks whether or not buffers
//! flow, and leaving PLAYING unschedules the id, which wakes the thread at once; the state change
//! joins it, so no message is posted after the element has left PLAYING. Under `gst_check`'s
//! harness the clock is a test clock, which lets tests step the sampler without any timing.

use std::sync::{LazyLock, Mutex};
use std::thread::JoinHandle;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use super::stats::{
    DeviceSelectionError, list_structure, select_devices, stats_structure, unavailable_structure,
};
use crate::gpu::nvml::{self, Nvml};
use crate::sync::lock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "stromgpumonitor",
        gst::DebugColorFlags::empty(),
        Some("Strom NVML GPU statistics monitor"),
    )
});

const DEFAULT_INTERVAL_MS: u32 = 1000;
const MIN_INTERVAL_MS: u32 = 100;
const DEFAULT_DEVICE: i32 = -1;

/// What to tell users whose GPU stopped answering NVML.
const DEVICE_LOST_FIX: &str = "check `nvidia-smi` and the kernel log (`dmesg`, NVRM Xid lines); \
     the GPU may need a reset or the machine a reboot";
const NO_GPU_FIX: &str = "check that `nvidia-smi` lists the GPUs and that the container was \
     started with `--gpus all`";

#[derive(Debug, Clone, Copy)]
struct Settings {
    interval_ms: u32,
    device: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            interval_ms: DEFAULT_INTERVAL_MS,
            device: DEFAULT_DEVICE,
        }
    }
}

/// The running sampling thread and the clock id it waits on (unscheduling it stops the thread).
struct Sampler {
    clock_id: gst::ClockId,
    thread: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    sampler: Option<Sampler>,
    /// "Unavailable" is said once per run (from READY to PLAYING and back), not per interval.
    unavailable_reported: bool,
}

/// What the sampling thread knows about one monitored GPU.
struct MonitoredGpu {
    index: u32,
    /// Stopped answering: reported once, then no longer sampled in this run.
    lost: bool,
    latest: Option<gst::Structure>,
}

/// Everything the sampling thread owns.
struct SamplingRun {
    nvml: &'static Nvml,
    clock: gst::Clock,
    /// Base time to use when the element has no clock of its own (outside a pipeline).
    fallback_base_time: Option<gst::ClockTime>,
    gpus: Vec<MonitoredGpu>,
    /// `device=-1`: `last-stats` is a list of every GPU's latest structure.
    all_gpus: bool,
}

#[derive(Default)]
pub struct GpuMonitor {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    last_stats: Mutex<Option<gst::Structure>>,
}

impl GpuMonitor {
    /// Begins sampling (entering PLAYING), or reports once why it cannot.
    fn start_sampling(&self) {
        let settings = *lock(&self.settings);
        let nvml = match nvml::nvml() {
            Ok(nvml) => nvml,
            Err(unavailable) => {
                return self.report_unavailable(&unavailable.reason, &unavailable.fix, &settings);
            }
        };
        let count = match nvml.device_count() {
            Ok(count) => count,
            Err(reason) => return self.report_unavailable(&reason, NO_GPU_FIX, &settings),
        };
        gst::info!(
            CAT,
            imp = self,
            "✓ NVML initialized successfully - found {count} GPU(s)"
        );
        let indices = match select_devices(settings.device, count) {
            Ok(indices) => indices,
            Err(e) => return self.report_bad_selection(&e, &settings),
        };
        gst::debug!(
            CAT,
            imp = self,
            "sampling GPU(s) {indices:?} every {} ms",
            settings.interval_ms
        );

        let obj = self.obj();
        let (clock, fallback_base_time) = match obj.clock() {
            Some(clock) => (clock, None),
            None => {
                let clock = gst::SystemClock::obtain();
                let now = clock.time();
                (clock, Some(now))
            }
        };
        // The first tick is due now: a sample as soon as PLAYING starts, then one per interval.
        let clock_id: gst::ClockId = clock
            .new_periodic_id(
                clock.time(),
                gst::ClockTime::from_mseconds(settings.interval_ms.into()),
            )
            .into();
        let run = SamplingRun {
            nvml,
            clock,
            fallback_base_time,
            gpus: indices
                .into_iter()
                .map(|index| MonitoredGpu {
                    index,
                    lost: false,
                    latest: None,
                })
                .collect(),
            all_gpus: settings.device < 0,
        };
        let weak = obj.downgrade();
        let thread_clock_id = clock_id.clone();
        let spawned = std::thread::Builder::new()
            .name("stromgpumonitor".into())
            .spawn(move || sampling_loop(&weak, &thread_clock_id, run));
        match spawned {
            Ok(thread) => lock(&self.state).sampler = Some(Sampler { clock_id, thread }),
            Err(e) => gst::element_imp_warning!(
                self,
                gst::CoreError::Thread,
                ("Cannot start the GPU sampling thread: {}", e),
                ["no GPU statistics this run; data passes through untouched"]
            ),
        }
    }

    /// Stops sampling and waits for the thread, so nothing is posted once this returns.
    fn stop_sampling(&self) {
        let sampler = lock(&self.state).sampler.take();
        if let Some(sampler) = sampler {
            sampler.clock_id.unschedule();
            if sampler.thread.join().is_err() {
                gst::error!(CAT, imp = self, "the sampling thread panicked");
            }
            gst::debug!(CAT, imp = self, "sampling stopped");
        }
    }

    /// A `device` setting that selects no GPU: a warning on the bus (the user asked for something
    /// that is not there), then the same "unavailable" message as without NVML.
    fn report_bad_selection(&self, error: &DeviceSelectionError, settings: &Settings) {
        match error {
            DeviceSelectionError::OutOfRange { count, .. } => {
                if lock(&self.state).unavailable_reported {
                    return;
                }
                let fix = format!(
                    "set device to -1 (every GPU) or to an index from 0 to {}",
                    count.saturating_sub(1)
                );
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::NotFound,
                    ("No GPU statistics: {}", error),
                    ["{}", fix]
                );
                self.report_unavailable(&error.to_string(), &fix, settings);
            }
            DeviceSelectionError::NoGpu => {
                self.report_unavailable(&error.to_string(), NO_GPU_FIX, settings)
            }
        }
    }

    /// One WARN and one `available=false` message per run; data keeps flowing, nothing errors.
    fn report_unavailable(&self, reason: &str, fix: &str, settings: &Settings) {
        if std::mem::replace(&mut lock(&self.state).unavailable_reported, true) {
            return;
        }
        gst::warning!(
            CAT,
            imp = self,
            "GPU statistics unavailable: {reason}. Fix: {fix}. Data passes through untouched; \
             no further strom-gpu-stats messages in this run."
        );
        let structure =
            unavailable_structure(None, reason, Some(fix), self.obj().current_running_time());
        *lock(&self.last_stats) = Some(if settings.device < 0 {
            list_structure(std::slice::from_ref(&structure))
        } else {
            structure.clone()
        });
        self.post(structure);
    }

    /// One tick: sample every GPU still answering, update `last-stats`, then post the messages
    /// (in that order, so a message handler reading `last-stats` sees this sample).
    fn sample_once(&self, run: &mut SamplingRun) {
        let running_time = self.running_time(run);
        let mut messages = Vec::with_capacity(run.gpus.len());
        for gpu in run.gpus.iter_mut().filter(|gpu| !gpu.lost) {
            let structure = match run.nvml.sample(gpu.index) {
                Ok(stats) => stats_structure(&stats, running_time),
                Err(reason) => {
                    gst::warning!(
                        CAT,
                        imp = self,
                        "GPU {} stopped answering NVML: {reason}. Fix: {DEVICE_LOST_FIX}. \
                         Its statistics stop; other GPUs go on.",
                        gpu.index
                    );
                    gpu.lost = true;
                    unavailable_structure(
                        Some(gpu.index),
                        &reason,
                        Some(DEVICE_LOST_FIX),
                        running_time,
                    )
                }
            };
            gpu.latest = Some(structure.clone());
            messages.push(structure);
        }
        if messages.is_empty() {
            return;
        }
        let last = if run.all_gpus {
            let latest: Vec<_> = run.gpus.iter().filter_map(|g| g.latest.clone()).collect();
            list_structure(&latest)
        } else {
            messages[0].clone()
        };
        *lock(&self.last_stats) = Some(last);
        for structure in messages {
            self.post(structure);
        }
    }

    /// Pipeline running time of a sample taken now.
    fn running_time(&self, run: &SamplingRun) -> Option<gst::ClockTime> {
        let base_time = run.fallback_base_time.or_else(|| self.obj().base_time())?;
        run.clock.time().checked_sub(base_time)
    }

    fn post(&self, structure: gst::Structure) {
        let obj = self.obj();
        let message = gst::message::Element::builder(structure).src(&*obj).build();
        if obj.post_message(message).is_err() {
            gst::debug!(CAT, imp = self, "no bus to post GPU statistics on");
        }
    }
}

/// The sampling thread: one sample per tick of the periodic id until it is unscheduled or the
/// element is gone.
fn sampling_loop(
    element: &glib::WeakRef<super::GpuMonitor>,
    clock_id: &gst::ClockId,
    mut run: SamplingRun,
) {
    // Ok, or Early when the previous sample overran the interval (sample now and catch up);
    // Unscheduled means sampling was stopped.
    while let Ok(_) | Err(gst::ClockError::Early) = clock_id.wait().0 {
        let Some(element) = element.upgrade() else {
            break;
        };
        element.imp().sample_once(&mut run);
    }
}

#[glib::object_subclass]
impl ObjectSubclass for GpuMonitor {
    const NAME: &'static str = "GstStromGpuMonitor";
    type Type = super::GpuMonitor;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for GpuMonitor {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("interval")
                    .nick("Interval")
                    .blurb(
                        "Milliseconds between samples while PLAYING; one strom-gpu-stats \
                         message per GPU per interval (read when the element starts playing)",
                    )
                    .minimum(MIN_INTERVAL_MS)
                    .default_value(DEFAULT_INTERVAL_MS)
                    .mutable_paused()
                    .build(),
                glib::ParamSpecInt::builder("device")
                    .nick("Device")
                    .blurb(
                        "NVML index of the GPU to monitor, or -1 for every GPU (read when the \
                         element starts playing)",
                    )
                    .minimum(-1)
                    .default_value(DEFAULT_DEVICE)
                    .mutable_paused()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("last-stats")
                    .nick("Last statistics")
                    .blurb(
                        "The latest sample: a strom-gpu-stats structure when device selects one \
                         GPU, a strom-gpu-stats-list structure (field devices: array of \
                         strom-gpu-stats) when device=-1; NULL before the first sample",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = lock(&self.settings);
        match pspec.name() {
            "interval" => {
                settings.interval_ms = value.get().expect("type checked upstream");
                gst::debug!(CAT, imp = self, "interval: {} ms", settings.interval_ms);
            }
            "device" => {
                settings.device = value.get().expect("type checked upstream");
                gst::debug!(CAT, imp = self, "device: {}", settings.device);
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "interval" => lock(&self.settings).interval_ms.to_value(),
            "device" => lock(&self.settings).device.to_value(),
            "last-stats" => lock(&self.last_stats).clone().to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        // Buffers go straight from the sink pad to the source pad: never modified, copied or held.
        self.obj().set_passthrough(true);
    }
}

impl GstObjectImpl for GpuMonitor {}

impl ElementImpl for GpuMonitor {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::with_additional(
                "Strom GPU monitor",
                "Filter/Analyzer",
                "Passes data through untouched and, while PLAYING, posts one strom-gpu-stats \
                 element message per NVIDIA GPU per interval (NVML, loaded at run time; one \
                 available=false message when NVML is missing)",
                "gst-strom developers",
                &[(
                    "doc-uri",
                    "https://github.com/strom/gst-strom#stromgpumonitor-nvidia-gpu-statistics-as-bus-messages",
                )],
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::new_any();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("sink pad template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("src pad template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        match transition {
            gst::StateChange::ReadyToPaused => {
                // A new run: the sampler stopped when the last one left PAUSED.
                *lock(&self.state) = State::default();
                *lock(&self.last_stats) = None;
            }
            // Before chaining up, so the state change completes only once sampling has stopped.
            gst::StateChange::PlayingToPaused => self.stop_sampling(),
            _ => {}
        }
        let success = self.parent_change_state(transition)?;
        match transition {
            // The pipeline has distributed its clock and base time by now.
            gst::StateChange::PausedToPlaying => self.start_sampling(),
            gst::StateChange::PausedToReady => self.stop_sampling(),
            _ => {}
        }
        Ok(success)
    }
}

impl BaseTransformImpl for GpuMonitor {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    /// Never called while in passthrough (always); present because in-place mode requires it.
    fn transform_ip(&self, _buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        Ok(gst::FlowSuccess::Ok)
    }
}
