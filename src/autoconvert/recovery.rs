// SPDX-License-Identifier: MPL-2.0
//! Keeping the stream alive when the GL path stops working:
//! - a GL chain that fails with a buffer inside (context lost, upload error): in auto mode the
//!   bin switches to software and pushes the same buffer again, so none is lost or duplicated;
//!   in gl mode it posts an element error;
//! - CUDA that stops reaching the GL frames after the interop test had passed (see
//!   `crate::gpu::health`): checked on the first buffer and then every `cuda-check-interval`,
//!   and answered by the same switch before the buffer is pushed.

use std::time::Duration;

use gst::prelude::*;
use gst::subclass::prelude::*;

use super::Mode;
use super::imp::{AutoConvert, CAT, Settings};
use super::plan::{ChainPlan, ConvertPath};
use super::report::InteropUse;
use crate::chainbin::describe_error;
use crate::gpu::health::{self, CheckSchedule, InteropLost};
use crate::gpu::interop;

/// The GL chain was chosen because CUDA could read its frames: keep asking CUDA whether it still
/// can.
pub(super) struct CudaWatch {
    pub(crate) schedule: CheckSchedule,
    /// The device the interop test registered a buffer on.
    pub(crate) device: Option<i32>,
}

/// A watch when `plan` is the GL path auto mode chose because CUDA could read GL frames.
pub(super) fn watch_for(
    plan: &ChainPlan,
    interop: Option<&InteropUse>,
    settings: &Settings,
) -> Option<CudaWatch> {
    let relies_on_cuda = plan.shape.path == ConvertPath::Gl
        && plan.decided_by_interop
        && interop.is_some_and(|i| i.report.works());
    relies_on_cuda.then(|| CudaWatch {
        schedule: CheckSchedule::new(Duration::from_millis(
            settings.cuda_check_interval_ms.into(),
        )),
        device: interop
            .and_then(|i| i.report.device.as_ref())
            .map(|d| d.handle),
    })
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
        match (result, held) {
            (Err(flow), Some(error)) => self.recover_from_gl_failure(pad, retry, flow, error),
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
    pub(super) fn run_cuda_check(&self, device: Option<i32>) -> bool {
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
    fn check_cuda(&self, device: Option<i32>) -> Option<Result<(), InteropLost>> {
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
    /// them would fail next. Marks interop failed for the process and moves this stream to
    /// system memory. Returns whether the software chain is now in place.
    fn on_interop_lost(&self, lost: &InteropLost) -> bool {
        let report = interop::revoke(lost);
        let interop = InteropUse {
            report,
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
