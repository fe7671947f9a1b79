// SPDX-License-Identifier: MPL-2.0
//! Shared by the integration tests: static plugin registration, test-only stand-in libraries,
//! child processes (for anything cached once per process) and what they report, one way to read a
//! bus, one buffer collector, pipeline runners, and [`skip`] for a check a test cannot run.
// Each test binary uses a part of this.
#![allow(dead_code, unused_imports, unused_macros)]

pub mod bus;
pub mod child;
pub mod collect;
pub mod gl;
pub mod skip;
pub mod stubs;

use std::path::PathBuf;
use std::sync::{Once, mpsc};
use std::time::Duration;

use gst::prelude::*;

pub use bus::{BusLog, Problem, drain_bus, read_bus, read_bus_polling, wait_for_eos};
pub(crate) use child::child_name;
pub use child::{Child, describe_output, is_child, report, run_child, run_child_under, test_name};
pub use collect::{Collected, Collector, FirstFrame};
pub use skip::skip;
pub use stubs::{
    build_stub, cuda_stub_dir, init_with_test_consumer, library_path_with, nvml_stub_dir,
    stub_as_driver_dir, stub_outstanding, stub_trace, test_plugin, toolkit_stub_dir,
};

/// How long any single wait may take before a test calls it a hang (never a timing assertion:
/// only a guard so that a deadlock fails the test instead of stalling CI).
pub const HANG: Duration = Duration::from_secs(60);

/// Initialises GStreamer and registers this crate's elements statically, so the tests do not
/// depend on `GST_PLUGIN_PATH`.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        for (key, value) in HEADLESS_GL {
            if std::env::var_os(key).is_none() {
                // SAFETY: runs once, before GStreamer (the only reader of these) starts threads.
                unsafe { std::env::set_var(key, value) };
            }
        }
        gst::init().expect("GStreamer initialises");
        gststrom::plugin_register_static().expect("strom plugin registers");
    });
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Environment for GL on the CPU: an llvmpipe context through EGL, no X server.
pub const HEADLESS_GL: [(&str, &str); 2] =
    [("GST_GL_WINDOW", "egl-device"), ("GST_GL_PLATFORM", "egl")];

/// Environment for the leaks tracer, its records on stderr without colour codes.
pub const LEAKS_TRACER: [(&str, &str); 3] = [
    ("GST_TRACERS", "leaks"),
    ("GST_DEBUG", "GST_TRACER:7"),
    ("GST_DEBUG_NO_COLOR", "1"),
];

/// Parses a gst-launch style description into a pipeline (in NULL).
pub fn launch(description: &str) -> gst::Pipeline {
    init();
    gst::parse::launch(description)
        .unwrap_or_else(|e| panic!("cannot parse '{description}': {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline")
}

/// The element called `name` in `pipeline`.
pub fn by_name(pipeline: &gst::Pipeline, name: &str) -> gst::Element {
    pipeline
        .by_name(name)
        .unwrap_or_else(|| panic!("no element {name}"))
}

/// Changes state on another thread and fails the test (instead of hanging CI) if it never
/// returns; returns what the state change returned.
pub fn try_set_state_guarded(
    element: &impl IsA<gst::Element>,
    state: gst::State,
) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
    let element = element.as_ref().clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = element.set_state(state);
        // Drop this reference before answering, so callers may check that nothing holds it.
        drop(element);
        let _ = tx.send(result);
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("hang: state change to {state:?} did not return"))
}

/// [`try_set_state_guarded`] for state changes that must succeed.
pub fn set_state_guarded(element: &impl IsA<gst::Element>, state: gst::State) {
    try_set_state_guarded(element, state)
        .unwrap_or_else(|_| panic!("state change to {state:?} failed"));
}

/// Plays `pipeline` to EOS (or error, or `patience` in all), collecting messages, then sets it to
/// NULL.
pub fn run_to_eos(pipeline: &gst::Pipeline, patience: Duration) -> BusLog {
    let bus = pipeline.bus().expect("pipeline bus");
    let mut log = if try_set_state_guarded(pipeline, gst::State::Playing).is_err() {
        // The error the failing element posted comes first; "failed to go to PLAYING" only
        // when it posted none.
        let mut log = drain_bus(&bus);
        log.append(BusLog::not_started("failed to go to PLAYING"));
        log
    } else {
        wait_for_eos(&bus, patience)
    };
    // Drain what was posted before EOS but not yet read (decisions are posted during caps).
    log.element_messages
        .extend(drain_bus(&bus).element_messages);
    set_state_guarded(pipeline, gst::State::Null);
    log
}

/// Parses and runs a gst-launch style description.
pub fn run_launch(description: &str) -> (gst::Pipeline, BusLog) {
    let pipeline = launch(description);
    let result = run_to_eos(&pipeline, HANG);
    (pipeline, result)
}

/// `appsrc ! stromautoconvert ! capsfilter ! appsink`, built and linked, in NULL.
pub struct AppChain {
    pub pipeline: gst::Pipeline,
    pub src: gst_app::AppSrc,
    pub conv: gst::Element,
    pub sink: gst_app::AppSink,
}

impl AppChain {
    /// Waits for EOS (after the caller ended the stream), then sets the pipeline to NULL.
    pub fn wait_and_stop(&self, patience: Duration) -> BusLog {
        let log = wait_for_eos(&self.pipeline.bus().expect("pipeline bus"), patience);
        set_state_guarded(&self.pipeline, gst::State::Null);
        log
    }
}

/// A buffer of `size` bytes of `fill`, at `pts`.
pub fn filled(size: usize, pts: gst::ClockTime, fill: u8) -> gst::Buffer {
    let mut buffer = gst::Buffer::with_size(size).expect("a buffer");
    {
        let b = buffer.get_mut().expect("a new buffer is writable");
        b.set_pts(pts);
        if size > 0 {
            b.map_writable().expect("a new buffer maps").fill(fill);
        }
    }
    buffer
}

/// An [`AppChain`] with the bin in `mode` and the capsfilter set to `consumer`; the appsrc is in
/// time format and the appsink does not sync, so tests run as fast as the bin converts.
pub fn app_chain(mode: &str, consumer: &str) -> AppChain {
    init();
    let pipeline = gst::Pipeline::new();
    let src = gst_app::AppSrc::builder().format(gst::Format::Time).build();
    let conv = gst::ElementFactory::make("stromautoconvert")
        .property_from_str("mode", mode)
        .build()
        .expect("stromautoconvert");
    let filter = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            consumer.parse::<gst::Caps>().expect("consumer caps"),
        )
        .build()
        .expect("capsfilter");
    let sink = gst_app::AppSink::builder().sync(false).build();
    let elements = [src.upcast_ref(), &conv, &filter, sink.upcast_ref()];
    pipeline.add_many(elements).expect("add");
    gst::Element::link_many(elements).expect("link");
    AppChain {
        pipeline,
        src,
        conv,
        sink,
    }
}

/// Gives `pipeline` the one GL display every pipeline of this test process shares. Pipelines
/// that each open their own `egl-device` display get the same EGLDisplay underneath, and the
/// first to finish terminates it under the others (`EGL_NOT_INITIALIZED`, "Could not find a
/// compatible EGLConfig") when tests run in parallel threads.
pub fn share_gl_display(pipeline: &gst::Pipeline) {
    use gst_gl::prelude::*;
    static DISPLAY: std::sync::OnceLock<gst_gl::GLDisplay> = std::sync::OnceLock::new();
    let display = DISPLAY.get_or_init(gst_gl::GLDisplay::new);
    let context = gst::Context::new(gst_gl::GL_DISPLAY_CONTEXT_TYPE, true);
    context.set_gl_display(display);
    pipeline.set_context(&context);
}

/// Deterministic pseudo-random bytes (xorshift): picture content that no converter shortcut
/// can special-case, the same on every run.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
