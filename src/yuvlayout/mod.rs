//! `stromyuvlayout`: the bin's internal I420 ↔ NV12 converter (plane copies; see `convert.rs`).
//! Not registered as a plugin feature: `stromautoconvert` creates it directly when input and
//! output differ only in plane layout, and uses `videoconvert` for everything else.

use gst::glib;

mod convert;
mod imp;

glib::wrapper! {
    pub struct YuvLayout(ObjectSubclass<imp::YuvLayout>) @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// A new converter, ready to be added to a bin.
pub fn make() -> gst::Element {
    use gst::prelude::*;
    glib::Object::new::<YuvLayout>().upcast()
}

/// The format with the same samples in the other plane layout.
pub fn counterpart(format: &str) -> Option<&'static str> {
    match format {
        "I420" => Some("NV12"),
        "NV12" => Some("I420"),
        _ => None,
    }
}
