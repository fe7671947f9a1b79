// SPDX-License-Identifier: MPL-2.0
//! Keeping the stream alive when the GL path stops working. This module decides ([`Recovery`]);
//! the element's `imp.rs` pushes buffers and swaps chains as told:
//! - a GL chain that fails with a buffer inside (context lost, upload error): in auto mode the
//!   bin switches to software and pushes the same buffer again, so none is lost or duplicated;
//!   in gl mode it posts an element error;
//! - the consumer refusing GL memory: the interop test predicts, the encoder decides. When
//!   downstream answers the first GL frames with an error flow (nvenc returns `GST_FLOW_ERROR`
//!   when it cannot register the frame with CUDA), auto mode switches to software and pushes the
//!   same buffer again, and marks interop failed for that GL display and CUDA device;
//! - CUDA that stops reaching the GL frames after the interop test had passed (see
//!   `crate::gpu::health`): checked on the first buffer and then every `cuda-check-interval`,
//!   and answered by the same switch before the buffer is pushed.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gst::prelude::*;

use super::Mode;
use super::plan::{ChainPlan, ConvertPath};
use super::report::InteropUse;
use crate::chainbin::consumer;
use crate::gpu::health::{CheckSchedule, InteropLost, WatchedDevice};
use crate::gpu::interop::{self, InteropReport};
use crate::sync::lock;

/// The GL chain was chosen because CUDA could read its frames: keep asking CUDA whether it still
/// can.
pub(super) struct CudaWatch {
    pub(crate) schedule: CheckSchedule,
    /// The device the interop test registered a buffer on, and whether GL ran on it.
    pub(crate) device: Option<WatchedDevice>,
    /// The verdict the chain was chosen by; revoked or refused for its device when it fails.
    pub(crate) report: Arc<InteropReport>,
}

/// A watch when `plan` is the GL path auto mode chose because CUDA could read GL frames.
pub(super) fn watch_for(
    plan: &ChainPlan,
    interop: Option<&InteropUse>,
    cuda_check_interval_ms: u32,
) -> Option<CudaWatch> {
    let interop = interop.filter(|i| i.report.works())?;
    let relies_on_cuda = plan.chain.path() == ConvertPath::Gl && plan.decided_by_interop;
    relies_on_cuda.then(|| CudaWatch {
        schedule: CheckSchedule::new(Duration::from_millis(cuda_check_interval_ms.into())),
        device: interop.report.tested_device().map(|device| WatchedDevice {
            device,
            behind_gl: interop
                .report
                .gl_devices
                .as_ref()
                .is_some_and(|gl| gl.contains(&device)),
        }),
        report: interop.report.clone(),
    })
}

/// Whether downstream has taken a GL frame in this stream yet, and what it answered if it refused
/// one first. Written from the src ghost pad's inside, where the consumer's answer to each GL
/// buffer comes back; read by the streaming thread after the push returns.
#[derive(Default)]
pub(super) struct ConsumerJudge {
    /// Still waiting for the first GL frame to be accepted: the only time a refusal is judged.
    open: AtomicBool,
    /// A GL frame was accepted in this stream: later errors are not a refusal of GL memory, even
    /// after the chain was rebuilt for new caps.
    accepted: AtomicBool,
    refusal: Mutex<Option<gst::FlowError>>,
}

impl ConsumerJudge {
    /// A new stream starts: nothing accepted, nothing refused.
    pub(crate) fn reset(&self) {
        self.accepted.store(false, Ordering::SeqCst);
        self.arm(false);
    }

    /// A new chain is in place; `gl_out` when it hands GL memory downstream.
    pub(crate) fn arm(&self, gl_out: bool) {
        lock(&self.refusal).take();
        let judging = gl_out && !self.accepted.load(Ordering::SeqCst);
        self.open.store(judging, Ordering::SeqCst);
    }

    /// Downstream's answer to one GL buffer.
    pub(crate) fn observe(&self, result: Result<gst::FlowSuccess, gst::FlowError>) {
        if !self.open.load(Ordering::Relaxed) {
            return;
        }
        match result {
            Ok(_) => {
                self.accepted.store(true, Ordering::SeqCst);
                self.open.store(false, Ordering::SeqCst);
            }
            Err(flow) if is_refusal(flow) => *lock(&self.refusal) = Some(flow),
            Err(_) => {}
        }
    }

    /// The refusal of the buffer just pushed, if downstream refused it before accepting any.
    pub(crate) fn take_refusal(&self) -> Option<gst::FlowError> {
        lock(&self.refusal).take()
    }
}

/// An error flow, as opposed to flushing, EOS or not-linked (which say nothing about GL memory).
fn is_refusal(flow: gst::FlowError) -> bool {
    !matches!(
        flow,
        gst::FlowError::Flushing | gst::FlowError::Eos | gst::FlowError::NotLinked
    )
}

/// `GST_FLOW_ERROR` and friends, as users read them in logs.
fn flow_name(flow: gst::FlowError) -> String {
    match flow {
        gst::FlowError::Error => "GST_FLOW_ERROR".into(),
        gst::FlowError::NotNegotiated => "GST_FLOW_NOT_NEGOTIATED".into(),
        gst::FlowError::NotSupported => "GST_FLOW_NOT_SUPPORTED".into(),
        other => format!("{other:?}"),
    }
}

/// What the bin does about a failure of its GL path: [`AutoConvert`](super::AutoConvert)'s
/// `imp.rs` carries it out.
#[derive(Debug)]
pub(super) enum Recovery {
    /// Build the software chain, push the same buffer again; `why` goes into the warning and the
    /// `strom-autoconvert` message, `interop` (when the verdict changed) into the message.
    SwitchToSoftware {
        why: String,
        interop: Option<InteropUse>,
    },
    /// No fallback: post an element error saying this and fail the flow.
    Fail(String),
}

/// A GL chain failed with a buffer inside, as `cause` says; `can_retry` when the bin holds the
/// buffer again (auto mode).
pub(super) fn after_gl_failure(cause: &str, can_retry: bool) -> Recovery {
    if can_retry {
        Recovery::SwitchToSoftware {
            why: format!("the GL path failed mid-stream ({cause})"),
            interop: None,
        }
    } else {
        Recovery::Fail(format!(
            "the GL path failed mid-stream ({cause}); mode=gl does not fall back, use mode=auto \
             to continue in software"
        ))
    }
}

/// Who refused GL memory, as the bin found it downstream.
pub(super) struct Refuser {
    /// For people: `nvh264enc0 (nvh264enc)`, or `downstream`.
    pub(super) who: String,
    /// The factory the refusal is recorded for.
    pub(super) factory: String,
}

impl Refuser {
    pub(super) fn of(consumer: Option<&consumer::Consumer>) -> Refuser {
        Refuser {
            who: consumer.map_or_else(|| "downstream".to_owned(), consumer::Consumer::describe),
            factory: consumer
                .and_then(consumer::Consumer::factory)
                .unwrap_or_else(|| "downstream".into()),
        }
    }
}

/// Downstream answered the first GL frame(s) with `flow` and posted nothing: the consumer cannot
/// read GL memory after all, whatever the interop test predicted. With the buffer held again
/// (`can_retry`, auto mode) and the `verdict` the GL chain was chosen by, software takes over and
/// interop is marked failed for this display and device (recorded now, for the process);
/// otherwise the stream fails, saying who refused.
pub(super) fn after_refusal(
    refuser: &Refuser,
    flow: gst::FlowError,
    mode: Mode,
    can_retry: bool,
    verdict: Option<&Arc<InteropReport>>,
) -> Recovery {
    let (true, Some(verdict)) = (can_retry, verdict) else {
        let fix = if mode == Mode::Gl {
            "mode=gl does not fall back, use mode=auto to continue in software"
        } else {
            "it takes nothing else, so there is no software path to fall back to"
        };
        return Recovery::Fail(format!(
            "{} refused GL memory ({} on the first GL frame); {}",
            refuser.who,
            flow_name(flow),
            fix
        ));
    };
    let device = verdict
        .tested_device()
        .map_or_else(String::new, |d| format!(" on CUDA device {d}"));
    let why = format!(
        "{} refused the first GL frame ({}) although the interop test had passed{device}",
        refuser.who,
        flow_name(flow)
    );
    let refused = interop::refuse(verdict, &refuser.factory, &why);
    Recovery::SwitchToSoftware {
        why,
        interop: Some(InteropUse {
            report: refused,
            ran_now: false,
        }),
    }
}

/// CUDA stopped reaching the GL frames after the interop test behind `verdict` had passed: the
/// encoder reading them would fail next. Marks interop failed for that device (every display, the
/// rest of the process); returns why the stream moves to system memory and the revoked verdict.
pub(super) fn after_interop_lost(
    verdict: &Arc<InteropReport>,
    lost: &InteropLost,
) -> (String, InteropUse) {
    let report = interop::revoke(verdict, lost);
    let why = format!(
        "CUDA stopped reaching the GL frames after the interop test had passed ({})",
        lost.cause
    );
    (
        why,
        InteropUse {
            report,
            ran_now: false,
        },
    )
}

/// The GL context of a built chain, which the CUDA check asks about; None until glupload has made
/// it (while handling its first buffer).
pub(super) fn gl_context_of(elements: &[gst::Element]) -> Option<gst_gl::GLContext> {
    elements
        .iter()
        .filter_map(|e| e.downcast_ref::<gst_gl::GLBaseFilter>())
        .find_map(gst_gl::prelude::GLBaseFilterExt::gl_context)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_error_before_the_first_accepted_gl_frame_is_a_refusal() {
        let judge = ConsumerJudge::default();
        judge.observe(Err(gst::FlowError::Error));
        assert_eq!(judge.take_refusal(), None, "not armed: no GL chain");

        judge.arm(true);
        judge.observe(Err(gst::FlowError::Flushing));
        assert_eq!(
            judge.take_refusal(),
            None,
            "flushing says nothing about GL memory"
        );
        judge.observe(Err(gst::FlowError::NotNegotiated));
        assert_eq!(judge.take_refusal(), Some(gst::FlowError::NotNegotiated));
        assert_eq!(judge.take_refusal(), None, "taken once");

        judge.observe(Ok(gst::FlowSuccess::Ok));
        judge.observe(Err(gst::FlowError::Error));
        assert_eq!(judge.take_refusal(), None, "a GL frame was accepted");
        // A chain rebuilt for new caps in the same stream: still accepted.
        judge.arm(true);
        judge.observe(Err(gst::FlowError::Error));
        assert_eq!(judge.take_refusal(), None);

        judge.reset();
        judge.arm(true);
        judge.observe(Err(gst::FlowError::Error));
        assert_eq!(judge.take_refusal(), Some(gst::FlowError::Error));
    }

    #[test]
    fn flows_are_named_as_in_logs() {
        assert_eq!(flow_name(gst::FlowError::Error), "GST_FLOW_ERROR");
        assert_eq!(
            flow_name(gst::FlowError::NotNegotiated),
            "GST_FLOW_NOT_NEGOTIATED"
        );
    }
}
