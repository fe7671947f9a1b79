// SPDX-License-Identifier: MPL-2.0
//! Transcodes a test pattern to H.264 in MP4 through `stromautoconvert`, on the GPU when it can.
//!
//! videotestsrc → stromautoconvert → nvh264enc (or x264enc without one) → h264parse → mp4mux →
//! filesink. `stromautoconvert` chooses GL (zero-copy into NVENC) or software conversion and posts
//! a `strom-autoconvert` element message saying which and why; this app prints it.
//!
//! Run: `cargo run --example transcode -- --frames 300 --output out.mp4`. Without an installed
//! `strom` plugin this build's copy is registered, so no `GST_PLUGIN_PATH` is needed.

use std::process::ExitCode;

use gst::prelude::*;

const USAGE: &str = "Usage: transcode [--frames N] [--output PATH]";

struct Options {
    frames: u32,
    output: String,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        frames: 300,
        output: "transcode.mp4".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--frames" => {
                let frames = value()?;
                options.frames = frames
                    .parse()
                    .map_err(|_| format!("--frames takes a number, not '{frames}'"))?;
            }
            "--output" => options.output = value()?,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    Ok(options)
}

/// Initialises GStreamer and makes `stromautoconvert` available: the installed plugin when
/// GStreamer finds one, else this build's copy (registering both would clash).
fn init() -> Result<(), String> {
    gst::init().map_err(|err| format!("GStreamer could not initialise: {err}"))?;
    if gst::ElementFactory::find("stromautoconvert").is_none() {
        gststrom::plugin_register_static()
            .map_err(|err| format!("the strom plugin could not register: {err}"))?;
    }
    Ok(())
}

/// `nvh264enc` when nvcodec registered it (a GPU with NVENC is there), else `x264enc`.
fn pick_encoder() -> &'static str {
    if gst::ElementFactory::find("nvh264enc").is_some() {
        "nvh264enc"
    } else {
        "x264enc"
    }
}

fn build_pipeline(options: &Options, encoder: &str) -> Result<gst::Pipeline, String> {
    let make = |factory: &str| {
        gst::ElementFactory::make(factory)
            .build()
            .map_err(|_| format!("element '{factory}' is missing (run strom-doctor)"))
    };
    let source = gst::ElementFactory::make("videotestsrc")
        .property(
            "num-buffers",
            i32::try_from(options.frames).unwrap_or(i32::MAX),
        )
        .build()
        .map_err(|_| "element 'videotestsrc' is missing".to_owned())?;
    let convert = make("stromautoconvert")?;
    let encode = make(encoder)?;
    let parse = make("h264parse")?;
    let mux = make("mp4mux")?;
    let sink = gst::ElementFactory::make("filesink")
        .property("location", &options.output)
        .build()
        .map_err(|_| "element 'filesink' is missing".to_owned())?;

    let pipeline = gst::Pipeline::new();
    let chain = [&source, &convert, &encode, &parse, &mux, &sink];
    pipeline
        .add_many(chain)
        .map_err(|err| format!("cannot build the pipeline: {err}"))?;
    gst::Element::link_many(chain).map_err(|err| format!("cannot link the pipeline: {err}"))?;
    Ok(pipeline)
}

/// Plays until end of stream, printing the converter's decision; `Err` on a pipeline error.
fn run(pipeline: &gst::Pipeline) -> Result<(), String> {
    let bus = pipeline.bus().ok_or("the pipeline has no bus")?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(bus_error(&bus).unwrap_or_else(|| "the pipeline cannot start".to_owned()));
    }
    for message in bus.iter_timed(gst::ClockTime::NONE) {
        match message.view() {
            gst::MessageView::Eos(_) => return Ok(()),
            gst::MessageView::Error(err) => {
                return Err(format!(
                    "{} ({})",
                    err.error(),
                    err.debug().unwrap_or_default()
                ));
            }
            gst::MessageView::Element(element) => {
                if let Some(s) = element.structure()
                    && s.name() == "strom-autoconvert"
                {
                    print_decision(s);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The converter's decision, one field a line: what was chosen and why.
fn print_decision(decision: &gst::StructureRef) {
    println!("strom-autoconvert:");
    for field in [
        "path",
        "chain",
        "reason",
        "interop-status",
        "cuda-error",
        "gl-renderer",
    ] {
        if let Ok(value) = decision.get::<String>(field) {
            println!("  {field}: {value}");
        }
    }
}

fn bus_error(bus: &gst::Bus) -> Option<String> {
    let message = bus.pop_filtered(&[gst::MessageType::Error])?;
    match message.view() {
        gst::MessageView::Error(err) => Some(err.error().to_string()),
        _ => None,
    }
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = init() {
        eprintln!("transcode: {err}");
        return ExitCode::FAILURE;
    }
    let encoder = pick_encoder();
    println!("encoder: {encoder}");
    let result = build_pipeline(&options, encoder).and_then(|pipeline| {
        let result = run(&pipeline);
        let _ = pipeline.set_state(gst::State::Null);
        result
    });
    match result {
        Ok(()) => {
            println!("wrote {} frames to {}", options.frames, options.output);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("transcode: {err}");
            ExitCode::FAILURE
        }
    }
}
