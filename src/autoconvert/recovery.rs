// SPDX-License-Identifier: MPL-2.0
//! Keeping the stream alive when the GL path stops working:
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
use gst::subclass::prelude::*;

use super::Mode;
use super::imp::{AutoConvert, CAT, Settings};
use super::plan::{ChainPlan, ConvertPath};
use super::report::InteropUse;
use crate::chainbin::{consumer, describe_error};
use crate::gpu::health::{self, CheckSchedule, InteropLost, WatchedDevice};
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
    settings: &Settings,
) -> Option<CudaWatch> {
    let interop = interop.filter(|i| i.report.works())?;
    let relies_on_cuda = plan.shape.path == ConvertPath::Gl && plan.decided_by_interop;
    relies_on_cuda.then(|| CudaWatch {
        schedule: CheckSchedule::new(Duration::from_millis(
            settings.cuda_check_interval_ms.into(),
        )),
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

impl AutoConvert {
    /// Pushes `buffer` into the GL chain with its errors held back; on a failure inside the
    /// chain, recovers as the module says.
    pub(super) fn push_through_gl(
        &self,
        pad: &gst::GhostPad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Only auto mode can push the buffer again. The extra reference is held only there, since
        // it makes the buffer look shared to in-place elements downstream.
        let retry = (self.settings().mode == Mode::Auto).then(|| buffer.clone());
        let (result, held) = {
            let _busy = self.queries.busy();
            self.errors
                .push(|| gst::ProxyPad::chain_default(pad, Some(&*self.obj()), buffer))
        };
        let refusal = self.judge.take_refusal();
        match (result, held) {
            (Err(flow), Some(error)) => self.recover_from_gl_failure(pad, retry, flow, error),
            (Err(flow), None) if refusal.is_some() => self.recover_from_refusal(pad, retry, flow),
            (result, Some(error)) => {
                // The element reported an error but the buffer went through: let it be seen.
                self.parent_handle_message(error);
                result
            }
            (result, None) => result,
        }
    }

    fn recover_from_gl_failure(
        &self,
        pad: &gst::GhostPad,
        retry: Option<gst::Buffer>,
        flow: gst::FlowError,
        error: gst::Message,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let cause = describe_error(&error).unwrap_or_else(|| format!("{flow:?}"));
        let Some(retry) = retry else {
            gst::element_imp_error!(
                self,
                gst::StreamError::Failed,
                (
                    "the GL path failed mid-stream ({}); mode=gl does not fall back, use mode=auto to continue in software",
                    cause
                ),
                ["{:?}", error]
            );
            return Err(flow);
        };
        match self.switch_to_software(&format!("the GL path failed mid-stream ({cause})"), None) {
            Ok(()) => gst::ProxyPad::chain_default(pad, Some(&*self.obj()), retry),
            Err(why) => {
                gst::warning!(CAT, imp = self, "cannot fall back to software: {why}");
                self.parent_handle_message(error);
                Err(flow)
            }
        }
    }

    /// Downstream answered the first GL frame(s) with an error flow and posted nothing: the
    /// consumer cannot read GL memory after all, whatever the interop test predicted. In auto
    /// mode with a consumer that takes system memory too, software takes the same buffer and
    /// interop is marked failed for this display and device; otherwise an element error says
    /// who refused.
    fn recover_from_refusal(
        &self,
        pad: &gst::GhostPad,
        retry: Option<gst::Buffer>,
        flow: gst::FlowError,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let consumer = consumer::find(self.srcpad.upcast_ref());
        let who = consumer
            .as_ref()
            .map_or_else(|| "downstream".to_owned(), consumer::Consumer::describe);
        let verdict = self.state().cuda_watch.as_ref().map(|w| w.report.clone());
        let (Some(retry), Some(verdict)) = (retry, verdict) else {
            let fix = if self.settings().mode == Mode::Gl {
                "mode=gl does not fall back, use mode=auto to continue in software"
            } else {
                "it takes nothing else, so there is no software path to fall back to"
            };
            gst::element_imp_error!(
                self,
                gst::StreamError::Failed,
                (
                    "{} refused GL memory ({} on the first GL frame); {}",
                    who,
                    flow_name(flow),
                    fix
                )
            );
            return Err(flow);
        };
        let device = verdict
            .tested_device()
            .map_or_else(String::new, |d| format!(" on CUDA device {d}"));
        let why = format!(
            "{who} refused the first GL frame ({}) although the interop test had passed{device}",
            flow_name(flow)
        );
        gst::warning!(CAT, imp = self, "{why}: switching to software");
        let factory = consumer
            .as_ref()
            .and_then(consumer::Consumer::factory)
            .unwrap_or_else(|| "downstream".into());
        let refused = interop::refuse(&verdict, &factory, &why);
        let interop = InteropUse {
            report: refused,
            ran_now: false,
        };
        match self.switch_to_software(&why, Some(&interop)) {
            Ok(()) => gst::ProxyPad::chain_default(pad, Some(&*self.obj()), retry),
            Err(err) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("{}; could not switch to software: {}", why, err)
                );
                Err(flow)
            }
        }
    }

    /// Replaces the GL chain with the software chain for the current caps; `why` says what went
    /// wrong, for the warning and the `strom-autoconvert` message.
    fn switch_to_software(&self, why: &str, interop: Option<&InteropUse>) -> Result<(), String> {
        let plan = self.install_software_after(why)?;
        {
            let mut state = self.state();
            state.gl_failed = Some(why.to_owned());
            state.cuda_watch = None;
        }
        let detail = interop.map_or_else(String::new, |i| i.report.reason.clone());
        gst::element_imp_warning!(
            self,
            gst::StreamError::Failed,
            ("{}; continuing with software conversion", why),
            ["{}", detail]
        );
        self.announce(&plan, interop, None);
        Ok(())
    }

    /// Runs the CUDA check that is due; returns whether the stream stays on the GL path.
    pub(super) fn run_cuda_check(&self, device: Option<WatchedDevice>) -> bool {
        match self.check_cuda(device) {
            Some(Ok(())) => true,
            Some(Err(lost)) => !self.on_interop_lost(&lost),
            None => {
                // The check could not run yet: due again on the next buffer.
                if let Some(watch) = self.state().cuda_watch.as_mut() {
                    watch.schedule.retry();
                }
                true
            }
        }
    }

    /// Asks CUDA whether it still reaches the GL context of the chain; None when the chain has
    /// no GL context yet (glupload makes it while handling its first buffer).
    fn check_cuda(&self, device: Option<WatchedDevice>) -> Option<Result<(), InteropLost>> {
        let context = self
            .chain
            .elements()
            .iter()
            .filter_map(|e| e.downcast_ref::<gst_gl::GLBaseFilter>())
            .find_map(gst_gl::prelude::GLBaseFilterExt::gl_context);
        let Some(context) = context else {
            gst::log!(
                CAT,
                imp = self,
                "no GL context in the chain yet: CUDA check deferred"
            );
            return None;
        };
        let checked = health::check_gl_context(&context, device);
        gst::log!(CAT, imp = self, "CUDA check of the GL path: {checked:?}");
        Some(checked)
    }

    /// CUDA stopped reaching the GL frames after the interop test had passed: the encoder reading
    /// them would fail next. Marks interop failed for that device (every display, the rest of the
    /// process) and moves this stream to system memory. Returns whether the software chain is now
    /// in place.
    fn on_interop_lost(&self, lost: &InteropLost) -> bool {
        let Some(verdict) = self.state().cuda_watch.as_ref().map(|w| w.report.clone()) else {
            return false;
        };
        let report = interop::revoke(&verdict, lost);
        let interop = InteropUse {
            report: report.clone(),
            ran_now: false,
        };
        let why = format!(
            "CUDA stopped reaching the GL frames after the interop test had passed ({})",
            lost.cause
        );
        match self.switch_to_software(&why, Some(&interop)) {
            Ok(()) => true,
            Err(err) => {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Failed,
                    (
                        "{}; could not switch to software ({}), staying on GL",
                        why,
                        err
                    ),
                    ["{}", report.reason]
                );
                self.state().cuda_watch = None;
                false
            }
        }
    }
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
