// SPDX-License-Identifier: MPL-2.0
//! Runtime fallback: when the GL chain fails with data flowing, `stromautoconvert` in auto mode
//! continues in software without an error reaching the application and without losing or
//! duplicating a buffer; in gl mode it posts an element error.
//!
//! The fault is injected where a real one shows up: the chain's `glupload` posts an ERROR and
//! returns `GST_FLOW_ERROR` for buffer K, as it does when its GL context is lost or an upload
//! fails. Auto mode only takes the GL path for a consumer of both memories when the interop test
//! passes, so those cases run in a child process with the test-only `libcuda.so.1` stand-in.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;

use common::{is_child, run_child};

const FRAMES: u64 = 24;
const FAIL_AT: usize = 9;

struct Outcome {
    pts: Vec<Option<gst::ClockTime>>,
    errors: Vec<String>,
    warnings: Vec<String>,
    decisions: Vec<gst::Structure>,
}

/// Makes the first `glupload` built inside `conv` fail on its `FAIL_AT`-th buffer.
fn inject_gl_failure(conv: &gst::Element) {
    let bin = conv.clone().downcast::<gst::Bin>().unwrap();
    let injected = Arc::new(AtomicUsize::new(0));
    bin.connect_deep_element_added(move |_, _, element| {
        let is_upload = element.factory().is_some_and(|f| f.name() == "glupload");
        if !is_upload || injected.fetch_add(1, Ordering::SeqCst) > 0 {
            return;
        }
        let upload = element.clone();
        let seen = AtomicUsize::new(0);
        let pad = element.static_pad("sink").unwrap();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if seen.fetch_add(1, Ordering::SeqCst) + 1 != FAIL_AT {
                return gst::PadProbeReturn::Ok;
            }
            upload.post_error_message(gst::error_msg!(
                gst::ResourceError::Failed,
                ("simulated GL context loss")
            ));
            info.flow_res = Err(gst::FlowError::Error);
            gst::PadProbeReturn::Handled
        });
    });
}

fn run(mode: &str, consumer: &str) -> Outcome {
    let common::AppChain {
        pipeline,
        src,
        conv,
        sink,
    } = common::app_chain(mode, consumer);
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 160, 120)
        .fps(gst::Fraction::new(30, 1))
        .build()
        .unwrap();
    src.set_caps(Some(&info.to_caps().unwrap()));
    inject_gl_failure(&conv);

    let pts = Arc::new(Mutex::new(Vec::new()));
    let p = pts.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                p.lock()
                    .unwrap()
                    .push(sample.buffer().and_then(|b| b.pts()));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline.set_state(gst::State::Playing).unwrap();
    for n in 0..FRAMES {
        let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
        {
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_mseconds(n * 33));
            b.map_writable().unwrap().fill(0x60);
        }
        if src.push_buffer(buffer).is_err() {
            break;
        }
    }
    let _ = src.end_of_stream();

    let bus = pipeline.bus().unwrap();
    let mut outcome = Outcome {
        pts: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        decisions: Vec::new(),
    };
    while let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                outcome.errors.push(e.error().to_string());
                break;
            }
            gst::MessageView::Warning(w) => outcome.warnings.push(w.error().to_string()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "strom-autoconvert") {
                    outcome.decisions.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    outcome.pts = std::mem::take(&mut *pts.lock().unwrap());
    outcome
}

fn expected_pts() -> Vec<Option<gst::ClockTime>> {
    (0..FRAMES)
        .map(|n| Some(gst::ClockTime::from_mseconds(n * 33)))
        .collect()
}

#[test]
#[ignore = "run by auto_mode_falls_back_without_losing_a_buffer in its own process"]
fn child_auto_fallback() {
    if !is_child() {
        return;
    }
    let outcome = run(
        "auto",
        "video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12",
    );
    assert!(outcome.errors.is_empty(), "errors: {:?}", outcome.errors);
    assert_eq!(
        outcome.pts,
        expected_pts(),
        "buffers lost, duplicated or reordered"
    );
    let paths: Vec<String> = outcome
        .decisions
        .iter()
        .map(|d| d.get::<String>("path").unwrap())
        .collect();
    assert_eq!(paths, ["gl", "software"]);
    let reason = outcome.decisions[1].get::<String>("reason").unwrap();
    assert!(
        reason.contains("GL path failed mid-stream")
            && reason.contains("simulated GL context loss"),
        "{reason}"
    );
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.contains("continuing with software conversion")),
        "{:?}",
        outcome.warnings
    );
    println!("\nFALLBACK_OK");
}

#[test]
fn auto_mode_falls_back_without_losing_a_buffer() {
    let stub = common::cuda_stub_dir();
    let out = run_child(
        "child_auto_fallback",
        &[("LD_LIBRARY_PATH", stub.to_str().unwrap())],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FALLBACK_OK"));
}

#[test]
fn gl_mode_reports_the_failure_as_an_element_error() {
    let outcome = run("gl", "video/x-raw,format=NV12");
    assert_eq!(outcome.errors.len(), 1, "{:?}", outcome.errors);
    let error = &outcome.errors[0];
    assert!(
        error.contains("simulated GL context loss") && error.contains("use mode=auto"),
        "{error}"
    );
    // Everything before the failing buffer was delivered.
    assert_eq!(outcome.pts, expected_pts()[..FAIL_AT - 1]);
}

#[test]
fn auto_mode_with_a_gl_only_consumer_cannot_fall_back_and_says_so() {
    let outcome = run("auto", "video/x-raw(memory:GLMemory),format=NV12");
    assert_eq!(outcome.errors.len(), 1, "{:?}", outcome.errors);
    assert!(
        outcome.errors[0].contains("simulated GL context loss"),
        "{:?}",
        outcome.errors
    );
    assert_eq!(outcome.pts, expected_pts()[..FAIL_AT - 1]);
}
