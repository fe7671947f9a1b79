// SPDX-License-Identifier: MPL-2.0
//! What GStreamer's registry says about an encoder candidate, as [`super::plan::screen`] takes it. Read
//! by the bin when it opens candidates and by `strom-doctor` when it says which one would open,
//! so both screen the same facts with the same rule.

use super::plan::Registered;

/// What the registry says about `factory`, for [`super::plan::screen`].
pub(crate) fn registered(factory: &str) -> Registered {
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
