// SPDX-License-Identifier: MPL-2.0
//! Who will consume a bin's output: the first element downstream that does more than pass
//! buffers on, found by walking from the bin's src pad through queues, capsfilters and the like,
//! into and out of bins; and the CUDA device it works on, from its `cuda-device-id` (nvcodec's
//! encoders have one: `nvh264enc` reads 0, `nvh264device1enc` 1, ...).
//!
//! The interop test runs on that device, because the encoder registers the GL frames in a CUDA
//! context of its own on it, whichever GPU renders GL.

use gst::prelude::*;

/// Elements that hand buffers on unchanged: the consumer is further downstream.
const PASS_THROUGH: &[&str] = &[
    "queue",
    "queue2",
    "capsfilter",
    "identity",
    "valve",
    "capssetter",
];

/// Enough for any real chain of pass-through elements and bins; a guard against loops.
const MAX_HOPS: usize = 32;

/// The element downstream that consumes the frames.
#[derive(Debug, Clone)]
pub(crate) struct Consumer {
    pub(crate) element: gst::Element,
    /// Its `cuda-device-id`, when it has one and names a device (nvcodec's newer elements use
    /// -1 for "any").
    pub(crate) cuda_device: Option<u32>,
}

impl Consumer {
    /// `nvh264enc0 (nvh264enc)`, for messages.
    pub(crate) fn describe(&self) -> String {
        match self.factory() {
            Some(factory) => format!("{} ({factory})", self.element.name()),
            None => self.element.name().to_string(),
        }
    }

    /// The factory name, else the type name (elements made without a factory).
    pub(crate) fn factory(&self) -> Option<String> {
        self.element
            .factory()
            .map(|f| f.name().to_string())
            .or_else(|| Some(self.element.type_().name().to_owned()))
    }
}

/// The interop test (cached per GL display and CUDA device) for the consumer of what leaves
/// `bin`'s `srcpad`, on that consumer's CUDA device; the consumer, the report, and whether this
/// call ran the test.
pub(crate) fn probe_interop(
    bin: &gst::Element,
    srcpad: &gst::Pad,
) -> (
    Option<Consumer>,
    std::sync::Arc<crate::gpu::interop::InteropReport>,
    bool,
) {
    let consumer = find(srcpad);
    let device = consumer.as_ref().and_then(|c| c.cuda_device);
    let (report, ran_now) = crate::gpu::interop::probe_cached(Some(bin), device);
    (consumer, report, ran_now)
}

/// The consumer of what leaves `srcpad`, if it is linked to one.
pub(crate) fn find(srcpad: &gst::Pad) -> Option<Consumer> {
    let mut pad = srcpad.peer()?;
    for _ in 0..MAX_HOPS {
        // The inside of an enclosing bin's src ghost pad: continue past the bin.
        if let Some(ghost) = ghost_of_internal(&pad) {
            pad = ghost.peer()?;
            continue;
        }
        // A bin's sink ghost pad: continue inside it.
        if let Some(ghost) = pad.downcast_ref::<gst::GhostPad>() {
            pad = ghost.target()?;
            continue;
        }
        let element = pad.parent_element()?;
        let is_pass_through = element
            .factory()
            .is_some_and(|f| PASS_THROUGH.contains(&f.name().as_str()));
        if is_pass_through && element.find_property("cuda-device-id").is_none() {
            pad = element.static_pad("src")?.peer()?;
            continue;
        }
        let cuda_device = cuda_device_id(&element);
        return Some(Consumer {
            element,
            cuda_device,
        });
    }
    None
}

/// The ghost pad whose internal proxy pad `pad` is.
fn ghost_of_internal(pad: &gst::Pad) -> Option<gst::GhostPad> {
    if pad.is::<gst::GhostPad>() {
        return None;
    }
    pad.downcast_ref::<gst::ProxyPad>()?
        .internal()?
        .downcast::<gst::GhostPad>()
        .ok()
}

/// `cuda-device-id` as a device number, whatever integer type the element gives it.
fn cuda_device_id(element: &gst::Element) -> Option<u32> {
    let pspec = element.find_property("cuda-device-id")?;
    if !pspec.flags().contains(glib::ParamFlags::READABLE) {
        return None;
    }
    let value = element.property_value("cuda-device-id");
    let id = value.transform::<i64>().ok()?.get::<i64>().ok()?;
    u32::try_from(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init() {
        gst::init().unwrap();
    }

    fn linked(description: &str) -> (gst::Element, gst::Pad) {
        let pipeline = gst::parse::launch(&format!("identity name=start ! {description}")).unwrap();
        let bin = pipeline.downcast::<gst::Bin>().unwrap();
        let start = bin.by_name("start").unwrap();
        let pad = start.static_pad("src").unwrap();
        (bin.upcast(), pad)
    }

    #[test]
    fn pass_through_elements_are_walked_past() {
        init();
        let (_pipeline, pad) = linked("queue ! capsfilter ! identity ! fakesink name=end");
        let consumer = find(&pad).expect("a consumer");
        assert_eq!(consumer.element.name(), "end");
        assert_eq!(consumer.cuda_device, None);
        assert_eq!(consumer.describe(), "end (fakesink)");
    }

    #[test]
    fn bins_are_entered_and_left() {
        init();
        let (_pipeline, pad) =
            linked("bin.( queue ! identity name=inner ) ! queue ! fakesink name=end");
        let consumer = find(&pad).expect("a consumer");
        assert_eq!(consumer.element.name(), "end");
    }

    #[test]
    fn an_unlinked_pad_has_no_consumer() {
        init();
        let identity = gst::ElementFactory::make("identity").build().unwrap();
        assert!(find(&identity.static_pad("src").unwrap()).is_none());
    }

    #[test]
    fn the_first_element_that_does_work_is_the_consumer() {
        init();
        let (_pipeline, pad) = linked("queue ! videoconvert name=work ! fakesink");
        assert_eq!(find(&pad).unwrap().element.name(), "work");
    }
}
