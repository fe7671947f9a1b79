// SPDX-License-Identifier: MPL-2.0
//! `stromautoconvertscale`: `stromautoconvert` whose chains also scale, as GStreamer 1.24's
//! `autovideoconvertscale` is to `autovideoconvert`. Everything but the metadata is inherited:
//! the bin asks its own type (`AutoConvert::scales` in `imp.rs`) and then builds
//! `videoconvertscale` instead of `videoconvert`, `glcolorscale` between two `glcolorconvert`s on
//! the GL path, and offers any size upstream.

use std::sync::LazyLock;

use gst::glib;
use gst::subclass::prelude::*;

#[derive(Default)]
pub struct AutoConvertScale;

#[glib::object_subclass]
impl ObjectSubclass for AutoConvertScale {
    const NAME: &'static str = "GstStromAutoConvertScale";
    type Type = super::AutoConvertScale;
    type ParentType = super::AutoConvert;
}

impl ObjectImpl for AutoConvertScale {}
impl GstObjectImpl for AutoConvertScale {}

impl ElementImpl for AutoConvertScale {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::with_additional(
                "Strom automatic video converter and scaler",
                "Filter/Converter/Video/Scaler",
                "Converts and scales raw video through GL (glupload ! glcolorconvert ! \
                 glcolorscale ! glcolorconvert, zero-copy towards nvh264enc) when downstream \
                 takes GL memory and CUDA-GL interop works in this process, else through a \
                 multi-threaded videoconvertscale. Posts the same 'strom-autoconvert' element \
                 message and has the same properties as stromautoconvert",
                "gst-strom developers",
                &[(
                    "doc-uri",
                    "https://github.com/strom/gst-strom#stromautoconvertscale",
                )],
            )
        });
        Some(&*METADATA)
    }
}

impl BinImpl for AutoConvertScale {}
impl super::AutoConvertImpl for AutoConvertScale {}
