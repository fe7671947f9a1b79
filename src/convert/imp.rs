// SPDX-License-Identifier: MPL-2.0
//! The `VideoFilter` behind `FastConvert`: caps map each input format to its direct targets
//! (`negotiate.rs`), fixation follows `videoconvert`'s, and frames are converted by the plain
//! functions of `planes.rs`, `packed.rs` and `rgb.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::bands;
use super::frame::{self, Workspace};
use super::negotiate::{self, Conversion, Planar};
use super::out420::Out420;
use super::planes::{Plane, PlaneMut};
use super::scale::{Scaler, Scaling};
use super::scaling;
use crate::framecheck::{self, DropCount};
use crate::sync::lock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        super::ELEMENT_NAME,
        gst::DebugColorFlags::empty(),
        Some("Strom internal fast video converter"),
    )
});

const DEFAULT_N_THREADS: u32 = 0;
/// As the bins' own bound: a wrapped "-1" is refused, not obeyed.
const MAX_N_THREADS: u32 = 256;

#[derive(Debug, Clone, Copy)]
struct Settings {
    n_threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            n_threads: DEFAULT_N_THREADS,
        }
    }
}

/// What exists while caps are set: the conversion they call for, the CPUs this process may use
/// (read once: it reads cgroup files), and the threads and scratch rows that convert.
#[derive(Default)]
struct State {
    conversion: Option<Conversion>,
    /// The input caps: the frame size converted (a larger meta frame is cropped to it, as
    /// `videoconvert` does) and what each input buffer is checked against.
    in_info: Option<gst_video::VideoInfo>,
    usable_cpus: u32,
    workspace: Workspace,
    /// Threads asked for that the system refused (warned once per number).
    refused_threads: Option<usize>,
    /// Scaling mode, input and output sizes differing: the scaling instead of `conversion`.
    scaling: Option<Scaling>,
    scaler: Option<Scaler>,
}

#[derive(Default)]
pub struct FastConvert {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Input buffers dropped because they do not hold the frame they claim.
    dropped: DropCount,
    /// Made by `make_scaler`: also scales, as `videoconvertscale` (set before it is linked).
    scales: AtomicBool,
}

impl FastConvert {
    pub(super) fn set_scales(&self) {
        self.scales.store(true, Ordering::Relaxed);
    }

    fn scales(&self) -> bool {
        self.scales.load(Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// How this frame is split: the threads `n-threads` gives this conversion, where the
    /// system grants them.
    fn split_for(&self, state: &mut State, conversion: &Conversion, height: usize) -> bands::Split {
        let n_threads = lock(&self.settings).n_threads;
        let split = bands::split(
            height,
            bands::threads_for(conversion, n_threads, state.usable_cpus),
        );
        match state.workspace.reserve(split.threads) {
            Ok(()) => split,
            Err(err) => {
                if state.refused_threads != Some(split.threads) {
                    state.refused_threads = Some(split.threads);
                    gst::element_imp_warning!(
                        self,
                        gst::ResourceError::NoSpaceLeft,
                        (
                            "{} could not start {} threads ({err}); converting on one thread",
                            super::ELEMENT_NAME,
                            split.threads
                        )
                    );
                }
                bands::Split::single()
            }
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for FastConvert {
    const NAME: &'static str = "GstStromFastConvert";
    type Type = super::FastConvert;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for FastConvert {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("n-threads")
                    .nick("Threads")
                    .blurb(
                        "Threads to convert each frame on, in row bands (the picture is the \
                         same on any number); 0 = automatic: one thread where one already runs \
                         at 1.5x videoconvert's default speed or more (every conversion but \
                         UYVY/YUY2 -> I420), else one per CPU this process may use; 1 = one \
                         thread",
                    )
                    .default_value(DEFAULT_N_THREADS)
                    .maximum(MAX_N_THREADS)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "n-threads" => {
                let n_threads = value.get::<u32>().expect("type checked upstream");
                gst::debug!(CAT, imp = self, "n-threads set to {n_threads}");
                lock(&self.settings).n_threads = n_threads;
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "n-threads" => lock(&self.settings).n_threads.to_value(),
            _ => unimplemented!(),
        }
    }
}

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
            // Progressive or interleaved frames, and alternate-mode fields (one per buffer).
            let caps = |formats: &[&str]| {
                let formats = || {
                    formats
                        .iter()
                        .map(|f| gst_video::VideoFormat::from_string(f))
                };
                let mut caps = gst_video::VideoCapsBuilder::new()
                    .format_list(formats())
                    .build();
                caps.merge(
                    gst_video::VideoCapsBuilder::new()
                        .features([gst_video::CAPS_FEATURE_FORMAT_INTERLACED])
                        .format_list(formats())
                        .build(),
                );
                caps
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

    /// The helper threads go with the stream: a stopped converter holds none.
    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        let mut state = self.state();
        state.workspace.release_threads();
        state.refused_threads = None;
        self.dropped.reset();
        Ok(())
    }

    /// Checks the input buffer against its memory before the video filter maps it: a meta
    /// that lies would make the mapped planes reach past the memory.
    fn transform(
        &self,
        inbuf: &gst::Buffer,
        outbuf: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let in_info = self.state().in_info.clone();
        if let Some(in_info) = in_info
            && let Err(fault) = framecheck::buffer::check(inbuf, &in_info)
        {
            gst::warning!(CAT, imp = self, "dropping an input buffer: {fault}");
            if let Some(dropped) = self.dropped.note() {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Format,
                    ("{}", framecheck::drop_message(dropped, &fault))
                );
            }
            return Ok(gst_base::BASE_TRANSFORM_FLOW_DROPPED);
        }
        self.parent_transform(inbuf, outbuf)
    }

    /// Each input format's direct targets, with the fields their conversion decides left open
    /// (and the reverse towards the sink pad).
    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let mut other = match direction {
            gst::PadDirection::Sink => negotiate::outputs_for(caps),
            _ => negotiate::inputs_for(caps),
        };
        if self.scales() {
            let (from, to) = scaling::SCALED;
            other.merge(match direction {
                gst::PadDirection::Sink => scaling::any_size(caps, (from, to)),
                _ => scaling::any_size(caps, (to, from)),
            });
        }
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
        if self.scales()
            && let Some(chosen) =
                crate::autoconvert::fixate::videoconvertscale_output(caps, &downstream)
            && chosen.is_subset(&othercaps)
        {
            gst::debug!(
                CAT,
                imp = self,
                "fixated as videoconvertscale would: {chosen}"
            );
            return chosen;
        }
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
        if self.scales()
            && (in_info.width(), in_info.height()) != (out_info.width(), out_info.height())
        {
            return self.set_scaling(incaps, in_info, outcaps, out_info);
        }
        self.state().scaling = None;
        match Conversion::new(in_info, out_info) {
            Ok(conversion) => {
                gst::debug!(CAT, imp = self, "{conversion:?} for {incaps} -> {outcaps}");
                let mut state = self.state();
                state.conversion = Some(conversion);
                state.in_info = Some(in_info.clone());
                state.usable_cpus = crate::cpus::usable();
                Ok(())
            }
            Err(why) => {
                let mut state = self.state();
                state.conversion = None;
                state.in_info = None;
                drop(state);
                Err(self.refuse_caps("convert", "videoconvert", incaps, outcaps, &why))
            }
        }
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // The caps' size, not the frame's: a meta may describe a larger frame, of which
        // `videoconvert` converts the top left part the caps describe. An alternate-mode
        // buffer is one field.
        let Some((width, height)) = self
            .state()
            .in_info
            .as_ref()
            .map(|info| (info.width() as usize, info.field_height() as usize))
        else {
            return Err(gst::FlowError::NotNegotiated);
        };
        // Strides and offsets come from each buffer's GstVideoMeta, so they may change from
        // one buffer to the next.
        let in_strides = strides(inframe.plane_stride());
        let out_strides = strides(outframe.plane_stride());
        let input: Vec<Plane<'_>> = inframe
            .planes_data()
            .into_iter()
            .zip(in_strides)
            .take(inframe.n_planes() as usize)
            .map(|(data, stride)| Plane { data, stride })
            .collect();
        let scaling = self.state().scaling;
        let [oy, o1, o2, _] = outframe.planes_data_mut();
        let mut out = [oy, o1, o2]
            .into_iter()
            .zip(out_strides)
            .map(|(data, stride)| PlaneMut { data, stride });
        let mut guard = self.state();
        let state = &mut *guard;
        if let Some(scaling) = scaling {
            // Scaling writes NV12 only (`Scaling::new`).
            let out = match (scaling.to, out.next(), out.next()) {
                (Planar::Nv12, Some(y), Some(uv)) => Out420::Nv12 { y, uv },
                _ => return Err(gst::FlowError::NotNegotiated),
            };
            let result = state
                .scaler
                .get_or_insert_with(Scaler::default)
                .scale(&scaling, &input, out);
            drop(guard);
            return self.frame_result(result.map(|()| format!("{scaling:?}")));
        }
        let result = match state.conversion {
            Some(conversion) => {
                let out = match (frame::output_layout(&conversion), out.next(), out.next()) {
                    (Planar::I420, Some(y), Some(u)) => out
                        .next()
                        .map(|v| Out420::I420 { y, u, v })
                        .ok_or_else(|| "I420 output without three planes".to_owned()),
                    (Planar::Nv12, Some(y), Some(uv)) => Ok(Out420::Nv12 { y, uv }),
                    _ => Err("4:2:0 output without its planes".to_owned()),
                };
                let split = self.split_for(state, &conversion, height);
                out.and_then(|out| {
                    state
                        .workspace
                        .convert(&conversion, width, height, &input, out, &split)
                })
                .map(|()| (conversion, split.threads))
            }
            None => Err("no caps were set".to_owned()),
        };
        drop(guard);
        self.frame_result(
            result.map(|(conversion, threads)| format!("{conversion:?} on {threads} thread(s)")),
        )
    }
}

impl FastConvert {
    /// Scaling mode, sizes differing: the scaling for these caps, or an error naming the fix.
    fn set_scaling(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let mut state = self.state();
        state.conversion = None;
        match Scaling::new(in_info, out_info) {
            Ok(scaling) => {
                gst::debug!(CAT, imp = self, "{scaling:?} for {incaps} -> {outcaps}");
                state.scaling = Some(scaling);
                state.in_info = Some(in_info.clone());
                Ok(())
            }
            Err(why) => {
                state.scaling = None;
                state.in_info = None;
                drop(state);
                Err(self.refuse_caps("scale", "videoconvertscale", incaps, outcaps, &why))
            }
        }
    }

    /// Caps this element cannot `verb` as `stock` would: an element error naming the stock
    /// element to use instead, and the error `set_info` returns.
    fn refuse_caps(
        &self,
        verb: &str,
        stock: &str,
        incaps: &gst::Caps,
        outcaps: &gst::Caps,
        why: &dyn std::fmt::Display,
    ) -> gst::LoggableError {
        gst::element_imp_error!(
            self,
            gst::CoreError::Negotiation,
            (
                "{} cannot {verb} {incaps} to {outcaps} as {stock} would: {why}; use {stock} for \
                 this stream",
                super::ELEMENT_NAME
            )
        );
        gst::loggable_error!(CAT, "cannot {verb} as {stock} would: {why}")
    }

    /// A frame's outcome: what was done (traced), or an element error.
    fn frame_result(
        &self,
        result: Result<String, String>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        match result {
            Ok(done) => {
                gst::trace!(CAT, imp = self, "converted: {done}");
                Ok(gst::FlowSuccess::Ok)
            }
            Err(why) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ("{} could not convert a frame: {why}", super::ELEMENT_NAME)
                );
                Err(gst::FlowError::Error)
            }
        }
    }
}

fn strides(strides: &[i32]) -> Vec<usize> {
    strides.iter().map(|&s| s.max(0) as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A UYVY 64x48 buffer with a meta whose stride runs past the end of its memory.
    fn lying(size: usize) -> gst::Buffer {
        let mut buffer = gst::Buffer::with_size(size).unwrap();
        gst_video::VideoMeta::add_full(
            buffer.get_mut().unwrap(),
            gst_video::VideoFrameFlags::empty(),
            gst_video::VideoFormat::Uyvy,
            64,
            48,
            &[0],
            &[4 * 128],
        )
        .unwrap();
        buffer
    }

    #[test]
    fn a_buffer_that_lies_is_dropped_with_a_warning_before_it_is_mapped() {
        gst::init().unwrap();
        let mut h =
            gst_check::Harness::with_element(&super::super::make(), Some("sink"), Some("src"));
        h.set_caps_str(
            "video/x-raw,format=UYVY,width=64,height=48,framerate=25/1",
            "video/x-raw,format=NV12,width=64,height=48,framerate=25/1",
        );
        let bus = gst::Bus::new();
        h.element().unwrap().set_bus(Some(&bus));
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Uyvy, 64, 48)
            .build()
            .unwrap();
        assert_eq!(h.push(lying(info.size())), Ok(gst::FlowSuccess::Ok));
        assert_eq!(h.buffers_in_queue(), 0, "the lie was dropped");
        let warning = bus.pop_filtered(&[gst::MessageType::Warning]);
        let text = warning.map(|m| match m.view() {
            gst::MessageView::Warning(w) => w.error().to_string(),
            _ => String::new(),
        });
        assert!(
            text.as_deref()
                .is_some_and(|t| t.contains("dropped 1 malformed")),
            "{text:?}"
        );
        let honest = gst::Buffer::with_size(info.size()).unwrap();
        assert_eq!(h.push(honest), Ok(gst::FlowSuccess::Ok));
        assert_eq!(h.buffers_in_queue(), 1);
    }
}
