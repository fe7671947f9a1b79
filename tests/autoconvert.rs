// SPDX-License-Identifier: MPL-2.0
//! `stromautoconvert` in real pipelines: both paths, every mode, the decision and its message,
//! renegotiation, state churn, bad input, and the interop-test branches driven by the test-only
//! `libcuda.so.1` stand-in (which proves the code paths, not that any GPU works).

mod common;

use gst::prelude::*;
use serde::{Deserialize, Serialize};

use common::{
    BusLog, Collected, Collector, FirstFrame, HANG, HEADLESS_GL, by_name, child_name, init,
    is_child, launch, read_bus, report, run_child, run_launch,
};

/// Runs `description`, which ends in an appsink called `sink`, to EOS and collects what the
/// appsink got (with the first frame's bytes).
fn run_collecting(description: &str) -> (Collected, BusLog, gst::Pipeline) {
    let pipeline = launch(description);
    let appsink = by_name(&pipeline, "sink")
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let collector = Collector::on_appsink(&appsink, FirstFrame::Copy);
    let result = common::run_to_eos(&pipeline, HANG);
    (collector.collected(), result, pipeline)
}

/// Runs `<source> ! stromautoconvert <props> ! <out_caps> ! appsink` and collects the output.
fn convert(source: &str, props: &str, out_caps: &str) -> (Collected, BusLog, gst::Element) {
    let (collected, result, pipeline) = run_collecting(&format!(
        "{source} ! stromautoconvert name=conv {props} ! {out_caps} ! appsink name=sink sync=false"
    ));
    (collected, result, by_name(&pipeline, "conv"))
}

fn format_of(caps: &gst::Caps) -> String {
    caps.structure(0)
        .and_then(|s| s.get::<String>("format").ok())
        .unwrap_or_default()
}

fn is_gl_memory(caps: &gst::Caps) -> bool {
    caps.features(0)
        .is_some_and(|f| f.contains("memory:GLMemory"))
}

fn assert_converted(
    source: &str,
    props: &str,
    out_caps: &str,
    frames: usize,
    format: &str,
) -> gst::Element {
    let (out, result, conv) = convert(source, props, out_caps);
    assert!(result.error().is_none(), "{props}: {:?}", result.error());
    assert_eq!(out.buffers(), frames, "{props}: output buffer count");
    assert_eq!(format_of(&out.caps[0]), format, "{props}: output format");
    conv
}

#[test]
fn the_pipeline_stock_autovideoconvert_fails_passes_in_every_mode() {
    for mode in ["auto", "software", "gl"] {
        assert_converted(
            "videotestsrc num-buffers=10 ! video/x-raw,format=I420,width=320,height=240",
            &format!("mode={mode}"),
            "video/x-raw,format=NV12",
            10,
            "NV12",
        );
    }
}

#[test]
fn software_path_converts_and_keeps_every_buffer() {
    for (input, frames) in [("I420", 10), ("BGRx", 10), ("NV12", 10)] {
        let conv = assert_converted(
            &format!(
                "videotestsrc num-buffers={frames} ! video/x-raw,format={input},width=320,height=240"
            ),
            "mode=software",
            "video/x-raw,format=NV12",
            frames,
            "NV12",
        );
        assert_eq!(conv.property::<String>("active-path"), "software");
    }
}

#[test]
fn software_path_handles_1080p() {
    let (out, result, _) = convert(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=1920,height=1080",
        "mode=software n-threads=2",
        "video/x-raw,format=NV12",
    );
    assert!(result.error().is_none(), "{:?}", result.error());
    assert_eq!(out.buffers(), 5);
    let s = out.caps[0].structure(0).unwrap();
    assert_eq!(s.get::<i32>("width").unwrap(), 1920);
    assert_eq!(s.get::<i32>("height").unwrap(), 1080);
    assert_eq!(out.first.unwrap().len(), 1920 * 1080 * 3 / 2);
}

#[test]
fn nv12_to_nv12_is_passthrough_on_the_software_path() {
    let (out, result, _) = convert(
        "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,format=NV12,width=64,height=48",
        "mode=software",
        "video/x-raw,format=NV12",
    );
    assert!(result.error().is_none());
    assert_eq!(out.buffers(), 3);
    let (reference, _, _) = convert(
        "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,format=NV12,width=64,height=48",
        "mode=software",
        "identity",
    );
    assert_eq!(
        out.first, reference.first,
        "passthrough must not alter bytes"
    );
}

#[test]
fn gl_path_outputs_gl_memory_nv12_from_i420_and_rgba() {
    for input in ["I420", "RGBA"] {
        let (out, result, conv) = convert(
            &format!(
                "videotestsrc num-buffers=5 ! video/x-raw,format={input},width=320,height=240"
            ),
            "mode=gl",
            "video/x-raw(memory:GLMemory),format=NV12",
        );
        assert!(result.error().is_none(), "{input}: {:?}", result.error());
        assert_eq!(out.buffers(), 5, "{input}");
        assert!(is_gl_memory(&out.caps[0]), "{input}: {}", out.caps[0]);
        assert_eq!(format_of(&out.caps[0]), "NV12");
        assert_eq!(conv.property::<String>("active-path"), "gl");
        let decision = &result.decisions()[0];
        assert!(decision.get::<String>("gl-renderer").is_ok());
        let chain = decision.get::<String>("chain").unwrap();
        // YUV→YUV goes through RGBA on the GPU; RGB input converts directly.
        assert_eq!(chain.contains("format=RGBA"), input == "I420", "{chain}");
    }
}

#[test]
fn gl_path_downloads_for_system_memory_consumers() {
    let conv = assert_converted(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=320,height=240",
        "mode=gl",
        "video/x-raw,format=NV12",
        5,
        "NV12",
    );
    assert_eq!(conv.property::<String>("active-path"), "gl");
}

/// Mean and largest absolute byte difference between two NV12 frames over rows `rows` of a
/// `width`-wide picture (luma, and the chroma rows that belong to them).
fn nv12_difference(a: &[u8], b: &[u8], width: usize, height: usize, rows: usize) -> (f64, u8) {
    let luma = 0..rows * width;
    let chroma = width * height..width * height + rows / 2 * width;
    let diffs: Vec<u8> = luma.chain(chroma).map(|i| a[i].abs_diff(b[i])).collect();
    let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
    (mean, diffs.iter().copied().max().unwrap_or(0))
}

#[test]
fn gl_and_software_outputs_agree_on_colour_bars() {
    let source =
        "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format=I420,width=320,height=240";
    let (software, r1, _) = convert(source, "mode=software", "video/x-raw,format=NV12");
    let (gl, r2, _) = convert(source, "mode=gl", "video/x-raw,format=NV12");
    assert!(r1.error().is_none() && r2.error().is_none());
    let (software, gl) = (software.first.unwrap(), gl.first.unwrap());
    assert_eq!(software.len(), gl.len());
    // The upper two thirds: the in-gamut colour bars. The bottom strip holds -I/+Q and
    // super-black, which are outside RGB and clamp in the GL path's RGBA hop by design.
    let (mean, max) = nv12_difference(&software, &gl, 320, 240, 150);
    assert!(
        // Measured with Mesa llvmpipe: mean 0.52, max 24, at bar edges where GL upsamples
        // chroma bilinearly.
        mean < 1.0 && max <= 32,
        "GL differs from software: mean {mean:.2}, max {max}"
    );
}

#[test]
fn auto_picks_software_for_system_memory_consumers() {
    let (out, result, conv) = convert(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=320,height=240",
        "",
        "video/x-raw,format=NV12",
    );
    assert!(result.error().is_none());
    assert_eq!(out.buffers(), 5);
    assert_eq!(conv.property::<String>("active-path"), "software");
    let decision = result.decisions()[0].clone();
    assert_eq!(decision.get::<String>("path").unwrap(), "software");
    assert_eq!(
        decision.get::<String>("reason").unwrap(),
        "downstream accepts only system memory"
    );
    assert!(!decision.get::<bool>("interop").unwrap());
}

#[test]
fn auto_picks_software_for_x264enc() {
    let (_, result) = run_launch(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=320,height=240 ! \
         stromautoconvert ! x264enc speed-preset=ultrafast ! fakesink",
    );
    assert!(result.error().is_none(), "{:?}", result.error());
    assert_eq!(
        result.decisions()[0].get::<String>("path").unwrap(),
        "software"
    );
}

#[test]
fn auto_picks_gl_for_gl_only_consumers() {
    let (out, result, conv) = convert(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=320,height=240",
        "",
        "video/x-raw(memory:GLMemory),format=NV12",
    );
    assert!(result.error().is_none(), "{:?}", result.error());
    assert_eq!(out.buffers(), 5);
    assert!(is_gl_memory(&out.caps[0]));
    assert_eq!(conv.property::<String>("active-path"), "gl");
}

const BOTH_MEMORIES: &str = "video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12";

#[test]
fn auto_with_a_consumer_taking_both_follows_the_interop_test() {
    let (out, result, conv) = convert(
        "videotestsrc num-buffers=5 ! video/x-raw,format=I420,width=320,height=240",
        "",
        BOTH_MEMORIES,
    );
    assert!(result.error().is_none(), "{:?}", result.error());
    assert_eq!(out.buffers(), 5);
    let status = conv.property::<String>("interop-status");
    let path = conv.property::<String>("active-path");
    // No GPU here: the test says why and the software path is taken. (Where interop works, the
    // same test expects GL.)
    assert_eq!(path == "gl", status == "ok", "path {path}, status {status}");
    assert!(
        ["ok", "failed: ", "unavailable: ", "skipped: "]
            .iter()
            .any(|p| status.starts_with(p)),
        "{status}"
    );
    let decision = result.decisions()[0].clone();
    assert_eq!(decision.get::<String>("interop-status").unwrap(), status);
    assert_eq!(decision.get::<bool>("interop").unwrap(), status == "ok");
    assert!(decision.get::<String>("reason").unwrap().contains(&status));
}

/// What the both-memories pipeline decided in a child process.
#[derive(Debug, Serialize, Deserialize)]
struct InteropDecision {
    path: String,
    status: String,
    /// The first `strom-autoconvert` message, serialised.
    decision: String,
    /// See [`stub_outstanding`].
    stub_outstanding: i32,
}

impl InteropDecision {
    fn decision(&self) -> gst::Structure {
        self.decision.parse().expect("decision structure")
    }
}

#[test]
#[ignore = "run by interop_branches_with_the_cuda_stand_in in its own process"]
fn child_interop_decision() {
    if !is_child() {
        return;
    }
    let (out, result, conv) = convert(
        "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=320,height=240",
        "",
        BOTH_MEMORIES,
    );
    assert!(result.error().is_none(), "{:?}", result.error());
    assert_eq!(out.buffers(), 3);
    report(&InteropDecision {
        path: conv.property::<String>("active-path"),
        status: conv.property::<String>("interop-status"),
        decision: result.decisions()[0].to_string(),
        stub_outstanding: stub_outstanding(),
    });
}

/// How many contexts/resources the stand-in still holds (0: the probe released everything).
fn stub_outstanding() -> i32 {
    // SAFETY: the stand-in exports this test-only counter with this signature.
    unsafe {
        let lib = libloading_open();
        lib.map_or(-1, |f| f())
    }
}

unsafe fn libloading_open() -> Option<extern "C" fn() -> i32> {
    // The library is already loaded by the plugin; dlopen returns the same handle.
    let handle = [c"libcuda.so", c"libcuda.so.1"]
        .iter()
        .map(|name| unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) })
        .find(|h| !h.is_null())
        .unwrap_or(std::ptr::null_mut());
    if handle.is_null() {
        return None;
    }
    let sym = unsafe { libc::dlsym(handle, c"strom_stub_outstanding".as_ptr()) };
    (!sym.is_null())
        .then(|| unsafe { std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> i32>(sym) })
}

/// The interop child's decision with the `libcuda` stand-in first on the library path and
/// `extra`.
fn stub_child_decision(extra: &[(&str, &str)]) -> InteropDecision {
    let stub = common::cuda_stub_dir();
    let mut envs = vec![("LD_LIBRARY_PATH", stub.to_str().unwrap())];
    envs.extend_from_slice(extra);
    run_child(&child_name!(child_interop_decision), &envs).report()
}

/// As [`stub_child_decision`], with the bin's INFO log: the decision and the child's stderr.
fn run_with_stub(extra: &[(&str, &str)]) -> (InteropDecision, String) {
    let stub = common::cuda_stub_dir();
    let stub = stub.to_str().unwrap();
    let mut envs: Vec<(&str, &str)> = vec![
        ("LD_LIBRARY_PATH", stub),
        ("GST_DEBUG", "stromautoconvert:4"),
        ("GST_DEBUG_NO_COLOR", "1"),
    ];
    envs.extend_from_slice(extra);
    let child = run_child(&child_name!(child_interop_decision), &envs);
    (child.report(), child.stderr)
}

#[test]
fn interop_branches_with_the_cuda_stand_in() {
    // No library at all.
    let empty = std::env::temp_dir().join("strom-no-cuda");
    std::fs::create_dir_all(&empty).unwrap();
    let out: InteropDecision = run_child(
        &child_name!(child_interop_decision),
        &[("LD_LIBRARY_PATH", empty.to_str().unwrap())],
    )
    .report();
    if out.status != "ok" {
        // (A machine with a real driver would find it through ld.so.cache.)
        assert_eq!(out.status, "unavailable: libcuda.so.1 not found");
        assert_eq!(out.path, "software");
    }

    let (out, _) = run_with_stub(&[("STROM_STUB_CUDA_INIT", "3")]);
    assert_eq!(
        (out.path.as_str(), out.status.as_str()),
        ("software", "unavailable: CUDA_ERROR_NOT_INITIALIZED")
    );

    let (out, _) = run_with_stub(&[("STROM_STUB_CUDA_DEVICES", "0")]);
    assert_eq!(
        (out.path.as_str(), out.status.as_str()),
        ("software", "unavailable: no CUDA device")
    );

    let (out, stderr) = run_with_stub(&[("STROM_STUB_CUDA_REGISTER", "304")]);
    assert_eq!(out.path, "software");
    assert_eq!(out.status, "failed: CUDA_ERROR_OPERATING_SYSTEM");
    assert!(
        stderr.contains(
            "CUDA-GL interop failed: cuGraphicsGLRegisterBuffer returned CUDA_ERROR_OPERATING_SYSTEM"
        ) && stderr.contains("- using software video conversion"),
        "WARN line missing:\n{stderr}"
    );
    assert!(stderr.contains("WARN"), "{stderr}");
    let decision = out.decision();
    assert_eq!(
        decision.get::<String>("cuda-error").unwrap(),
        "CUDA_ERROR_OPERATING_SYSTEM"
    );
    assert!(!decision.get::<bool>("interop").unwrap());
    assert!(decision.get::<String>("gl-renderer").is_ok());
    assert!(decision.get::<f64>("probe-ms").unwrap() > 0.0);

    let (out, stderr) = run_with_stub(&[]);
    assert_eq!((out.path.as_str(), out.status.as_str()), ("gl", "ok"));
    assert!(stderr.contains("CUDA-GL interop works - using GPU-accelerated video conversion"));
    let decision = out.decision();
    assert!(decision.get::<bool>("interop").unwrap());
    assert!(decision.get::<String>("cuda-error").is_err());
}

/// A child started by a name that matches no test would "pass" with 0 tests run: the runner
/// must say so instead.
#[test]
#[should_panic(expected = "did not run (no test of that name?)")]
fn a_child_that_does_not_exist_fails_loudly() {
    run_child("child_interop_decision_renamed", &[]);
}

#[test]
fn interop_test_releases_everything_it_registers() {
    let out = stub_child_decision(&[("STROM_STUB_CUDA_MAP", "999")]);
    assert_eq!(out.status, "failed: CUDA_ERROR_UNKNOWN");
    assert_eq!(out.stub_outstanding, 0, "leaked a context or resource");
}

/// The stand-in's `cuGLGetDevices` finds no CUDA device behind the GL context. On Mesa (llvmpipe
/// where there is no GPU) the interop test is skipped naming it; on NVIDIA's GL (a GPU machine)
/// the same answer is a failure. Software either way.
#[test]
fn gl_context_not_on_the_gpu_is_skipped_with_the_reason() {
    let out = stub_child_decision(&[("STROM_STUB_CUDA_GL_DEVICES", "0")]);
    let decision = out.decision();
    let vendor = decision.get::<String>("gl-vendor").expect("gl-vendor");
    let renderer = decision.get::<String>("gl-renderer").expect("gl-renderer");
    if common::gl::is_mesa(&vendor, &renderer) {
        let name = common::gl::mesa_name(&vendor, &renderer);
        assert_eq!(out.status, format!("skipped: GL is {name}"), "{renderer}");
    } else {
        assert_eq!(
            out.status, "failed: no CUDA device behind the GL context",
            "{vendor} {renderer}"
        );
    }
    assert_eq!(out.path, "software");
}

#[test]
fn wsl2_is_skipped_before_touching_cuda() {
    let out = stub_child_decision(&[("WSL_DISTRO_NAME", "Ubuntu")]);
    assert_eq!(out.status, "skipped: WSL2");
    assert!(out.decision.contains("WSL2"));
}

/// Pushes frames whose caps change every `every` buffers through the bin, and returns what the
/// appsink saw.
fn renegotiate(mode: &str, out_caps: &str, steps: &[(&str, i32, i32)], every: usize) -> Collected {
    let chain = common::app_chain(mode, out_caps);
    let collector = Collector::on_appsink(&chain.sink, FirstFrame::Skip);
    chain.pipeline.set_state(gst::State::Playing).unwrap();
    let mut n = 0u64;
    for (format, width, height) in steps {
        let info =
            gst_video::VideoInfo::builder(format.parse().unwrap(), *width as u32, *height as u32)
                .fps(gst::Fraction::new(30, 1))
                .build()
                .unwrap();
        chain.src.set_caps(Some(&info.to_caps().unwrap()));
        for _ in 0..every {
            let pts = gst::ClockTime::from_mseconds(n * 33);
            chain
                .src
                .push_buffer(common::filled(info.size(), pts, 0x80))
                .unwrap();
            n += 1;
        }
    }
    chain.src.end_of_stream().unwrap();
    let log = chain.wait_and_stop(HANG);
    log.result().unwrap_or_else(|e| panic!("{mode}: {e}"));
    collector.collected()
}

#[test]
fn caps_changes_midstream_are_followed_without_losing_frames() {
    let steps = [
        ("I420", 320, 240),
        ("NV12", 640, 480),
        ("BGRx", 320, 240),
        ("I420", 160, 120),
    ];
    for (mode, out) in [
        ("software", "video/x-raw,format=NV12"),
        ("gl", "video/x-raw(memory:GLMemory),format=NV12"),
        ("gl", "video/x-raw,format=NV12"),
        ("auto", "video/x-raw,format=NV12"),
        ("auto", "video/x-raw(memory:GLMemory),format=NV12"),
    ] {
        let got = renegotiate(mode, out, &steps, 4);
        assert_eq!(got.buffers(), 16, "{mode} → {out}: frames lost");
        let sizes: Vec<(i32, i32)> = got
            .caps
            .iter()
            .map(|c| {
                let s = c.structure(0).unwrap();
                (s.get("width").unwrap(), s.get("height").unwrap())
            })
            .collect();
        assert_eq!(
            sizes,
            [(320, 240), (640, 480), (320, 240), (160, 120)],
            "{mode} → {out}"
        );
        assert!(got.caps.iter().all(|c| format_of(c) == "NV12"));
        let expected: Vec<_> = (0..16u64)
            .map(|n| Some(gst::ClockTime::from_mseconds(n * 33)))
            .collect();
        assert_eq!(got.pts, expected, "{mode} → {out}: timestamps");
    }
}

#[test]
fn repeated_state_changes_are_clean() {
    for mode in ["auto", "software", "gl"] {
        let pipeline = launch(&format!(
            "videotestsrc is-live=false ! video/x-raw,format=I420,width=160,height=120 ! \
             stromautoconvert name=conv mode={mode} ! video/x-raw,format=NV12 ! fakesink"
        ));
        let conv = by_name(&pipeline, "conv");
        for _ in 0..10 {
            pipeline.set_state(gst::State::Playing).unwrap();
            let (res, state, _) = pipeline.state(gst::ClockTime::from_seconds(10));
            assert!(res.is_ok() && state == gst::State::Playing, "{mode}");
            assert_ne!(conv.property::<String>("active-path"), "");
            pipeline.set_state(gst::State::Null).unwrap();
            assert_eq!(
                conv.downcast_ref::<gst::Bin>().unwrap().children().len(),
                0,
                "{mode}: chain left behind after NULL"
            );
        }
    }
}

#[test]
fn mode_cannot_change_while_playing() {
    let pipeline = launch(
        "videotestsrc ! video/x-raw,format=I420,width=64,height=48 ! stromautoconvert name=conv \
         mode=software ! fakesink",
    );
    let conv = by_name(&pipeline, "conv");
    pipeline.set_state(gst::State::Playing).unwrap();
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    conv.set_property_from_str("mode", "gl");
    assert_eq!(
        conv.property_value("mode")
            .get::<gststrom::autoconvert::Mode>()
            .unwrap(),
        gststrom::autoconvert::Mode::Software
    );
    let log = read_bus(
        &pipeline.bus().unwrap(),
        std::time::Duration::from_secs(5),
        |log| !log.warnings.is_empty(),
    );
    pipeline.set_state(gst::State::Null).unwrap();
    let warning = log.warnings.first().expect("a warning");
    assert!(
        warning.message.contains("NULL or READY"),
        "{}",
        warning.message
    );
}

#[test]
fn compressed_input_is_refused_at_link_time() {
    init();
    let result =
        gst::parse::launch("videotestsrc ! x264enc ! video/x-h264 ! stromautoconvert ! fakesink");
    let Err(err) = result else {
        panic!("linking h264 into stromautoconvert must fail");
    };
    assert!(err.to_string().contains("stromautoconvert"), "{err}");
}

#[test]
fn software_mode_with_a_gl_only_consumer_names_the_fix() {
    let (_, result, _) = convert(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=64,height=48",
        "mode=software",
        "video/x-raw(memory:GLMemory),format=NV12",
    );
    let error = result.error().expect("must fail");
    assert!(error.contains("mode=auto or mode=gl"), "{error}");
}

/// The pipeline's error in a gl-mode child.
#[derive(Debug, Serialize, Deserialize)]
struct GlModeError {
    error: String,
}

/// Runs a small stream through `mode=gl` and reports the pipeline's error.
fn report_gl_mode_error() {
    let (_, result, _) = convert(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=64,height=48",
        "mode=gl",
        "video/x-raw,format=NV12",
    );
    report(&GlModeError {
        error: result.error().unwrap_or_default(),
    });
}

#[test]
#[ignore = "run by missing_gl_elements_are_named_with_the_package in its own process"]
fn child_gl_mode_without_gl_plugin() {
    if !is_child() {
        return;
    }
    init();
    let registry = gst::Registry::get();
    if let Some(plugin) = registry.find_plugin("opengl") {
        registry.remove_plugin(&plugin);
    }
    report_gl_mode_error();
}

#[test]
fn missing_gl_elements_are_named_with_the_package() {
    let GlModeError { error } =
        run_child(&child_name!(child_gl_mode_without_gl_plugin), &[]).report();
    assert!(
        error.contains("glupload") && error.contains("apt-get install gstreamer1.0-gl"),
        "{error}"
    );
}

#[test]
#[ignore = "run by no_gl_context_names_the_headless_settings in its own process"]
fn child_gl_mode_without_gl_context() {
    if !is_child() {
        return;
    }
    report_gl_mode_error();
}

#[test]
fn no_gl_context_names_the_headless_settings() {
    // An X11 window system with no X server: no GL context can be made.
    let GlModeError { error } = run_child(
        &child_name!(child_gl_mode_without_gl_context),
        &[
            ("GST_GL_WINDOW", "x11"),
            ("GST_GL_PLATFORM", "glx"),
            ("DISPLAY", ":99"),
        ],
    )
    .report();
    assert!(
        error.contains("no GL context")
            && error.contains("GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl"),
        "{error}"
    );
}

#[test]
fn headless_gl_environment_is_what_the_tests_use() {
    init();
    for (key, value) in HEADLESS_GL {
        assert_eq!(std::env::var(key).as_deref(), Ok(value));
    }
}

/// The first output frame of `source` through plain `videoconvert`, the reference.
fn through_videoconvert(source: &str, out_caps: &str) -> Vec<u8> {
    let (collected, result, _) = run_collecting(&format!(
        "{source} ! videoconvert ! {out_caps} ! appsink name=sink sync=false"
    ));
    assert!(result.error().is_none(), "{:?}", result.error());
    collected.first.expect("a frame")
}

/// The picture's samples plane by plane, without the padding at the end of each row.
fn visible_samples(info: &gst_video::VideoInfo, bytes: &[u8]) -> Vec<u8> {
    samples_in_rows(info, bytes, info.height())
}

/// [`visible_samples`] of the picture's first `picture_rows` rows (and the chroma rows that
/// belong to them).
fn samples_in_rows(info: &gst_video::VideoInfo, bytes: &[u8], picture_rows: u32) -> Vec<u8> {
    let finfo = info.format_info();
    let mut samples = Vec::new();
    for plane in 0..info.n_planes() as usize {
        let component = (0..finfo.n_components() as u8)
            .find(|&c| finfo.plane()[c as usize] as usize == plane)
            .unwrap();
        let rows = finfo.scale_height(component, picture_rows) as usize;
        let row_bytes = finfo.scale_width(component, info.width()) as usize
            * finfo.pixel_stride()[component as usize] as usize;
        let (offset, stride) = (info.offset()[plane], info.stride()[plane] as usize);
        for r in 0..rows {
            samples.extend_from_slice(&bytes[offset + r * stride..offset + r * stride + row_bytes]);
        }
    }
    samples
}

#[test]
fn i420_nv12_layout_swaps_are_bit_exact_with_videoconvert() {
    for (from, to) in [("I420", "NV12"), ("NV12", "I420")] {
        for (width, height) in [(320, 240), (642, 362), (1920, 1080)] {
            let source = format!(
                "videotestsrc num-buffers=2 pattern=snow ! video/x-raw,format={from},width={width},height={height}"
            );
            let out_caps = format!("video/x-raw,format={to}");
            let (ours, result, _) = convert(&source, "mode=software", &out_caps);
            assert!(result.error().is_none(), "{:?}", result.error());
            let chain = result.decisions()[0].get::<String>("chain").unwrap();
            assert_eq!(
                chain, "stromfastconvert",
                "{from}->{to}: the plane copy is used"
            );
            assert_eq!(ours.buffers(), 2);
            let reference = through_videoconvert(&source, &out_caps);
            let info = gst_video::VideoInfo::from_caps(&ours.caps[0]).unwrap();
            assert_eq!(
                visible_samples(&info, ours.first.as_deref().unwrap()),
                visible_samples(&info, &reference),
                "{from}->{to} {width}x{height}: differs from videoconvert"
            );
        }
    }
}

/// The YUV pairs of the GL tests below: the first three glcolorconvert converts directly on
/// GStreamer 1.26, the last two (to and from NV12) on no version.
const GL_YUV_PAIRS: [(&str, &str); 5] = [
    ("I420", "Y444"),
    ("YUY2", "I420"),
    ("I420", "Y42B"),
    ("I420", "NV12"),
    ("NV12", "I420"),
];

/// Whether the GL chain from `from` to `to` goes without the RGBA hop on the GStreamer running:
/// on 1.26 for the pairs glcolorconvert converts directly, on 1.22 never.
fn direct_on_this_version(from: &str, to: &str) -> bool {
    let running = gststrom::gstversion::running();
    running >= gststrom::gstversion::GstVersion::new(1, 26) && to != "NV12" && from != "NV12"
}

#[test]
fn the_gl_chain_hops_through_rgba_only_where_this_version_needs_it() {
    init();
    let running = gststrom::gstversion::running();
    for (from, to) in GL_YUV_PAIRS {
        let (out, result, _) = convert(
            &format!("videotestsrc num-buffers=3 ! video/x-raw,format={from},width=320,height=240"),
            "mode=gl",
            &format!("video/x-raw(memory:GLMemory),format={to}"),
        );
        assert!(
            result.error().is_none(),
            "{from}->{to}: {:?}",
            result.error()
        );
        assert_eq!((out.buffers(), format_of(&out.caps[0])), (3, to.to_owned()));
        let chain = result.decisions()[0].get::<String>("chain").unwrap();
        let expected = if direct_on_this_version(from, to) {
            "glupload ! glcolorconvert".to_owned()
        } else {
            let hop = "glupload ! glcolorconvert ! video/x-raw(memory:GLMemory),format=RGBA \
                       ! glcolorconvert";
            // 1.22 writes YUV from RGB as BT.601 only, and the chain says so.
            match gststrom::gstversion::glcolorconvert_follows_colorimetry(running) {
                true => hop.to_owned(),
                false => format!("{hop} ! video/x-raw,<YUV as bt601>"),
            }
        };
        println!("GStreamer {running}, {from}->{to}: {chain}");
        assert_eq!(chain, expected, "GStreamer {running}, {from}->{to}");
    }
}

/// Mean and largest difference of the first frame `converted` from `source` against
/// videoconvert's for the same caps, over the in-gamut bars (the top 150 rows).
fn against_videoconvert(converted: &Collected, source: &str, out_caps: &str) -> (f64, u8) {
    let info = gst_video::VideoInfo::from_caps(&converted.caps[0]).unwrap();
    let reference = through_videoconvert(source, out_caps);
    let ours = samples_in_rows(&info, converted.first.as_deref().unwrap(), 150);
    let reference = samples_in_rows(&info, &reference, 150);
    let diffs: Vec<u8> = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| a.abs_diff(*b))
        .collect();
    let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
    (mean, diffs.iter().copied().max().unwrap_or(0))
}

/// The GL chain's picture against videoconvert's for each pair, direct or through RGBA, within
/// the bounds of `gl_and_software_outputs_agree_on_colour_bars` (over the in-gamut bars).
#[test]
fn the_gl_chain_of_every_yuv_pair_agrees_with_videoconvert() {
    init();
    for (from, to) in GL_YUV_PAIRS {
        let source = format!(
            "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={from},width=320,height=240"
        );
        let out_caps = format!("video/x-raw,format={to}");
        let (gl, result, _) = convert(&source, "mode=gl", &out_caps);
        assert!(
            result.error().is_none(),
            "{from}->{to}: {:?}",
            result.error()
        );
        let (mean, max) = against_videoconvert(&gl, &source, &out_caps);
        let how = if direct_on_this_version(from, to) {
            "direct"
        } else {
            "RGBA hop"
        };
        println!("{from}->{to} ({how}): GL vs videoconvert mean {mean:.2}, max {max}");
        assert!(
            mean < 1.0 && max <= 32,
            "{from}->{to} ({how}): GL differs from videoconvert: mean {mean:.2}, max {max}"
        );
    }
}

/// Colorimetry GStreamer 1.22's glcolorconvert gets wrong (BT.2020 and full-range YUV read,
/// YUV other than BT.601 written from RGB): 1.26 follows the caps, so mode=gl converts it within
/// a mean of 2.5 of videoconvert over the in-gamut bars (1.26.2 with llvmpipe: 1.4 to 2.1 read
/// into RGBA, where BT.601 itself gives 2.1 from bilinear chroma at the bar edges; 0.5 to 0.6
/// written; 1.22 misread them by 4.3 to 12.5, wrote them 9.8 to 28.7 off); on 1.22 mode=gl
/// refuses them, naming the reason.
#[test]
fn gl_colorimetry_is_honoured_or_refused_by_version() {
    init();
    let running = gststrom::gstversion::running();
    let follows = gststrom::gstversion::glcolorconvert_follows_colorimetry(running);
    for (input, output) in [
        ("I420,colorimetry=bt2020", "RGBA"),
        ("I420,colorimetry=1:4:0:0", "RGBA"),
        ("RGBA", "I420,colorimetry=bt709"),
        ("RGBA", "I420,colorimetry=bt2020"),
    ] {
        let source = format!(
            "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={input},width=320,height=240"
        );
        let out_caps = format!("video/x-raw,format={output}");
        let (gl, result, _) = convert(&source, "mode=gl", &out_caps);
        if !follows {
            let error = result.error().expect("mode=gl refuses");
            assert!(
                error.contains("glcolorconvert (GStreamer 1.22)"),
                "{input}->{output}: {error}"
            );
            println!("GStreamer {running}, {input}->{output}: refused: {error}");
            continue;
        }
        assert!(
            result.error().is_none(),
            "{input}->{output}: {:?}",
            result.error()
        );
        let chain = result.decisions()[0].get::<String>("chain").unwrap();
        assert_eq!(
            chain, "glupload ! glcolorconvert ! gldownload",
            "{input}->{output}"
        );
        let (mean, _) = against_videoconvert(&gl, &source, &out_caps);
        println!("GStreamer {running}, {input}->{output}: GL vs videoconvert mean {mean:.2}");
        assert!(mean <= 2.5, "{input}->{output}: mean {mean:.2}");
    }
}
