// SPDX-License-Identifier: MPL-2.0
//! Running one measured pipeline: buffers counted and timed where they leave the converter.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

use crate::cases::{Case, Contender};

/// How long one run may take before it counts as hung.
const RUN_TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(300);

/// When buffers reached the consumer.
#[derive(Debug, Default, Clone, Copy)]
pub struct Arrivals {
    pub first: Option<Instant>,
    pub last: Option<Instant>,
    pub count: u64,
    /// Process CPU time (all threads) when the first buffer arrived.
    pub cpu_at_first: Option<Duration>,
}

/// CPU time (user + system) of this whole process so far.
pub fn process_cpu() -> Option<Duration> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: getrusage returned 0, so the struct is written.
    let usage = unsafe { usage.assume_init() };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Some(time(usage.ru_utime) + time(usage.ru_stime))
}

impl Arrivals {
    /// Frames per second between the first and the last buffer (start-up excluded).
    pub fn fps(&self) -> Option<f64> {
        let span = self.last?.duration_since(self.first?).as_secs_f64();
        (self.count >= 2 && span > 0.0).then(|| (self.count - 1) as f64 / span)
    }
}

/// What a run produced besides the buffers: the converters' element messages.
#[derive(Debug, Default)]
pub struct RunOutput {
    pub arrivals: Arrivals,
    /// Process CPU time at EOS.
    pub cpu_at_eos: Option<Duration>,
    pub started: Option<Instant>,
    pub messages: Vec<gst::Structure>,
}

impl RunOutput {
    /// Time from the PLAYING request to the first buffer at the consumer.
    pub fn first_buffer(&self) -> Option<Duration> {
        Some(self.arrivals.first?.duration_since(self.started?))
    }
}

/// `imagefreeze` repeats one generated frame from memory, so the source costs next to nothing.
pub fn throughput_description(
    case: &Case,
    contender: &Contender,
    frames: u32,
    tail: &str,
) -> String {
    format!(
        "videotestsrc num-buffers=1 ! {} ! imagefreeze num-buffers={frames} ! {} ! {} {tail} ! \
         fakesink name=sink sync=false enable-last-sample=false",
        case.input.source_caps(),
        contender.launch,
        case.output.sink_caps(),
    )
}

/// Parses `description` (which must hold a `fakesink name=sink`), plays it to EOS and records
/// when buffers arrived at the sink. `Err` carries the pipeline's error, shortened.
pub fn run(description: &str) -> Result<RunOutput, String> {
    run_with(description, |_| Ok(()))
}

/// [`run`], with `setup` applied to the pipeline before it plays.
pub fn run_with(
    description: &str,
    setup: impl FnOnce(&gst::Pipeline) -> Result<(), String>,
) -> Result<RunOutput, String> {
    let pipeline = gst::parse::launch(description)
        .map_err(|err| format!("cannot build: {err}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_owned())?;
    let result = setup(&pipeline).and_then(|()| play(&pipeline));
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn play(pipeline: &gst::Pipeline) -> Result<RunOutput, String> {
    let sink = pipeline.by_name("sink").ok_or("no element named sink")?;
    let pad = sink.static_pad("sink").ok_or("sink has no sink pad")?;
    let arrivals = Arc::new(Mutex::new(Arrivals::default()));
    let recorder = Arc::clone(&arrivals);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        let now = Instant::now();
        let mut a = recorder.lock().unwrap_or_else(|e| e.into_inner());
        if a.first.is_none() {
            a.first = Some(now);
            // Only once: a system call per buffer would weigh on passthrough runs.
            a.cpu_at_first = process_cpu();
        }
        a.last = Some(now);
        a.count += 1;
        gst::PadProbeReturn::Ok
    });

    let bus = pipeline.bus().ok_or("pipeline has no bus")?;
    let mut output = RunOutput {
        started: Some(Instant::now()),
        ..RunOutput::default()
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(first_error(&bus).unwrap_or_else(|| "cannot go to PLAYING".into()));
    }
    loop {
        let Some(msg) = bus.timed_pop(RUN_TIMEOUT) else {
            return Err(format!("no EOS within {RUN_TIMEOUT}"));
        };
        match msg.view() {
            gst::MessageView::Eos(_) => {
                output.cpu_at_eos = process_cpu();
                break;
            }
            gst::MessageView::Error(err) => return Err(describe_error(err)),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    output.messages.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    output.arrivals = *arrivals.lock().unwrap_or_else(|e| e.into_inner());
    Ok(output)
}

fn first_error(bus: &gst::Bus) -> Option<String> {
    let msg =
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(err) => Some(describe_error(err)),
        _ => None,
    }
}

/// The error, plus the debug detail's last line (where "not-negotiated" shows up).
fn describe_error(err: &gst::message::Error) -> String {
    let detail = err
        .debug()
        .and_then(|d| d.lines().last().map(str::to_owned))
        .unwrap_or_default();
    format!("{} {}", err.error(), detail).trim().to_owned()
}

/// Frames per second of `contender` on `case` over `frames` frames, with `tail` (more elements)
/// after the output caps.
pub fn throughput(
    case: &Case,
    contender: &Contender,
    frames: u32,
    tail: &str,
) -> Result<f64, String> {
    measure(case, contender, frames, tail).map(|m| m.fps)
}

/// A throughput run's rate and what it cost in CPU.
pub struct Measurement {
    pub fps: f64,
    /// CPU milliseconds (all threads of the process) per frame, first buffer to EOS.
    pub cpu_ms_per_frame: Option<f64>,
}

/// [`throughput`] with the CPU time per frame.
pub fn measure(
    case: &Case,
    contender: &Contender,
    frames: u32,
    tail: &str,
) -> Result<Measurement, String> {
    measure_description(
        &throughput_description(case, contender, frames, tail),
        frames,
    )
    .map(|(m, _)| m)
}

/// Runs `description` (with a `fakesink name=sink`) expecting `frames` output buffers; its rate,
/// CPU per frame and the element messages it posted.
pub fn measure_description(
    description: &str,
    frames: u32,
) -> Result<(Measurement, Vec<gst::Structure>), String> {
    let output = run(description)?;
    let fps = checked_fps(&output.arrivals, frames)?;
    let cpu = output
        .cpu_at_eos
        .zip(output.arrivals.cpu_at_first)
        .map(|(end, start)| end.saturating_sub(start).as_secs_f64() * 1000.0)
        .map(|ms| ms / (output.arrivals.count - 1) as f64);
    Ok((
        Measurement {
            fps,
            cpu_ms_per_frame: cpu,
        },
        output.messages,
    ))
}

fn checked_fps(arrivals: &Arrivals, frames: u32) -> Result<f64, String> {
    if arrivals.count != u64::from(frames) {
        return Err(format!("{} of {frames} frames arrived", arrivals.count));
    }
    arrivals
        .fps()
        .ok_or_else(|| "too few frames to time".to_owned())
}

/// [`throughput`], plus the element messages the run posted.
pub fn throughput_with_messages(
    case: &Case,
    contender: &Contender,
    frames: u32,
    tail: &str,
) -> Result<(f64, Vec<gst::Structure>), String> {
    let output = run(&throughput_description(case, contender, frames, tail))?;
    let fps = checked_fps(&output.arrivals, frames)?;
    Ok((fps, output.messages))
}
