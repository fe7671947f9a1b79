//! The `VideoFilter` behind `YuvLayout`: caps map I420 ↔ NV12 and keep every other field; frames
//! are converted by the plain functions of `convert.rs`.

use std::sync::LazyLock;

use gst::glib;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::convert::{self, Plane, PlaneMut};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "stromyuvlayout",
        gst::DebugColorFlags::empty(),
        Some("Strom I420/NV12 plane-layout converter"),
    )
});

#[derive(Default)]
pub struct YuvLayout;

#[glib::object_subclass]
impl ObjectSubclass for YuvLayout {
    const NAME: &'static str = "GstStromYuvLayout";
    type Type = super::YuvLayout;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for YuvLayout {}
impl GstObjectImpl for YuvLayout {}

impl ElementImpl for YuvLayout {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Strom I420/NV12 layout converter",
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
                .format_list([gst_video::VideoFormat::I420, gst_video::VideoFormat::Nv12])
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

impl BaseTransformImpl for YuvLayout {
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
            let formats: Vec<String> = match s.get::<&str>("format") {
                Ok(f) => vec![f.to_owned()],
                Err(_) => s
                    .get::<gst::List>("format")
                    .map(|l| l.iter().filter_map(|v| v.get::<String>().ok()).collect())
                    .unwrap_or_else(|_| vec!["I420".into(), "NV12".into()]),
            };
            let mapped: Vec<&str> = formats
                .iter()
                .filter_map(|f| super::counterpart(f))
                .collect();
            match mapped.as_slice() {
                [one] => s.set("format", *one),
                many => s.set("format", gst::List::new(many.iter().copied())),
            }
        }
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&other, gst::CapsIntersectMode::First),
            None => other,
        })
    }
}

impl VideoFilterImpl for YuvLayout {
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
            (gst_video::VideoFormat::I420, gst_video::VideoFormat::Nv12) => convert::i420_to_nv12(
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
            (gst_video::VideoFormat::Nv12, gst_video::VideoFormat::I420) => convert::nv12_to_i420(
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
                        "stromyuvlayout converts only between I420 and NV12, not {:?} to {:?}",
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
