// SPDX-License-Identifier: MPL-2.0
//! Holding back the errors a chain posts while a buffer is inside it, until the bin knows whether
//! it recovers (another chain takes the same buffer: the error is summarised in a warning, never
//! seen as a failure) or not (the error goes on to the application as it was).
//!
//! Elements post errors synchronously from the thread that fails, which for a chain without
//! threads of its own is the streaming thread pushing the buffer. So an error counts as the
//! buffer's when it comes from the chain while this thread is inside [`ErrorHold::push`].
//! Bins nest (`stromautoenc` holds `stromautoconvert`): each bin's window is its own.

use std::cell::RefCell;
use std::sync::Mutex;

use crate::sync::lock;

thread_local! {
    /// The holds whose window is open on this thread, by address.
    static OPEN: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// One per bin; lives in the bin's instance, so its address is stable.
#[derive(Default)]
pub(crate) struct ErrorHold {
    held: Mutex<Option<gst::Message>>,
}

/// Closes the window even if the push unwinds.
struct Window(usize);

impl Drop for Window {
    fn drop(&mut self) {
        OPEN.with(|open| {
            let mut open = open.borrow_mut();
            if let Some(i) = open.iter().rposition(|&id| id == self.0) {
                open.remove(i);
            }
        });
    }
}

impl ErrorHold {
    fn id(&self) -> usize {
        self as *const ErrorHold as usize
    }

    /// Runs `push` with the window open on this thread; returns its result and the first error
    /// the chain posted meanwhile (which the bin must now forward or replace).
    pub(crate) fn push<R>(&self, push: impl FnOnce() -> R) -> (R, Option<gst::Message>) {
        OPEN.with(|open| open.borrow_mut().push(self.id()));
        let window = Window(self.id());
        let result = push();
        drop(window);
        (result, lock(&self.held).take())
    }

    /// Whether this thread is inside [`push`](Self::push) of this hold.
    pub(crate) fn is_open_here(&self) -> bool {
        OPEN.with(|open| open.borrow().contains(&self.id()))
    }

    /// For `BinImpl::handle_message`: keeps `message` when it is an error that `from_chain`
    /// says the chain posted while the window is open on this thread; else gives it back.
    pub(crate) fn intercept(
        &self,
        message: gst::Message,
        from_chain: impl FnOnce(&gst::Message) -> bool,
    ) -> Option<gst::Message> {
        let is_error = matches!(message.view(), gst::MessageView::Error(_));
        if !is_error || !self.is_open_here() || !from_chain(&message) {
            return Some(message);
        }
        let mut held = lock(&self.held);
        // The first error says what went wrong; later ones are its consequences.
        if held.is_none() {
            *held = Some(message);
        }
        None
    }

    /// Forgets a held error (a new stream starts).
    pub(crate) fn clear(&self) {
        lock(&self.held).take();
    }
}

/// "message: debug" of an error message, for warnings that summarise it.
pub(crate) fn describe_error(message: &gst::Message) -> Option<String> {
    match message.view() {
        gst::MessageView::Error(e) => Some(match e.debug() {
            Some(debug) => format!("{}: {debug}", e.error()),
            None => e.error().to_string(),
        }),
        _ => None,
    }
}

/// An error message in one line for people: the element's own words. GStreamer errors often
/// carry only their domain's generic text as message ("Could not encode stream.") and the
/// cause in the debug text, after a "file(line): function (): /pipeline/element:" prefix; then
/// the debug text alone says it, else the message with the debug text after it.
pub(crate) fn summarise_error(message: &gst::Message) -> Option<String> {
    let gst::MessageView::Error(e) = message.view() else {
        return None;
    };
    let error = e.error();
    let debug = e
        .debug()
        .map(|d| without_location(&d).to_owned())
        .filter(|d| !d.is_empty());
    Some(match debug {
        Some(debug) if is_generic(&error) => debug,
        Some(debug) => format!("{} ({debug})", error.message()),
        None => error.message().to_owned(),
    })
}

fn without_location(debug: &str) -> &str {
    match debug.split_once(":\n") {
        Some((location, text)) if location.contains("): ") => text.trim(),
        _ => debug.trim(),
    }
}

/// Whether `error`'s message is the generic text of its domain and code.
fn is_generic(error: &gst::glib::Error) -> bool {
    use gst::glib::translate::{FromGlibPtrFull, IntoGlib};
    // SAFETY: gst_error_get_message returns a newly allocated string (or NULL), owned here.
    let generic = unsafe {
        let text = gst::ffi::gst_error_get_message(error.domain().into_glib(), error.code());
        if text.is_null() {
            return false;
        }
        gst::glib::GString::from_glib_full(text)
    };
    generic.as_str() == error.message()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error() -> gst::Message {
        gst::message::Error::new(gst::StreamError::Failed, "broken")
    }

    #[test]
    fn errors_are_held_only_inside_the_window_and_only_from_the_chain() {
        gst::init().unwrap();
        let hold = ErrorHold::default();
        assert!(hold.intercept(error(), |_| true).is_some());
        let ((), held) = hold.push(|| {
            assert!(hold.is_open_here());
            assert!(hold.intercept(error(), |_| false).is_some());
            assert!(hold.intercept(error(), |_| true).is_none());
            let eos = gst::message::Eos::new();
            assert!(hold.intercept(eos, |_| true).is_some());
        });
        assert!(!hold.is_open_here());
        assert_eq!(
            describe_error(&held.expect("held")).as_deref(),
            Some("broken")
        );
        let ((), held) = hold.push(|| ());
        assert!(held.is_none());
    }

    #[test]
    fn summaries_keep_the_elements_own_words() {
        gst::init().unwrap();
        let with = |message: Option<&str>, debug: Option<&str>| {
            let mut builder = gst::message::Error::builder(
                gst::LibraryError::Init,
                message.unwrap_or("Could not initialize supporting library."),
            );
            if let Some(debug) = debug {
                builder = builder.debug(debug);
            }
            summarise_error(&builder.build()).unwrap()
        };
        let located = "gstnvenc.c(42): gst_nv_enc_open (): /GstPipeline:p/GstNvH264Enc:enc:\n\
                       OpenEncodeSessionEx failed: out of memory";
        assert_eq!(
            with(None, Some(located)),
            "OpenEncodeSessionEx failed: out of memory"
        );
        assert_eq!(
            with(Some("no CUDA device"), Some(located)),
            "no CUDA device (OpenEncodeSessionEx failed: out of memory)"
        );
        assert_eq!(with(Some("no CUDA device"), None), "no CUDA device");
        assert_eq!(with(None, None), "Could not initialize supporting library.");
        assert_eq!(with(None, Some("plain words")), "plain words");
        assert_eq!(summarise_error(&gst::message::Eos::new()), None);
    }

    #[test]
    fn nested_holds_keep_their_own_windows() {
        gst::init().unwrap();
        let outer = ErrorHold::default();
        let inner = ErrorHold::default();
        let ((), outer_held) = outer.push(|| {
            let ((), inner_held) = inner.push(|| {
                assert!(outer.is_open_here() && inner.is_open_here());
            });
            assert!(inner_held.is_none());
            // The inner window closed; the outer one is still open.
            assert!(!inner.is_open_here());
            assert!(outer.intercept(error(), |_| true).is_none());
        });
        assert!(outer_held.is_some());
    }

    #[test]
    fn the_window_is_per_thread() {
        gst::init().unwrap();
        let hold = std::sync::Arc::new(ErrorHold::default());
        let ((), held) = hold.push(|| {
            let other = hold.clone();
            std::thread::spawn(move || assert!(other.intercept(error(), |_| true).is_some()))
                .join()
                .unwrap();
        });
        assert!(held.is_none());
    }
}
