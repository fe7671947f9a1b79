// SPDX-License-Identifier: MPL-2.0
//! Live table of NVIDIA GPU statistics from `stromgpumonitor`, or the reason they are unavailable.
//!
//! ```text
//! cargo run --example gpu_monitor -- [--seconds N] [--interval MS] [--device INDEX]
//! ```
//! Runs `videotestsrc is-live=true ! stromgpumonitor ! fakesink` and prints one row per
//! `strom-gpu-stats` message. Uses the installed plugin when GStreamer finds it, else registers
//! this crate's elements directly. Without `--seconds` it runs until interrupted.

use std::time::{Duration, Instant};

use gst::prelude::*;

struct Args {
    seconds: Option<u64>,
    interval_ms: u32,
    device: i32,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: None,
        interval_ms: 1000,
        device: -1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => args.seconds = Some(value()?.parse().map_err(|e| format!("{e}"))?),
            "--interval" => args.interval_ms = value()?.parse().map_err(|e| format!("{e}"))?,
            "--device" => args.device = value()?.parse().map_err(|e| format!("{e}"))?,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: gpu_monitor [--seconds N] [--interval MS] \
                     [--device INDEX]"
                ));
            }
        }
    }
    Ok(args)
}

/// A field as text, or `-` when the GPU or driver does not report it.
fn field<T: for<'a> glib::value::FromValue<'a> + std::fmt::Display + 'static>(
    s: &gst::StructureRef,
    name: &str,
) -> String {
    s.get::<T>(name).map_or("-".into(), |v| v.to_string())
}

fn mib(s: &gst::StructureRef, name: &str) -> String {
    s.get::<u64>(name)
        .map_or("-".into(), |bytes| (bytes >> 20).to_string())
}

fn print_header() {
    println!(
        "{:>3} {:<28} {:>4} {:>13} {:>4} {:>4} {:>9} {:>5} {:>7} {:>8} {:>10}",
        "GPU",
        "name",
        "gpu%",
        "mem MiB",
        "enc%",
        "dec%",
        "enc s/fps",
        "°C",
        "W",
        "proc MiB",
        "time s"
    );
}

fn print_row(s: &gst::StructureRef) {
    let running_time = s
        .get::<u64>("running-time")
        .map_or("-".into(), |ns| format!("{:.1}", ns as f64 / 1e9));
    if !s.get::<bool>("available").unwrap_or(false) {
        let reason = s.get::<&str>("reason").unwrap_or("unknown");
        let fix = s.get::<&str>("fix").unwrap_or("");
        match s.get::<u32>("index") {
            Ok(index) => println!("{index:>3} GPU statistics unavailable: {reason} (fix: {fix})"),
            Err(_) => println!("GPU statistics unavailable: {reason}\n  fix: {fix}"),
        }
        return;
    }
    println!(
        "{:>3} {:<28} {:>4} {:>13} {:>4} {:>4} {:>9} {:>5} {:>7} {:>8} {:>10}",
        field::<u32>(s, "index"),
        field::<String>(s, "name"),
        field::<u32>(s, "gpu-util"),
        format!("{}/{}", mib(s, "memory-used"), mib(s, "memory-total")),
        field::<u32>(s, "encoder-util"),
        field::<u32>(s, "decoder-util"),
        format!(
            "{}/{}",
            field::<u32>(s, "encoder-sessions"),
            field::<u32>(s, "encoder-fps")
        ),
        field::<u32>(s, "temperature"),
        s.get::<f64>("power-watts")
            .map_or("-".into(), |w| format!("{w:.1}")),
        mib(s, "process-memory-used"),
        running_time,
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    gst::init()?;
    if gst::ElementFactory::find("stromgpumonitor").is_none() {
        gststrom::plugin_register_static()?;
    }

    let pipeline = gst::parse::launch(&format!(
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! \
         stromgpumonitor interval={} device={} ! fakesink",
        args.interval_ms, args.device
    ))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline")?;
    let bus = pipeline.bus().ok_or("pipeline without a bus")?;
    pipeline.set_state(gst::State::Playing)?;

    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut rows = 0u32;
    let result = loop {
        let wait = match deadline {
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) => gst::ClockTime::try_from(left).ok(),
                None => break Ok(()),
            },
            None => gst::ClockTime::NONE,
        };
        let Some(msg) = bus.timed_pop(wait) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "strom-gpu-stats") {
                    if rows.is_multiple_of(20) && s.get::<bool>("available").unwrap_or(false) {
                        print_header();
                    }
                    rows += 1;
                    print_row(s);
                }
            }
            gst::MessageView::Warning(w) => eprintln!("warning: {} ({:?})", w.error(), w.debug()),
            gst::MessageView::Error(e) => {
                break Err(format!("{} ({:?})", e.error(), e.debug()));
            }
            gst::MessageView::Eos(_) => break Ok(()),
            _ => {}
        }
    };
    pipeline.set_state(gst::State::Null)?;
    Ok(result?)
}
