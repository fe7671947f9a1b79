// SPDX-License-Identifier: MPL-2.0
//! The `stromcompositor` subclass: settings, the decision's inputs and its message, request
//! pads, state changes and the GObject/GStreamer impls. Building the chosen mixer and connecting
//! the pads to it is `mixer.rs`; the decision itself is `plan.rs`.
//!
//! The decision is made once per stream, on READY→PAUSED, before any pad negotiates: then what
//! downstream accepts is known (pipelines link before they play) and the pads' properties say
//! what the mix will cost. The mixer goes on PAUSED→READY, so a mode changed in READY applies to
//! the next stream.

use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::plan::{self, Downstream, GlState, InteropVerdict, MixLoad, MixPath, Plan, Request};
use super::{Background, MESSAGE_NAME, Mode};
use crate::chainbin::{self, ChainSlot, Inlet, Outlet, QueryGate};
use crate::gpu::{gl, interop};
use crate::sync::lock;

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "stromcompositor",
        gst::DebugColorFlags::empty(),
        Some("Strom GPU/CPU video compositor"),
    )
});

pub(super) const GL_MEMORY: &str = "memory:GLMemory";

#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    pub mode: Mode,
    pub background: Background,
    pub latency: u64,
    pub min_upstream_latency: u64,
    pub start_time_selection: gst_base::AggregatorStartTimeSelection,
    pub start_time: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Auto,
            background: Background::Checker,
            latency: 0,
            min_upstream_latency: 0,
            start_time_selection: gst_base::AggregatorStartTimeSelection::Zero,
            start_time: u64::MAX,
        }
    }
}

#[derive(Default)]
pub(super) struct State {
    /// The path of the mixer in place (or of the last one, once it is gone).
    pub active_path: Option<MixPath>,
}

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
        };
        if request.needs_interop() {
            // On the consumer's CUDA device, as for stromautoconvert (see chainbin::consumer).
            let device = crate::chainbin::consumer::find(self.srcpad.upcast_ref())
                .and_then(|c| c.cuda_device);
            let (report, _) = interop::probe_cached(Some(self.obj().upcast_ref()), device);
            request.interop = Some(InteropVerdict {
                works: report.works(),
                status: report.status.clone(),
            });
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
            "building {} for {} input(s): {}",
            plan.describe(),
            request.load.inputs,
            plan.reason
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

/// What downstream's caps accept, per memory.
fn downstream_of(caps: &gst::CapsRef) -> Downstream {
    let mut down = Downstream {
        any: caps.is_any(),
        ..Default::default()
    };
    for (s, features) in caps.iter_with_features() {
        if features.is_any() {
            down.any = true;
        } else if s.name() != "video/x-raw" {
            continue;
        } else if features.contains(GL_MEMORY) {
            down.gl = true;
        } else if features.is_empty() || features.contains("memory:SystemMemory") {
            down.system = true;
        } else if let Some(f) = features.iter().next() {
            let f = f.to_string();
            if !down.other_features.contains(&f) {
                down.other_features.push(f);
            }
        }
    }
    down
}

/// What both paths can take and give: raw video in system or GL memory.
/// As informative as compositor's and glvideomixer's templates: every raw format this GStreamer
/// knows (compositor's list, best first) in system memory, and the formats GL converts in GL
/// memory. The binding's format list is checked against the running library, so a format the
/// installed GStreamer does not know is never named.
pub(super) fn template_caps() -> gst::Caps {
    let known = gst_video::VideoFormat::iter_raw()
        .map(|f| f.to_str().to_string())
        .filter(|name| {
            gst_video::VideoFormat::from_string(name) != gst_video::VideoFormat::Unknown
        });
    let system: Vec<String> = known.collect();
    let mut caps = gst::Caps::builder("video/x-raw")
        .field("format", gst::List::new(system.iter().map(String::as_str)))
        .field("width", gst::IntRange::new(1, i32::MAX))
        .field("height", gst::IntRange::new(1, i32::MAX))
        .field(
            "framerate",
            gst::FractionRange::new(gst::Fraction::new(0, 1), gst::Fraction::new(i32::MAX, 1)),
        )
        .build();
    caps.merge(
        gst::Caps::builder("video/x-raw")
            .features([GL_MEMORY])
            .field(
                "format",
                gst::List::new(crate::formats::GL_CONVERT_FORMATS.iter().copied()),
            )
            .field("width", gst::IntRange::new(1, i32::MAX))
            .field("height", gst::IntRange::new(1, i32::MAX))
            .field(
                "framerate",
                gst::FractionRange::new(gst::Fraction::new(0, 1), gst::Fraction::new(i32::MAX, 1)),
            )
            .build(),
    );
    caps
}

pub(super) fn filtered(caps: gst::Caps, filter: Option<&gst::CapsRef>) -> gst::Caps {
    match filter {
        Some(filter) => filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
        None => caps,
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
        assert!(down.system && !down.gl && !down.any);
        let down = downstream_of(
            &"video/x-raw(memory:GLMemory),format=NV12; video/x-raw,format=NV12"
                .parse::<gst::Caps>()
                .unwrap(),
        );
        assert!(down.system && down.gl);
        assert!(downstream_of(&gst::Caps::new_any()).any);
        let down = downstream_of(
            &"video/x-raw(memory:CUDAMemory)"
                .parse::<gst::Caps>()
                .unwrap(),
        );
        assert_eq!(down.other_features, ["memory:CUDAMemory"]);
    }
}
