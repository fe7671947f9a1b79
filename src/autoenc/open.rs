// SPDX-License-Identifier: MPL-2.0
//! Opening candidates: at READY→PAUSED (and after a failure) the candidates are looked at in
//! order; each is built with its mapped properties, put between the ghost pads with
//! `stromautoconvert` before it and the parser after it, and brought to the bin's state with its
//! errors held back. The first that gets there stays; its output is watched, each buffer
//! confirming its frame and the first one announcing the choice.

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::caps;
use super::imp::{Active, AutoEnc, CAT, Settings};
use super::pending::Pending;
use super::plan::{self, Candidate, Outcome, Value};
use super::registry::registered;
use crate::chainbin::{PropertyValue, set_checked, summarise_error};

/// The table's value as `set_checked` takes it.
pub(super) fn property_value(value: Value) -> PropertyValue {
    match value {
        Value::Bool(b) => PropertyValue::Value(b.to_value()),
        Value::Int(i) => PropertyValue::Value(i.to_value()),
        Value::Nick(nick) => PropertyValue::Str(nick.to_owned()),
        Value::Text(text) => PropertyValue::Value(text.to_value()),
    }
}

/// Makes the first of `setting`'s spellings the element has; the property set, or why none.
fn apply(
    element: &gst::Element,
    factory: &str,
    setting: &plan::Setting,
) -> Result<&'static str, String> {
    let mut refused = None;
    for (name, value) in &setting.alternatives {
        if element.find_property(name).is_none() {
            continue;
        }
        match set_checked(element, name, &property_value(*value)) {
            Ok(()) => return Ok(name),
            Err(why) => refused = Some(format!("cannot set {factory}'s property '{name}': {why}")),
        }
    }
    Err(refused.unwrap_or_else(|| {
        let names: Vec<&str> = setting.alternatives.iter().map(|a| a.0).collect();
        format!("{factory} has no property {}", names.join(" or "))
    }))
}

/// The encoder of `candidate` with the properties the settings map to.
fn make_encoder(candidate: &Candidate, settings: &Settings) -> Result<gst::Element, String> {
    let factory = candidate.factory.as_str();
    let encoder = gst::ElementFactory::make(factory)
        .build()
        .map_err(|err| format!("could not be created: {err}"))?;
    let Some(row) = candidate.row else {
        gst::warning!(
            CAT,
            "{factory} is not in the property table: bitrate, gop-size and tune are not applied"
        );
        return Ok(encoder);
    };
    for setting in plan::settings_for(row, &settings.encode()) {
        match apply(&encoder, factory, &setting) {
            Ok(name) => gst::debug!(CAT, "{factory}: {} set through '{name}'", setting.what),
            Err(why) if setting.required => return Err(why),
            // Another version of the element: it does this its own way, or not at all.
            Err(why) => gst::debug!(CAT, "{factory}: {} not applied: {why}", setting.what),
        }
    }
    Ok(encoder)
}

impl AutoEnc {
    /// READY→PAUSED: a new stream starts from the top of the candidate order.
    pub(super) fn start_stream(&self) -> Result<(), gst::StateChangeError> {
        let settings = self.settings();
        let parser = settings.codec.parser();
        if gst::ElementFactory::find(parser).is_none() {
            gst::element_imp_error!(
                self,
                gst::CoreError::MissingPlugin,
                (
                    "GStreamer element '{}' is missing; install it with: apt-get install gstreamer1.0-plugins-bad",
                    parser
                )
            );
            return Err(gst::StateChangeError);
        }
        let candidates = match &settings.candidates {
            Ok(names) => names,
            Err(why) => {
                gst::element_imp_error!(
                    self,
                    gst::LibraryError::Settings,
                    ("invalid candidates: {}", why)
                );
                return Err(gst::StateChangeError);
            }
        };
        {
            let mut state = self.state();
            let generation = state.generation;
            *state = Default::default();
            state.generation = generation;
            state.order = plan::order(settings.codec, candidates);
            state.pending = Pending::with_bounds(settings.held_bounds());
        }
        self.open_next()
            .map(drop)
            .map_err(|()| gst::StateChangeError)
    }

    /// PAUSED→READY: the chain and the frames go with the stream.
    pub(super) fn end_stream(&self) {
        self.chain.teardown(self.obj().upcast_ref());
        let had_encoder = {
            let mut state = self.state();
            if let Some(error) = state.async_error.take() {
                gst::info!(
                    CAT,
                    imp = self,
                    "dropping an unanswered encoder error at stop: {error:?}"
                );
            }
            state.pending.clear();
            state.active.take().is_some()
        };
        if had_encoder {
            self.obj().notify("active-encoder");
        }
    }

    /// Opens the next candidate that reaches the bin's state, recording each one looked at.
    /// Returns its name; `Err(())` when none is left, after posting the element error.
    pub(super) fn open_next(&self) -> Result<String, ()> {
        let settings = self.settings();
        loop {
            let candidate = {
                let mut state = self.state();
                let candidate = state.order.get(state.next).cloned();
                state.next += 1;
                candidate
            };
            let Some(candidate) = candidate else {
                self.chain.teardown(self.obj().upcast_ref());
                self.post_exhausted(&settings);
                return Err(());
            };
            let screened = plan::screen(
                &candidate,
                &registered(&candidate.factory),
                settings.codec,
                settings.preference,
            )
            .and_then(|hardware| plan::screen_tune(&candidate, settings.tune).map(|()| hardware));
            let outcome = match screened {
                Ok(hardware) => match self.try_open(&candidate, hardware, &settings) {
                    Ok(()) => return Ok(candidate.factory),
                    Err(why) => Outcome::FailedToOpen(why),
                },
                Err(skipped) => skipped,
            };
            gst::info!(CAT, imp = self, "{}: {outcome}", candidate.factory);
            self.state().tried.push(&candidate.factory, outcome);
        }
    }

    /// Builds `stromautoconvert ! candidate ! parser` and puts it in place at the bin's state,
    /// with the errors it posts meanwhile held back; on failure nothing of it stays.
    fn try_open(
        &self,
        candidate: &Candidate,
        hardware: bool,
        settings: &Settings,
    ) -> Result<(), String> {
        let encoder = make_encoder(candidate, settings)?;
        let converter: gst::Element =
            glib::Object::new::<crate::autoconvert::AutoConvert>().upcast();
        let gate = gst::ElementFactory::make("capsfilter")
            .build()
            .map_err(|err| format!("no capsfilter: {err}"))?;
        let parser = gst::ElementFactory::make(settings.codec.parser())
            .build()
            .map_err(|err| format!("no {}: {err}", settings.codec.parser()))?;
        // Parameter sets in-band with every keyframe: after a switch the new encoder's SPS/PPS
        // reach the decoder with its first frame, even in a container that kept the first
        // encoder's codec_data (mp4mux, flvmux).
        if parser.find_property("config-interval").is_some() {
            parser.set_property("config-interval", -1i32);
        }
        let generation = {
            let mut state = self.state();
            state.generation += 1;
            state.generation
        };
        self.watch_output(&encoder, &parser, generation);
        let bin = self.obj();
        self.set_format_gate(&gate, &encoder, None)?;
        let elements = vec![converter.clone(), gate.clone(), encoder.clone(), parser];
        let (installed, held) = self
            .errors
            .push(|| self.chain.install(bin.upcast_ref(), generation, elements));
        let why = match (installed, held) {
            (Ok(()), None) => None,
            // It got there, but said it is broken: not one to trust with the stream.
            (Ok(()), Some(error)) => {
                self.chain.teardown(bin.upcast_ref());
                Some(summarise_error(&error).unwrap_or_default())
            }
            (Err(err), held) => Some(
                held.as_ref()
                    .and_then(summarise_error)
                    .unwrap_or_else(|| err.to_string()),
            ),
        };
        if let Some(why) = why {
            return Err(why);
        }
        {
            let mut state = self.state();
            state.tried.push(
                &candidate.factory,
                Outcome::Ok {
                    mapped: candidate.row.is_some(),
                },
            );
            state.active = Some(Active {
                factory: candidate.factory.clone(),
                hardware,
                row: candidate.row,
                encoder,
                converter,
                gate,
                generation,
                encoded: 0,
                announced: false,
                quiet: Default::default(),
            });
        }
        gst::info!(CAT, imp = self, "{} opened", candidate.factory);
        bin.notify("active-encoder");
        Ok(())
    }

    /// Sets what the gate before `encoder` lets through for input of `size` (see
    /// [`caps::format_gate`]); `Err` when the encoder cannot take the picture at its size.
    pub(super) fn set_format_gate(
        &self,
        gate: &gst::Element,
        encoder: &gst::Element,
        size: Option<(i32, i32)>,
    ) -> Result<(), String> {
        let Some(sink) = encoder.static_pad("sink") else {
            return Ok(());
        };
        let downstream = self.srcpad.peer_query_caps(None);
        let codec = self.settings().codec;
        let caps = match caps::format_gate(codec, &sink.pad_template_caps(), &downstream, size) {
            caps::FormatGate::Open => gst::Caps::new_any(),
            caps::FormatGate::Only(caps) => caps,
            caps::FormatGate::Impossible(why) => return Err(why),
        };
        gst::debug!(CAT, imp = self, "format gate for {size:?}: {caps}");
        gate.set_property("caps", &caps);
        Ok(())
    }

    /// A new input format: the gate follows its size. `Err` when the encoder in use cannot
    /// take it at its exact size.
    pub(super) fn follow_input_caps(&self, input: &gst::CapsRef) -> Result<(), String> {
        let Some((gate, encoder)) = self
            .state()
            .active
            .as_ref()
            .map(|a| (a.gate.clone(), a.encoder.clone()))
        else {
            return Ok(());
        };
        let size = input
            .structure(0)
            .and_then(|s| Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?)));
        self.set_format_gate(&gate, &encoder, size)
    }
}
