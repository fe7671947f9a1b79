// SPDX-License-Identifier: MPL-2.0
//! Shared by the integration tests: static plugin registration, test-only stand-in libraries,
//! child processes (for anything cached once per process), and pipeline runners.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;

use gst::prelude::*;

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

/// Compiles `tests/stubs/<source>` into a folder holding `<soname>` (and the unversioned name),
/// for use first on `LD_LIBRARY_PATH`. Stand-ins exercise error branches only; they prove nothing
/// about real GPUs.
pub fn build_stub(source: &str, soname: &str) -> PathBuf {
    // Tests run in parallel threads: build each stand-in once per test process.
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, dir)) = built.iter().find(|(s, _)| s == soname) {
        return dir.clone();
    }
    let dir = compile_stub(source, soname);
    built.push((soname.to_owned(), dir.clone()));
    dir
}

fn compile_stub(source: &str, soname: &str) -> PathBuf {
    let src = repo_root().join("tests/stubs").join(source);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("stubs")
        .join(soname);
    std::fs::create_dir_all(&dir).expect("stub dir");
    let lib = dir.join(soname);
    // Build to a unique name and rename, so parallel tests never load a half-written file.
    let tmp = dir.join(format!("{soname}.{}.tmp", std::process::id()));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall"])
        .arg(format!("-Wl,-soname,{soname}"))
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .status()
        .expect("cc runs (install gcc)");
    assert!(status.success(), "compiling {source} failed");
    std::fs::rename(&tmp, &lib).expect("install stub");
    let unversioned = soname.split(".so").next().unwrap_or(soname).to_owned() + ".so";
    let link = dir.join(unversioned);
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(soname, &link);
    }
    dir
}

/// The `libcuda.so.1` stand-in's folder.
pub fn cuda_stub_dir() -> PathBuf {
    build_stub("libcuda_stub.c", "libcuda.so.1")
}

/// The `libnvidia-ml.so.1` stand-in's folder.
pub fn nvml_stub_dir() -> PathBuf {
    build_stub("libnvidia_ml_stub.c", "libnvidia-ml.so.1")
}

/// The value of the `KEY=value` line a child printed (empty when there is none).
pub fn field(stdout: &str, key: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_owned()
}

/// Environment for GL on the CPU: an llvmpipe context through EGL, no X server.
pub const HEADLESS_GL: [(&str, &str); 2] =
    [("GST_GL_WINDOW", "egl-device"), ("GST_GL_PLATFORM", "egl")];

/// Runs test `name` of the current test binary in a fresh process with `envs`, and returns its
/// output. The child is marked `#[ignore]` and checks `STROM_TEST_CHILD` so it only runs here.
pub fn run_child(name: &str, envs: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("STROM_TEST_CHILD", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("child test runs");
    assert!(
        out.status.success(),
        "child {name} failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// True inside a child started by [`run_child`]; children return early otherwise.
pub fn is_child() -> bool {
    std::env::var_os("STROM_TEST_CHILD").is_some()
}

/// What a pipeline run produced.
#[derive(Debug, Default)]
pub struct RunResult {
    /// The first error, with its debug text.
    pub error: Option<String>,
    /// The warnings' messages.
    pub warnings: Vec<String>,
    pub element_messages: Vec<gst::Structure>,
}

impl RunResult {
    /// The `strom-autoconvert` messages, in order.
    pub fn decisions(&self) -> Vec<&gst::Structure> {
        self.element_messages
            .iter()
            .filter(|s| s.name() == "strom-autoconvert")
            .collect()
    }
}

/// Plays `pipeline` to EOS (or error, or `timeout`), collecting messages, then sets it to NULL.
pub fn run_to_eos(pipeline: &gst::Pipeline, timeout: gst::ClockTime) -> RunResult {
    let bus = pipeline.bus().expect("pipeline bus");
    let mut result = RunResult::default();
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The element that refused usually said why.
        let why = bus
            .pop_filtered(&[gst::MessageType::Error])
            .and_then(|msg| match msg.view() {
                gst::MessageView::Error(e) => Some(format!(": {} ({:?})", e.error(), e.debug())),
                _ => None,
            })
            .unwrap_or_default();
        result.error = Some(format!("failed to go to PLAYING{why}"));
    }
    while result.error.is_none() {
        let Some(msg) = bus.timed_pop(timeout) else {
            result.error = Some(format!("timed out after {timeout}"));
            break;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                result.error = Some(format!("{} ({:?})", e.error(), e.debug()));
            }
            gst::MessageView::Warning(w) => result.warnings.push(w.error().to_string()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    result.element_messages.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    // Drain what was posted before EOS but not yet read (decisions are posted during caps).
    while let Some(msg) = bus.pop() {
        if let gst::MessageView::Element(e) = msg.view()
            && let Some(s) = e.structure()
        {
            result.element_messages.push(s.to_owned());
        }
    }
    pipeline
        .set_state(gst::State::Null)
        .expect("pipeline goes to NULL");
    result
}

/// Parses and runs a gst-launch style description.
pub fn run_launch(description: &str) -> (gst::Pipeline, RunResult) {
    init();
    let pipeline = gst::parse::launch(description)
        .unwrap_or_else(|e| panic!("cannot parse '{description}': {e}"))
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let result = run_to_eos(&pipeline, gst::ClockTime::from_seconds(60));
    (pipeline, result)
}

/// `appsrc ! stromautoconvert ! capsfilter ! appsink`, built and linked, in NULL.
pub struct AppChain {
    pub pipeline: gst::Pipeline,
    pub src: gst_app::AppSrc,
    pub conv: gst::Element,
    pub sink: gst_app::AppSink,
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
