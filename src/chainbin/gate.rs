// SPDX-License-Identifier: MPL-2.0
//! When queries from other threads may enter a bin's chain. Two hazards of GStreamer 1.22's GL
//! elements, seen as crashes under the reliability suite:
//! - they free their internals in `stop()` while an upstream thread that is still running asks a
//!   caps query through them: the bin closes the gate before its children stop;
//! - `glupload` is not safe against a caps query from another thread while it uploads
//!   (`gst_gl_upload_transform_caps`): the streaming thread marks the chain busy while a buffer
//!   is inside, and a query from another thread gets the chain-less answer instead of waiting
//!   (waiting could deadlock when the streaming thread needs that query answered).

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

use crate::sync::{lock, read, write};

pub(crate) struct QueryGate {
    open: RwLock<bool>,
    busy: Mutex<()>,
}

impl Default for QueryGate {
    fn default() -> Self {
        QueryGate {
            open: RwLock::new(true),
            busy: Mutex::new(()),
        }
    }
}

/// Held while a query is inside the chain: the gate cannot close meanwhile.
pub(crate) struct Entered<'a>(#[allow(dead_code)] RwLockReadGuard<'a, bool>);

impl QueryGate {
    /// Opens (READY→PAUSED) or closes (PAUSED→READY, before the children stop) the gate; closing
    /// waits for the queries inside to leave.
    pub(crate) fn set_open(&self, open: bool) {
        *write(&self.open) = open;
    }

    /// Lets a query in, unless the gate is closed.
    pub(crate) fn enter(&self) -> Option<Entered<'_>> {
        let open = read(&self.open);
        (*open).then_some(Entered(open))
    }

    /// Held by the streaming thread while a buffer is inside a chain that queries must not
    /// enter.
    pub(crate) fn busy(&self) -> MutexGuard<'_, ()> {
        lock(&self.busy)
    }

    /// For a query about to enter the chain: `Ok(guard)` when no buffer is inside, `Ok(None)`
    /// on the streaming thread that holds it (`own_thread`; it may query its own chain), and
    /// `Err(())` when another thread's buffer is inside: answer without the chain then.
    pub(crate) fn try_idle(&self, own_thread: bool) -> Result<Option<MutexGuard<'_, ()>>, ()> {
        match self.busy.try_lock() {
            Ok(guard) => Ok(Some(guard)),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Ok(Some(poisoned.into_inner())),
            Err(std::sync::TryLockError::WouldBlock) if own_thread => Ok(None),
            Err(std::sync::TryLockError::WouldBlock) => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_gate_lets_no_query_in() {
        let gate = QueryGate::default();
        assert!(gate.enter().is_some());
        gate.set_open(false);
        assert!(gate.enter().is_none());
        gate.set_open(true);
        assert!(gate.enter().is_some());
    }

    #[test]
    fn a_busy_chain_answers_other_threads_without_waiting() {
        let gate = QueryGate::default();
        assert!(matches!(gate.try_idle(false), Ok(Some(_))));
        let _busy = gate.busy();
        assert!(gate.try_idle(false).is_err());
        assert!(matches!(gate.try_idle(true), Ok(None)));
    }
}
