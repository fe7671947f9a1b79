// SPDX-License-Identifier: MPL-2.0
//! The chosen mixer, as `imp.rs` builds it: made with the element's settings (`mixer_spec`), its
//! properties set where glvideomixer keeps them (`set_on_mixer`). `imp.rs` feeds it from the
//! request pads (each ghost pad targets a request pad of the mixer, through `gldownload` when GL
//! memory comes into `compositor`; `glvideomixer` uploads system memory itself) and follows it
//! with what the output memory needs.

use gst::prelude::*;

use super::CAT;
use super::plan::MixPath;
use super::settings::Settings;
use crate::chainbin::{self, ElementSpec, PropertyValue};

/// The mixer of `path` with the element's settings.
pub(super) fn mixer_spec(path: MixPath, s: &Settings) -> ElementSpec {
    let spec = ElementSpec::new(path.mixer())
        .property_from_str("background", s.background.nick())
        .property("latency", s.latency)
        .property_from_str(
            "start-time-selection",
            start_time_selection_nick(s.start_time_selection),
        )
        .property("start-time", s.start_time);
    match path {
        MixPath::Software => spec.property("min-upstream-latency", s.min_upstream_latency),
        // glvideomixer (a bin) leaves it to its aggregator: set after it is made.
        MixPath::Gl => spec,
    }
}

/// Sets `name` on `mixer`, or on the aggregator inside `glvideomixer` where only that has it.
pub(super) fn set_on_mixer(mixer: &gst::Element, name: &str, value: PropertyValue) {
    let target = if mixer.find_property(name).is_some() {
        Some(mixer.clone())
    } else {
        mixer
            .find_property("mixer")
            .and_then(|_| mixer.property::<Option<gst::Element>>("mixer"))
    };
    let result = match &target {
        Some(target) => chainbin::set_checked(target, name, &value),
        None => Err("no such property".into()),
    };
    if let Err(why) = result {
        gst::warning!(CAT, obj = mixer, "cannot set {name} on the mixer: {why}");
    }
}

pub(super) fn start_time_selection_nick(
    selection: gst_base::AggregatorStartTimeSelection,
) -> &'static str {
    match selection {
        gst_base::AggregatorStartTimeSelection::First => "first",
        gst_base::AggregatorStartTimeSelection::Set => "set",
        _ => "zero",
    }
}

impl From<u64> for PropertyValue {
    fn from(value: u64) -> Self {
        PropertyValue::Value(value.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mixer_takes_the_element_settings() {
        gst::init().unwrap();
        let settings = Settings {
            background: crate::compositor::Background::Black,
            latency: 5,
            min_upstream_latency: 7,
            start_time_selection: gst_base::AggregatorStartTimeSelection::First,
            ..Settings::default()
        };
        for path in [MixPath::Software, MixPath::Gl] {
            let mixer = &chainbin::chain::build(&[mixer_spec(path, &settings)]).unwrap()[0];
            set_on_mixer(mixer, "min-upstream-latency", 7u64.into());
            assert_eq!(mixer.property::<u64>("latency"), 5);
            let inner = match path {
                MixPath::Software => mixer.clone(),
                MixPath::Gl => mixer.property::<gst::Element>("mixer"),
            };
            assert_eq!(inner.property::<u64>("min-upstream-latency"), 7);
            let nick = |name: &str| {
                let value = mixer.property_value(name);
                glib::EnumValue::from_value(&value).map(|(_, v)| v.nick().to_owned())
            };
            assert_eq!(nick("background").as_deref(), Some("black"));
            assert_eq!(nick("start-time-selection").as_deref(), Some("first"));
        }
    }
}
