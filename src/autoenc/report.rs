// SPDX-License-Identifier: MPL-2.0
//! What the bin tells people: the `strom-autoenc` message once an encoder has proven itself
//! (its first output buffer), and the element error when no candidate is left.

use gst::prelude::*;
use gst::subclass::prelude::*;

use super::MESSAGE_NAME;
use super::Preference;
use super::imp::{AutoEnc, CAT, Settings};
use super::plan;
use crate::chainbin::{self, summarise_error};

impl AutoEnc {
    /// Posts `strom-autoenc` for the encoder in use; called on its first output buffer.
    pub(super) fn announce(&self) {
        let settings = self.settings();
        let fields = {
            let state = self.state();
            let Some(active) = state.active.as_ref() else {
                return;
            };
            let reason = state.switch_reason.clone().unwrap_or_else(|| {
                plan::reason(
                    settings.codec,
                    settings.preference,
                    settings.candidates.as_ref().is_ok_and(|c| !c.is_empty()),
                    &active.factory,
                    &state.tried,
                )
            });
            (
                active.factory.clone(),
                active.hardware,
                active.converter.clone(),
                state.tried.to_string(),
                reason,
            )
        };
        let (encoder, hardware, converter, tried, reason) = fields;
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
        let text = plan::exhausted(settings.codec, settings.preference, &tried);
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
