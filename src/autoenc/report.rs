// SPDX-License-Identifier: MPL-2.0
//! What the bin tells people: the `strom-autoenc` message once an encoder has proven itself
//! (its first output buffer), and the element error when no candidate is left.

use gst::prelude::*;
use gst::subclass::prelude::*;

use super::MESSAGE_NAME;
use super::Preference;
use super::imp::{AutoEnc, CAT, Settings, State};
use super::plan;
use crate::chainbin::{self, summarise_error};

/// What the `strom-autoenc` message says about the encoder in use.
pub(super) struct Announcement {
    encoder: String,
    hardware: bool,
    converter: gst::Element,
    tried: String,
    reason: String,
}

impl Announcement {
    /// The message for the encoder in use in `state`, if any.
    pub(super) fn of(settings: &Settings, state: &State) -> Option<Announcement> {
        let active = state.active.as_ref()?;
        let reason = state.switch_reason.clone().unwrap_or_else(|| {
            plan::reason(
                settings.codec,
                settings.preference,
                settings.candidates.as_ref().is_ok_and(|c| !c.is_empty()),
                &active.factory,
                &state.tried,
            )
        });
        Some(Announcement {
            encoder: active.factory.clone(),
            hardware: active.hardware,
            converter: active.converter.clone(),
            tried: state.tried.to_string(),
            reason,
        })
    }
}

impl AutoEnc {
    /// Posts `strom-autoenc` for `what`, taken under the state lock with the first output
    /// buffer, so that a switch in another thread meanwhile cannot make it name another encoder.
    pub(super) fn announce(&self, what: Announcement) {
        let settings = self.settings();
        let Announcement {
            encoder,
            hardware,
            converter,
            tried,
            reason,
        } = what;
        let convert_path = converter.property::<String>("active-path");
        gst::info!(
            CAT,
            imp = self,
            "encoding with {encoder} ({}), conversion {convert_path}: {reason}; tried: {tried}",
            if hardware { "hardware" } else { "software" }
        );
        let obj = self.obj();
        chainbin::post_decision(
            &*obj,
            gst::Structure::builder(MESSAGE_NAME)
                .field("encoder", encoder.as_str())
                .field("codec", settings.codec.nick())
                .field("hardware", hardware)
                .field("convert-path", convert_path.as_str())
                .field("tried", tried.as_str())
                .field("reason", reason.as_str())
                .build(),
        );
        obj.notify("convert-path");
    }

    /// No candidate is left for this stream: one element error naming what was tried.
    pub(super) fn post_exhausted(&self, settings: &Settings) {
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
        let text = plan::exhausted(settings.codec, settings.preference, &tried, &left_out);
        let debug = last_error
            .as_ref()
            .and_then(summarise_error)
            .map_or_else(String::new, |e| format!("last encoder error: {e}"));
        if settings.preference == Preference::Hardware {
            gst::element_imp_error!(
                self,
                gst::ResourceError::NotFound,
                ("{}", text),
                ["{}", debug]
            );
        } else if tried.failures() == 0 {
            gst::element_imp_error!(
                self,
                gst::CoreError::MissingPlugin,
                ("{}", text),
                ["{}", debug]
            );
        } else {
            gst::element_imp_error!(self, gst::StreamError::Encode, ("{}", text), ["{}", debug]);
        }
    }
}
