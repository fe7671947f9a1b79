// SPDX-License-Identifier: MPL-2.0
//! Making a candidate's encoder with its mapped properties. At READY→PAUSED (and after a
//! failure) `imp.rs` looks at the candidates in order; each is made here, put between the ghost
//! pads with `stromautoconvert` before it and the parser after it, and brought to the bin's state
//! with its errors held back. The first that gets there stays; its output is watched, each
//! buffer confirming its frame and the first one announcing the choice.

use gst::prelude::*;

use super::CAT;
use super::plan::{self, Candidate, EncodeSettings, Value};
use crate::chainbin::{PropertyValue, set_checked};

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
pub(super) fn make_encoder(
    candidate: &Candidate,
    settings: &EncodeSettings,
) -> Result<gst::Element, String> {
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
    for setting in plan::settings_for(row, settings) {
        match apply(&encoder, factory, &setting) {
            Ok(name) => gst::debug!(CAT, "{factory}: {} set through '{name}'", setting.what),
            Err(why) if setting.required => return Err(why),
            // Another version of the element: it does this its own way, or not at all.
            Err(why) => gst::debug!(CAT, "{factory}: {} not applied: {why}", setting.what),
        }
    }
    Ok(encoder)
}
