// SPDX-License-Identifier: MPL-2.0
//! What the bin tells people: the `strom-autoconvert` message and log lines when it chooses, and
//! element errors that name the cause and the fix when no chain can be built.

use std::sync::Arc;

use gst::prelude::*;
use gst::subclass::prelude::*;

use super::MESSAGE_NAME;
use super::imp::{AutoConvert, CAT};
use super::plan::ChainPlan;
use crate::chainbin::{self, BuildError};
use crate::gpu::gl::{self, GlInfo};
use crate::gpu::interop::{self, InteropReport};

/// The interop test's answer as this element reports it.
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

impl AutoConvert {
    /// Records the decision, logs it as Strom users know it, and posts `strom-autoconvert`.
    pub(super) fn announce(
        &self,
        plan: &ChainPlan,
        interop: Option<&InteropUse>,
        gl_info: Option<&GlInfo>,
    ) {
        if plan.decided_by_interop
            && let Some(i) = interop
        {
            if i.report.works() {
                gst::info!(
                    CAT,
                    imp = self,
                    "CUDA-GL interop works - using GPU-accelerated video conversion"
                );
            } else {
                gst::warning!(
                    CAT,
                    imp = self,
                    "CUDA-GL interop failed: {} - using software video conversion",
                    i.report.reason
                );
            }
        }
        let interop_status = match interop {
            Some(i) => i.report.status.clone(),
            None => interop::latest().map_or_else(
                || format!("not-tested: {}", plan.reason),
                |r| r.status.clone(),
            ),
        };
        {
            let mut state = self.state();
            state.active_path = Some(plan.shape.path);
            state.interop_status = interop_status.clone();
        }
        let obj = self.obj();
        obj.notify("active-path");
        obj.notify("interop-status");
        chainbin::post_decision(
            &*obj,
            decision_structure(plan, &interop_status, interop, gl_info),
        );
    }

    /// Posts the element error for `err`, once: upstream retries the same caps (basesrc
    /// renegotiates on every buffer after a refusal), and one failure is one message. The
    /// record is cleared when a chain is in place again or a new stream starts.
    pub(super) fn post_chain_error(&self, caps: &gst::Caps, err: ChainError) {
        let key = format!("{err}");
        {
            let mut state = self.state();
            if state.chain_error_posted.as_deref() == Some(key.as_str()) {
                gst::debug!(CAT, imp = self, "not posting the same error again: {key}");
                return;
            }
            state.chain_error_posted = Some(key);
        }
        match err {
            ChainError::NotConvertible(why) => gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("stromautoconvert cannot convert these caps: {}", why),
                ["caps: {}", caps]
            ),
            ChainError::Build(BuildError::MissingElement(name)) => gst::element_imp_error!(
                self,
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
            ChainError::Build(BuildError::Link(why)) => gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("could not link the conversion chain: {}", why),
                ["caps: {}", caps]
            ),
            ChainError::Build(err @ BuildError::Property { .. }) => gst::element_imp_error!(
                self,
                gst::CoreError::Failed,
                ("could not build the conversion chain: {}", err),
                ["caps: {}", caps]
            ),
            ChainError::NoGlContext(why) => gst::element_imp_error!(
                self,
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
}

/// The `strom-autoconvert` message body.
fn decision_structure(
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
        .field("path", plan.shape.path.as_str())
        .field("reason", reason.as_str())
        .field("interop", report.is_some_and(InteropReport::works))
        .field("interop-status", interop_status)
        .field("chain", plan.shape.describe())
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
