// SPDX-License-Identifier: MPL-2.0
//! The `VideoFilter` behind `FastConvert`: caps map each input format to its direct targets and
//! keep every other field; frames are converted by the plain functions of `planes.rs`.

use std::sync::LazyLock;

use gst::glib;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::planes::{self, Plane, PlaneMut};
use crate::formats;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        super::ELEMENT_NAME,
        gst::DebugColorFlags::empty(),
        Some("Strom internal fast video converter"),
    )
});

#[derive(Default)]
pub struct FastConvert;

#[glib::object_subclass]
impl ObjectSubclass for FastConvert {
    const NAME: &'static str = "GstStromFastConvert";
    type Type = super::FastConvert;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for FastConvert {}
impl GstObjectImpl for FastConvert {}

impl ElementImpl for FastConvert {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Strom fast video converter",
                "Filter/Converter/Video",
                "Converts between I420 and NV12 by copying planes (bit-exact with videoconvert)",
                "gst-strom developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list(
                    super::inputs()
                        .iter()
                        .map(|f| gst_video::VideoFormat::from_string(f)),
                )
                .build();
            ["sink", "src"]
                .into_iter()
                .map(|name| {
                    let direction = if name == "sink" {
                        gst::PadDirection::Sink
                    } else {
                        gst::PadDirection::Src
                    };
                    gst::PadTemplate::new(name, direction, gst::PadPresence::Always, &caps)
                        .expect("valid template")
                })
                .collect()
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for FastConvert {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    /// The other layout of each format; every other field (size, rate, colorimetry, chroma
    /// site) is unchanged, since the samples are the same.
    fn transform_caps(
        &self,
        _direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let mut other = caps.clone();
        for s in other.make_mut().iter_mut() {
            let formats = formats::formats_of(s)
                .unwrap_or_else(|| super::inputs().iter().map(|f| f.to_string()).collect());
            // Both directions map alike: every direct pair is listed both ways.
            let mut mapped: Vec<&str> = Vec::new();
            for (target, _) in formats.iter().flat_map(|f| super::direct_targets(f)) {
                if !mapped.contains(target) {
                    mapped.push(target);
                }
            }
            formats::set_formats(s, &mapped);
        }
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&other, gst::CapsIntersectMode::First),
            None => other,
        })
    }
}

impl VideoFilterImpl for FastConvert {
    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (width, height) = (inframe.width() as usize, inframe.height() as usize);
        let in_strides: Vec<usize> = inframe.plane_stride().iter().map(|&s| s as usize).collect();
        let out_strides: Vec<usize> = outframe
            .plane_stride()
            .iter()
            .map(|&s| s as usize)
            .collect();
        let planes = inframe.planes_data();
        let plane = |i: usize| Plane {
            data: planes[i],
            stride: in_strides[i],
        };
        let in_format = inframe.format();
        let out_format = outframe.format();
        let [oy, o1, o2, _] = outframe.planes_data_mut();
        match (in_format, out_format) {
            (gst_video::VideoFormat::I420, gst_video::VideoFormat::Nv12) => planes::i420_to_nv12(
                width,
                height,
                [plane(0), plane(1), plane(2)],
                [
                    PlaneMut {
                        data: oy,
                        stride: out_strides[0],
                    },
                    PlaneMut {
                        data: o1,
                        stride: out_strides[1],
                    },
                ],
            ),
            (gst_video::VideoFormat::Nv12, gst_video::VideoFormat::I420) => planes::nv12_to_i420(
                width,
                height,
                [plane(0), plane(1)],
                [
                    PlaneMut {
                        data: oy,
                        stride: out_strides[0],
                    },
                    PlaneMut {
                        data: o1,
                        stride: out_strides[1],
                    },
                    PlaneMut {
                        data: o2,
                        stride: out_strides[2],
                    },
                ],
            ),
            (from, to) => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    (
                        "{} converts only between I420 and NV12, not {:?} to {:?}",
                        super::ELEMENT_NAME,
                        from,
                        to
                    )
                );
                return Err(gst::FlowError::NotNegotiated);
            }
        }
        gst::trace!(CAT, imp = self, "converted {in_format:?} to {out_format:?}");
        Ok(gst::FlowSuccess::Ok)
    }
}
