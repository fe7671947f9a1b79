// SPDX-License-Identifier: MPL-2.0
//! Opening candidates and moving the stream from one to the next.
//!
//! - At READY→PAUSED the candidates are opened in order: each is built with its mapped
//!   properties, put between the ghost pads with `stromautoconvert` before it and the parser
//!   after it, and brought to PAUSED with its errors held back. The first that gets there stays.
//! - Every raw frame is kept (a reference, not a copy) until the encoder returns it encoded (see
//!   `pending.rs`). When the encoder posts an error, or returns an error flow, or refuses caps,
//!   the bin records why, replaces the chain with the next candidate that opens, and pushes the
//!   frames not yet returned into it again, in order, before going on. Before the first output
//!   this is invisible downstream; after it, downstream gets a new keyframe and new caps, and
//!   the application a warning.
//! - An error an encoder posts from a thread of its own is held too and taken up at the next
//!   buffer or EOS, in the streaming thread.

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::imp::{Active, AutoEnc, CAT, Held, Settings, running_time};
use super::plan::{self, Candidate, Outcome, Registered, Value};
use crate::chainbin::{PropertyValue, set_checked, summarise_error};

/// Why the candidate in use cannot go on.
pub(super) struct Failure {
    pub why: String,
    pub error: Option<gst::Message>,
}

impl Failure {
    fn from_error(error: gst::Message) -> Failure {
        Failure {
            why: summarise_error(&error).unwrap_or_else(|| "error".into()),
            error: Some(error),
        }
    }
}

/// Where the bin pushes into the chain: through its sink ghost pad, as normally, or straight to
/// the chain's own sink pad after an EOS went through the ghost pad (whose internal pad then
/// refuses everything) and the drain failed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via<'a> {
    Ghost(&'a gst::GhostPad),
    Direct,
}

/// How a replay of the pending frames ended, when it did not go through.
enum Replay {
    /// The new candidate failed too.
    Failed(Failure),
    /// A flow that is not the encoder's failure (flushing, EOS downstream, not linked).
    Flow(gst::FlowError),
}

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

/// What the registry says about `factory`, for [`plan::screen`].
fn registered(factory: &str) -> Registered {
    let Some(factory) = gst::ElementFactory::find(factory) else {
        return Registered::No;
    };
    let hardware_klass = factory
        .metadata(gst::ELEMENT_METADATA_KLASS)
        .is_some_and(|k| k.split('/').any(|part| part == "Hardware"));
    let mut produces = Some(Vec::new());
    for template in factory.static_pad_templates() {
        if template.direction() != gst::PadDirection::Src {
            continue;
        }
        let caps = template.caps();
        if caps.is_any() {
            produces = None;
            break;
        }
        if let Some(list) = produces.as_mut() {
            for s in caps.iter() {
                if let Some(codec) = super::Codec::from_media_type(s.name())
                    && !list.contains(&codec)
                {
                    list.push(codec);
                }
            }
        }
    }
    Registered::Yes {
        hardware_klass,
        produces,
    }
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
            );
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
        let parser = gst::ElementFactory::make(settings.codec.parser())
            .build()
            .map_err(|err| format!("no {}: {err}", settings.codec.parser()))?;
        let generation = {
            let mut state = self.state();
            state.generation += 1;
            state.generation
        };
        self.watch_output(&encoder, generation);
        let bin = self.obj();
        let elements = vec![converter.clone(), encoder.clone(), parser];
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
                generation,
                encoded: 0,
                announced: false,
            });
        }
        gst::info!(CAT, imp = self, "{} opened", candidate.factory);
        bin.notify("active-encoder");
        Ok(())
    }

    /// Counts what comes out of `encoder`: each buffer confirms its frame; the first one is
    /// when the choice is announced.
    fn watch_output(&self, encoder: &gst::Element, generation: u64) {
        let Some(pad) = encoder.static_pad("src") else {
            return;
        };
        let bin = self.obj().downgrade();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |pad, info| {
                let Some(bin) = bin.upgrade() else {
                    return gst::PadProbeReturn::Ok;
                };
                match &info.data {
                    Some(gst::PadProbeData::Buffer(buffer)) => {
                        bin.imp().on_encoded(generation, pad, buffer);
                    }
                    Some(gst::PadProbeData::BufferList(list)) => {
                        for buffer in list.iter() {
                            bin.imp().on_encoded(generation, pad, buffer);
                        }
                    }
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
    }

    fn on_encoded(&self, generation: u64, pad: &gst::Pad, buffer: &gst::BufferRef) {
        let running_time = running_time(pad, buffer.pts());
        let first = {
            let mut state = self.state();
            let Some(active) = state.active.as_mut().filter(|a| a.generation == generation) else {
                return;
            };
            active.encoded += 1;
            let first = !active.announced;
            active.announced = true;
            state.output_started = true;
            state.pending.confirm(running_time);
            first
        };
        if first {
            self.announce();
        }
    }

    /// Pushes `buffer` into the chain; if the encoder fails, moves the stream to the next
    /// candidate with the frames not yet returned, this one included.
    pub(super) fn push_buffer(
        &self,
        pad: &gst::GhostPad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let via = Via::Ghost(pad);
        match self.push_into(via, buffer) {
            Ok(result) => result,
            Err(failure) => self.recover(via, failure).map(|()| gst::FlowSuccess::Ok),
        }
    }

    /// Pushes a caps or EOS event into the chain; if the encoder fails on it, moves the stream
    /// to the next candidate and gives it the event.
    pub(super) fn forward_checked(&self, pad: &gst::GhostPad, event: gst::Event) -> bool {
        let is_eos = matches!(event.view(), gst::EventView::Eos(_));
        let mut via = Via::Ghost(pad);
        loop {
            let failure = match self.event_into(via, &event) {
                Ok(forwarded) => return forwarded,
                Err(failure) => failure,
            };
            // EOS went through the ghost pad's internal pad, which takes nothing more now: the
            // next chain is fed at its own sink pad.
            if is_eos {
                via = Via::Direct;
            }
            if self.recover(via, failure).is_err() {
                return false;
            }
        }
    }

    /// One buffer into the chain: its flow, or why the chain failed on it.
    fn push_into(
        &self,
        via: Via<'_>,
        buffer: gst::Buffer,
    ) -> Result<Result<gst::FlowSuccess, gst::FlowError>, Failure> {
        let (result, held) = self.errors.push(|| match via {
            Via::Ghost(pad) => gst::ProxyPad::chain_default(pad, Some(&*self.obj()), buffer),
            Via::Direct => match self.chain_sink() {
                Some(sink) => sink.chain(buffer),
                None => Err(gst::FlowError::NotLinked),
            },
        });
        self.classify(result, held)
    }

    /// One serialized event into the chain: whether it was taken (false for a refusal that is
    /// not the chain's failure), or why the chain failed on it.
    fn event_into(&self, via: Via<'_>, event: &gst::Event) -> Result<bool, Failure> {
        let (forwarded, held) = self.errors.push(|| match via {
            Via::Ghost(pad) => gst::Pad::event_default(pad, Some(&*self.obj()), event.clone()),
            Via::Direct => self
                .chain_sink()
                .is_some_and(|sink| sink.send_event(event.clone())),
        });
        match (forwarded, held) {
            (true, None) => Ok(true),
            (_, Some(error)) => Err(Failure::from_error(error)),
            (false, None) if self.is_flushing() => Ok(false),
            (false, None) if matches!(event.view(), gst::EventView::Caps(_)) => Err(Failure {
                why: self.refused_caps(event),
                error: None,
            }),
            (false, None) => Ok(false),
        }
    }

    /// A refusal now is a flush or the shutdown, not the encoder's failure.
    fn is_flushing(&self) -> bool {
        self.sinkpad.pad_flags().contains(gst::PadFlags::FLUSHING) || self.state().stopping
    }

    /// The sink pad of the chain's first element (the internal `stromautoconvert`).
    fn chain_sink(&self) -> Option<gst::Pad> {
        self.chain
            .elements()
            .first()
            .and_then(|first| first.static_pad("sink"))
    }

    fn refused_caps(&self, event: &gst::Event) -> String {
        match event.view() {
            gst::EventView::Caps(c) => format!("refused the caps {}", c.caps()),
            _ => "refused the event".into(),
        }
    }

    /// Whether a push failed because of the chain (the encoder above all), or passed.
    fn classify(
        &self,
        result: Result<gst::FlowSuccess, gst::FlowError>,
        held: Option<gst::Message>,
    ) -> Result<Result<gst::FlowSuccess, gst::FlowError>, Failure> {
        match (result, held) {
            // Shutting down: nothing to recover, and the error is no longer news.
            (Err(gst::FlowError::Flushing), Some(error)) => {
                gst::debug!(CAT, imp = self, "error while flushing: {error:?}");
                Ok(Err(gst::FlowError::Flushing))
            }
            (_, Some(error)) => Err(Failure::from_error(error)),
            (Err(gst::FlowError::NotNegotiated), None) => Err(Failure {
                why: format!(
                    "not-negotiated (downstream accepts {})",
                    self.srcpad.peer_query_caps(None)
                ),
                error: None,
            }),
            (Err(flow @ (gst::FlowError::Error | gst::FlowError::NotSupported)), None) => {
                Err(Failure {
                    why: format!("returned {flow:?} without an error message"),
                    error: None,
                })
            }
            (result, None) => Ok(result),
        }
    }

    /// Moves the stream to the next candidate that takes the pending frames; `Err` when none is
    /// left (the element error is posted) or the stream stopped meanwhile.
    fn recover(&self, via: Via<'_>, mut failure: Failure) -> Result<(), gst::FlowError> {
        loop {
            if self.is_flushing() {
                gst::debug!(
                    CAT,
                    imp = self,
                    "not switching while flushing or stopping: {}",
                    failure.why
                );
                return Err(gst::FlowError::Flushing);
            }
            self.switch_after(failure)?;
            match self.replay(via) {
                Ok(()) => return Ok(()),
                Err(Replay::Failed(next)) => failure = next,
                Err(Replay::Flow(flow)) => return Err(flow),
            }
        }
    }

    /// Records why the candidate in use failed, removes it and opens the next one.
    fn switch_after(&self, failure: Failure) -> Result<(), gst::FlowError> {
        let (failed, outcome, output_started) = {
            let mut state = self.state();
            let active = state.active.take();
            let outcome = match active.as_ref().map_or(0, |a| a.encoded) {
                0 => Outcome::FailedBeforeOutput(failure.why.clone()),
                frames => Outcome::FailedAfterOutput {
                    frames,
                    why: failure.why.clone(),
                },
            };
            if active.is_some() {
                state.tried.set_last(outcome.clone());
            }
            if failure.error.is_some() {
                state.last_error = failure.error;
            }
            (
                active.map_or_else(|| "the encoder".to_owned(), |a| a.factory),
                outcome,
                state.output_started,
            )
        };
        gst::info!(
            CAT,
            imp = self,
            "{failed} {outcome}; {} frames to hand on",
            self.state().pending.len()
        );
        // The failed encoder goes first: a hardware session it holds may be what the next
        // candidate needs.
        self.chain.teardown(self.obj().upcast_ref());
        let chosen = self.open_next().map_err(|()| gst::FlowError::Error)?;
        if output_started {
            let why = plan::switch_reason(&failed, &outcome, &chosen);
            self.state().switch_reason = Some(why.clone());
            gst::element_imp_warning!(
                self,
                gst::StreamError::Encode,
                ("{}", why),
                [
                    "downstream gets a new keyframe and new caps: fine for byte-stream, MPEG-TS, \
                     RTP or SRT; a muxer writing a file (mp4mux, matroskamux) may refuse the change"
                ]
            );
        }
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Latency::builder().src(&*obj).build());
        Ok(())
    }

    /// Pushes every pending frame, oldest first and each after its own caps, into the chain
    /// just opened.
    fn replay(&self, via: Via<'_>) -> Result<(), Replay> {
        let frames = self.state().pending.snapshot();
        gst::debug!(
            CAT,
            imp = self,
            "handing {} frames to the new encoder",
            frames.len()
        );
        if via == Via::Direct {
            self.start_direct(frames.first().and_then(|f| f.caps.clone()))?;
        }
        // The chain's sticky caps may already be newer than the oldest frame's: always say.
        let mut pushed_caps: Option<gst::Caps> = None;
        for Held { buffer, caps } in frames {
            if let Some(caps) = caps.filter(|c| pushed_caps.as_ref() != Some(c)) {
                match self.event_into(via, &gst::event::Caps::new(&caps)) {
                    Ok(true) => {}
                    Ok(false) => return Err(Replay::Flow(gst::FlowError::Flushing)),
                    Err(failure) => return Err(Replay::Failed(failure)),
                }
                pushed_caps = Some(caps);
            }
            match self.push_into(via, buffer) {
                Ok(Ok(_)) => {}
                Ok(Err(flow)) => return Err(Replay::Flow(flow)),
                Err(failure) => return Err(Replay::Failed(failure)),
            }
        }
        Ok(())
    }

    /// A chain fed at its own sink pad gets the stream's sticky events first, as the ghost pad
    /// would give them (in their order: stream-start, caps, segment, tags), without the EOS.
    fn start_direct(&self, first_caps: Option<gst::Caps>) -> Result<(), Replay> {
        let mut events = Vec::new();
        self.sinkpad.sticky_events_foreach(|event| {
            match event.view() {
                gst::EventView::Eos(_) => {}
                gst::EventView::Caps(_) if first_caps.is_some() => {
                    events.push(gst::event::Caps::new(first_caps.as_ref().expect("checked")));
                }
                _ => events.push(event.clone()),
            }
            std::ops::ControlFlow::Continue(gst::EventForeachAction::Keep)
        });
        for event in events {
            match self.event_into(Via::Direct, &event) {
                Ok(true) => {}
                Ok(false) => return Err(Replay::Flow(gst::FlowError::Flushing)),
                Err(failure) => return Err(Replay::Failed(failure)),
            }
        }
        Ok(())
    }

    /// Switches now if an encoder posted an error from its own thread since the last buffer.
    pub(super) fn take_up_async_error(&self, pad: &gst::GhostPad) -> Result<(), gst::FlowError> {
        let Some(error) = self.state().async_error.take() else {
            return Ok(());
        };
        self.recover(Via::Ghost(pad), Failure::from_error(error))
    }

    /// For an error from inside the bin that no push of ours was waiting for: keeps it when
    /// another candidate can take over (the switch happens in the streaming thread).
    pub(super) fn hold_async_error(&self, message: &gst::Message) -> bool {
        let mut state = self.state();
        if state.active.is_none() || !state.has_more() {
            return false;
        }
        if state.async_error.is_none() {
            gst::info!(
                CAT,
                imp = self,
                "encoder error from another thread, switching at the next buffer: {message:?}"
            );
            state.async_error = Some(message.clone());
        }
        true
    }
}
