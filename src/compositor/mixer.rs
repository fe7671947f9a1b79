// SPDX-License-Identifier: MPL-2.0
//! The chosen mixer inside the bin: built with the element's settings, fed by the request pads
//! (each ghost pad targets a request pad of the mixer, through `gldownload` when GL memory comes
//! into `compositor`; `glvideomixer` uploads system memory itself), and followed by what the
//! output memory needs. The pads' caps queries and events pass here.

use std::sync::Arc;

use gst::prelude::*;
use gst::subclass::prelude::*;

use super::CompositorPad;
use super::imp::{CAT, Compositor, GL_MEMORY, Settings, filtered, template_caps};
use super::pad::{Adapter, Link};
use super::plan::{MixPath, Plan};
use crate::chainbin::{
    self, BuildError, ChainSlot, ChildState, ElementSpec, Inlet, Outlet, PropertyValue,
};
use crate::framecheck;
use crate::gpu::gl;

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

/// The mixer of `path` with the element's settings.
fn mixer_spec(path: MixPath, s: &Settings) -> ElementSpec {
    let spec = ElementSpec::new(path.mixer())
        .property_from_str("background", s.background.nick())
        .property("latency", s.latency)
        .property_from_str(
            "start-time-selection",
            start_time_selection_nick(s.start_time_selection),
        )
        .property("start-time", s.start_time);
    match path {
        MixPath::Software => spec.property("min-upstream-latency", s.min_upstream_latency),
        // glvideomixer (a bin) leaves it to its aggregator: set after it is made.
        MixPath::Gl => spec,
    }
}

/// Sets `name` on `mixer`, or on the aggregator inside `glvideomixer` where only that has it.
fn set_on_mixer(mixer: &gst::Element, name: &str, value: PropertyValue) {
    let target = if mixer.find_property(name).is_some() {
        Some(mixer.clone())
    } else {
        mixer
            .find_property("mixer")
            .and_then(|_| mixer.property::<Option<gst::Element>>("mixer"))
    };
    let result = match &target {
        Some(target) => chainbin::set_checked(target, name, &value),
        None => Err("no such property".into()),
    };
    if let Err(why) = result {
        gst::warning!(CAT, obj = mixer, "cannot set {name} on the mixer: {why}");
    }
}

fn start_time_selection_nick(selection: gst_base::AggregatorStartTimeSelection) -> &'static str {
    match selection {
        gst_base::AggregatorStartTimeSelection::First => "first",
        gst_base::AggregatorStartTimeSelection::Set => "set",
        _ => "zero",
    }
}

fn is_gl_memory(caps: &gst::CapsRef) -> bool {
    caps.features(0).is_some_and(|f| f.contains(GL_MEMORY))
}

/// `caps` with every structure's features replaced by `feature` (None: system memory).
fn with_features(caps: &gst::CapsRef, feature: Option<&str>) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    {
        let out = out.get_mut().expect("a new caps is writable");
        for s in caps.iter() {
            let features = match feature {
                Some(f) => gst::CapsFeatures::new([f]),
                None => gst::CapsFeatures::new_empty(),
            };
            out.append_structure_full(s.to_owned(), Some(features));
        }
    }
    out
}

impl From<u64> for PropertyValue {
    fn from(value: u64) -> Self {
        PropertyValue::Value(value.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_move_between_memories_with_their_fields() {
        gst::init().unwrap();
        let caps: gst::Caps = "video/x-raw,format=RGBA,width=64; video/x-raw,format=I420"
            .parse()
            .unwrap();
        let gl = with_features(&caps, Some(GL_MEMORY));
        assert!(is_gl_memory(&gl));
        assert_eq!(gl.size(), 2);
        let back = with_features(&gl, None);
        assert_eq!(back, caps);
        assert!(!is_gl_memory(&back));
    }

    #[test]
    fn every_mixer_takes_the_element_settings() {
        gst::init().unwrap();
        let settings = Settings {
            background: super::super::Background::Black,
            latency: 5,
            min_upstream_latency: 7,
            start_time_selection: gst_base::AggregatorStartTimeSelection::First,
            ..Settings::default()
        };
        for path in [MixPath::Software, MixPath::Gl] {
            let mixer = &chainbin::chain::build(&[mixer_spec(path, &settings)]).unwrap()[0];
            set_on_mixer(mixer, "min-upstream-latency", 7u64.into());
            assert_eq!(mixer.property::<u64>("latency"), 5);
            let inner = match path {
                MixPath::Software => mixer.clone(),
                MixPath::Gl => mixer.property::<gst::Element>("mixer"),
            };
            assert_eq!(inner.property::<u64>("min-upstream-latency"), 7);
            let nick = |name: &str| {
                let value = mixer.property_value(name);
                glib::EnumValue::from_value(&value).map(|(_, v)| v.nick().to_owned())
            };
            assert_eq!(nick("background").as_deref(), Some("black"));
            assert_eq!(nick("start-time-selection").as_deref(), Some("first"));
        }
    }
}
