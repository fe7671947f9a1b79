// SPDX-License-Identifier: MPL-2.0
//! What the bin tells people, from plain inputs: the `strom-autoconvert` message and log lines when
//! it chooses, and element errors that name the cause and the fix when no chain can be built.

use std::sync::Arc;

use super::plan::ChainPlan;
use super::{CAT, MESSAGE_NAME};
use crate::chainbin::BuildError;
use crate::gpu::gl::{self, GlInfo};
use crate::gpu::interop::{self, InteropReport};

/// The interop test's answer as this element reports it.
#[derive(Debug)]
pub(super) struct InteropUse {
    pub(crate) report: Arc<InteropReport>,
    /// This call ran the test (its time goes into `probe-ms`); else the cached answer.
    pub(crate) ran_now: bool,
}

/// Why no chain could be built: each maps to an element error a user can act on.
#[derive(Debug)]
pub(super) enum ChainError {
    NotConvertible(String),
    Build(BuildError),
    NoGlContext(String),
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainError::NotConvertible(why) => write!(f, "cannot convert: {why}"),
            ChainError::Build(err) => err.fmt(f),
            ChainError::NoGlContext(why) => write!(f, "no GL context: {why}"),
        }
    }
}

/// Logs the interop verdict as Strom users know it, when it decided the path.
pub(super) fn log_interop_decision(
    element: &gst::Element,
    plan: &ChainPlan,
    interop: Option<&InteropUse>,
) {
    let Some(i) = interop.filter(|_| plan.decided_by_interop) else {
        return;
    };
    if i.report.works() {
        gst::info!(
            CAT,
            obj = element,
            "CUDA-GL interop works - using GPU-accelerated video conversion"
        );
    } else {
        gst::warning!(
            CAT,
            obj = element,
            "CUDA-GL interop failed: {} - using software video conversion",
            i.report.reason
        );
    }
}

/// The `interop-status` property after `plan`: the verdict used, else the latest in this process,
/// else why none was needed.
pub(super) fn interop_status(plan: &ChainPlan, interop: Option<&InteropUse>) -> String {
    match interop {
        Some(i) => i.report.status.clone(),
        None => interop::latest().map_or_else(
            || format!("not-tested: {}", plan.reason),
            |r| r.status.clone(),
        ),
    }
}

/// Posts the element error for `err` on `element`, naming the cause and the fix.
pub(super) fn post_chain_error(element: &gst::Element, caps: &gst::Caps, err: ChainError) {
    match err {
        ChainError::NotConvertible(why) => gst::element_error!(
            element,
            gst::CoreError::Negotiation,
            ("stromautoconvert cannot convert these caps: {}", why),
            ["caps: {}", caps]
        ),
        ChainError::Build(BuildError::MissingElement(name)) => gst::element_error!(
            element,
            gst::CoreError::MissingPlugin,
            (
                "GStreamer element '{}' is missing; install it with: {}",
                name,
                if gl::GL_ELEMENTS.contains(&name) {
                    gl::GL_PACKAGE_FIX
                } else {
                    "apt-get install gstreamer1.0-plugins-base"
                }
            ),
            ["needed for {}", caps]
        ),
        ChainError::Build(BuildError::Link(why)) => gst::element_error!(
            element,
            gst::CoreError::Negotiation,
            ("could not link the conversion chain: {}", why),
            ["caps: {}", caps]
        ),
        ChainError::Build(err @ BuildError::Property { .. }) => gst::element_error!(
            element,
            gst::CoreError::Failed,
            ("could not build the conversion chain: {}", err),
            ["caps: {}", caps]
        ),
        ChainError::NoGlContext(why) => gst::element_error!(
            element,
            gst::ResourceError::NotFound,
            (
                "no GL context could be made ({}); on headless machines and in containers set {}",
                why,
                gl::GL_HEADLESS_FIX
            ),
            ["GL path needed for {}", caps]
        ),
    }
}

/// The `strom-autoconvert` message body.
pub(super) fn decision_structure(
    plan: &ChainPlan,
    interop_status: &str,
    interop: Option<&InteropUse>,
    gl_info: Option<&GlInfo>,
) -> gst::Structure {
    let report = interop.map(|i| &*i.report);
    let probe_ms = interop
        .filter(|i| i.ran_now)
        .map_or(0.0, |i| i.report.elapsed.as_secs_f64() * 1000.0);
    // A stub libcuda.so on the path decides nothing, but people should hear of it.
    let reason = match report.and_then(InteropReport::shadow_note) {
        Some(note) => format!("{}; note: {note}", plan.reason),
        None => plan.reason.clone(),
    };
    let mut s = gst::Structure::builder(MESSAGE_NAME)
        .field("path", plan.chain.path().as_str())
        .field("reason", reason.as_str())
        .field("interop", report.is_some_and(InteropReport::works))
        .field("interop-status", interop_status)
        .field("chain", plan.chain.describe())
        .field("probe-ms", probe_ms)
        .build();
    if let Some(err) = report.and_then(|r| r.cuda_error.as_deref()) {
        s.set("cuda-error", err);
    }
    if let Some(gl) = report.and_then(|r| r.gl.as_ref()).or(gl_info) {
        s.set("gl-vendor", gl.vendor.as_str());
        s.set("gl-renderer", gl.renderer.as_str());
    }
    if let Some(device) = report.and_then(InteropReport::tested_device) {
        s.set("cuda-device", device);
    }
    if let Some(gl_devices) = report.and_then(InteropReport::gl_devices_text) {
        s.set("gl-devices", gl_devices);
    }
    s
}
