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
    once_per_process(soname, || compile_stub(source, soname))
}

fn compile_stub(source: &str, soname: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("stubs")
        .join(soname);
    compile_c(source, &dir, soname, soname, &["-lpthread"]);
    let unversioned = soname.split(".so").next().unwrap_or(soname).to_owned() + ".so";
    let link = dir.join(unversioned);
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(soname, &link);
    }
    dir
}

/// Compiles `tests/stubs/<source>` into `<dir>/<file>` as a shared object with `soname`.
fn compile_c(source: &str, dir: &Path, file: &str, soname: &str, extra: &[&str]) -> PathBuf {
    let src = repo_root().join("tests/stubs").join(source);
    std::fs::create_dir_all(dir).expect("stub dir");
    let lib = dir.join(file);
    // Build to a unique name and rename, so parallel tests never load a half-written file.
    let tmp = dir.join(format!("{file}.{}.tmp", std::process::id()));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall"])
        .arg(format!("-Wl,-soname,{soname}"))
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .args(extra)
        .status()
        .expect("cc runs (install gcc)");
    assert!(status.success(), "compiling {source} failed");
    std::fs::rename(&tmp, &lib).expect("install stub");
    lib
}

/// Builds `key` once per test process with `build`.
fn once_per_process(key: &str, build: impl FnOnce() -> PathBuf) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(k, _)| k == key) {
        return path.clone();
    }
    let path = build();
    built.push((key.to_owned(), path.clone()));
    path
}

/// A folder laid out like the CUDA toolkit's (`.../lib64/stubs/`) holding only `libcuda.so`: the
/// test-only imitation of its link-time stub (soname `libcuda.so.1`, every call answers
/// `CUDA_ERROR_STUB_LIBRARY`). Put it first on `LD_LIBRARY_PATH` to shadow the driver for any
/// loader that tries `libcuda.so` first.
pub fn toolkit_stub_dir() -> PathBuf {
    once_per_process("toolkit-stub", || {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stubs/cuda-toolkit/lib64/stubs");
        compile_c(
            "libcuda_toolkit_stub.c",
            &dir,
            "libcuda.so",
            "libcuda.so.1",
            &[],
        );
        dir
    })
}

/// A folder where that stub is `libcuda.so.1` itself (an image that symlinked the stub there).
pub fn stub_as_driver_dir() -> PathBuf {
    once_per_process("stub-as-driver", || {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stubs/stub-as-driver/stubs");
        compile_c(
            "libcuda_toolkit_stub.c",
            &dir,
            "libcuda.so.1",
            "libcuda.so.1",
            &[],
        );
        dir
    })
}

/// The test-only plugin `stromtest` (element `stromtestconsumer`, a consumer with
/// `cuda-device-id` that can refuse GL memory), built with the system GStreamer.
pub fn test_plugin() -> PathBuf {
    once_per_process("test-plugin", || {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-plugin");
        let pkg = Command::new("pkg-config")
            .args(["--cflags", "--libs", "gstreamer-1.0"])
            .output()
            .expect("pkg-config runs (install pkg-config, libgstreamer1.0-dev)");
        assert!(pkg.status.success(), "pkg-config gstreamer-1.0 failed");
        let flags = String::from_utf8_lossy(&pkg.stdout).into_owned();
        let flags: Vec<&str> = flags.split_whitespace().collect();
        compile_c(
            "gst_test_consumer.c",
            &dir,
            "libgststromtest.so",
            "libgststromtest.so",
            &flags,
        )
    })
}

/// Initialises GStreamer and registers `stromtestconsumer` (tests only).
pub fn init_with_test_consumer() {
    init();
    static LOADED: Once = Once::new();
    LOADED.call_once(|| {
        gst::Plugin::load_file(test_plugin()).expect("the test plugin loads");
    });
}

/// A symbol of the `libcuda.so.1` stand-in this process loaded (None when it is not loaded).
fn stand_in_symbol(name: &std::ffi::CStr) -> Option<*mut libc::c_void> {
    // SAFETY: RTLD_NOLOAD only looks the library up; dlsym reads the loader's tables.
    unsafe {
        let handle = libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
        if handle.is_null() {
            return None;
        }
        let sym = libc::dlsym(handle, name.as_ptr());
        (!sym.is_null()).then_some(sym)
    }
}

/// How many contexts, pushes, resources and maps the stand-in still holds (-1: not loaded).
pub fn stub_outstanding() -> i32 {
    stand_in_symbol(c"strom_stub_outstanding").map_or(-1, |sym| {
        // SAFETY: the stand-in exports this test-only counter with this signature.
        let f = unsafe { std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> i32>(sym) };
        f()
    })
}

/// The calls the stand-in saw, in order (empty: not loaded).
pub fn stub_trace() -> String {
    stand_in_symbol(c"strom_stub_trace").map_or_else(String::new, |sym| {
        // SAFETY: the stand-in exports this with this signature; the string is NUL-terminated.
        unsafe {
            let f = std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> *const libc::c_char>(sym);
            std::ffi::CStr::from_ptr(f()).to_string_lossy().into_owned()
        }
    })
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
        result.error = Some("failed to go to PLAYING".into());
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
