// SPDX-License-Identifier: MPL-2.0
//! Reliability of `stromautoconvert` as servers use it: state churn with flat memory, pipelines in
//! parallel threads, flushing seeks and EOS in PAUSED and PLAYING, teardown mid-stream, an element
//! swapped in a running pipeline, input no chain can take, malformed buffers, CUDA failing after a
//! successful interop test, and the leaks tracer over all of it. The decision logic is checked
//! against real negotiation with property-based cases.
//!
//! Short by default (CI); `STROM_SOAK=1` runs the long variants. The test-only `libcuda.so.1`
//! stand-in drives the CUDA branches; it proves nothing about real GPUs.
//!
//! One module per concern; what several of them use lives here.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod churn;
mod concurrency;
mod faults;
mod leaks;
mod property;
mod seek_eos;
mod teardown;

use gst::prelude::*;

use common::{BusLog, HANG, by_name, launch, nvml_stub_dir, set_state_guarded};

const MODES: [&str; 3] = ["auto", "software", "gl"];

/// Consumer caps that take both memories: `auto` then needs the interop test.
const BOTH_MEMORIES: &str = "video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12";

fn soak() -> bool {
    std::env::var_os("STROM_SOAK").is_some_and(|v| v != "0")
}

/// Waits for EOS on `pipeline`'s bus, without changing its state.
fn wait_eos(pipeline: &gst::Pipeline) -> BusLog {
    common::wait_for_eos(&pipeline.bus().expect("bus"), HANG)
}

/// Waits for EOS, then sets `pipeline` to NULL; the first error (or a hang) as text.
fn stop_at_eos(pipeline: &gst::Pipeline) -> Result<(), String> {
    let eos = wait_eos(pipeline).result();
    set_state_guarded(pipeline, gst::State::Null);
    eos
}

fn sink_pad(pipeline: &gst::Pipeline) -> gst::Pad {
    by_name(pipeline, "sink")
        .static_pad("sink")
        .expect("sink pad")
}

/// One pipeline of the churn (and of the parallel runs): a source of `frames` frames through the
/// GPU monitor and the bin in `mode`.
fn churn_description(mode: &str, consumer: &str, frames: usize) -> String {
    format!(
        "videotestsrc num-buffers={frames} ! video/x-raw,format=I420,width=64,height=48 ! \
         stromgpumonitor name=mon interval=100 ! stromautoconvert name=conv mode={mode} ! \
         {consumer} ! fakesink name=sink"
    )
}

/// `LD_LIBRARY_PATH` with both stand-ins: interop "works" and NVML answers for two GPUs.
fn both_stubs_path() -> String {
    format!(
        "{}:{}",
        common::cuda_stub_dir().display(),
        nvml_stub_dir().display()
    )
}

/// `appsrc ! stromautoconvert ! NV12 ! fakesink`; `caps` None leaves appsrc without caps.
fn appsrc_pipeline(
    mode: &str,
    caps: Option<&str>,
    consumer: &str,
) -> (gst::Pipeline, gst_app::AppSrc) {
    let pipeline = launch(&format!(
        "appsrc name=src format=time ! stromautoconvert name=conv mode={mode} ! {consumer} ! \
         fakesink name=sink sync=false"
    ));
    let src = by_name(&pipeline, "src")
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    if let Some(caps) = caps {
        src.set_caps(Some(&caps.parse::<gst::Caps>().unwrap()));
    }
    (pipeline, src)
}

const SMALL_I420: &str = "video/x-raw,format=I420,width=64,height=48,framerate=30/1";
const SMALL_I420_SIZE: usize = 64 * 48 * 3 / 2;

/// Frame `n` of a 30 fps stream: `size` bytes of grey.
fn frame(n: u64, size: usize) -> gst::Buffer {
    let mut buffer = common::filled(
        size,
        gst::ClockTime::from_nseconds(n * 1_000_000_000 / 30),
        0x80,
    );
    buffer
        .get_mut()
        .unwrap()
        .set_duration(gst::ClockTime::from_nseconds(1_000_000_000 / 30));
    buffer
}

/// The timestamps of frames `frames` of a 30 fps stream.
fn pts_at_30fps(frames: std::ops::Range<u64>) -> Vec<Option<gst::ClockTime>> {
    frames
        .map(|n| Some(gst::ClockTime::from_nseconds(n * 1_000_000_000 / 30)))
        .collect()
}
