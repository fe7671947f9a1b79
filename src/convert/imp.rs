// SPDX-License-Identifier: MPL-2.0
//! The `VideoFilter` behind `FastConvert`: caps map each input format to its direct targets
//! (`negotiate.rs`), fixation follows `videoconvert`'s, and frames are converted by the plain
//! functions of `planes.rs`, `packed.rs` and `rgb.rs`.

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::negotiate::{self, Conversion, Planar};
use super::out420::Out420;
use super::planes::{self, Plane, PlaneMut};
use super::{packed, rgb};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        super::ELEMENT_NAME,
        gst::DebugColorFlags::empty(),
        Some("Strom internal fast video converter"),
    )
});

/// What exists while caps are set: the conversion they call for and its scratch rows.
#[derive(Default)]
struct State {
    conversion: Option<Conversion>,
    packed: packed::Scratch,
    rgb: rgb::Scratch,
}

#[derive(Default)]
pub struct FastConvert {
    state: Mutex<State>,
}

impl FastConvert {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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
                "Converts capture formats (UYVY, YUY2, BGRx, BGRA, RGBx, RGBA) and I420/NV12 to \
                 I420 or NV12 as videoconvert does, at a fraction of its CPU time",
                "gst-strom developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = |formats: &[&str]| {
                gst_video::VideoCapsBuilder::new()
                    .format_list(
                        formats
                            .iter()
                            .map(|f| gst_video::VideoFormat::from_string(f)),
                    )
                    .build()
            };
            [
                ("sink", gst::PadDirection::Sink, caps(super::inputs())),
                ("src", gst::PadDirection::Src, caps(&["I420", "NV12"])),
            ]
            .into_iter()
            .map(|(name, direction, caps)| {
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

    /// Each input format's direct targets, with the fields their conversion decides left open
    /// (and the reverse towards the sink pad).
    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let other = match direction {
            gst::PadDirection::Sink => negotiate::outputs_for(caps),
            _ => negotiate::inputs_for(caps),
        };
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&other, gst::CapsIntersectMode::First),
            None => other,
        })
    }

    /// The caps `videoconvert` would choose for what downstream takes (so that a bin choosing
    /// this element changes nothing downstream), where they are among `othercaps`.
    fn fixate_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        othercaps: gst::Caps,
    ) -> gst::Caps {
        if direction != gst::PadDirection::Sink {
            return self.parent_fixate_caps(direction, caps, othercaps);
        }
        let downstream = self.obj().src_pad().peer_query_caps(None);
        if let Some(chosen) = negotiate::videoconvert_output(caps, &downstream)
            && chosen.is_subset(&othercaps)
        {
            gst::debug!(CAT, imp = self, "fixated as videoconvert would: {chosen}");
            return chosen;
        }
        negotiate::fixate_like_videoconvert(caps, othercaps)
    }
}

impl VideoFilterImpl for FastConvert {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        match Conversion::new(in_info, out_info) {
            Ok(conversion) => {
                gst::debug!(CAT, imp = self, "{conversion:?} for {incaps} -> {outcaps}");
                self.state().conversion = Some(conversion);
                Ok(())
            }
            Err(why) => {
                self.state().conversion = None;
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    (
                        "{} cannot convert {incaps} to {outcaps} as videoconvert would: {why}; \
                         use videoconvert for this stream",
                        super::ELEMENT_NAME
                    )
                );
                Err(gst::loggable_error!(CAT, "unsupported conversion: {why}"))
            }
        }
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (width, height) = (inframe.width() as usize, inframe.height() as usize);
        // Strides and offsets come from each buffer's GstVideoMeta, so they may change from
        // one buffer to the next.
        let in_strides = strides(inframe.plane_stride());
        let out_strides = strides(outframe.plane_stride());
        let planes = inframe.planes_data();
        let plane = |i: usize| Plane {
            data: planes[i],
            stride: in_strides[i],
        };
        let [oy, o1, o2, _] = outframe.planes_data_mut();
        let mut out = [oy, o1, o2]
            .into_iter()
            .zip(out_strides)
            .map(|(data, stride)| PlaneMut { data, stride });
        let (y, a, b) = (out.next(), out.next(), out.next());
        let out420 = |to: Planar| match (to, y, a, b) {
            (Planar::I420, Some(y), Some(u), Some(v)) => Some(Out420::I420 { y, u, v }),
            (Planar::Nv12, Some(y), Some(uv), _) => Some(Out420::Nv12 { y, uv }),
            _ => None,
        };
        let mut state = self.state();
        let state = &mut *state;
        let result = match state.conversion {
            Some(Conversion::I420ToNv12) => match out420(Planar::Nv12) {
                Some(Out420::Nv12 { y, uv }) => {
                    planes::i420_to_nv12(width, height, [plane(0), plane(1), plane(2)], [y, uv]);
                    Ok(())
                }
                _ => Err("NV12 output without two planes".to_owned()),
            },
            Some(Conversion::Nv12ToI420) => match out420(Planar::I420) {
                Some(Out420::I420 { y, u, v }) => {
                    planes::nv12_to_i420(width, height, [plane(0), plane(1)], [y, u, v]);
                    Ok(())
                }
                _ => Err("I420 output without three planes".to_owned()),
            },
            Some(Conversion::Packed { packing, route, to }) => match out420(to) {
                Some(out) => {
                    packed::to_420(
                        packing,
                        route,
                        width,
                        height,
                        plane(0),
                        out,
                        &mut state.packed,
                    );
                    Ok(())
                }
                None => Err("4:2:0 output without its planes".to_owned()),
            },
            Some(Conversion::Rgb {
                order,
                encoding,
                siting,
                to,
            }) => match out420(to) {
                Some(out) => {
                    rgb::to_420(
                        order,
                        encoding,
                        siting,
                        width,
                        height,
                        plane(0),
                        out,
                        &mut state.rgb,
                    );
                    Ok(())
                }
                None => Err("4:2:0 output without its planes".to_owned()),
            },
            None => Err("no caps were set".to_owned()),
        };
        if let Err(why) = result {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("{} could not convert a frame: {why}", super::ELEMENT_NAME)
            );
            return Err(gst::FlowError::Error);
        }
        gst::trace!(CAT, imp = self, "converted {:?}", state.conversion);
        Ok(gst::FlowSuccess::Ok)
    }
}

fn strides(strides: &[i32]) -> Vec<usize> {
    strides.iter().map(|&s| s.max(0) as usize).collect()
}
