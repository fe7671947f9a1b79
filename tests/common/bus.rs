// SPDX-License-Identifier: MPL-2.0
//! The one way the tests read a bus: [`read_bus`] waits until a condition on what it has read
//! holds (EOS, ASYNC_DONE, a message, or anything else), stopping early at an error or when the
//! patience runs out; [`drain_bus`] takes what is queued without waiting. Both return a
//! [`BusLog`].

use std::fmt;
use std::time::{Duration, Instant};

/// An error or warning message: its text, and the debug details GStreamer attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub message: String,
    pub debug: Option<String>,
}

impl fmt::Display for Problem {
    /// `message (Some("debug"))`, as the tests have always printed errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.message, self.debug)
    }
}

/// What was read off a bus, in order of arrival per kind.
#[derive(Debug, Default)]
pub struct BusLog {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// The structures of element messages.
    pub element_messages: Vec<gst::Structure>,
    pub eos: bool,
    pub async_done: bool,
    /// Why reading stopped before the condition held without an error: a hang, or a state
    /// change that failed before reading began.
    pub stalled: Option<String>,
}

impl BusLog {
    /// A log with nothing read, for a run that could not start.
    pub fn not_started(why: &str) -> Self {
        Self {
            stalled: Some(why.to_owned()),
            ..Self::default()
        }
    }

    fn record(&mut self, msg: &gst::MessageRef) {
        match msg.view() {
            gst::MessageView::Error(e) => self.errors.push(Problem {
                message: e.error().to_string(),
                debug: e.debug().map(|d| d.to_string()),
            }),
            gst::MessageView::Warning(w) => self.warnings.push(Problem {
                message: w.error().to_string(),
                debug: w.debug().map(|d| d.to_string()),
            }),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    self.element_messages.push(s.to_owned());
                }
            }
            gst::MessageView::Eos(_) => self.eos = true,
            gst::MessageView::AsyncDone(_) => self.async_done = true,
            _ => {}
        }
    }

    /// Why the run failed: the first error (with its debug text), or why reading stalled.
    pub fn error(&self) -> Option<String> {
        self.errors
            .first()
            .map(Problem::to_string)
            .or_else(|| self.stalled.clone())
    }

    /// `Err(`[`Self::error`]`)`, or `Ok` when the read ended as asked.
    pub fn result(&self) -> Result<(), String> {
        self.error().map_or(Ok(()), Err)
    }

    /// The warnings' messages (without debug text), in order.
    pub fn warning_messages(&self) -> Vec<String> {
        self.warnings.iter().map(|w| w.message.clone()).collect()
    }

    /// Every error, warning and stall, as `error: …` / `warning: …` lines.
    pub fn problems(&self) -> Vec<String> {
        let errors = self.errors.iter().map(|e| format!("error: {e}"));
        let stalled = self.stalled.iter().map(|s| format!("error: {s}"));
        let warnings = self.warnings.iter().map(|w| format!("warning: {w}"));
        errors.chain(stalled).chain(warnings).collect()
    }

    /// The element messages called `name`, in order.
    pub fn named(&self, name: &str) -> Vec<&gst::Structure> {
        self.element_messages
            .iter()
            .filter(|s| s.name() == name)
            .collect()
    }

    /// The `strom-autoconvert` messages, in order.
    pub fn decisions(&self) -> Vec<&gst::Structure> {
        self.named("strom-autoconvert")
    }

    /// Adds what `later` read after this log.
    pub fn append(&mut self, later: BusLog) {
        self.errors.extend(later.errors);
        self.warnings.extend(later.warnings);
        self.element_messages.extend(later.element_messages);
        self.eos |= later.eos;
        self.async_done |= later.async_done;
        self.stalled = self.stalled.take().or(later.stalled);
    }
}

/// Reads `bus` until `done` holds for what was read, an error arrives, or `patience` passes in
/// all (a hang guard, never a timing assertion: then [`BusLog::stalled`] says so).
pub fn read_bus(bus: &gst::Bus, patience: Duration, done: impl FnMut(&BusLog) -> bool) -> BusLog {
    read_bus_polling(bus, patience, patience, done)
}

/// [`read_bus`] that checks `done` again at least every `poll` even when no message comes: for
/// conditions on more than the bus (frames a probe counted, say).
pub fn read_bus_polling(
    bus: &gst::Bus,
    patience: Duration,
    poll: Duration,
    mut done: impl FnMut(&BusLog) -> bool,
) -> BusLog {
    let mut log = BusLog::default();
    let deadline = Instant::now() + patience;
    while log.errors.is_empty() && !done(&log) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            log.stalled = Some(format!("hang: not done after {patience:?}"));
            break;
        }
        let wait = gst::ClockTime::try_from(left.min(poll)).expect("a wait in range");
        if let Some(msg) = bus.timed_pop(wait) {
            log.record(&msg);
        }
    }
    log
}

/// [`read_bus`] until EOS.
pub fn wait_for_eos(bus: &gst::Bus, patience: Duration) -> BusLog {
    read_bus(bus, patience, |log| log.eos)
}

/// What is queued on `bus` now, without waiting (errors do not stop it).
pub fn drain_bus(bus: &gst::Bus) -> BusLog {
    let mut log = BusLog::default();
    while let Some(msg) = bus.pop() {
        log.record(&msg);
    }
    log
}
