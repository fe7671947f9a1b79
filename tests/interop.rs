// SPDX-License-Identifier: MPL-2.0
//! The interop verdict must be the encoder's: the driver nvcodec opens (`libcuda.so.1`, never a
//! stub `libcuda.so` earlier on the path), the consumer's CUDA device, one verdict per (GL
//! display, CUDA device), and the consumer's own answer to the first GL frames as the final
//! judge. WSL2 detection as Strom does it.
//!
//! No GPU here: the test-only `libcuda.so.1` stand-in (several devices, a chosen set behind the
//! GL context, error codes per device, a call trace), an imitation of the CUDA toolkit's stub
//! `libcuda.so`, and the test-only consumer element `stromtestconsumer` (a plugin built by the
//! tests; it has `cuda-device-id` and can answer GL buffers with `GST_FLOW_ERROR`) drive the real
//! code. They prove the branches, not that any GPU works. Everything cached per process runs in a
//! child process (`common::run_child`).

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use gst::prelude::*;

use serde::{Deserialize, Serialize};

use common::{child_name, is_child, run_child};

/// The consumer's caps as a capsfilter: takes both memories, has no `cuda-device-id`.
const BOTH_MEMORIES: &str = "video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12";
const SOURCE: &str =
    "videotestsrc num-buffers=12 ! video/x-raw,format=I420,width=160,height=120,framerate=30/1";

/// `<SOURCE> ! stromautoconvert <props> ! <consumer> ! fakesink name=out`.
fn pipeline(props: &str, consumer: &str) -> String {
    format!(
        "{SOURCE} ! stromautoconvert name=conv {props} ! {consumer} ! fakesink name=out sync=false"
    )
}

fn consumer_on(device: u32, refuse_gl: bool) -> String {
    format!("stromtestconsumer name=c cuda-device-id={device} refuse-gl={refuse_gl}")
}

// ---------------------------------------------------------------------------------------------
// The child: runs the pipelines of STROM_TEST_PIPELINES (separated by `|`) one after the other in
// one process and prints what each decided, delivered and posted.

#[test]
#[ignore = "run by the tests below in their own process"]
fn child_pipelines() {
    if !is_child() {
        return;
    }
    common::init_with_test_consumer();
    let descriptions = std::env::var("STROM_TEST_PIPELINES").unwrap();
    let touch_after: Option<usize> = std::env::var("STROM_TEST_TOUCH_AFTER")
        .ok()
        .and_then(|v| v.parse().ok());
    let runs = descriptions
        .split('|')
        .enumerate()
        .map(|(i, description)| run_one(description.trim(), touch_after.filter(|_| i == 0)))
        .collect();
    let report = Report {
        runs,
        interop_runs: gststrom::gpu::interop::run_count(),
        trace: common::stub_trace(),
        outstanding: common::stub_outstanding(),
        // What a loader that tries `libcuda.so` first would have got (done last: loading the
        // stub could shadow the driver for later lookups).
        dev_name_cuinit: dev_name_cuinit(),
    };
    common::report(&report);
}

/// What the child saw, for the parent.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    runs: Vec<Run>,
    /// How many interop tests the process ran.
    interop_runs: usize,
    /// The calls the stand-in saw, in order.
    trace: String,
    /// Contexts, pushes, resources and maps the stand-in still holds.
    outstanding: i32,
    /// cuInit's answer from whatever `dlopen("libcuda.so")` opens, or `none`.
    dev_name_cuinit: String,
}

/// One pipeline's run.
#[derive(Debug, Serialize, Deserialize)]
struct Run {
    error: Option<String>,
    warnings: Vec<String>,
    /// The `strom-autoconvert` messages, serialised.
    decisions: Vec<String>,
    /// The sink's buffers' timestamps in ms (-1: none).
    pts: Vec<i64>,
    /// What `stromtestconsumer` counted, when the pipeline has one.
    consumer: Option<Consumer>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Consumer {
    refused: u32,
    accepted_gl: u32,
    accepted_system: u32,
}

/// cuInit of whatever `dlopen("libcuda.so")` opens, or `none`.
fn dev_name_cuinit() -> String {
    // SAFETY: test-only: opens the library a careless loader would open and calls its cuInit.
    unsafe {
        let handle = libc::dlopen(c"libcuda.so".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if handle.is_null() {
            return "none".into();
        }
        let sym = libc::dlsym(handle, c"cuInit".as_ptr());
        if sym.is_null() {
            return "none".into();
        }
        let cu_init = std::mem::transmute::<*mut libc::c_void, extern "C" fn(u32) -> i32>(sym);
        cu_init(0).to_string()
    }
}

fn run_one(description: &str, touch_after: Option<usize>) -> Run {
    let pipeline = gst::parse::launch(description)
        .unwrap_or_else(|e| panic!("cannot parse '{description}': {e}"))
        .downcast::<gst::Pipeline>()
        .unwrap();
    let pts = Arc::new(Mutex::new(Vec::new()));
    let p = pts.clone();
    let break_file = std::env::var("STROM_STUB_CUDA_BREAK_FILE")
        .ok()
        .map(PathBuf::from);
    let out = pipeline.by_name("out").expect("a sink named out");
    out.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(buffer) = info.buffer() {
                let mut seen = p.lock().unwrap();
                seen.push(buffer.pts().map_or(-1, |t| t.mseconds() as i64));
                if touch_after == Some(seen.len())
                    && let Some(file) = &break_file
                {
                    std::fs::write(file, b"broken").unwrap();
                }
            }
            gst::PadProbeReturn::Ok
        });
    let result = common::run_to_eos(&pipeline, common::HANG);
    let consumer = pipeline.by_name("c").map(|c| Consumer {
        refused: c.property("refused"),
        accepted_gl: c.property("accepted-gl"),
        accepted_system: c.property("accepted-system"),
    });
    let pts = std::mem::take(&mut *pts.lock().unwrap());
    Run {
        error: result.error(),
        warnings: result.warning_messages(),
        decisions: result.decisions().iter().map(|d| d.to_string()).collect(),
        pts,
        consumer,
    }
}

/// What one child run reported, with helpers to read it.
struct Child(Report);

impl Child {
    fn run(&self, pipeline: usize) -> &Run {
        &self.0.runs[pipeline]
    }

    fn consumer(&self, pipeline: usize) -> &Consumer {
        self.run(pipeline)
            .consumer
            .as_ref()
            .unwrap_or_else(|| panic!("pipeline {pipeline} has no stromtestconsumer"))
    }

    fn warnings(&self, pipeline: usize) -> String {
        self.run(pipeline).warnings.join(" | ")
    }

    fn pts(&self, pipeline: usize) -> String {
        let pts: Vec<String> = self.run(pipeline).pts.iter().map(i64::to_string).collect();
        pts.join(",")
    }

    fn decision(&self, pipeline: usize, n: usize) -> gst::Structure {
        self.decisions(pipeline)
            .get(n)
            .cloned()
            .unwrap_or_else(|| panic!("no decision {n} of pipeline {pipeline} in {:?}", self.0))
    }

    fn decisions(&self, pipeline: usize) -> Vec<gst::Structure> {
        self.run(pipeline)
            .decisions
            .iter()
            .map(|d| d.parse().expect("a decision structure"))
            .collect()
    }

    fn paths(&self, pipeline: usize) -> Vec<String> {
        self.decisions(pipeline)
            .iter()
            .map(|d| d.get::<String>("path").unwrap())
            .collect()
    }
}

fn s(decision: &gst::Structure, name: &str) -> String {
    decision
        .get::<String>(name)
        .unwrap_or_else(|_| panic!("no {name} in {decision}"))
}

/// Runs `pipelines` in one child with `library_path` as `LD_LIBRARY_PATH` and `envs`.
fn run(pipelines: &[String], library_path: &[PathBuf], envs: &[(&str, &str)]) -> Child {
    common::init_with_test_consumer();
    let library_path = std::env::join_paths(library_path).unwrap();
    let joined = pipelines.join(" | ");
    let mut all: Vec<(&str, &str)> = vec![
        ("LD_LIBRARY_PATH", library_path.to_str().unwrap()),
        ("STROM_TEST_PIPELINES", &joined),
    ];
    all.extend_from_slice(envs);
    Child(run_child(&child_name!(child_pipelines), &all).report())
}

fn stand_in() -> PathBuf {
    common::cuda_stub_dir()
}

fn expected_pts() -> String {
    (0..12u64)
        .map(|n| (n * 1000 / 30).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------------------------
// (1) libcuda.so.1 only

#[test]
fn a_stub_libcuda_so_first_on_the_path_is_reported_but_does_not_decide() {
    let child = run(
        &[pipeline("", BOTH_MEMORIES)],
        &[common::toolkit_stub_dir(), stand_in()],
        &[],
    );
    // A loader trying libcuda.so first gets the stub: what cudarc's did.
    assert_eq!(child.0.dev_name_cuinit, "34", "{:?}", child.0);
    let decision = child.decision(0, 0);
    assert_eq!(s(&decision, "path"), "gl", "{decision}");
    assert_eq!(s(&decision, "interop-status"), "ok");
    let reason = s(&decision, "reason");
    assert!(
        reason.contains("note: libcuda.so on the loader path is")
            && reason.contains("cuda-toolkit/lib64/stubs/libcuda.so")
            && reason.contains("CUDA_ERROR_STUB_LIBRARY")
            && reason.contains("opens only libcuda.so.1"),
        "{reason}"
    );
}

#[test]
fn the_stub_alone_is_no_driver_and_is_named() {
    let empty = std::env::temp_dir().join("strom-no-cuda");
    std::fs::create_dir_all(&empty).unwrap();
    let child = run(
        &[pipeline("", BOTH_MEMORIES)],
        &[common::toolkit_stub_dir(), empty],
        &[],
    );
    let decision = child.decision(0, 0);
    if s(&decision, "interop-status") == "ok" {
        // ld.so.cache finds the real driver, whatever the library path says.
        return common::skip("a real CUDA driver is installed: the stub alone cannot be tested");
    }
    assert_eq!(s(&decision, "path"), "software");
    assert_eq!(
        s(&decision, "interop-status"),
        "unavailable: libcuda.so.1 not found"
    );
    assert!(
        s(&decision, "reason").contains("link-time stub"),
        "{decision}"
    );
}

#[test]
fn the_stub_installed_as_libcuda_so_1_says_it_is_the_stub() {
    let child = run(
        &[pipeline("", BOTH_MEMORIES)],
        &[common::stub_as_driver_dir()],
        &[],
    );
    let decision = child.decision(0, 0);
    assert_eq!(s(&decision, "path"), "software");
    assert_eq!(
        s(&decision, "interop-status"),
        "unavailable: CUDA_ERROR_STUB_LIBRARY"
    );
    assert_eq!(s(&decision, "cuda-error"), "CUDA_ERROR_STUB_LIBRARY");
}

// ---------------------------------------------------------------------------------------------
// (2) the consumer's device, a context made as nvcodec makes it

#[test]
fn the_test_runs_on_the_consumers_device_in_nvcodec_order() {
    let child = run(
        &[pipeline("", &consumer_on(1, false))],
        &[stand_in()],
        &[
            ("STROM_STUB_CUDA_DEVICES", "2"),
            ("STROM_STUB_CUDA_GL_DEVICE_LIST", "1"),
        ],
    );
    let decision = child.decision(0, 0);
    assert_eq!(s(&decision, "path"), "gl", "{decision}");
    assert_eq!(decision.get::<i32>("cuda-device").unwrap(), 1);
    assert_eq!(s(&decision, "gl-devices"), "1");
    assert_eq!(child.consumer(0).accepted_gl, 12);
    assert_eq!(child.pts(0), expected_pts());
    // gstcudacontext.c: cuCtxCreate on the device, popped; gstnvbaseenc.c, in the GL thread:
    // pushed, registered without flags, mapped read-only, pointer, unmapped, unregistered.
    let trace = child.0.trace;
    let probe: Vec<&str> = trace
        .split(' ')
        .skip_while(|c| *c != "cuGLGetDevices")
        .take(14)
        .collect();
    assert_eq!(
        probe,
        [
            "cuGLGetDevices",
            "cuDeviceGet(1)",
            "cuCtxCreate(1)",
            "cuCtxPopCurrent",
            "cuCtxPushCurrent(1)",
            "cuGraphicsGLRegisterBuffer(1,flags=0)",
            "cuGraphicsResourceSetMapFlags(flags=1)",
            "cuGraphicsMapResources(1)",
            "cuGraphicsResourceGetMappedPointer",
            "cuGraphicsUnmapResources",
            "cuGraphicsUnregisterResource",
            "cuCtxPopCurrent",
            "cuCtxDestroy(1)",
            "cuGLGetDevices",
        ],
        "{trace}"
    );
    assert!(trace.starts_with("cuInit cuDeviceGetCount"), "{trace}");
    assert_eq!(child.0.outstanding, 0, "a context or resource leaked");
}

#[test]
fn without_a_cuda_device_id_the_first_device_behind_gl_is_tested() {
    let child = run(
        &[pipeline("", BOTH_MEMORIES)],
        &[stand_in()],
        &[
            ("STROM_STUB_CUDA_DEVICES", "3"),
            ("STROM_STUB_CUDA_GL_DEVICE_LIST", "2,0"),
        ],
    );
    let decision = child.decision(0, 0);
    assert_eq!(decision.get::<i32>("cuda-device").unwrap(), 2);
    assert_eq!(s(&decision, "gl-devices"), "2,0");
    assert!(child.0.trace.contains("cuCtxCreate(2)"));
}

#[test]
fn a_consumer_on_another_gpu_than_gl_is_tested_on_its_own_device() {
    // GL renders on CUDA device 1, the encoder sits on device 0, where registration fails.
    let child = run(
        &[pipeline("", &consumer_on(0, false))],
        &[stand_in()],
        &[
            ("STROM_STUB_CUDA_DEVICES", "2"),
            ("STROM_STUB_CUDA_GL_DEVICE_LIST", "1"),
            ("STROM_STUB_CUDA_REGISTER_DEV0", "304"),
        ],
    );
    let decision = child.decision(0, 0);
    assert_eq!(s(&decision, "path"), "software", "{decision}");
    assert_eq!(
        s(&decision, "interop-status"),
        "failed: CUDA_ERROR_OPERATING_SYSTEM"
    );
    assert_eq!(decision.get::<i32>("cuda-device").unwrap(), 0);
    assert_eq!(s(&decision, "gl-devices"), "1");
    assert_eq!(child.consumer(0).accepted_system, 12);

    // The same hosts with the failure on the GL GPU instead: the encoder's device decides.
    let child = run(
        &[pipeline("", &consumer_on(0, false))],
        &[stand_in()],
        &[
            ("STROM_STUB_CUDA_DEVICES", "2"),
            ("STROM_STUB_CUDA_GL_DEVICE_LIST", "1"),
            ("STROM_STUB_CUDA_REGISTER_DEV1", "304"),
        ],
    );
    assert_eq!(s(&child.decision(0, 0), "path"), "gl");
}

#[test]
fn a_cuda_device_id_beyond_the_devices_fails_with_the_cuda_error() {
    let child = run(
        &[pipeline("", &consumer_on(5, false))],
        &[stand_in()],
        &[("STROM_STUB_CUDA_DEVICES", "2")],
    );
    let decision = child.decision(0, 0);
    assert_eq!(s(&decision, "path"), "software");
    assert_eq!(
        s(&decision, "interop-status"),
        "failed: CUDA_ERROR_INVALID_DEVICE"
    );
    assert_eq!(decision.get::<i32>("cuda-device").unwrap(), 5);
}

#[test]
fn the_consumer_is_found_through_queues_and_capsfilters() {
    let consumer = format!(
        "queue ! capsfilter caps=\"{BOTH_MEMORIES}\" ! {}",
        consumer_on(1, false)
    );
    let child = run(
        &[pipeline("", &consumer)],
        &[stand_in()],
        &[
            ("STROM_STUB_CUDA_DEVICES", "2"),
            ("STROM_STUB_CUDA_GL_DEVICES", "2"),
        ],
    );
    assert_eq!(child.decision(0, 0).get::<i32>("cuda-device").unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// (3) one verdict per (GL display, CUDA device)

#[test]
fn each_device_gets_its_own_test_and_the_same_device_reuses_it() {
    let pipelines = [
        pipeline("", &consumer_on(0, false)),
        pipeline("", &consumer_on(1, false)),
        pipeline("", &consumer_on(0, false)),
        // No cuda-device-id: the first device behind GL, device 0, tested already.
        pipeline("", BOTH_MEMORIES),
        pipeline("", &consumer_on(1, false)),
    ];
    let child = run(
        &pipelines,
        &[stand_in()],
        &[
            ("STROM_STUB_CUDA_DEVICES", "2"),
            ("STROM_STUB_CUDA_GL_DEVICES", "2"),
        ],
    );
    let probe_ms: Vec<f64> = (0..5)
        .map(|i| child.decision(i, 0).get::<f64>("probe-ms").unwrap())
        .collect();
    let devices: Vec<i32> = (0..5)
        .map(|i| child.decision(i, 0).get::<i32>("cuda-device").unwrap())
        .collect();
    println!("probe-ms per pipeline (devices {devices:?}): {probe_ms:?}");
    assert_eq!(devices, [0, 1, 0, 0, 1]);
    assert!(probe_ms[0] > 0.0 && probe_ms[1] > 0.0, "{probe_ms:?}");
    assert_eq!(&probe_ms[2..], [0.0, 0.0, 0.0], "{probe_ms:?}");
    assert_eq!(child.0.interop_runs, 2);
    for i in 0..5 {
        assert_eq!(child.paths(i), ["gl"], "pipeline {i}");
    }
}

#[test]
fn cuda_lost_on_one_device_revokes_that_device_only() {
    let break_file =
        std::env::temp_dir().join(format!("strom-gl-device-lost-{}", std::process::id()));
    let _ = std::fs::remove_file(&break_file);
    let live = "videotestsrc num-buffers=12 is-live=true ! video/x-raw,format=I420,width=160,height=120,framerate=30/1";
    let on = |device: u32| {
        format!(
            "{live} ! stromautoconvert name=conv cuda-check-interval=1 ! {} ! fakesink name=out sync=false",
            consumer_on(device, false)
        )
    };
    let child = run(
        &[on(0), on(0), on(1)],
        &[stand_in()],
        &[
            ("STROM_STUB_CUDA_DEVICES", "2"),
            ("STROM_STUB_CUDA_GL_DEVICE_LIST", "0,1"),
            // Once the file exists, device 0 is no longer behind the GL context.
            ("STROM_STUB_CUDA_BREAK_GL_DEVICE_LIST", "1"),
            ("STROM_STUB_CUDA_BREAK_FILE", break_file.to_str().unwrap()),
            ("STROM_TEST_TOUCH_AFTER", "4"),
        ],
    );
    let _ = std::fs::remove_file(&break_file);
    assert_eq!(child.paths(0), ["gl", "software"], "{:?}", child.0);
    // A live source stamps running time: 12 frames, each once, in order.
    let pts: Vec<i64> = child
        .pts(0)
        .split(',')
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(pts.len(), 12, "frames lost or duplicated: {pts:?}");
    assert!(pts.windows(2).all(|w| w[1] > w[0]), "{pts:?}");
    assert_eq!(child.run(0).error, None);
    assert!(
        child
            .warnings(0)
            .contains("CUDA device 0 is no longer behind the GL context"),
        "{}",
        child.warnings(0)
    );
    // Device 0 is known to be lost: software at once, without a new test.
    let after = child.decision(1, 0);
    assert_eq!(s(&after, "path"), "software");
    assert!(
        s(&after, "interop-status").starts_with("failed: "),
        "{after}"
    );
    // Device 1 keeps its own verdict, tested now.
    let other = child.decision(2, 0);
    assert_eq!(s(&other, "path"), "gl", "{other}");
    assert_eq!(other.get::<i32>("cuda-device").unwrap(), 1);
    assert_eq!(child.0.interop_runs, 2);
}

// ---------------------------------------------------------------------------------------------
// (4) the consumer is the final judge

#[test]
fn a_consumer_refusing_gl_memory_gets_software_without_losing_a_frame() {
    let pipelines = [
        pipeline("", &consumer_on(0, true)),
        // Later pipelines on that display and device know at once.
        pipeline("", &consumer_on(0, true)),
        // Another device has its own verdict.
        pipeline("", &consumer_on(1, false)),
    ];
    let child = run(
        &pipelines,
        &[stand_in()],
        &[
            ("STROM_STUB_CUDA_DEVICES", "2"),
            ("STROM_STUB_CUDA_GL_DEVICES", "2"),
        ],
    );
    assert_eq!(child.run(0).error, None, "{:?}", child.0);
    assert_eq!(child.paths(0), ["gl", "software"]);
    assert_eq!(child.pts(0), expected_pts(), "frames lost or duplicated");
    assert_eq!(child.consumer(0).refused, 1);
    assert_eq!(child.consumer(0).accepted_gl, 0);
    assert_eq!(child.consumer(0).accepted_system, 12);
    let switched = child.decision(0, 1);
    let reason = s(&switched, "reason");
    assert!(
        reason.contains("c (stromtestconsumer) refused the first GL frame (GST_FLOW_ERROR)")
            && reason.contains("interop test had passed on CUDA device 0"),
        "{reason}"
    );
    assert_eq!(
        s(&switched, "interop-status"),
        "failed: stromtestconsumer refused GL memory"
    );
    assert!(!switched.get::<bool>("interop").unwrap());
    assert!(
        child.warnings(0).contains("refused the first GL frame")
            && child
                .warnings(0)
                .contains("continuing with software conversion"),
        "{}",
        child.warnings(0)
    );

    let again = child.decision(1, 0);
    assert_eq!(child.paths(1), ["software"]);
    assert_eq!(again.get::<f64>("probe-ms").unwrap(), 0.0);
    assert_eq!(
        s(&again, "interop-status"),
        "failed: stromtestconsumer refused GL memory"
    );
    assert_eq!(child.consumer(1).refused, 0);

    assert_eq!(child.paths(2), ["gl"]);
    assert_eq!(child.consumer(2).accepted_gl, 12);
    assert_eq!(child.0.interop_runs, 2);
}

#[test]
fn gl_mode_with_a_refusing_consumer_fails_loudly() {
    let child = run(
        &[pipeline("mode=gl", &consumer_on(0, true))],
        &[stand_in()],
        &[],
    );
    let error = child.run(0).error.clone().unwrap_or_default();
    assert!(
        error.contains(
            "c (stromtestconsumer) refused GL memory (GST_FLOW_ERROR on the first GL frame)"
        ) && error.contains("mode=gl does not fall back"),
        "{error}"
    );
    assert_eq!(child.paths(0), ["gl"]);
}

#[test]
fn a_refusal_after_gl_frames_were_accepted_is_not_a_verdict() {
    // A consumer that accepted GL frames and fails later has not refused GL memory: its error
    // goes upstream as it is (here it never fails, so every frame is GL).
    let child = run(&[pipeline("", &consumer_on(0, false))], &[stand_in()], &[]);
    assert_eq!(child.paths(0), ["gl"]);
    assert_eq!(child.consumer(0).accepted_gl, 12);
    assert_eq!(child.consumer(0).refused, 0);
}

// ---------------------------------------------------------------------------------------------
// (5) WSL2

#[test]
fn wsl_interop_marks_wsl2() {
    let child = run(
        &[pipeline("", BOTH_MEMORIES)],
        &[stand_in()],
        &[("WSL_INTEROP", "/run/WSL/1_interop")],
    );
    let decision = child.decision(0, 0);
    assert_eq!(s(&decision, "interop-status"), "skipped: WSL2");
    assert_eq!(s(&decision, "path"), "software");
    assert!(
        !child.0.trace.contains("cuInit"),
        "WSL2 is detected before CUDA is touched"
    );
}
