// SPDX-License-Identifier: MPL-2.0
//! The `stromautoenc` subclass: the ghost pads' functions and the GObject/GStreamer impls, and
//! the element's work: opening candidates (each made by `open.rs`), moving the stream to the
//! next one when an encoder fails (the terms in `fallback.rs`, the state's side of it in
//! `state.rs`), watching what leaves the bin (`output.rs`, `state.rs`) and saying what was
//! chosen and why (built by `report.rs`). The settings and the property table are in
//! `settings.rs`. Only this file holds the element's locks; the modules beside it take plain
//! inputs, return what to do, and none of them imports this one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::caps;
use super::fallback::{Failure, Replay, STOP_PATIENCE, Stop, Via, reported_latency, stop_within};
use super::open;
use super::outlet::output_queue;
use super::output::{Verdict, dts_position, retime, running_time, same_picture, send_on};
use super::pending::Pending;
use super::plan::{self, Candidate, Outcome};
use super::registry::registered;
use super::report::{self, Announcement, Exhausted};
use super::retry;
use super::settings::Settings;
use super::state::{Active, Encoded, Failed, Held, State};
use super::{CAT, Codec, Preference, Tune};
use crate::chainbin::{ChainSlot, ErrorHold, Outlet, QueryGate, summarise_error};
use crate::sync::lock;

/// Lock order: `settings` before `state` where both are needed (settings are cloned out first
/// and the lock let go, so in practice they are never held together); neither is held across a
/// push, a state change of the chain, a query or a message post. The locks inside `chain`,
/// `errors` and `queries` are private to those types and never held when they return.
pub struct AutoEnc {
    pub(super) sinkpad: gst::GhostPad,
    pub(super) srcpad: gst::GhostPad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// `stromautoconvert ! encoder ! parser`, tagged with its generation.
    pub(super) chain: ChainSlot<u64>,
    /// Between the chain and `srcpad` once the pipeline is known to be live, for good (see
    /// `outlet.rs`).
    output_queue: Mutex<Option<gst::Element>>,
    /// Whether to put the output queue in was decided (at the first frame).
    outlet_decided: AtomicBool,
    /// Errors the chain posts while this bin pushes into it (or opens it), until the bin knows
    /// whether another candidate takes over.
    pub(super) errors: ErrorHold,
    queries: QueryGate,
}

impl AutoEnc {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(super) fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    fn sink_event(&self, pad: &gst::GhostPad, event: gst::Event) -> bool {
        match event.view() {
            // Serialized events an encoder can fail on: a new format, or the drain at the end.
            gst::EventView::Caps(_) => return self.forward_checked(pad, event),
            gst::EventView::Eos(_) => {
                if self.take_up_async_error(pad).is_err() {
                    return false;
                }
                return self.forward_checked(pad, event);
            }
            // Flushed frames are gone for every encoder: none is owed to the next one, and an
            // error from before the flush is about a stream that no longer exists.
            gst::EventView::FlushStop(_) => {
                let mut state = self.state();
                state.pending.clear();
                if let Some(error) = state.async_error.take() {
                    gst::info!(
                        CAT,
                        imp = self,
                        "flushed away a held encoder error: {error:?}"
                    );
                }
            }
            _ => {}
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn sink_chain(
        &self,
        pad: &gst::GhostPad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.take_up_async_error(pad)?;
        self.decide_outlet();
        let held = Held {
            buffer: buffer.clone(),
            caps: pad.current_caps(),
            copied: false,
        };
        let running_time = running_time(pad, buffer.pts());
        let bytes = buffer.size() as u64;
        let timeout = std::time::Duration::from_nanos(lock(&self.settings).hang_timeout_ns);
        let (evicted, hung) = {
            let mut state = self.state();
            let evicted = state.pending.push(running_time, bytes, held);
            (evicted, state.note_input(running_time, timeout))
        };
        if evicted > 0 {
            gst::debug!(
                CAT,
                imp = self,
                "held frames past max-held-time/max-held-bytes: {evicted} oldest no longer kept"
            );
        }
        let result = match hung {
            // The frames it took and this one go to the next encoder.
            Some(why) => self.give_up_hung(pad, why),
            None => self.push_buffer(pad, buffer),
        };
        self.release_to_upstream();
        result
    }
}

impl AutoEnc {
    /// At the first frame: in a live pipeline (upstream answers a latency query live: the
    /// pipeline's own query comes only after a live sink prerolled on the first frame), puts the
    /// output queue (see `outlet.rs`) between the chain and the src pad. Here, in the streaming thread, as every change of the chain,
    /// and before anything was encoded, so that no output races the relinking. Only when live:
    /// the queue costs a thread, and without it a push returns once its frame has gone
    /// downstream (`tune=low-latency`), which a non-live pipeline (no frame dropped as late)
    /// keeps.
    fn decide_outlet(&self) {
        if self.outlet_decided.swap(true, Ordering::SeqCst) {
            return;
        }
        if !self.upstream_is_live() {
            gst::debug!(CAT, imp = self, "not live: no output queue");
            return;
        }
        match self.insert_output_queue() {
            Ok(()) => gst::info!(
                CAT,
                imp = self,
                "live: a queue (one thread more) takes the encoder's output, so that a switch \
                 replays only the frames inside the encoder"
            ),
            Err(err) => gst::warning!(
                CAT,
                imp = self,
                "live, but no output queue ({err}): a switch may drop frames as late"
            ),
        }
    }

    fn upstream_is_live(&self) -> bool {
        let mut query = gst::query::Latency::new();
        self.sinkpad.peer_query(&mut query) && query.result().0
    }

    fn insert_output_queue(&self) -> Result<(), glib::BoolError> {
        let queue = output_queue().ok_or_else(|| glib::bool_error!("no 'queue' element"))?;
        let (Some(sink), Some(src)) = (queue.static_pad("sink"), queue.static_pad("src")) else {
            return Err(glib::bool_error!("the queue has no pads"));
        };
        let obj = self.obj();
        obj.add(&queue)?;
        let last = self
            .chain
            .elements()
            .last()
            .and_then(|e| e.static_pad("src"));
        let relink = || -> Result<(), glib::BoolError> {
            queue.sync_state_with_parent()?;
            self.srcpad.set_target(None::<&gst::Pad>)?;
            if let Some(last) = &last {
                last.link(&sink)
                    .map_err(|err| glib::bool_error!("cannot link the chain to it: {err:?}"))?;
            }
            self.srcpad.set_target(Some(&src))
        };
        if let Err(err) = relink() {
            if let Some(last) = &last {
                let _ = last.unlink(&sink);
            }
            let _ = self.srcpad.set_target(last.as_ref());
            let _ = queue.set_state(gst::State::Null);
            let _ = obj.remove(&queue);
            return Err(err);
        }
        self.chain.set_outlet(Outlet::Peer(sink));
        *lock(&self.output_queue) = Some(queue);
        Ok(())
    }

    /// Replaces each held frame that only the bin still references (the encoder let go of it:
    /// copied it inside, dropped it, or returned it under a time that matched nothing) with a
    /// copy, so that the original goes back to its pool: a source with a small fixed pool
    /// (`v4l2src`, a decoder) is not starved by frames kept only for a fallback.
    fn release_to_upstream(&self) {
        let mut state = self.state();
        for held in state.pending.items_mut() {
            if !held.copied && held.buffer.is_writable() {
                held.buffer = held
                    .buffer
                    .copy_deep()
                    .unwrap_or_else(|_| held.buffer.copy());
                held.copied = true;
            }
        }
    }

    /// Queries into the chain, or the answer without one (before READY→PAUSED, while the
    /// chain goes away, between two candidates).
    fn chain_query(
        &self,
        pad: &gst::GhostPad,
        query: &mut gst::QueryRef,
        without_chain: impl Fn() -> gst::Caps,
    ) -> bool {
        if let Some(_inside) = self.queries.enter().filter(|_| !self.chain.is_empty()) {
            return gst::Pad::query_default(pad, Some(&*self.obj()), query);
        }
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let caps = without_chain();
                let result = match q.filter() {
                    Some(filter) => {
                        filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First)
                    }
                    None => caps,
                };
                q.set_result(&result);
                true
            }
            gst::QueryViewMut::AcceptCaps(q) => {
                let accepted = without_chain().can_intersect(q.caps());
                q.set_result(accepted);
                true
            }
            _ => false,
        }
    }

    /// What downstream can get for the configured codec: the parser's output caps.
    fn src_caps(&self) -> gst::Caps {
        caps::codec_caps(self.settings().codec)
    }

    /// Queries from downstream; a live stream's latency covers a switch (see
    /// [`reported_latency`]).
    fn src_query(&self, pad: &gst::GhostPad, query: &mut gst::QueryRef) -> bool {
        let answered = self.chain_query(pad, query, || self.src_caps());
        if answered && let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let (live, min, max) = q.result();
            let switch = gst::ClockTime::from_nseconds(self.settings().switch_latency_ns);
            let (min, max) = reported_latency(live, min, max, switch);

            gst::debug!(
                CAT,
                imp = self,
                "latency: live {live}, min {min}, max {max:?}"
            );
            q.set(live, min, max);
        }
        answered
    }

    fn sink_query(&self, pad: &gst::GhostPad, query: &mut gst::QueryRef) -> bool {
        let answered = self.chain_query(pad, query, caps::raw_caps);
        if answered && let gst::QueryViewMut::Caps(q) = query.view_mut() {
            let ordered = q.result().map(caps::prefer_common_formats);
            if let Some(ordered) = ordered {
                q.set_result(&ordered);
            }
        }
        answered
    }

    /// Sets a property that only applies from the next stream; refused while one runs.
    fn set_stream_setting(&self, name: &str, set: impl FnOnce(&mut Settings)) {
        if self.obj().current_state() > gst::State::Ready {
            gst::element_imp_warning!(
                self,
                gst::CoreError::StateChange,
                (
                    "{} can only be changed in the NULL or READY state; keeping the current value",
                    name
                )
            );
            return;
        }
        set(&mut lock(&self.settings));
    }

    /// A new bitrate reaches the encoder in use when it takes one while playing (x264enc,
    /// openh264enc, NVENC and VA do); else it applies from the next stream or switch.
    fn apply_bitrate_live(&self, kbps: u32) {
        let active = self
            .state()
            .active
            .as_ref()
            .map(|a| (a.encoder.clone(), a.row));
        let Some((encoder, Some(row))) = active else {
            return;
        };
        let property = row.bitrate.0;
        let Some(pspec) = encoder.find_property(property) else {
            return;
        };
        let live = encoder.current_state() <= gst::State::Ready
            || pspec.flags().contains(gst::PARAM_FLAG_MUTABLE_PLAYING);
        if !live {
            gst::info!(
                CAT,
                imp = self,
                "{}'s {property} cannot change while playing: {kbps} kbit/s applies from the next stream",
                row.factory
            );
            return;
        }
        let value = open::property_value(plan::bitrate_value(row, kbps));
        match crate::chainbin::set_checked(&encoder, property, &value) {
            Ok(()) => gst::info!(CAT, imp = self, "bitrate now {kbps} kbit/s"),
            Err(why) => gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                (
                    "could not change {}'s {} to {} kbit/s: {}",
                    row.factory,
                    property,
                    kbps,
                    why
                )
            ),
        }
    }

    /// The memory path of the frames into the encoder: the internal stromautoconvert's, which
    /// asks the memory-path planner (`crate::path`) for this encoder; autoenc does not decide it
    /// again.
    fn convert_path(&self) -> String {
        let converter = self.state().active.as_ref().map(|a| a.converter.clone());
        converter.map_or_else(String::new, |c| c.property::<String>("active-path"))
    }
}

/// Opening candidates (`open.rs` makes each encoder with its mapped properties).
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
            let (candidate, retry) = {
                let mut state = self.state();
                let candidate = state.order.get(state.next).cloned();
                state.next += 1;
                (candidate, state.retry_on_system_memory.take())
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
            let on_system_memory = retry.is_some();
            let outcome = match screened {
                Ok(hardware) => {
                    match self.try_open(&candidate, hardware, &settings, on_system_memory) {
                        Ok(()) => {
                            if let Some(reason) = retry {
                                self.say_retried(&candidate.factory, &reason);
                            }
                            return Ok(candidate.factory);
                        }
                        Err(why) => {
                            let attempt = retry::Attempt {
                                hardware,
                                path: "",
                                on_system_memory,
                                why: &why,
                            };
                            if let retry::Next::SameOnSystemMemory(reason) =
                                retry::after_failure(&attempt)
                            {
                                self.state().retry_last(reason);
                            }
                            Outcome::FailedToOpen(why)
                        }
                    }
                }
                Err(skipped) => skipped,
            };
            gst::info!(CAT, imp = self, "{}: {outcome}", candidate.factory);
            let name = tried_name(&candidate.factory, on_system_memory);
            self.state().tried.push(&name, outcome);
        }
    }

    /// Builds `stromautoconvert ! candidate ! parser` and puts it in place at the bin's state,
    /// with the errors it posts meanwhile held back; on failure nothing of it stays.
    fn try_open(
        &self,
        candidate: &Candidate,
        hardware: bool,
        settings: &Settings,
        on_system_memory: bool,
    ) -> Result<(), String> {
        let encoder = open::make_encoder(candidate, &settings.encode())?;
        let converter: gst::Element =
            glib::Object::new::<crate::autoconvert::AutoConvert>().upcast();
        if on_system_memory {
            converter.set_property_from_str("mode", "software");
        }
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
                &tried_name(&candidate.factory, on_system_memory),
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
                on_system_memory,
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

/// Moving the stream from one candidate to the next (`fallback.rs` says how; see there).
impl AutoEnc {
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

    /// The encoder in use has hung (see `hang.rs`): the next candidate takes the frames it
    /// holds, the one just received included (already among them).
    pub(super) fn give_up_hung(
        &self,
        pad: &gst::GhostPad,
        why: String,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let failure = Failure { why, error: None };
        self.recover(Via::Ghost(pad), failure)
            .map(|()| gst::FlowSuccess::Ok)
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
        if let gst::EventView::Caps(c) = event.view() {
            self.follow_input_caps(c.caps())
                .map_err(|why| Failure { why, error: None })?;
        }
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
        let retry = self.retry_decision(&failure.why);
        let Failed {
            factory: failed,
            outcome,
            output_started,
            discarded,
            frames,
            bytes,
        } = self.state().fail_active(failure);
        if discarded > 0 {
            gst::debug!(
                CAT,
                imp = self,
                "{discarded} held outputs of the failed encoder dropped"
            );
        }
        gst::info!(
            CAT,
            imp = self,
            "{failed} {outcome}; {frames} frames ({bytes} bytes) to hand on"
        );
        // The failed encoder goes first: a hardware session it holds may be what the next
        // candidate needs. A hung one may never stop: it is waited for a while, then abandoned.
        let old = self.chain.detach(self.obj().upcast_ref());
        self.retire(&failed, old);
        if let retry::Next::SameOnSystemMemory(reason) = retry {
            self.state().retry_last(reason);
        }
        let chosen = self.open_next().map_err(|()| gst::FlowError::Error)?;
        let retried = self
            .state()
            .active
            .as_ref()
            .is_some_and(|a| a.on_system_memory && a.factory == failed);
        if output_started && !retried {
            // What `keep_caps` will do with the new encoder's caps (see `output.rs`).
            let caps_kept = self
                .chain_outlet()
                .current_caps()
                .and_then(|c| c.structure(0).map(|s| s.has_field("codec_data")))
                .unwrap_or(false);
            let why = plan::switch_reason(&failed, &outcome, &chosen, caps_kept);
            self.state().switch_reason = Some(why.clone());
            gst::element_imp_warning!(
                self,
                gst::StreamError::Encode,
                ("{}", why),
                [
                    "downstream gets a new keyframe with its parameter sets in-band; caps that \
                     carry codec_data (avc for mp4mux, matroskamux, flvmux) stay the first \
                     encoder's, so that a muxer sees one stream"
                ]
            );
        }
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Latency::builder().src(&*obj).build());
        Ok(())
    }

    /// Whether the encoder in use, failing for `why`, is tried again on system memory first.
    fn retry_decision(&self, why: &str) -> retry::Next {
        let Some((hardware, converter, on_system_memory)) = self
            .state()
            .active
            .as_ref()
            .map(|a| (a.hardware, a.converter.clone(), a.on_system_memory))
        else {
            return retry::Next::NextCandidate;
        };
        let path = converter.property::<String>("active-path");
        retry::after_failure(&retry::Attempt {
            hardware,
            path: &path,
            on_system_memory,
            why,
        })
    }

    /// The encoder that failed was opened again on system memory: the message and a warning
    /// say so.
    fn say_retried(&self, factory: &str, reason: &str) {
        let text = retry::retried(factory, reason);
        self.state().switch_reason = Some(text.clone());
        gst::element_imp_warning!(
            self,
            gst::StreamError::Encode,
            ("{}", text),
            ["the same encoder is fed system memory through videoconvert (no GL interop)"]
        );
    }

    /// Stops the elements of a chain taken out of the bin, waiting at most [`STOP_PATIENCE`];
    /// one that does not stop by then is left to stop on its own thread, with a warning.
    fn retire(&self, factory: &str, elements: Vec<gst::Element>) {
        if elements.is_empty() {
            return;
        }
        match stop_within(elements, STOP_PATIENCE) {
            Stop::Stopped => {}
            Stop::NoThread => gst::warning!(
                CAT,
                imp = self,
                "no thread to stop {factory}: left as it is"
            ),
            Stop::Abandoned => gst::element_imp_warning!(
                self,
                gst::StreamError::Encode,
                (
                    "{} did not stop within {} s: abandoned (its resources are freed if it \
                     ever stops)",
                    factory,
                    STOP_PATIENCE.as_secs()
                )
            ),
        }
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
        for Held { buffer, caps, .. } in frames {
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

/// What the bin says (`report.rs` builds it from plain inputs).
impl AutoEnc {
    /// Posts `strom-autoenc` for `what`, taken under the state lock with the first output
    /// buffer, so that a switch in another thread meanwhile cannot make it name another encoder.
    fn announce(&self, what: Announcement) {
        let settings = self.settings();
        let convert_path = what.converter.property::<String>("active-path");
        gst::info!(
            CAT,
            imp = self,
            "encoding with {} ({}), conversion {convert_path}: {}; tried: {}",
            what.encoder,
            if what.hardware {
                "hardware"
            } else {
                "software"
            },
            what.reason,
            what.tried
        );
        let obj = self.obj();
        crate::chainbin::post_decision(
            &*obj,
            report::decision_structure(&what, settings.codec, &convert_path),
        );
        obj.notify("convert-path");
    }

    /// No candidate is left for this stream: one element error naming what was tried.
    fn post_exhausted(&self, settings: &Settings) {
        let (tried, last_error) = {
            let state = self.state();
            (state.tried.clone(), state.last_error.clone())
        };
        let listed = settings.candidates.as_ref().map_or(&[][..], Vec::as_slice);
        let left_out: Vec<&str> = if listed.is_empty() {
            Vec::new()
        } else {
            plan::built_in(settings.codec)
                .map(|row| row.factory)
                .filter(|f| !listed.iter().any(|l| l == f))
                .filter(|f| gst::ElementFactory::find(f).is_some())
                .collect()
        };
        let (kind, text, debug) = report::exhausted(
            settings.codec,
            settings.preference,
            &tried,
            &left_out,
            last_error.as_ref(),
        );
        match kind {
            Exhausted::NoHardware => gst::element_imp_error!(
                self,
                gst::ResourceError::NotFound,
                ("{}", text),
                ["{}", debug]
            ),
            Exhausted::NoneInstalled => gst::element_imp_error!(
                self,
                gst::CoreError::MissingPlugin,
                ("{}", text),
                ["{}", debug]
            ),
            Exhausted::AllFailed => {
                gst::element_imp_error!(self, gst::StreamError::Encode, ("{}", text), ["{}", debug])
            }
        }
    }
}

/// The name of an attempt in `tried`: a retry on system memory is marked.
fn tried_name(factory: &str, on_system_memory: bool) -> String {
    if on_system_memory {
        format!("{factory}{}", plan::ON_SYSTEM_MEMORY)
    } else {
        factory.to_owned()
    }
}

#[glib::object_subclass]
impl ObjectSubclass for AutoEnc {
    const NAME: &'static str = "GstStromAutoEnc";
    type Type = super::AutoEnc;
    type ParentType = gst::Bin;

    fn with_class(klass: &Self::Class) -> Self {
        let sink_template = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::GhostPad::builder_from_template(&sink_template)
            .event_function(|pad, parent, event| {
                AutoEnc::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                AutoEnc::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_query(pad, query),
                )
            })
            .chain_function(|pad, parent, buffer| {
                AutoEnc::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |this| this.sink_chain(pad, buffer),
                )
            })
            .build();
        let src_template = klass.pad_template("src").expect("src template");
        let srcpad = gst::GhostPad::builder_from_template(&src_template)
            .query_function(|pad, parent, query| {
                AutoEnc::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.src_query(pad, query),
                )
            })
            .build();
        AutoEnc {
            chain: ChainSlot::new(&sinkpad, &srcpad),
            output_queue: Mutex::new(None),
            outlet_decided: AtomicBool::new(false),
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            errors: ErrorHold::default(),
            queries: QueryGate::default(),
        }
    }
}

impl ObjectImpl for AutoEnc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> =
            LazyLock::new(super::settings::properties);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "codec" => {
                let codec = value.get::<Codec>().expect("type checked upstream");
                self.set_stream_setting("codec", |s| s.codec = codec);
            }
            "bitrate" => {
                let kbps = value.get::<u32>().expect("type checked upstream");
                lock(&self.settings).bitrate_kbps = kbps;
                self.apply_bitrate_live(kbps);
            }
            "gop-size" => {
                let gop = value.get::<i32>().expect("type checked upstream");
                self.set_stream_setting("gop-size", |s| s.gop_size = gop);
            }
            "tune" => {
                let tune = value.get::<Tune>().expect("type checked upstream");
                self.set_stream_setting("tune", |s| s.tune = tune);
            }
            "preference" => {
                let preference = value.get::<Preference>().expect("type checked upstream");
                self.set_stream_setting("preference", |s| s.preference = preference);
            }
            "candidates" => {
                let text = value
                    .get::<Option<String>>()
                    .expect("type checked upstream")
                    .unwrap_or_default();
                let names = plan::parse_candidates(&text);
                self.set_stream_setting("candidates", |s| {
                    s.candidates_text = text;
                    s.candidates = names;
                });
            }
            "max-held-time" => {
                let ns = value.get::<u64>().expect("type checked upstream");
                self.set_stream_setting("max-held-time", |s| s.max_held_time_ns = ns);
            }
            "switch-latency" => {
                let ns = value.get::<u64>().expect("type checked upstream");
                self.set_stream_setting("switch-latency", |s| s.switch_latency_ns = ns);
            }
            "hang-timeout" => {
                let ns = value.get::<u64>().expect("type checked upstream");
                self.set_stream_setting("hang-timeout", |s| s.hang_timeout_ns = ns);
            }
            "max-held-bytes" => {
                let bytes = value.get::<u64>().expect("type checked upstream");
                self.set_stream_setting("max-held-bytes", |s| s.max_held_bytes = bytes);
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if let Some(value) = self.settings().value(pspec.name()) {
            return value;
        }
        match pspec.name() {
            "active-encoder" => self
                .state()
                .active
                .as_ref()
                .map_or_else(String::new, |a| a.factory.clone())
                .to_value(),
            "convert-path" => self.convert_path().to_value(),
            _ => unimplemented!(),
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

impl GstObjectImpl for AutoEnc {}

impl ElementImpl for AutoEnc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::with_additional(
                "Strom automatic video encoder",
                "Codec/Encoder/Video",
                "Encodes raw video (system or GL memory) to H.264, H.265 or AV1 with the first \
                 encoder of the candidate list that really opens (NVENC, VA, VA-API, Quick Sync, \
                 then x264/openh264/x265/SVT-AV1/rav1e/aom), converting through \
                 stromautoconvert and parsing to the stream-format downstream asks for. A \
                 candidate that fails before its first output is replaced by the next one with \
                 the same frames; after output has started an encoder error switches to the \
                 next one with a new keyframe (caps carrying codec_data are kept, the new \
                 parameter sets in-band). Posts the element message \
                 'strom-autoenc' when an encoder has produced its first output: encoder \
                 (string), codec (string), hardware (boolean), convert-path (string), tried \
                 (string), reason (string)",
                "gst-strom developers",
                &[("doc-uri", "https://github.com/strom/gst-strom#stromautoenc")],
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let src = caps::all_codec_caps();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps::raw_caps(),
                )
                .expect("valid sink template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src,
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
        match transition {
            gst::StateChange::ReadyToPaused => {
                self.queries.set_open(true);
                if lock(&self.output_queue).is_none() {
                    self.outlet_decided.store(false, Ordering::SeqCst);
                }
                self.errors.clear();
                // The candidates are opened here, one after the other, so that the first one
                // that really reaches PAUSED is in place before caps are negotiated.
                self.start_stream()?;
            }
            gst::StateChange::PausedToReady => {
                self.state().stopping = true;
                // Before the children stop: see `QueryGate`.
                self.queries.set_open(false);
            }
            _ => {}
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            self.end_stream();
        }
        Ok(result)
    }
}

impl BinImpl for AutoEnc {
    fn handle_message(&self, message: gst::Message) {
        let obj = self.obj();
        let from_inside = |m: &gst::Message| m.src().is_some_and(|s| s.has_as_ancestor(&*obj));
        let Some(message) = self.errors.intercept(message, from_inside) else {
            gst::debug!(
                CAT,
                imp = self,
                "holding back an error until the stream's fate is known"
            );
            return;
        };
        if matches!(message.view(), gst::MessageView::Error(_))
            && from_inside(&message)
            && self.hold_async_error(&message)
        {
            return;
        }
        self.parent_handle_message(message)
    }
}

/// What leaves the bin (see `output.rs`): display order, caps and DTS across a switch.
impl AutoEnc {
    /// Watches what comes out of `encoder` (each buffer marks its frame output, the first one
    /// announces the choice; outputs are held back for display order) and of `parser` (caps
    /// kept across a switch, DTS kept monotonic).
    pub(super) fn watch_output(
        &self,
        encoder: &gst::Element,
        parser: &gst::Element,
        generation: u64,
    ) {
        if let Some(pad) = encoder.static_pad("src") {
            let bin = self.obj().downgrade();
            pad.add_probe(
                gst::PadProbeType::BUFFER
                    | gst::PadProbeType::BUFFER_LIST
                    | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |pad, info| match bin.upgrade() {
                    Some(bin) => bin.imp().on_encoder_output(generation, pad, info),
                    None => gst::PadProbeReturn::Ok,
                },
            );
        }
        if let Some(pad) = parser.static_pad("src") {
            let bin = self.obj().downgrade();
            pad.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |pad, info| match bin.upgrade() {
                    Some(bin) => bin.imp().on_parser_output(pad, info),
                    None => gst::PadProbeReturn::Ok,
                },
            );
        }
    }

    fn on_encoder_output(
        &self,
        generation: u64,
        pad: &gst::Pad,
        info: &mut gst::PadProbeInfo,
    ) -> gst::PadProbeReturn {
        let verdict = match &info.data {
            Some(gst::PadProbeData::Buffer(buffer)) => self.on_encoded(generation, pad, buffer),
            Some(gst::PadProbeData::BufferList(list)) => {
                // Rare (no encoder of the table pushes lists): every buffer counted, none held.
                let mut verdict = Verdict::Pass(Vec::new());
                for buffer in list.iter_owned() {
                    verdict = match self.on_encoded(generation, pad, &buffer) {
                        Verdict::Drop => Verdict::Drop,
                        _ => Verdict::Pass(self.release_withheld(generation).unwrap_or_default()),
                    };
                }
                verdict
            }
            Some(gst::PadProbeData::Event(event)) => self.on_encoder_event(generation, event),
            _ => Verdict::Pass(Vec::new()),
        };
        match verdict {
            Verdict::Pass(earlier) => match send_on(pad, earlier) {
                Ok(()) => gst::PadProbeReturn::Ok,
                Err(flow) => {
                    info.data = None;
                    info.flow_res = Err(flow);
                    gst::PadProbeReturn::Handled
                }
            },
            Verdict::Hold | Verdict::Drop => gst::PadProbeReturn::Drop,
        }
    }

    /// A serialized event after held outputs (EOS after the drain, a new segment or caps): the
    /// held outputs go first, in their order. A flush throws them away.
    fn on_encoder_event(&self, generation: u64, event: &gst::Event) -> Verdict {
        match event.view() {
            gst::EventView::FlushStop(_) => {
                self.state().output.restart();
                Verdict::Pass(Vec::new())
            }
            _ if event.is_serialized() => {
                Verdict::Pass(self.release_withheld(generation).unwrap_or_default())
            }
            _ => Verdict::Pass(Vec::new()),
        }
    }

    /// The held outputs of the chain of `generation`, their frames done; None for another chain.
    fn release_withheld(&self, generation: u64) -> Option<Vec<gst::Buffer>> {
        self.state().release_withheld(generation)
    }

    /// Counts an encoded buffer, marks its frame output, and says whether it goes on now.
    fn on_encoded(&self, generation: u64, pad: &gst::Pad, buffer: &gst::Buffer) -> Verdict {
        let pts = running_time(pad, buffer.pts());
        let dts = running_time(pad, buffer.dts());
        let settings = self.settings();
        let (
            Encoded {
                verdict, dropped, ..
            },
            announcement,
        ) = {
            let mut state = self.state();
            let encoded = state.encoded(generation, buffer, pts, dts);
            let announcement = encoded
                .first
                .then(|| state.announcement(&settings))
                .flatten();
            (encoded, announcement)
        };
        if matches!(verdict, Verdict::Drop) {
            gst::debug!(CAT, imp = self, "output of a replaced encoder dropped");
        }
        if dropped > 0 {
            gst::debug!(
                CAT,
                imp = self,
                "{dropped} frames the encoder dropped let go"
            );
        }
        if let Some(announcement) = announcement {
            self.announce(announcement);
        }
        verdict
    }

    fn on_parser_output(
        &self,
        pad: &gst::Pad,
        info: &mut gst::PadProbeInfo,
    ) -> gst::PadProbeReturn {
        match &mut info.data {
            Some(gst::PadProbeData::Buffer(buffer)) => {
                self.keep_dts_monotonic(pad, buffer);
                self.keep_segment_times(pad, buffer);
                gst::PadProbeReturn::Ok
            }
            Some(gst::PadProbeData::Event(event)) => {
                // Downstream's own event goes again in place of the new one: a sticky event
                // dropped in a probe is sent again with every buffer (and GStreamer 1.22 warns
                // each time), an equal one changes nothing downstream.
                let kept = match event.view() {
                    gst::EventView::Caps(c) => self.keep_caps(c.caps()),
                    gst::EventView::Segment(s) => self.keep_segment(s.segment()),
                    gst::EventView::FlushStop(_) => {
                        self.state().output.last_dts = None;
                        None
                    }
                    _ => None,
                };
                if let Some(kept) = kept {
                    *event = kept;
                }
                gst::PadProbeReturn::Ok
            }
            _ => gst::PadProbeReturn::Ok,
        }
    }

    /// Where the chain's output goes (the output queue's sink pad, else the src pad): its
    /// sticky events are what downstream has been given, or will be once the queue gets there.
    fn chain_outlet(&self) -> gst::Pad {
        lock(&self.output_queue)
            .as_ref()
            .and_then(|q| q.static_pad("sink"))
            .unwrap_or_else(|| self.srcpad.clone().upcast())
    }

    /// New caps once output has started (a new encoder's, or its parameter sets updated):
    /// replaced by downstream's own when they describe the same picture (see `output.rs`).
    fn keep_caps(&self, new: &gst::CapsRef) -> Option<gst::Event> {
        let old = self.chain_outlet().current_caps()?;
        // Before any output the caps sent are nobody's yet: the real ones replace them.
        if !self.state().output_started {
            return None;
        }
        if old.as_ref() == new || !same_picture(&old, new) {
            return None;
        }
        gst::info!(
            CAT,
            imp = self,
            "downstream keeps the caps {old}; the new encoder's parameter sets go in-band ({new})"
        );
        Some(gst::event::Caps::new(&old))
    }

    /// A new segment once output has started (the next encoder's: `x264enc` shifts its
    /// segment by 1000 hours, others do not): downstream keeps the segment it has, and the new
    /// encoder's times are carried over into it by running time (see [`retime`]), so that a
    /// muxer sees one continuous segment.
    fn keep_segment(&self, new: &gst::Segment) -> Option<gst::Event> {
        let old = self.chain_outlet().sticky_event::<gst::event::Segment>(0)?;
        if !self.state().output_started || old.segment() == new {
            return None;
        }
        gst::debug!(
            CAT,
            imp = self,
            "downstream keeps the segment {:?}; the new encoder's times are moved into it",
            old.segment()
        );
        Some(gst::event::Segment::new(old.segment()))
    }

    /// Moves `buffer`'s times from the segment of `pad` (the parser's) into the one downstream
    /// has, where they differ (see [`AutoEnc::keep_segment`]).
    fn keep_segment_times(&self, pad: &gst::Pad, buffer: &mut gst::Buffer) {
        let (Some(ours), Some(theirs)) = (
            pad.sticky_event::<gst::event::Segment>(0),
            self.chain_outlet().sticky_event::<gst::event::Segment>(0),
        ) else {
            return;
        };
        let (Some(from), Some(to)) = (
            ours.segment().downcast_ref::<gst::ClockTime>(),
            theirs.segment().downcast_ref::<gst::ClockTime>(),
        ) else {
            return;
        };
        if from == to {
            return;
        }
        let (pts, dts) = (
            retime(from, to, buffer.pts()),
            retime(from, to, buffer.dts()),
        );
        let buffer = buffer.make_mut();
        if let Some(pts) = pts {
            buffer.set_pts(pts);
        }
        if let Some(dts) = dts {
            buffer.set_dts(dts);
        }
    }

    fn keep_dts_monotonic(&self, pad: &gst::Pad, buffer: &mut gst::Buffer) {
        let last = self.state().output.last_dts;
        let (new_last, position) = dts_position(pad, buffer, last);
        self.state().output.last_dts = new_last;
        if let Some(position) = position {
            gst::debug!(
                CAT,
                imp = self,
                "DTS {:?} would go backwards: {position}",
                buffer.dts()
            );
            buffer.make_mut().set_dts(position);
        }
    }
}
