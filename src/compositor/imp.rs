// SPDX-License-Identifier: MPL-2.0
//! The `stromcompositor` subclass: settings, the decision's inputs and its message, request
//! pads, state changes, building the chosen mixer and connecting the pads to it, and the
//! GObject/GStreamer impls. The modules beside it take plain inputs and none imports this one:
//! the decision is `plan.rs`, the mixer's making `mixer.rs`, caps `caps.rs`, the request pad
//! `pad.rs`.
//!
//! The decision is made once per stream, on READY→PAUSED, before any pad negotiates: then what
//! downstream accepts is known (pipelines link before they play) and the pads' properties say
//! what the mix will cost. The mixer goes on PAUSED→READY, so a mode changed in READY applies to
//! the next stream.

use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use std::sync::Arc;

use super::caps::{downstream_of, filtered, is_gl_memory, template_caps, with_features};
use super::mixer::{mixer_spec, set_on_mixer, start_time_selection_nick};
use super::pad::{Adapter, Link};
use super::plan::{self, Downstream, GlState, InteropVerdict, MixLoad, MixPath, Plan, Request};
use super::settings::Settings;
use super::{CAT, CompositorPad, MESSAGE_NAME, Mode};
use crate::chainbin::{
    self, BuildError, ChainSlot, ChildState, ElementSpec, Inlet, Outlet, PropertyValue, QueryGate,
};
use crate::formats::GL_MEMORY;
use crate::framecheck;
use crate::gpu::gl;
use crate::sync::lock;

#[derive(Default)]
pub(super) struct State {
    /// The path of the mixer in place (or of the last one, once it is gone).
    pub active_path: Option<MixPath>,
}

/// Lock order: `structure` first, held while the mixer is built or removed and while a pad is
/// requested, connected or released; under it `settings`, `state`, `max_serial` and a pad's own
/// locks are each taken alone, copied out and let go. None is held across a push or a query.
pub struct Compositor {
    pub(super) srcpad: gst::GhostPad,
    pub(super) settings: Mutex<Settings>,
    pub(super) state: Mutex<State>,
    /// The mixer and what follows it up to the src pad, tagged with the plan it was built for.
    pub(super) mix: ChainSlot<Plan>,
    pub(super) queries: QueryGate,
    /// The highest pad number handed out, as `GstAggregator` numbers: never lowered.
    max_serial: Mutex<Option<u32>>,
    /// Held while the mixer is built or removed and while pads are requested or released, so a
    /// pad is connected exactly once.
    structure: Mutex<()>,
}

impl Compositor {
    pub(super) fn settings(&self) -> Settings {
        *lock(&self.settings)
    }

    pub(super) fn structure(&self) -> MutexGuard<'_, ()> {
        lock(&self.structure)
    }

    /// The bin's request pads, in the order they were added.
    pub(super) fn input_pads(&self) -> Vec<super::CompositorPad> {
        self.obj()
            .sink_pads()
            .into_iter()
            .filter_map(|p| p.downcast::<super::CompositorPad>().ok())
            .collect()
    }

    /// Everything the decision reads. Makes a GL context (once per process, cached) only when
    /// the decision needs GL, and runs the interop test only for a consumer of both memories.
    fn request(&self) -> Request {
        let mode = self.settings().mode;
        let downstream = downstream_of(&self.srcpad.peer_query_caps(None));
        let gl = if plan::needs_gl_check(mode, &downstream) {
            self.gl_state(mode, &downstream)
        } else {
            GlState::NotChecked
        };
        let mut request = Request {
            mode,
            gl,
            downstream,
            load: self.load(),
            interop: None,
            consumer_cuda_device: crate::chainbin::consumer::find(self.srcpad.upcast_ref())
                .and_then(|c| c.cuda_device),
            gst_version: crate::gstversion::running(),
        };
        if request.needs_interop() {
            // On the consumer's CUDA device, as for stromautoconvert (see chainbin::consumer).
            let (_, report, _) = crate::chainbin::consumer::probe_interop(
                self.obj().upcast_ref(),
                self.srcpad.upcast_ref(),
            );
            request.interop = Some(InteropVerdict::from(&*report));
        }
        request
    }

    fn load(&self) -> MixLoad {
        let settings: Vec<_> = self
            .input_pads()
            .iter()
            .map(|p| p.imp().settings())
            .collect();
        MixLoad {
            inputs: settings.len(),
            scaled: settings.iter().filter(|s| s.scaled()).count(),
            blended: settings.iter().filter(|s| s.blended()).count(),
        }
    }

    fn gl_state(&self, mode: Mode, downstream: &Downstream) -> GlState {
        // Auto mode mixes on the CPU where GL could only rasterise there: no context needed
        // to learn it, unless the consumer takes GL memory only (then GL is used anyway).
        let cpu_only = (mode == Mode::Auto && !downstream.gl_only())
            .then(crate::gpu::platform::gl_on_cpu_only)
            .flatten();
        GlState::from_facts(
            |name| gst::ElementFactory::find(name).is_some(),
            cpu_only,
            || gl::context_check_cached(Some(self.obj().upcast_ref())).clone(),
        )
    }

    /// Decides, builds the mixer and connects every pad; then says what was chosen and why.
    fn decide_and_build(&self) -> Result<(), gst::StateChangeError> {
        let request = self.request();
        let plan = match plan::plan(&request) {
            Ok(plan) => plan,
            Err(err) => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("stromcompositor cannot mix for this consumer: {}", err.0)
                );
                return Err(gst::StateChangeError);
            }
        };
        gst::info!(
            CAT,
            imp = self,
            "building {} for {} input(s): {} ({} copies per frame of each system-memory input)",
            plan.describe(),
            request.load.inputs,
            plan.reason,
            plan.copies_per_frame()
        );
        if let Err(err) = self.build_mix(&plan) {
            self.post_build_error(&plan, &err);
            return Err(gst::StateChangeError);
        }
        lock(&self.state).active_path = Some(plan.path);
        self.obj().notify("active-path");
        chainbin::post_decision(&*self.obj(), decision_structure(&plan, &request));
        Ok(())
    }

    fn post_build_error(&self, plan: &Plan, err: &chainbin::BuildError) {
        match err {
            chainbin::BuildError::MissingElement(name) => gst::element_imp_error!(
                self,
                gst::CoreError::MissingPlugin,
                (
                    "GStreamer element '{}' is missing; install it with: {}",
                    name,
                    if name.starts_with("gl") {
                        gl::GL_PACKAGE_FIX
                    } else {
                        "apt-get install gstreamer1.0-plugins-base"
                    }
                ),
                ["needed for {}", plan.describe()]
            ),
            other => gst::element_imp_error!(
                self,
                gst::CoreError::Failed,
                ("could not build {}: {}", plan.describe(), other)
            ),
        }
    }

    /// The pad number for a request named `name`, as `GstAggregator` picks it: the number asked
    /// for (`sink_7`), else one above the highest handed out so far.
    fn serial_for(&self, name: Option<&str>) -> u32 {
        let mut max = lock(&self.max_serial);
        let asked = name
            .filter(|n| !n.contains('%'))
            .and_then(|n| n.strip_prefix("sink_"))
            .and_then(|n| n.parse::<u32>().ok());
        let serial = asked.unwrap_or_else(|| max.map_or(0, |m| m.saturating_add(1)));
        *max = Some(max.map_or(serial, |m| m.max(serial)));
        serial
    }

    fn src_query(&self, pad: &gst::GhostPad, query: &mut gst::QueryRef) -> bool {
        if self.mix.is_empty()
            && let gst::QueryViewMut::Caps(q) = query.view_mut()
        {
            q.set_result(&filtered(template_caps(), q.filter()));
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }

    fn set_mode(&self, mode: Mode) {
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
}

/// The `strom-compositor` message body.
fn decision_structure(plan: &Plan, request: &Request) -> gst::Structure {
    let mut s = gst::Structure::builder(MESSAGE_NAME)
        .field("path", plan.path.as_str())
        .field("reason", plan.reason.as_str())
        .field("mixer", plan.path.mixer())
        .field("output-memory", plan.output.as_str())
        .build();
    if let GlState::Context { vendor, renderer } = &request.gl {
        s.set("gl-vendor", vendor.as_str());
        s.set("gl-renderer", renderer.as_str());
    }
    if let Some(interop) = &request.interop {
        s.set("interop-status", interop.status.as_str());
    }
    s
}

/// The mixer inside the bin (made by `mixer.rs`), and the request pads feeding it.
impl Compositor {
    /// Builds the mixer of `plan` and what follows it, and connects every request pad.
    pub(super) fn build_mix(&self, plan: &Plan) -> Result<(), BuildError> {
        let _structure = self.structure();
        if plan.path == MixPath::Gl || plan.output_elements().contains(&"glupload") {
            // Before any GL element looks for a display: see `gl::share_display_with_pipeline`.
            gl::share_display_with_pipeline(self.obj().upcast_ref());
        }
        let settings = self.settings();
        let mut specs = vec![mixer_spec(plan.path, &settings)];
        specs.extend(plan.output_elements().iter().map(|factory| {
            match *factory {
                // glvideomixer downloads when what follows it takes system memory only.
                "capsfilter" => ElementSpec::new("capsfilter")
                    .property("caps", gst::Caps::new_empty_simple("video/x-raw")),
                other => ElementSpec::new(other),
            }
        }));
        let elements = chainbin::chain::build(&specs)?;
        if plan.path == MixPath::Gl {
            set_on_mixer(
                &elements[0],
                "min-upstream-latency",
                settings.min_upstream_latency.into(),
            );
        }
        // Called from change_state before the bin moves its children to PAUSED.
        self.mix.install_in_state(
            self.obj().upcast_ref(),
            plan.clone(),
            elements.clone(),
            ChildState::Fixed(gst::State::Ready),
        )?;
        for pad in self.input_pads() {
            if let Err(err) = self.connect_input(&pad, &elements[0]) {
                self.mix.teardown(self.obj().upcast_ref());
                return Err(BuildError::Link(format!("{}: {err}", pad.name())));
            }
        }
        Ok(())
    }

    /// Disconnects every pad and removes the mixer.
    pub(super) fn teardown_mix(&self) {
        let _structure = self.structure();
        for pad in self.input_pads() {
            self.disconnect_input(&pad);
        }
        self.mix.teardown(self.obj().upcast_ref());
    }

    /// A fresh request pad, not yet added.
    pub(super) fn new_input_pad(&self, templ: &gst::PadTemplate, name: &str) -> CompositorPad {
        gst::PadBuilder::<CompositorPad>::from_template(templ)
            .name(name)
            .event_function(|pad, parent, event| {
                Compositor::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                Compositor::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_query(pad, query),
                )
            })
            .chain_function(|pad, parent, buffer| {
                Compositor::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |this| this.sink_chain(pad, buffer),
                )
            })
            .build()
    }

    /// Drops a buffer that does not hold the frame it claims (see `framecheck`) before the
    /// mixer maps it, with a warning naming the input and the cause; passes the rest on.
    fn sink_chain(
        &self,
        pad: &CompositorPad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let info = pad.imp().input_info();
        if let Some(info) = &info
            && let Err(fault) = framecheck::buffer::check(&buffer, info)
        {
            gst::warning!(CAT, obj = pad, "dropping an input buffer: {fault}");
            if let Some(dropped) = pad.imp().malformed.note() {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Format,
                    (
                        "{}: {}",
                        pad.name(),
                        framecheck::drop_message(dropped, &fault)
                    )
                );
            }
            return Ok(gst::FlowSuccess::Ok);
        }
        // glvideomixer would upload a larger meta frame whole and scale it into the caps' size;
        // compositor (like videoconvert) takes the caps' top left part of it.
        let on_gl = pad
            .imp()
            .link()
            .is_some_and(|link| link.path == MixPath::Gl);
        let buffer = match (&info, on_gl) {
            (Some(info), true) => framecheck::buffer::crop_to_caps(buffer, info),
            _ => buffer,
        };
        gst::ProxyPad::chain_default(pad, Some(&*self.obj()), buffer)
    }

    /// Requests the mixer's pad for `pad`, points the ghost pad at it and sends it the pad's
    /// settings.
    pub(super) fn connect_input(
        &self,
        pad: &CompositorPad,
        mixer: &gst::Element,
    ) -> Result<(), String> {
        let path = self.mix.shape().map_or(MixPath::Software, |p| p.path);
        // The same name as ours where the mixer takes it, for logs that read alike.
        let mixer_pad = mixer
            .request_pad_simple(&pad.name())
            .or_else(|| mixer.request_pad_simple("sink_%u"))
            .ok_or_else(|| format!("{} gave no request pad", path.mixer()))?;
        let link = Arc::new(Link {
            path,
            mixer_pad: mixer_pad.clone(),
            adapter: ChainSlot::between(
                Inlet::Ghost(pad.clone().upcast()),
                Outlet::Peer(mixer_pad.clone()),
            ),
        });
        if let Err(err) = link
            .adapter
            .install(self.obj().upcast_ref(), Adapter::Direct, Vec::new())
        {
            mixer.release_request_pad(&mixer_pad);
            return Err(err.to_string());
        }
        pad.imp().set_link(Some(link));
        pad.imp().apply_all(&mixer_pad);
        gst::debug!(CAT, imp = self, "{} feeds {}", pad.name(), mixer_pad.name());
        Ok(())
    }

    /// Undoes [`connect_input`](Self::connect_input). The mixer's pad is released first: it
    /// flushes, so a thread pushing into it returns instead of holding this pad's stream lock.
    pub(super) fn disconnect_input(&self, pad: &CompositorPad) {
        let Some(link) = pad.imp().set_link(None) else {
            return;
        };
        if let Some(mixer) = link.mixer_pad.parent_element() {
            mixer.release_request_pad(&link.mixer_pad);
        }
        link.adapter.teardown(self.obj().upcast_ref());
    }

    /// Sends a changed element property to the mixer in place.
    pub(super) fn forward_to_mixer(&self, name: &str) {
        let Some(mixer) = self.mix.elements().into_iter().next() else {
            return;
        };
        let s = self.settings();
        let value = match name {
            "background" => PropertyValue::Str(s.background.nick().into()),
            "latency" => s.latency.into(),
            "min-upstream-latency" => s.min_upstream_latency.into(),
            "start-time-selection" => {
                PropertyValue::Str(start_time_selection_nick(s.start_time_selection).into())
            }
            "start-time" => s.start_time.into(),
            _ => return,
        };
        set_on_mixer(&mixer, name, value);
    }

    /// Caps events pick what sits between the pad and `compositor`: nothing for system memory,
    /// `gldownload` for GL memory.
    fn sink_event(&self, pad: &CompositorPad, event: gst::Event) -> bool {
        if let gst::EventView::Caps(caps) = event.view() {
            pad.imp().set_input_caps(caps.caps());
        }
        if let gst::EventView::Caps(caps) = event.view()
            && let Err(err) = self.adapt_input(pad, caps.caps())
        {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("{} cannot take {}: {}", pad.name(), caps.caps(), err)
            );
            return false;
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn adapt_input(&self, pad: &CompositorPad, caps: &gst::CapsRef) -> Result<(), BuildError> {
        let Some(link) = pad.imp().link() else {
            return Ok(());
        };
        if link.path == MixPath::Gl {
            return Ok(());
        }
        let wanted = if is_gl_memory(caps) {
            Adapter::Download
        } else {
            Adapter::Direct
        };
        if link.adapter.shape() == Some(wanted) {
            return Ok(());
        }
        let specs = match wanted {
            Adapter::Direct => Vec::new(),
            Adapter::Download => {
                gl::share_display_with_pipeline(self.obj().upcast_ref());
                vec![ElementSpec::new("gldownload")]
            }
        };
        gst::debug!(CAT, imp = self, "{}: {wanted:?} for {caps}", pad.name());
        link.adapter
            .build_and_install(self.obj().upcast_ref(), wanted, &specs)
    }

    fn sink_query(&self, pad: &CompositorPad, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let caps = self.sink_caps(pad);
                q.set_result(&filtered(caps, q.filter()));
                true
            }
            gst::QueryViewMut::AcceptCaps(q) => {
                let accepted = self.accepts(pad, q.caps());
                q.set_result(accepted);
                true
            }
            _ => {
                self.queries.enter().is_some()
                    && gst::Pad::query_default(pad, Some(&*self.obj()), query)
            }
        }
    }

    /// What the mixer's pad takes; on the software path also the same in GL memory, which is
    /// downloaded first. Before a mixer exists (or while it stops): both memories.
    fn sink_caps(&self, pad: &CompositorPad) -> gst::Caps {
        let Some(link) = pad.imp().link() else {
            return template_caps();
        };
        let Some(_entered) = self.queries.enter() else {
            return template_caps();
        };
        let mut query = gst::query::Caps::new(None);
        if !link.mixer_pad.query(&mut query) {
            return template_caps();
        }
        let Some(caps) = query.result().map(|c| c.to_owned()) else {
            return template_caps();
        };
        if link.path == MixPath::Software && gst::ElementFactory::find("gldownload").is_some() {
            let in_gl = with_features(&caps, Some(GL_MEMORY));
            let mut caps = caps;
            caps.merge(in_gl);
            return caps;
        }
        caps
    }

    fn accepts(&self, pad: &CompositorPad, caps: &gst::CapsRef) -> bool {
        let Some(link) = pad.imp().link() else {
            return template_caps().can_intersect(caps);
        };
        match link.path {
            // compositor takes the same caps in system memory after gldownload.
            MixPath::Software if is_gl_memory(caps) => {
                gst::ElementFactory::find("gldownload").is_some()
                    && link.mixer_pad.query_accept_caps(&with_features(caps, None))
            }
            _ => link.mixer_pad.query_accept_caps(&caps.to_owned()),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Compositor {
    const NAME: &'static str = "GstStromCompositor";
    type Type = super::Compositor;
    type ParentType = gst::Bin;
    type Interfaces = (gst::ChildProxy,);

    fn with_class(klass: &Self::Class) -> Self {
        let src_template = klass.pad_template("src").expect("src template");
        let srcpad = gst::GhostPad::builder_from_template(&src_template)
            .query_function(|pad, parent, query| {
                Compositor::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.src_query(pad, query),
                )
            })
            .build();
        Compositor {
            mix: ChainSlot::between(Inlet::Open, Outlet::Ghost(srcpad.clone())),
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            queries: QueryGate::default(),
            max_serial: Mutex::new(None),
            structure: Mutex::new(()),
        }
    }
}

impl ObjectImpl for Compositor {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let defaults = Settings::default();
            vec![
                glib::ParamSpecEnum::builder_with_default("mode", defaults.mode)
                    .nick("Mode")
                    .blurb(
                        "Which mixer to build: auto (glvideomixer when GL renders on a GPU, not \
                         llvmpipe/softpipe/swrast, and downstream takes GL memory or the mix \
                         scales or blends; else compositor), gl (always glvideomixer), software \
                         (always compositor). Changeable in NULL and READY only",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("background", defaults.background)
                    .nick("Background")
                    .blurb("What shows where no input covers the output, as compositor's")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt64::builder("latency")
                    .nick("Latency")
                    .blurb(
                        "Additional latency in live mode to allow upstream to take longer to \
                         produce buffers for the current position (in nanoseconds)",
                    )
                    .default_value(defaults.latency)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt64::builder("min-upstream-latency")
                    .nick("Minimum upstream latency")
                    .blurb(
                        "When sources with a higher latency are expected to be plugged in \
                         dynamically after the mixer has started playing, this overrides the \
                         minimum latency reported by the initial sources, if larger \
                         (nanoseconds)",
                    )
                    .default_value(defaults.min_upstream_latency)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default(
                    "start-time-selection",
                    defaults.start_time_selection,
                )
                .nick("Start time selection")
                .blurb("Which start time the output has: zero, the first input's, or start-time")
                .build(),
                glib::ParamSpecUInt64::builder("start-time")
                    .nick("Start time")
                    .blurb("Start time to use if start-time-selection=set (nanoseconds)")
                    .default_value(defaults.start_time)
                    .build(),
                glib::ParamSpecString::builder("active-path")
                    .nick("Active path")
                    .blurb("The mixer in use: \"\" until it is chosen (READY→PAUSED), then gl or software")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let expect = "type checked upstream";
        match pspec.name() {
            "mode" => return self.set_mode(value.get().expect(expect)),
            "background" => lock(&self.settings).background = value.get().expect(expect),
            "latency" => lock(&self.settings).latency = value.get().expect(expect),
            "min-upstream-latency" => {
                lock(&self.settings).min_upstream_latency = value.get().expect(expect)
            }
            "start-time-selection" => {
                lock(&self.settings).start_time_selection = value.get().expect(expect)
            }
            "start-time" => lock(&self.settings).start_time = value.get().expect(expect),
            _ => unimplemented!(),
        }
        self.forward_to_mixer(pspec.name());
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings();
        match pspec.name() {
            "mode" => s.mode.to_value(),
            "background" => s.background.to_value(),
            "latency" => s.latency.to_value(),
            "min-upstream-latency" => s.min_upstream_latency.to_value(),
            "start-time-selection" => s.start_time_selection.to_value(),
            "start-time" => s.start_time.to_value(),
            "active-path" => lock(&self.state)
                .active_path
                .map_or("", MixPath::as_str)
                .to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        self.obj()
            .add_pad(&self.srcpad)
            .expect("fresh bin takes a src pad");
    }
}

impl GstObjectImpl for Compositor {}

impl ElementImpl for Compositor {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::with_additional(
                "Strom GPU/CPU video compositor",
                "Filter/Editor/Video/Compositor",
                "Composites video streams with compositor's pads and properties: on the GPU \
                 (glvideomixer) when GL renders on a GPU and downstream takes GL memory or the \
                 mix scales or blends, else on the CPU (compositor). Inputs in system or GL \
                 memory; output in GL memory for GL consumers, system memory otherwise. Posts \
                 the element message 'strom-compositor' when it chooses: path (string: \
                 gl|software), reason (string), mixer (string), output-memory (string: \
                 gl|system), gl-vendor and gl-renderer (strings, when a GL context was made), \
                 interop-status (string, when the CUDA-GL interop test decided)",
                "gst-strom developers",
                &[(
                    "doc-uri",
                    "https://github.com/strom/gst-strom#stromcompositor",
                )],
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = template_caps();
            vec![
                gst::PadTemplate::with_gtype(
                    "sink_%u",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Request,
                    &caps,
                    super::CompositorPad::static_type(),
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

    fn request_new_pad(
        &self,
        templ: &gst::PadTemplate,
        name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst::Pad> {
        let _structure = self.structure();
        let name = format!("sink_{}", self.serial_for(name));
        if self.obj().static_pad(&name).is_some() {
            gst::warning!(CAT, imp = self, "a pad named {name} exists already");
            return None;
        }
        let pad = self.new_input_pad(templ, &name);
        // As compositor: a new pad goes on top of those before it, its zorder the number of
        // sink pads counting itself (sink_0 gets 1).
        pad.imp()
            .set_zorder(u32::from(self.obj().num_sink_pads()) + 1);
        if let Some(mixer) = self.mix.elements().first()
            && let Err(err) = self.connect_input(&pad, mixer)
        {
            gst::element_imp_warning!(
                self,
                gst::CoreError::Pad,
                ("could not connect {} to the mixer: {}", name, err)
            );
            return None;
        }
        if self.obj().add_pad(&pad).is_err() {
            self.disconnect_input(&pad);
            return None;
        }
        self.obj().child_added(&pad, &name);
        gst::debug!(CAT, imp = self, "requested {name}");
        Some(pad.upcast())
    }

    fn release_pad(&self, pad: &gst::Pad) {
        let Some(input) = pad.downcast_ref::<super::CompositorPad>() else {
            return;
        };
        let _structure = self.structure();
        self.disconnect_input(input);
        let _ = pad.set_active(false);
        let name = pad.name();
        let _ = self.obj().remove_pad(pad);
        self.obj().child_removed(pad, &name);
        gst::debug!(CAT, imp = self, "released {name}");
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        match transition {
            gst::StateChange::NullToReady if gst::ElementFactory::find("compositor").is_none() => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::MissingPlugin,
                    ("GStreamer element 'compositor' is missing; install it with: apt-get install gstreamer1.0-plugins-base")
                );
                return Err(gst::StateChangeError);
            }
            gst::StateChange::ReadyToPaused => {
                self.queries.set_open(true);
                self.decide_and_build()?;
            }
            // Before the children stop: see `QueryGate`.
            gst::StateChange::PausedToReady => self.queries.set_open(false),
            _ => {}
        }
        let result = self.parent_change_state(transition);
        // The mixer goes with the stream (a mode set in READY applies to the next one), and GL
        // elements of 1.22 are not safe to restart. The pads are inactive by now.
        if transition == gst::StateChange::PausedToReady
            || (transition == gst::StateChange::ReadyToPaused && result.is_err())
        {
            self.teardown_mix();
        }
        result
    }
}

impl BinImpl for Compositor {}

/// The request pads are the children `sink_0::xpos=…` (gst-launch-1.0) and
/// `gst_child_proxy_set` reach, as on `compositor`.
impl ChildProxyImpl for Compositor {
    fn child_by_index(&self, index: u32) -> Option<glib::Object> {
        self.input_pads()
            .into_iter()
            .nth(index as usize)
            .map(|p| p.upcast())
    }

    fn children_count(&self) -> u32 {
        self.obj().num_sink_pads() as u32
    }

    fn child_by_name(&self, name: &str) -> Option<glib::Object> {
        self.obj().static_pad(name).map(|p| p.upcast())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downstream_memory_is_read_from_caps() {
        gst::init().unwrap();
        let down = downstream_of(&"video/x-raw,format=RGBA".parse::<gst::Caps>().unwrap());
        assert!(down.system.is_some() && down.gl.is_none() && !down.any);
        let down = downstream_of(
            &"video/x-raw(memory:GLMemory),format=NV12; video/x-raw,format=NV12"
                .parse::<gst::Caps>()
                .unwrap(),
        );
        assert!(down.accepts_both());
        assert!(downstream_of(&gst::Caps::new_any()).any);
        let down = downstream_of(
            &"video/x-raw(memory:CUDAMemory)"
                .parse::<gst::Caps>()
                .unwrap(),
        );
        assert_eq!(down.other_features, ["memory:CUDAMemory"]);
    }
}
