// SPDX-License-Identifier: MPL-2.0
//! The `stromautoconvert` subclass: settings, per-stream state, the ghost pads' functions and the
//! GObject/GStreamer impls. The rest of the bin sits beside it: `chain.rs` decides and builds the
//! chain when caps arrive, `recovery.rs` keeps the stream alive when the GL path fails or CUDA
//! goes away, `report.rs` says what was chosen and why.

use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Instant;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::caps;
use super::chain;
use super::fixate::OutputSize;
use super::plan::{self, Chain, ChainPlan, ConvertPath, InteropVerdict, Request};
use super::recovery::{self, ConsumerJudge, CudaWatch, Recovery, Refuser};
use super::report::{self, ChainError, InteropUse};
use super::stock::{self, StockValues};
use super::{CAT, Mode};
use crate::chainbin::{ChainSlot, ErrorHold, QueryGate, consumer, describe_error};
use crate::framecheck::{self, DropCount};
use crate::gpu::gl::GlInfo;
use crate::gpu::health::{self, InteropLost, WatchedDevice};
use crate::gstversion;
use crate::sync::lock;

const DEFAULT_MODE: Mode = Mode::Auto;
const DEFAULT_N_THREADS: u32 = 0;
const MAX_N_THREADS: u32 = 256;
const DEFAULT_CUDA_CHECK_INTERVAL_MS: u32 = 1000;
const MAX_CUDA_CHECK_INTERVAL_MS: u32 = 3_600_000;

#[derive(Debug, Clone, Copy)]
struct Settings {
    mode: Mode,
    n_threads: u32,
    cuda_check_interval_ms: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: DEFAULT_MODE,
            n_threads: DEFAULT_N_THREADS,
            cuda_check_interval_ms: DEFAULT_CUDA_CHECK_INTERVAL_MS,
        }
    }
}

/// What exists only while a stream runs; `State::default()` at the start of each.
#[derive(Default)]
struct State {
    active_path: Option<ConvertPath>,
    interop_status: String,
    /// Why the GL chain failed with data flowing: auto mode stays on software for the stream.
    gl_failed: Option<String>,
    /// The current system-memory input caps, which each buffer is checked against (None for
    /// GL memory).
    input_info: Option<gst_video::VideoInfo>,
    /// Set while the chain is the GL path that auto mode chose for a CUDA consumer.
    cuda_watch: Option<CudaWatch>,
    /// The chain error last posted (see `post_chain_error`), until a chain is in place again.
    chain_error_posted: Option<String>,
}

/// Lock order: `settings`, `stock` and `state` are each taken alone and let go before another
/// is taken (values are copied out), and none is held across a push, a query, a chain build or
/// a message post. The locks inside `chain`, `errors`, `queries` and `judge` are private to
/// those types and never held when they return.
pub struct AutoConvert {
    sinkpad: gst::GhostPad,
    srcpad: gst::GhostPad,
    settings: Mutex<Settings>,
    /// videoconvert's properties (`stock.rs`); lock order: never with `state`.
    stock: Mutex<StockValues>,
    state: Mutex<State>,
    /// The chain between the ghost pads, tagged with the steps it was built from.
    chain: ChainSlot<Chain>,
    /// Errors the GL chain posts while a buffer is inside, until the bin knows if it recovers.
    errors: ErrorHold,
    queries: QueryGate,
    /// What downstream answered to the first GL frames of the current chain.
    judge: ConsumerJudge,
    /// Input buffers dropped because they do not hold the frame they claim.
    malformed: DropCount,
}

impl AutoConvert {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn settings(&self) -> Settings {
        *lock(&self.settings)
    }

    fn sink_event(&self, pad: &gst::GhostPad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(caps_event) => {
                let caps = caps_event.caps_owned();
                if let Err(err) = self.ensure_chain_for(&caps) {
                    self.post_chain_error(&caps, err);
                    return false;
                }
                let mut state = self.state();
                state.input_info = system_memory_info(&caps);
                state.chain_error_posted = None;
            }
            // Without a chain (EOS before any caps: an empty stream) the ghost pad has nowhere to
            // send it, and a dropped EOS would leave the pipeline waiting for ever.
            gst::EventView::Eos(_) if self.chain.is_empty() => {
                gst::debug!(CAT, imp = self, "EOS before caps: forwarding it downstream");
                return self.srcpad.push_event(event);
            }
            _ => {}
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    /// Whether `buffer` fails to hold the frame it claims (see `framecheck`): such a buffer is
    /// dropped here, before any child maps it, with a warning naming the cause. Passed on, it
    /// would make `videoconvert`, `glupload`, our converter or a passthrough consumer (an
    /// encoder) read past its memory. Dropped rather than failing the stream: the check costs
    /// nothing to the frames around it, and a live source keeps running.
    fn is_malformed(&self, buffer: &gst::BufferRef, info: &gst_video::VideoInfo) -> bool {
        let Err(fault) = framecheck::buffer::check(buffer, info) else {
            return false;
        };
        gst::warning!(CAT, imp = self, "dropping an input buffer: {fault}");
        if let Some(dropped) = self.malformed.note() {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                ("{}", framecheck::drop_message(dropped, &fault))
            );
        }
        true
    }

    /// Pushes `buffer` into the chain; through `push_through_gl` on the GL path, which catches a
    /// failure inside the chain and, in auto mode, moves the stream to software without losing
    /// the buffer.
    fn sink_chain(
        &self,
        pad: &gst::GhostPad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let on_gl = self.chain.read_shape(Chain::path) == Some(ConvertPath::Gl);
        // One look at the state per buffer: this runs for every frame.
        let (input_info, cuda_check) = {
            let mut state = self.state();
            let cuda_check = state
                .cuda_watch
                .as_mut()
                .filter(|_| on_gl)
                .and_then(|watch| {
                    watch
                        .schedule
                        .take_due(Instant::now())
                        .then_some(watch.device)
                });
            (state.input_info.clone(), cuda_check)
        };
        if input_info
            .as_ref()
            .is_some_and(|info| self.is_malformed(&buffer, info))
        {
            return Ok(gst::FlowSuccess::Ok);
        }
        let on_gl = match cuda_check {
            Some(device) => self.run_cuda_check(device),
            None => on_gl,
        };
        if on_gl {
            // The part of a larger meta frame that videoconvert converts (glupload would
            // scale the whole frame).
            let buffer = match &input_info {
                Some(info) => framecheck::buffer::crop_to_caps(buffer, info),
                None => buffer,
            };
            self.push_through_gl(pad, buffer)
        } else {
            gst::ProxyPad::chain_default(pad, Some(&*self.obj()), buffer)
        }
    }

    fn sink_query(&self, pad: &gst::GhostPad, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let offered = self.sink_caps(pad);
                let result = match q.filter() {
                    Some(filter) => {
                        filter.intersect_with_mode(&offered, gst::CapsIntersectMode::First)
                    }
                    None => offered,
                };
                q.set_result(&result);
                true
            }
            // Answered here, not by the current chain: caps the chain cannot carry are still
            // accepted when another chain can, and the bin rebuilds when they arrive.
            gst::QueryViewMut::AcceptCaps(q) => {
                let acceptable = caps::input_from_caps(q.caps())
                    .is_ok_and(|input| !matches!(input.memory, plan::Memory::Other(_)))
                    && self.sink_caps_without_chain().can_intersect(q.caps());
                q.set_result(acceptable);
                true
            }
            _ => {
                self.queries.enter().is_some()
                    && gst::Pad::query_default(pad, Some(&*self.obj()), query)
            }
        }
    }

    /// What the bin takes: the chain's own answer first (what it prefers), then what any chain
    /// could take for this consumer.
    fn sink_caps(&self, pad: &gst::GhostPad) -> gst::Caps {
        let without_chain = self.sink_caps_without_chain();
        let Some(entered) = self.queries.enter() else {
            return without_chain;
        };
        if self.chain.is_empty() {
            return without_chain;
        }
        // Never block here (the streaming thread may need this query answered to finish); on the
        // streaming thread itself the chain is ours to ask.
        let Ok(_idle) = self.queries.try_idle(self.errors.is_open_here()) else {
            return without_chain;
        };
        let mut query = gst::query::Caps::new(None);
        let answered = gst::Pad::query_default(pad, Some(&*self.obj()), &mut query);
        drop(entered);
        if !answered {
            gst::debug!(CAT, imp = self, "the chain did not answer the caps query");
            return without_chain;
        }
        let Some(chain_caps) = query.result() else {
            return without_chain;
        };
        gst::log!(
            CAT,
            imp = self,
            "chain takes {chain_caps}, now {:?}",
            self.sinkpad.current_caps()
        );
        // What comes in now first: the chain was built for it and carries it. A source asked
        // again (after a reconfigure) keeps its format instead of flipping to the first the
        // chain lists, which the plan would then have to serve from downstream's answer alone
        // (and glupload 1.22, once set up, answers GL memory only, which the chain before it
        // passes on as its own).
        let mut caps = self
            .sinkpad
            .current_caps()
            .unwrap_or_else(gst::Caps::new_empty);
        caps.merge(chain_caps.to_owned());
        caps.merge(without_chain);
        caps
    }

    /// What the chain this bin would build for today's consumer takes (see
    /// [`plan::system_offer`]): never a format that chain refuses.
    fn sink_caps_without_chain(&self) -> gst::Caps {
        let downstream = self.srcpad.peer_query_caps(None);
        let offer = plan::system_offer(
            self.settings().mode,
            self.state().gl_failed.is_some(),
            &caps::downstream_from_caps(&downstream),
        );
        caps::sink_caps_without_chain(&downstream, self.scales(), offer)
    }

    /// Whether this is the scaling variant, `stromautoconvertscale`.
    fn scales(&self) -> bool {
        self.obj()
            .type_()
            .is_a(super::AutoConvertScale::static_type())
    }

    /// Every buffer leaving the bin passes here (the src ghost pad's inside), so downstream's
    /// answer to each GL frame is seen where it comes back.
    fn src_chain(
        &self,
        pad: &gst::ProxyPad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let gl_memory = buffer.n_memory() > 0
            && buffer
                .peek_memory(0)
                .is_memory_type::<gst_gl::GLBaseMemory>();
        let ghost: &gst::Object = self.srcpad.upcast_ref();
        let result = gst::ProxyPad::chain_default(pad, Some(ghost), buffer);
        if gl_memory {
            self.judge.observe(result);
        }
        result
    }

    fn src_query(&self, pad: &gst::GhostPad, query: &mut gst::QueryRef) -> bool {
        if self.chain.is_empty()
            && let gst::QueryViewMut::Caps(q) = query.view_mut()
        {
            let template = caps::template_caps();
            let result = match q.filter() {
                Some(filter) => {
                    filter.intersect_with_mode(&template, gst::CapsIntersectMode::First)
                }
                None => template,
            };
            q.set_result(&result);
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }
}

/// Deciding and building the chain (`plan.rs` decides, `chain.rs` specifies the elements).
impl AutoConvert {
    /// Everything the decision reads for `caps`. `gl_failed` overrides the stream's own record
    /// of a GL failure (the one being recovered from now). Runs the interop test (once per GL
    /// display and CUDA device, cached) only when the request needs it, on the device of the
    /// consumer downstream.
    fn request_for(
        &self,
        caps: &gst::Caps,
        gl_failed: Option<&str>,
    ) -> Result<(Request, Option<InteropUse>, gst::Caps), ChainError> {
        let input = caps::input_from_caps(caps).map_err(ChainError::NotConvertible)?;
        let downstream_caps = self.srcpad.peer_query_caps(None);
        gst::debug!(CAT, imp = self, "downstream takes {downstream_caps}");
        let gl_failed = gl_failed
            .map(str::to_owned)
            .or_else(|| self.state().gl_failed.clone());
        let mut request = Request {
            mode: self.settings().mode,
            input,
            downstream: caps::downstream_from_caps(&downstream_caps),
            direct_target: caps::direct_target(caps, &downstream_caps).or_else(|| {
                // A scaling bin's fast converter also scales where its picture is stock's.
                let threads = self.settings().n_threads;
                self.scales()
                    .then(|| {
                        crate::convert::scaling::scaled_target(caps, &downstream_caps, threads)
                    })
                    .flatten()
            }),
            gl_failed,
            interop: None,
            consumer_cuda_device: crate::chainbin::consumer::find(self.srcpad.upcast_ref())
                .and_then(|c| c.cuda_device),
            passthrough: caps::takes_as_is(caps, &downstream_caps),
            scale: self.scales(),
            software_settings: lock(&self.stock).software_reason(self.scales()),
            gst_version: gstversion::running(),
        };
        let interop = request
            .needs_interop()
            .then(|| chain::interop_for(self.obj().upcast_ref(), self.srcpad.upcast_ref()));
        request.interop = interop.as_ref().map(|i| InteropVerdict::from(&*i.report));
        Ok((request, interop, downstream_caps))
    }

    /// Decides for these caps and builds the chain if the current one cannot carry them.
    fn ensure_chain_for(&self, caps: &gst::Caps) -> Result<(), ChainError> {
        let (request, interop, downstream_caps) = self.request_for(caps, None)?;
        let plan = plan::plan(&request).map_err(|err| ChainError::NotConvertible(err.0))?;
        let output_size = chain::output_size_for(&plan, caps, &downstream_caps);
        if let Some(size) = &output_size {
            gst::debug!(
                CAT,
                imp = self,
                "GL scaling to {size:?}, as videoconvertscale would"
            );
        }
        let current = self.chain.shape();
        if current.as_ref() == Some(&plan.chain) {
            gst::debug!(CAT, imp = self, "current chain carries {caps}");
            if let Some(size) = &output_size {
                chain::repin_output_size(&self.chain.elements(), size, plan.chain.pins_bt601());
            }
            return Ok(());
        }
        let gl_info = chain::check_gl_for(self.obj().upcast_ref(), &plan, interop.as_ref())?;
        gst::info!(
            CAT,
            imp = self,
            "{} chain for {caps}: {} ({}; {} copies per frame at most)",
            if current.is_some() {
                "rebuilding"
            } else {
                "building"
            },
            plan.chain.describe(),
            plan.reason,
            plan.chain.copies_per_frame(&request.input.memory)
        );
        self.install(&plan, output_size.as_ref())?;
        let interval_ms = self.settings().cuda_check_interval_ms;
        self.state().cuda_watch = recovery::watch_for(&plan, interop.as_ref(), interval_ms);
        self.announce(&plan, interop.as_ref(), gl_info.as_ref());
        Ok(())
    }

    /// Replaces the chain with the software chain for the current caps, after the GL path
    /// failed for the reason `why`. Returns the plan now in place.
    fn install_software_after(&self, why: &str) -> Result<ChainPlan, String> {
        let caps = self
            .sinkpad
            .current_caps()
            .ok_or_else(|| "no caps negotiated yet".to_owned())?;
        let (request, _, _) = self
            .request_for(&caps, Some(why))
            .map_err(|e| e.to_string())?;
        let plan = plan::plan(&request).map_err(|e| e.0)?;
        self.install(&plan, None).map_err(|e| e.to_string())?;
        Ok(plan)
    }

    /// Builds the chain for `plan` and puts it between the ghost pads; a new chain is judged
    /// afresh on the GL frames it hands downstream.
    fn install(
        &self,
        plan: &ChainPlan,
        output_size: Option<&OutputSize>,
    ) -> Result<(), ChainError> {
        let stock = lock(&self.stock).changed();
        let specs = chain::specs_for(
            &plan.chain,
            self.scales(),
            self.settings().n_threads,
            output_size,
            &stock,
        );
        self.chain
            .build_and_install(self.obj().upcast_ref(), plan.chain.clone(), &specs)
            .map_err(ChainError::Build)?;
        self.judge.arm(plan.chain.hands_on_gl_memory());
        Ok(())
    }
}

/// Keeping the stream alive when the GL path fails: `recovery.rs` decides, this performs.
impl AutoConvert {
    /// Pushes `buffer` into the GL chain with its errors held back; on a failure inside the
    /// chain, recovers as `recovery.rs` decides.
    fn push_through_gl(
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
        let why = match recovery::after_gl_failure(&cause, retry.is_some()) {
            Recovery::Fail(message) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("{}", message),
                    ["{:?}", error]
                );
                return Err(flow);
            }
            Recovery::SwitchToSoftware { why, .. } => why,
        };
        match (self.switch_to_software(&why, None), retry) {
            (Ok(()), Some(retry)) => gst::ProxyPad::chain_default(pad, Some(&*self.obj()), retry),
            (Err(why), _) => {
                gst::warning!(CAT, imp = self, "cannot fall back to software: {why}");
                self.parent_handle_message(error);
                Err(flow)
            }
            (Ok(()), None) => Err(flow),
        }
    }

    /// Downstream answered the first GL frame(s) with an error flow and posted nothing (see
    /// [`recovery::after_refusal`]).
    fn recover_from_refusal(
        &self,
        pad: &gst::GhostPad,
        retry: Option<gst::Buffer>,
        flow: gst::FlowError,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let refuser = Refuser::of(consumer::find(self.srcpad.upcast_ref()).as_ref());
        let verdict = self.state().cuda_watch.as_ref().map(|w| w.report.clone());
        let mode = self.settings().mode;
        let recovery =
            recovery::after_refusal(&refuser, flow, mode, retry.is_some(), verdict.as_ref());
        let (why, interop) = match recovery {
            Recovery::Fail(message) => {
                gst::element_imp_error!(self, gst::StreamError::Failed, ("{}", message));
                return Err(flow);
            }
            Recovery::SwitchToSoftware { why, interop } => (why, interop),
        };
        gst::warning!(CAT, imp = self, "{why}: switching to software");
        match (self.switch_to_software(&why, interop.as_ref()), retry) {
            (Ok(()), Some(retry)) => gst::ProxyPad::chain_default(pad, Some(&*self.obj()), retry),
            (Err(err), _) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("{}; could not switch to software: {}", why, err)
                );
                Err(flow)
            }
            (Ok(()), None) => Err(flow),
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
    fn run_cuda_check(&self, device: Option<WatchedDevice>) -> bool {
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
        let Some(context) = recovery::gl_context_of(&self.chain.elements()) else {
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

    /// CUDA stopped reaching the GL frames after the interop test had passed (see
    /// [`recovery::after_interop_lost`]): moves this stream to system memory. Returns whether
    /// the software chain is now in place.
    fn on_interop_lost(&self, lost: &InteropLost) -> bool {
        let Some(verdict) = self.state().cuda_watch.as_ref().map(|w| w.report.clone()) else {
            return false;
        };
        let (why, interop) = recovery::after_interop_lost(&verdict, lost);
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
                    ["{}", interop.report.reason]
                );
                self.state().cuda_watch = None;
                false
            }
        }
    }
}

/// What the bin says (`report.rs` builds it from plain inputs).
impl AutoConvert {
    /// Records the decision, logs it as Strom users know it, and posts `strom-autoconvert`.
    fn announce(&self, plan: &ChainPlan, interop: Option<&InteropUse>, gl_info: Option<&GlInfo>) {
        let obj = self.obj();
        report::log_interop_decision(obj.upcast_ref(), plan, interop);
        let interop_status = report::interop_status(plan, interop);
        {
            let mut state = self.state();
            state.active_path = Some(plan.chain.path());
            state.interop_status = interop_status.clone();
        }
        obj.notify("active-path");
        obj.notify("interop-status");
        crate::chainbin::post_decision(
            &*obj,
            report::decision_structure(plan, &interop_status, interop, gl_info),
        );
    }

    /// Posts the element error for `err`, once: upstream retries the same caps (basesrc
    /// renegotiates on every buffer after a refusal), and one failure is one message. The
    /// record is cleared when a chain is in place again or a new stream starts.
    fn post_chain_error(&self, caps: &gst::Caps, err: ChainError) {
        let key = format!("{err}");
        {
            let mut state = self.state();
            if state.chain_error_posted.as_deref() == Some(key.as_str()) {
                gst::debug!(CAT, imp = self, "not posting the same error again: {key}");
                return;
            }
            state.chain_error_posted = Some(key);
        }
        report::post_chain_error(self.obj().upcast_ref(), caps, err);
    }
}

/// The frame of system-memory raw video `caps`; None where buffers are not plain bytes (GL
/// memory) or the caps are not video.
fn system_memory_info(caps: &gst::CapsRef) -> Option<gst_video::VideoInfo> {
    let features = caps.features(0)?;
    if features.contains(crate::formats::GL_MEMORY) {
        return None;
    }
    gst_video::VideoInfo::from_caps(caps).ok()
}

#[glib::object_subclass]
impl ObjectSubclass for AutoConvert {
    const NAME: &'static str = "GstStromAutoConvert";
    type Type = super::AutoConvert;
    type ParentType = gst::Bin;

    fn with_class(klass: &Self::Class) -> Self {
        let sink_template = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::GhostPad::builder_from_template(&sink_template)
            .event_function(|pad, parent, event| {
                AutoConvert::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                AutoConvert::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_query(pad, query),
                )
            })
            .chain_function(|pad, parent, buffer| {
                AutoConvert::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |this| this.sink_chain(pad, buffer),
                )
            })
            .build();
        let src_template = klass.pad_template("src").expect("src template");
        let srcpad = gst::GhostPad::builder_from_template(&src_template)
            .query_function(|pad, parent, query| {
                AutoConvert::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.src_query(pad, query),
                )
            })
            // The inside of the src ghost pad: its parent is the ghost pad, whose parent is us.
            .proxy_pad_chain_function(|pad, ghost, buffer| {
                let bin = ghost.and_then(|g| g.parent());
                AutoConvert::catch_panic_pad_function(
                    bin.as_ref(),
                    || Err(gst::FlowError::Error),
                    |this| this.src_chain(pad, buffer),
                )
            })
            .build();
        AutoConvert {
            chain: ChainSlot::new(&sinkpad, &srcpad),
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            stock: Mutex::new(StockValues::new(<Self as ObjectImpl>::properties())),
            state: Mutex::new(State::default()),
            errors: ErrorHold::default(),
            queries: QueryGate::default(),
            judge: ConsumerJudge::default(),
            malformed: DropCount::default(),
        }
    }
}

impl ObjectImpl for AutoConvert {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut properties = vec![
                glib::ParamSpecEnum::builder_with_default("mode", DEFAULT_MODE)
                    .nick("Mode")
                    .blurb(
                        "Which conversion chain to build: auto (GL when downstream takes GL \
                         memory and CUDA-GL interop works, else software), gl \
                         (glupload ! glcolorconvert), software (multi-threaded videoconvert). \
                         Changeable in NULL and READY only",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("n-threads")
                    .nick("Threads")
                    .blurb(
                        "Threads of the software path. 0 (automatic): the internal \
                         videoconvert(scale) runs one per CPU this process may use (its CPU \
                         affinity and cgroup CPU quota, so a container limited to 2 CPUs gets \
                         2); the internal fast converter (I420<->NV12; UYVY, YUY2, BGRx, BGRA, \
                         RGBx, RGBA to I420/NV12) runs one thread per stream where one already \
                         runs at 1.5x videoconvert's default speed or more, and splits the \
                         frame into row bands over that many CPUs where it does not (UYVY/YUY2 \
                         to I420). N: N threads for both, every conversion; 1 = one thread. The \
                         picture is the same on any number",
                    )
                    .default_value(DEFAULT_N_THREADS)
                    // Bounded so that a wrapped "-1" from gst-launch is refused, not obeyed.
                    .maximum(MAX_N_THREADS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("cuda-check-interval")
                    .nick("CUDA check interval")
                    .blurb(
                        "Milliseconds between checks that CUDA still reaches the GL frames \
                         (cuGLGetDevices in the GL thread), made on the first buffer and then \
                         while auto mode feeds GL memory to a CUDA consumer such as nvh264enc. \
                         When a check fails the bin switches to software with a warning and a \
                         strom-autoconvert message naming the CUDA error; 0 = never check",
                    )
                    .default_value(DEFAULT_CUDA_CHECK_INTERVAL_MS)
                    .maximum(MAX_CUDA_CHECK_INTERVAL_MS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("active-path")
                    .nick("Active path")
                    .blurb("The chain in use: \"\" until caps are negotiated, then gl or software")
                    .read_only()
                    .build(),
                glib::ParamSpecString::builder("interop-status")
                    .nick("Interop status")
                    .blurb(
                        "Result of the in-process CUDA-GL interop test on the consumer's CUDA \
                         device, e.g. ok, failed: CUDA_ERROR_OPERATING_SYSTEM, failed: nvh264enc \
                         refused GL memory, unavailable: libcuda.so.1 not found, skipped: WSL2, \
                         skipped: GL is Mesa llvmpipe; not-tested: <why> when the decision did \
                         not need it",
                    )
                    .read_only()
                    .build(),
            ];
            properties.extend(stock::pspecs());
            properties
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "mode" => {
                let mode = value.get::<Mode>().expect("type checked upstream");
                if self.obj().current_state() > gst::State::Ready {
                    gst::element_imp_warning!(
                        self,
                        gst::CoreError::StateChange,
                        ("mode can only be changed in the NULL or READY state; keeping the current mode")
                    );
                    return;
                }
                gst::info!(CAT, imp = self, "mode set to {mode:?}");
                lock(&self.settings).mode = mode;
            }
            "n-threads" => {
                let n_threads = value.get::<u32>().expect("type checked upstream");
                lock(&self.settings).n_threads = n_threads;
                // videoconvert reads it when it (re)configures, from the next caps; the fast
                // converter from the next frame, and reads 0 itself.
                for converter in self.chain.elements() {
                    if let Some(threads) = chain::n_threads_of(&converter, n_threads) {
                        converter.set_property("n-threads", threads);
                    }
                }
            }
            "cuda-check-interval" => {
                let interval_ms = value.get::<u32>().expect("type checked upstream");
                lock(&self.settings).cuda_check_interval_ms = interval_ms;
                if let Some(watch) = self.state().cuda_watch.as_mut() {
                    watch
                        .schedule
                        .set_interval(std::time::Duration::from_millis(interval_ms.into()));
                }
            }
            name if stock::is_stock(name) => {
                lock(&self.stock).set(name, value);
                // videoconvert takes them while playing; whether they change the path is
                // decided when caps next arrive.
                let value = crate::chainbin::PropertyValue::Value(value.clone());
                for converter in self.chain.elements() {
                    if chain::is_stock_converter(&converter) {
                        let _ = crate::chainbin::set_checked(&converter, name, &value);
                    }
                }
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "mode" => self.settings().mode.to_value(),
            "n-threads" => self.settings().n_threads.to_value(),
            "cuda-check-interval" => self.settings().cuda_check_interval_ms.to_value(),
            "active-path" => self
                .state()
                .active_path
                .map_or("", ConvertPath::as_str)
                .to_value(),
            "interop-status" => self.state().interop_status.to_value(),
            name => lock(&self.stock)
                .get(name)
                .unwrap_or_else(|| pspec.default_value().clone()),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad)
            .expect("fresh bin takes a sink pad");
        obj.add_pad(&self.srcpad)
            .expect("fresh bin takes a src pad");
    }
}

impl GstObjectImpl for AutoConvert {}

impl ElementImpl for AutoConvert {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::with_additional(
                "Strom automatic video converter",
                "Filter/Converter/Video",
                "Converts raw video through GL (glupload ! glcolorconvert, zero-copy towards \
                 nvh264enc) when downstream takes GL memory and CUDA-GL interop works in this \
                 process, else through a multi-threaded videoconvert. Posts the element message \
                 'strom-autoconvert' when it chooses: path (string: gl|software), reason \
                 (string), interop (boolean), interop-status (string), chain (string), \
                 cuda-error (string, when a CUDA call failed), gl-vendor and gl-renderer \
                 (strings, when a GL context was made), cuda-device (int, the CUDA device the \
                 interop test ran on: downstream's cuda-device-id, else the first behind GL), \
                 gl-devices (string, the CUDA devices behind the GL context, comma-separated), \
                 probe-ms (double, time of the interop test, 0 when cached for that GL display \
                 and CUDA device)",
                "gst-strom developers",
                &[(
                    "doc-uri",
                    "https://github.com/strom/gst-strom#stromautoconvert",
                )],
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = caps::template_caps();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("valid sink template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("valid src template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady
            && gst::ElementFactory::find("videoconvert").is_none()
        {
            gst::element_imp_error!(
                self,
                gst::CoreError::MissingPlugin,
                ("GStreamer element 'videoconvert' is missing; install it with: apt-get install gstreamer1.0-plugins-base")
            );
            return Err(gst::StateChangeError);
        }
        match transition {
            // Before the children stop: see `QueryGate`.
            gst::StateChange::PausedToReady => self.queries.set_open(false),
            gst::StateChange::ReadyToPaused => {
                self.queries.set_open(true);
                // A new stream: the decision is made again when its caps arrive.
                *self.state() = State::default();
                self.errors.clear();
                self.judge.reset();
                self.malformed.reset();
            }
            _ => {}
        }
        let result = self.parent_change_state(transition)?;
        // The chain goes with the stream: glupload (1.22) frees its upload object in stop() and
        // crashes on the next caps query if it is reused. Queries were closed off above, so an
        // upstream thread that is still running (bins stop their sinks first) cannot be inside
        // the chain while it goes.
        if transition == gst::StateChange::PausedToReady {
            self.chain.teardown(self.obj().upcast_ref());
        }
        Ok(result)
    }
}

impl BinImpl for AutoConvert {
    fn handle_message(&self, message: gst::Message) {
        let from_chain = |message: &gst::Message| {
            let held = message.src().is_some_and(|src| self.chain.contains(src));
            if held {
                gst::debug!(
                    CAT,
                    imp = self,
                    "holding back {message:?} until the buffer's fate is known"
                );
            }
            held
        };
        if let Some(message) = self.errors.intercept(message, from_chain) {
            self.parent_handle_message(message)
        }
    }
}
