// SPDX-License-Identifier: MPL-2.0
//! The one buffer collector: what reaches a pad (through a probe, so any sink works) or an
//! appsink (which must be pulled from, or it holds EOS back), in [`Collected`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::HANG;

/// What arrived, one entry per buffer.
#[derive(Debug, Default, Clone)]
pub struct Collected {
    pub pts: Vec<Option<gst::ClockTime>>,
    /// The buffers' caps, each once per change.
    pub caps: Vec<gst::Caps>,
    /// Buffers whose first memory is GL memory (the rest came in system memory).
    pub gl_buffers: usize,
    /// The first buffer's bytes, with [`FirstFrame::Copy`].
    pub first: Option<Vec<u8>>,
    /// Every buffer with its caps, with [`FirstFrame::KeepAll`].
    pub kept: Vec<(gst::Caps, gst::Buffer)>,
}

impl Collected {
    /// How many buffers arrived.
    pub fn buffers(&self) -> usize {
        self.pts.len()
    }

    fn record(&mut self, buffer: &gst::BufferRef, caps: Option<&gst::CapsRef>, first: FirstFrame) {
        self.pts.push(buffer.pts());
        if let Some(caps) = caps
            && self.caps.last().map(|l| l.as_ref()) != Some(caps)
        {
            self.caps.push(caps.to_owned());
        }
        if buffer.n_memory() > 0
            && buffer
                .peek_memory(0)
                .is_memory_type::<gst_gl::GLBaseMemory>()
        {
            self.gl_buffers += 1;
        }
        if first == FirstFrame::Copy
            && self.first.is_none()
            && let Ok(map) = buffer.map_readable()
        {
            self.first = Some(map.to_vec());
        }
        if first == FirstFrame::KeepAll
            && let Some(caps) = caps
        {
            self.kept.push((caps.to_owned(), buffer.to_owned()));
        }
    }
}

/// Whether a collector copies the first buffer's bytes (which maps it: a download for GL
/// memory, so only where a test compares bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstFrame {
    Skip,
    Copy,
    /// Keep every buffer (a reference, not a copy) with its caps, for tests that read pixels
    /// through the buffers' own `GstVideoMeta` layout.
    KeepAll,
}

/// A probe that [`Collector::detach`] removes.
type Probe = (glib::WeakRef<gst::Pad>, gst::PadProbeId);

/// Collects what reaches a pad or an appsink; clones share what they collect.
#[derive(Clone)]
pub struct Collector {
    seen: Arc<Mutex<Collected>>,
    probe: Arc<Mutex<Option<Probe>>>,
}

impl Collector {
    fn new() -> Self {
        Self {
            seen: Arc::default(),
            probe: Arc::default(),
        }
    }

    /// Collects the buffers passing `pad`, starting afresh at each flush-stop (so only the
    /// stream after the latest flushing seek counts).
    pub fn on_pad(pad: &gst::Pad) -> Self {
        let collector = Self::new();
        let seen = collector.seen.clone();
        let probe = pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_FLUSH,
            move |pad, info| {
                match &info.data {
                    Some(gst::PadProbeData::Buffer(b)) => {
                        let caps = pad.current_caps();
                        lock(&seen).record(b, caps.as_deref(), FirstFrame::Skip)
                    }
                    Some(gst::PadProbeData::Event(e)) if e.type_() == gst::EventType::FlushStop => {
                        *lock(&seen) = Collected::default()
                    }
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
        *lock(&collector.probe) = probe.map(|id| (pad.downgrade(), id));
        collector
    }

    /// Pulls every sample from `sink` (through its new-sample callback) and collects it.
    pub fn on_appsink(sink: &gst_app::AppSink, first: FirstFrame) -> Self {
        let collector = Self::new();
        let seen = collector.seen.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some(buffer) = sample.buffer() {
                        lock(&seen).record(buffer, sample.caps(), first);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        collector
    }

    /// How many buffers arrived so far.
    pub fn count(&self) -> usize {
        lock(&self.seen).buffers()
    }

    /// What arrived so far.
    pub fn collected(&self) -> Collected {
        lock(&self.seen).clone()
    }

    /// Waits until at least `n` buffers arrived (the stream is flowing); panics after [`HANG`].
    pub fn wait_for(&self, n: usize) {
        let started = Instant::now();
        while self.count() < n {
            assert!(started.elapsed() < HANG, "hang: no data flowing");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Removes the pad probe (for a pipeline that is used again); an appsink keeps collecting.
    pub fn detach(&self) {
        if let Some((pad, id)) = lock(&self.probe).take()
            && let Some(pad) = pad.upgrade()
        {
            pad.remove_probe(id);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
