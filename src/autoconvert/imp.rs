//! The `stromautoconvert` bin: ghost pads whose targets are switched to a chain built when caps
//! arrive (and rebuilt only when new caps need a different chain).

use std::sync::{LazyLock, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::Mode;
use super::caps;
use super::plan::{self, ChainPlan, ChainShape, ConvertPath, InteropVerdict};
use crate::gpu::gl::{self, GlInfo};
use crate::gpu::health::{self, CheckSchedule, InteropLost};
use crate::gpu::interop::{self, InteropReport};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "stromautoconvert",
        gst::DebugColorFlags::empty(),
        Some("Strom automatic video converter"),
    )
});

/// Name of the element message posted when a path is chosen.
pub const MESSAGE_NAME: &str = "strom-autoconvert";

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

fn cuda_check_interval(settings: &Settings) -> Duration {
    Duration::from_millis(settings.cuda_check_interval_ms.into())
}

/// The GL chain was chosen because CUDA could read its frames: keep asking CUDA whether it still
/// can (see `crate::gpu::health`).
struct CudaWatch {
    schedule: CheckSchedule,
    /// The device the interop test registered a buffer on.
    device: Option<i32>,
}

/// The built chain, in link order.
struct Chain {
    shape: ChainShape,
    elements: Vec<gst::Element>,
}

#[derive(Default)]
struct State {
    chain: Option<Chain>,
    active_path: Option<ConvertPath>,
    interop_status: String,
    /// The GL chain failed with data flowing: stay on software for the rest of this stream.
    gl_failed: bool,
    /// An ERROR a chain element posted while a buffer was in the chain, held back until the
    /// chain function decides between falling back and failing.
    held_error: Option<gst::Message>,
    /// Bytes one frame of the current system-memory caps needs (None for GL memory).
    expected_size: Option<usize>,
    malformed_buffers: u64,
    /// Set while the chain is the GL path that auto mode chose for a CUDA consumer.
    cuda_watch: Option<CudaWatch>,
}

thread_local! {
    /// Set while this thread pushes a buffer into a GL chain that may fall back: errors its
    /// elements post in that window belong to that buffer.
    static IN_FALLIBLE_GL_CHAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Why no chain could be built: each maps to an element error a user can act on.
enum ChainError {
    NotConvertible(String),
    MissingElement(&'static str),
    NoGlContext(String),
    Link(String),
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainError::NotConvertible(why) => write!(f, "cannot convert: {why}"),
            ChainError::MissingElement(name) => write!(f, "GStreamer element '{name}' is missing"),
            ChainError::NoGlContext(why) => write!(f, "no GL context: {why}"),
            ChainError::Link(why) => write!(f, "could not link the chain: {why}"),
        }
    }
}

pub struct AutoConvert {
    sinkpad: gst::GhostPad,
    srcpad: gst::GhostPad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Whether queries may enter the chain. Read-held while a query is inside it; PAUSED→READY
    /// takes it for writing and closes it before the children stop, because GL elements free
    /// their internals in stop() under a query from an upstream thread that is still running.
    chain_open_for_queries: RwLock<bool>,
    /// Held while a buffer is inside a GL chain. GStreamer 1.22's glupload is not safe against a
    /// caps query from another thread while it uploads (seen as a crash in
    /// gst_gl_upload_transform_caps); such a query gets the chain-less answer instead.
    gl_chain_busy: Mutex<()>,
}

/// The interop test's answer as this element reports it.
struct InteropUse {
    report: &'static InteropReport,
    ran_now: bool,
}

impl AutoConvert {
    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update; the data is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn settings(&self) -> Settings {
        *self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn has_chain(&self) -> bool {
        self.state().chain.is_some()
    }

    fn sink_event(&self, pad: &gst::GhostPad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(caps_event) => {
                let caps = caps_event.caps_owned();
                if let Err(err) = self.ensure_chain_for(&caps) {
                    self.post_chain_error(&caps, err);
                    return false;
                }
                self.state().expected_size = expected_buffer_size(&caps);
            }
            // Without a chain (EOS before any caps: an empty stream) the ghost pad has nowhere to
            // send it, and a dropped EOS would leave the pipeline waiting for ever.
            gst::EventView::Eos(_) if !self.has_chain() => {
                gst::debug!(CAT, imp = self, "EOS before caps: forwarding it downstream");
                return self.srcpad.push_event(event);
            }
            _ => {}
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    /// Raw video buffers without a `GstVideoMeta` must hold at least the frame the caps
    /// describe. A shorter one is dropped with a warning naming the sizes: passed on, it would
    /// make a passthrough consumer (an encoder) read past its end.
    fn is_malformed(&self, buffer: &gst::BufferRef, expected: usize) -> bool {
        if buffer.size() >= expected || buffer.meta::<gst_video::VideoMeta>().is_some() {
            return false;
        }
        let dropped = {
            let mut state = self.state();
            state.malformed_buffers += 1;
            state.malformed_buffers
        };
        gst::warning!(
            CAT,
            imp = self,
            "dropping a {}-byte buffer: the caps need {expected} bytes per frame",
            buffer.size()
        );
        if dropped == 1 || dropped.is_power_of_two() {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                (
                    "dropped {} malformed raw video buffer(s): {} bytes where the negotiated caps need {}; fix the producer or its caps",
                    dropped,
                    buffer.size(),
                    expected
                )
            );
        }
        true
    }

    /// Pushes `buffer` into the chain. On the GL path, a failure inside the chain (GL context
    /// lost, upload error) is caught: in auto mode the bin switches to software and pushes the
    /// same buffer again, so none is lost or duplicated; in gl mode it posts an element error.
    fn sink_chain(
        &self,
        pad: &gst::GhostPad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // One look at the state per buffer: this runs for every frame.
        let (expected_size, mut on_gl, cuda_check) = {
            let mut state = self.state();
            let on_gl = state.chain.as_ref().map(|c| c.shape.path) == Some(ConvertPath::Gl);
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
            (state.expected_size, on_gl, cuda_check)
        };
        if expected_size.is_some_and(|expected| self.is_malformed(&buffer, expected)) {
            return Ok(gst::FlowSuccess::Ok);
        }
        if let Some(device) = cuda_check {
            match self.check_cuda(device) {
                Some(Ok(())) => {}
                Some(Err(lost)) => on_gl = !self.on_interop_lost(&lost),
                None => self.retry_cuda_check(),
            }
        }
        if !on_gl {
            return gst::ProxyPad::chain_default(pad, Some(&*self.obj()), buffer);
        }
        // Only auto mode can push the buffer again. The extra reference is held only there, since
        // it makes the buffer look shared to in-place elements downstream.
        let retry = (self.settings().mode == Mode::Auto).then(|| buffer.clone());
        let busy = self.gl_chain_busy.lock().unwrap_or_else(|e| e.into_inner());
        IN_FALLIBLE_GL_CHAIN.with(|f| f.set(true));
        let result = gst::ProxyPad::chain_default(pad, Some(&*self.obj()), buffer);
        IN_FALLIBLE_GL_CHAIN.with(|f| f.set(false));
        drop(busy);
        let held = self.state().held_error.take();
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
        let cause = match error.view() {
            gst::MessageView::Error(e) => match e.debug() {
                Some(debug) => format!("{}: {debug}", e.error()),
                None => e.error().to_string(),
            },
            _ => format!("{flow:?}"),
        };
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

    /// Asks CUDA whether it still reaches the GL context of the chain; None when the chain has
    /// no GL context yet (glupload makes it while handling its first buffer).
    fn check_cuda(&self, device: Option<i32>) -> Option<Result<(), InteropLost>> {
        let context = self
            .state()
            .chain
            .iter()
            .flat_map(|c| c.elements.iter())
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

    /// The check that was due could not run: make it due again on the next buffer.
    fn retry_cuda_check(&self) {
        if let Some(watch) = self.state().cuda_watch.as_mut() {
            watch.schedule.retry();
        }
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

    /// Replaces the GL chain with the software chain for the current caps; `why` says what went
    /// wrong, for the warning and the `strom-autoconvert` message.
    fn switch_to_software(&self, why: &str, interop: Option<&InteropUse>) -> Result<(), String> {
        let caps = self
            .sinkpad
            .current_caps()
            .ok_or_else(|| "no caps negotiated yet".to_owned())?;
        let input = caps::input_from_caps(&caps)?;
        let downstream = caps::downstream_from_caps(&self.srcpad.peer_query_caps(None));
        let mut plan = plan::plan(Mode::Software, &input, &downstream, None).map_err(|e| e.0)?;
        plan.reason = format!("{why}; switched to software");
        self.build_and_install(plan.shape, self.settings().n_threads)
            .map_err(|e| e.to_string())?;
        {
            let mut state = self.state();
            state.gl_failed = true;
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
                let open = self
                    .chain_open_for_queries
                    .read()
                    .unwrap_or_else(|e| e.into_inner());
                *open && gst::Pad::query_default(pad, Some(&*self.obj()), query)
            }
        }
    }

    /// What the bin takes: the chain's own answer first (what it prefers), then what any chain
    /// could take for this consumer.
    fn sink_caps(&self, pad: &gst::GhostPad) -> gst::Caps {
        let without_chain = self.sink_caps_without_chain();
        let open = self
            .chain_open_for_queries
            .read()
            .unwrap_or_else(|e| e.into_inner());
        if !*open || !self.has_chain() {
            return without_chain;
        }
        // Never block here (the streaming thread may need this query answered to finish); on the
        // streaming thread itself the lock is already ours.
        let on_streaming_thread = IN_FALLIBLE_GL_CHAIN.with(|f| f.get());
        let _idle = match self.gl_chain_busy.try_lock() {
            Ok(guard) => Some(guard),
            Err(_) if on_streaming_thread => None,
            Err(_) => return without_chain,
        };
        let mut query = gst::query::Caps::new(None);
        let answered = gst::Pad::query_default(pad, Some(&*self.obj()), &mut query);
        drop(open);
        if !answered {
            return without_chain;
        }
        match query.result() {
            Some(chain_caps) => {
                let mut caps = chain_caps.to_owned();
                caps.merge(without_chain);
                caps
            }
            None => without_chain,
        }
    }

    fn sink_caps_without_chain(&self) -> gst::Caps {
        caps::sink_caps_without_chain(&self.srcpad.peer_query_caps(None))
    }

    fn src_query(&self, pad: &gst::GhostPad, query: &mut gst::QueryRef) -> bool {
        if !self.has_chain()
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

    /// Decides for these caps and builds the chain if the current one cannot carry them.
    fn ensure_chain_for(&self, caps: &gst::Caps) -> Result<(), ChainError> {
        let input = caps::input_from_caps(caps).map_err(ChainError::NotConvertible)?;
        let downstream_caps = self.srcpad.peer_query_caps(None);
        let downstream = caps::downstream_from_caps(&downstream_caps);
        let mut settings = self.settings();
        if settings.mode == Mode::Auto && self.state().gl_failed {
            // The GL path already failed on this stream; do not try it again on new caps.
            settings.mode = Mode::Software;
        }

        let interop = plan::needs_interop(settings.mode, &downstream).then(|| {
            let (report, ran_now) = interop::probe_cached(Some(self.obj().upcast_ref()));
            InteropUse { report, ran_now }
        });
        let verdict = interop.as_ref().map(|i| InteropVerdict {
            works: i.report.works(),
            status: i.report.status.clone(),
        });
        let plan = plan::plan(settings.mode, &input, &downstream, verdict.as_ref())
            .map_err(|err| ChainError::NotConvertible(err.0))?;

        let current = self.state().chain.as_ref().map(|c| c.shape);
        if current == Some(plan.shape) {
            gst::debug!(CAT, imp = self, "current chain carries {caps}");
            return Ok(());
        }
        let gl_info = self.check_gl_for(&plan, interop.as_ref())?;
        gst::info!(
            CAT,
            imp = self,
            "{} chain for {caps}: {} ({})",
            if current.is_some() {
                "rebuilding"
            } else {
                "building"
            },
            plan.shape.describe(),
            plan.reason
        );
        self.build_and_install(plan.shape, settings.n_threads)?;
        self.state().cuda_watch = watch_for(&plan, interop.as_ref(), &settings);
        self.announce(&plan, interop.as_ref(), gl_info.as_ref());
        Ok(())
    }

    /// Before building a GL chain, make sure GL elements exist and a GL context can be made, so
    /// the user gets the cause and the fix instead of a bare not-negotiated.
    fn check_gl_for(
        &self,
        plan: &ChainPlan,
        interop: Option<&InteropUse>,
    ) -> Result<Option<GlInfo>, ChainError> {
        let needs_gl = plan.shape.path == ConvertPath::Gl || plan.shape.download_input;
        if !needs_gl {
            return Ok(interop.and_then(|i| i.report.gl.clone()));
        }
        if let Some(missing) = gl::missing_gl_elements().first() {
            return Err(ChainError::MissingElement(missing));
        }
        // Every pipeline, not only the first one the cached checks below ran in.
        gl::share_display_with_pipeline(self.obj().upcast_ref());
        if let Some(gl_info) = interop.and_then(|i| i.report.gl.clone()) {
            return Ok(Some(gl_info));
        }
        match gl::context_check_cached(Some(self.obj().upcast_ref())) {
            Ok(info) => Ok(Some(info.clone())),
            Err(err) => Err(ChainError::NoGlContext(err.clone())),
        }
    }

    /// Creates the elements of `shape` and swaps them in as the chain.
    fn build_and_install(&self, shape: ChainShape, n_threads: u32) -> Result<(), ChainError> {
        let elements = build_elements(&shape, n_threads)?;
        self.install_chain(shape, elements)
    }

    /// Swaps in a new chain: the old one (if any) is unlinked, stopped and removed first.
    fn install_chain(
        &self,
        shape: ChainShape,
        elements: Vec<gst::Element>,
    ) -> Result<(), ChainError> {
        let old = self.state().chain.take();
        if let Some(old) = old {
            self.remove_chain(old);
        }
        let obj = self.obj();
        let link = || -> Result<(), glib::BoolError> {
            obj.add_many(&elements)?;
            gst::Element::link_many(&elements)?;
            for element in &elements {
                element.sync_state_with_parent()?;
            }
            let first = elements.first().and_then(|e| e.static_pad("sink"));
            let last = elements.last().and_then(|e| e.static_pad("src"));
            self.sinkpad.set_target(first.as_ref())?;
            self.srcpad.set_target(last.as_ref())?;
            Ok(())
        };
        if let Err(err) = link() {
            self.remove_chain(Chain { shape, elements });
            return Err(ChainError::Link(err.to_string()));
        }
        self.state().chain = Some(Chain { shape, elements });
        Ok(())
    }

    fn remove_chain(&self, chain: Chain) {
        let _ = self.sinkpad.set_target(None::<&gst::Pad>);
        let _ = self.srcpad.set_target(None::<&gst::Pad>);
        let obj = self.obj();
        for element in chain.elements.iter().rev() {
            let _ = element.set_state(gst::State::Null);
            if element.parent().as_ref() == Some(obj.upcast_ref()) {
                let _ = obj.remove(element);
            }
        }
    }

    fn teardown_chain(&self) {
        let chain = self.state().chain.take();
        if let Some(chain) = chain {
            self.remove_chain(chain);
        }
    }

    /// Records the decision, logs it as Strom users know it, and posts `strom-autoconvert`.
    fn announce(&self, plan: &ChainPlan, interop: Option<&InteropUse>, gl_info: Option<&GlInfo>) {
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
            None => interop::cached().map_or_else(
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
        let structure = decision_structure(plan, &interop_status, interop, gl_info);
        let _ = obj.post_message(gst::message::Element::builder(structure).src(&*obj).build());
    }

    fn post_chain_error(&self, caps: &gst::Caps, err: ChainError) {
        match err {
            ChainError::NotConvertible(why) => gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("stromautoconvert cannot convert these caps: {}", why),
                ["caps: {}", caps]
            ),
            ChainError::MissingElement(name) => gst::element_imp_error!(
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
            ChainError::Link(why) => gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("could not link the conversion chain: {}", why),
                ["caps: {}", caps]
            ),
        }
    }
}

/// A watch when `plan` is the GL path auto mode chose because CUDA could read GL frames.
fn watch_for(
    plan: &ChainPlan,
    interop: Option<&InteropUse>,
    settings: &Settings,
) -> Option<CudaWatch> {
    let relies_on_cuda = plan.shape.path == ConvertPath::Gl
        && plan.decided_by_interop
        && interop.is_some_and(|i| i.report.works());
    relies_on_cuda.then(|| CudaWatch {
        schedule: CheckSchedule::new(cuda_check_interval(settings)),
        device: interop
            .and_then(|i| i.report.device.as_ref())
            .map(|d| d.handle),
    })
}

/// The size of one frame of system-memory raw video `caps`; None where buffers are not plain
/// bytes (GL memory) or the caps are not video.
fn expected_buffer_size(caps: &gst::CapsRef) -> Option<usize> {
    let features = caps.features(0)?;
    if features.contains(caps::GL_MEMORY) {
        return None;
    }
    gst_video::VideoInfo::from_caps(caps)
        .ok()
        .map(|info| info.size())
}

/// The elements of `shape`, created and configured but not yet added to the bin.
fn build_elements(shape: &ChainShape, n_threads: u32) -> Result<Vec<gst::Element>, ChainError> {
    shape
        .factories()
        .into_iter()
        .map(|factory| {
            if factory == "stromyuvlayout" {
                return Ok(crate::yuvlayout::make());
            }
            let mut builder = gst::ElementFactory::make(factory);
            match factory {
                "videoconvert" => builder = builder.property("n-threads", n_threads),
                "capsfilter" => {
                    let rgba = gst::Caps::builder("video/x-raw")
                        .features([caps::GL_MEMORY])
                        .field("format", "RGBA")
                        .build();
                    builder = builder.property("caps", rgba);
                }
                _ => {}
            }
            builder
                .build()
                .map_err(|_| ChainError::MissingElement(factory))
        })
        .collect()
}

/// The `strom-autoconvert` message body.
fn decision_structure(
    plan: &ChainPlan,
    interop_status: &str,
    interop: Option<&InteropUse>,
    gl_info: Option<&GlInfo>,
) -> gst::Structure {
    let report = interop.map(|i| i.report);
    let probe_ms = interop
        .filter(|i| i.ran_now)
        .map_or(0.0, |i| i.report.elapsed.as_secs_f64() * 1000.0);
    let mut s = gst::Structure::builder(MESSAGE_NAME)
        .field("path", plan.shape.path.as_str())
        .field("reason", plan.reason.as_str())
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
    s
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
            .build();
        AutoConvert {
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            chain_open_for_queries: RwLock::new(true),
            gl_chain_busy: Mutex::new(()),
        }
    }
}

impl ObjectImpl for AutoConvert {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
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
                        "Threads of the internal videoconvert on the software path; \
                         0 = one per CPU core",
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
                        "Result of the in-process CUDA-GL interop test, e.g. ok, \
                         failed: CUDA_ERROR_OPERATING_SYSTEM, unavailable: libcuda.so.1 not \
                         found, skipped: WSL2, skipped: GL is Mesa llvmpipe; not-tested: <why> \
                         when the decision did not need it",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "mode" => {
                let Ok(mode) = value.get::<Mode>() else {
                    return;
                };
                if self.obj().current_state() > gst::State::Ready {
                    gst::element_imp_warning!(
                        self,
                        gst::CoreError::StateChange,
                        ("mode can only be changed in the NULL or READY state; keeping the current mode")
                    );
                    return;
                }
                gst::info!(CAT, imp = self, "mode set to {mode:?}");
                self.settings.lock().unwrap_or_else(|e| e.into_inner()).mode = mode;
            }
            "n-threads" => {
                let n_threads = value.get::<u32>().unwrap_or(DEFAULT_N_THREADS);
                self.settings
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .n_threads = n_threads;
                // Applies from the next caps; videoconvert reads it when it (re)configures.
                let converters: Vec<gst::Element> = self
                    .state()
                    .chain
                    .iter()
                    .flat_map(|c| c.elements.iter())
                    .filter(|e| e.factory().is_some_and(|f| f.name() == "videoconvert"))
                    .cloned()
                    .collect();
                for converter in converters {
                    converter.set_property("n-threads", n_threads);
                }
            }
            "cuda-check-interval" => {
                let interval_ms = value.get::<u32>().unwrap_or(DEFAULT_CUDA_CHECK_INTERVAL_MS);
                let settings = {
                    let mut settings = self.settings.lock().unwrap_or_else(|e| e.into_inner());
                    settings.cuda_check_interval_ms = interval_ms;
                    *settings
                };
                if let Some(watch) = self.state().cuda_watch.as_mut() {
                    watch.schedule.set_interval(cuda_check_interval(&settings));
                }
            }
            other => gst::warning!(CAT, imp = self, "unknown property {other}"),
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
            _ => "".to_value(),
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
                 (strings, when a GL context was made), probe-ms (double, time of the interop \
                 test, 0 when cached)",
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
            gst::StateChange::PausedToReady => {
                *self
                    .chain_open_for_queries
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = false;
            }
            gst::StateChange::ReadyToPaused => {
                *self
                    .chain_open_for_queries
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = true;
            }
            _ => {}
        }
        if transition == gst::StateChange::ReadyToPaused {
            // A new stream: the decision is made again when its caps arrive.
            let mut state = self.state();
            state.active_path = None;
            state.interop_status.clear();
            state.gl_failed = false;
            state.held_error = None;
            state.malformed_buffers = 0;
            state.cuda_watch = None;
        }
        let result = self.parent_change_state(transition)?;
        // The chain goes with the stream: glupload (1.22) frees its upload object in stop() and
        // crashes on the next caps query if it is reused. Queries were closed off above, so an
        // upstream thread that is still running (bins stop their sinks first) cannot be inside
        // the chain while it goes.
        if transition == gst::StateChange::PausedToReady {
            self.teardown_chain();
        }
        Ok(result)
    }
}

impl BinImpl for AutoConvert {
    fn handle_message(&self, message: gst::Message) {
        if let gst::MessageView::Error(_) = message.view()
            && IN_FALLIBLE_GL_CHAIN.with(|f| f.get())
            && self.is_from_chain(&message)
        {
            gst::debug!(
                CAT,
                imp = self,
                "holding back {message:?} until the buffer's fate is known"
            );
            self.state().held_error = Some(message);
            return;
        }
        self.parent_handle_message(message)
    }
}

impl AutoConvert {
    fn is_from_chain(&self, message: &gst::Message) -> bool {
        let Some(src) = message.src() else {
            return false;
        };
        let state = self.state();
        state.chain.iter().flat_map(|c| c.elements.iter()).any(|e| {
            let e: &gst::Object = e.upcast_ref();
            src == e || src.has_as_ancestor(e)
        })
    }
}
