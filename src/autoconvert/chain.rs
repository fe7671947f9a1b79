// SPDX-License-Identifier: MPL-2.0
//! From caps to a chain in place: gather what the decision reads into one [`Request`], let
//! [`plan`] decide, make sure GL can serve a GL chain, and hand the elements to the
//! [`ChainSlot`](crate::chainbin::ChainSlot), which retargets the ghost pads.

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::caps;
use super::fixate::{self, OutputSize};
use super::imp::{AutoConvert, CAT};
use super::plan::{self, ChainPlan, ChainShape, ConvertPath, InteropVerdict, Request};
use super::recovery::watch_for;
use super::report::{ChainError, InteropUse};
use crate::chainbin::{ElementSpec, consumer};
use crate::gpu::gl::{self, GlInfo};
use crate::gpu::interop;
use crate::gstversion::{self, GstVersion};

impl AutoConvert {
    /// Everything the decision reads for `caps`. `gl_failed` overrides the stream's own record
    /// of a GL failure (the one being recovered from now). Runs the interop test (once per GL
    /// display and CUDA device, cached) only when the request needs it, on the device of the
    /// consumer downstream.
    fn request_for(
        &self,
        caps: &gst::Caps,
        gl_failed: Option<&str>,
    ) -> Result<(Request, Option<InteropUse>, gst::Caps), ChainError> {
        let input = caps::input_from_caps(caps).map_err(ChainError::NotConvertible)?;
        let downstream_caps = self.srcpad.peer_query_caps(None);
        gst::debug!(CAT, imp = self, "downstream takes {downstream_caps}");
        let gl_failed = gl_failed
            .map(str::to_owned)
            .or_else(|| self.state().gl_failed.clone());
        let mut request = Request {
            mode: self.settings().mode,
            input,
            downstream: caps::downstream_from_caps(&downstream_caps),
            direct_target: caps::direct_target(caps, &downstream_caps),
            gl_failed,
            interop: None,
            passthrough: caps::takes_as_is(caps, &downstream_caps),
            scale: self.scales(),
            software_settings: crate::sync::lock(&self.stock).software_reason(self.scales()),
            gst_version: gstversion::running(),
        };
        let interop = request.needs_interop().then(|| {
            let consumer = consumer::find(self.srcpad.upcast_ref());
            let device = consumer.as_ref().and_then(|c| c.cuda_device);
            gst::debug!(
                CAT,
                imp = self,
                "interop test for consumer {:?} on CUDA device {device:?}",
                consumer.as_ref().map(consumer::Consumer::describe)
            );
            let (report, ran_now) = interop::probe_cached(Some(self.obj().upcast_ref()), device);
            InteropUse { report, ran_now }
        });
        request.interop = interop.as_ref().map(|i| InteropVerdict::from(&*i.report));
        Ok((request, interop, downstream_caps))
    }

    /// Decides for these caps and builds the chain if the current one cannot carry them.
    pub(super) fn ensure_chain_for(&self, caps: &gst::Caps) -> Result<(), ChainError> {
        let (request, interop, downstream_caps) = self.request_for(caps, None)?;
        let plan = plan::plan(&request).map_err(|err| ChainError::NotConvertible(err.0))?;
        let output_size = pins_output_size(&plan.shape)
            .then(|| fixate::like_videoconvertscale(caps, &downstream_caps))
            .flatten();
        if let Some(size) = &output_size {
            gst::debug!(
                CAT,
                imp = self,
                "GL scaling to {size:?}, as videoconvertscale would"
            );
        }
        let current = self.chain.shape();
        if current == Some(plan.shape) {
            gst::debug!(CAT, imp = self, "current chain carries {caps}");
            self.repin_output_size(output_size.as_ref());
            return Ok(());
        }
        let gl_info = self.check_gl_for(&plan, interop.as_ref())?;
        gst::info!(
            CAT,
            imp = self,
            "{} chain for {caps}: {} ({})",
            if current.is_some() {
                "rebuilding"
            } else {
                "building"
            },
            plan.shape.describe(),
            plan.reason
        );
        self.install(&plan, output_size.as_ref())?;
        self.state().cuda_watch = watch_for(&plan, interop.as_ref(), &self.settings());
        self.judge
            .arm(plan.shape.path == ConvertPath::Gl && !plan.shape.download_output);
        self.announce(&plan, interop.as_ref(), gl_info.as_ref());
        Ok(())
    }

    /// Replaces the chain with the software chain for the current caps, after the GL path
    /// failed for the reason `why`. Returns the plan now in place.
    pub(super) fn install_software_after(&self, why: &str) -> Result<ChainPlan, String> {
        let caps = self
            .sinkpad
            .current_caps()
            .ok_or_else(|| "no caps negotiated yet".to_owned())?;
        let (request, _, _) = self
            .request_for(&caps, Some(why))
            .map_err(|e| e.to_string())?;
        let plan = plan::plan(&request).map_err(|e| e.0)?;
        self.install(&plan, None).map_err(|e| e.to_string())?;
        self.judge
            .arm(plan.shape.path == ConvertPath::Gl && !plan.shape.download_output);
        Ok(plan)
    }

    fn install(
        &self,
        plan: &ChainPlan,
        output_size: Option<&OutputSize>,
    ) -> Result<(), ChainError> {
        let stock = crate::sync::lock(&self.stock).changed();
        let specs = specs_for(&plan.shape, self.settings().n_threads, output_size, &stock);
        self.chain
            .build_and_install(self.obj().upcast_ref(), plan.shape, &specs)
            .map_err(ChainError::Build)
    }

    /// New input caps on a GL scaling chain that stays: the size videoconvertscale would now
    /// choose replaces the old one before the caps reach the chain.
    fn repin_output_size(&self, output_size: Option<&OutputSize>) {
        let Some(output_size) = output_size else {
            return;
        };
        if let Some(pin) = self
            .chain
            .elements()
            .iter()
            .find(|e| e.name().as_str() == OUTPUT_PIN)
        {
            let bt601 = self.chain.shape().is_some_and(|s| s.pin_bt601);
            pin.set_property("caps", output_pin_caps(Some(output_size), bt601));
        }
    }

    /// Before building a GL chain, make sure GL elements exist and a GL context can be made, so
    /// the user gets the cause and the fix instead of a bare not-negotiated.
    fn check_gl_for(
        &self,
        plan: &ChainPlan,
        interop: Option<&InteropUse>,
    ) -> Result<Option<GlInfo>, ChainError> {
        let needs_gl = plan.shape.path == ConvertPath::Gl || plan.shape.download_input;
        if !needs_gl {
            return Ok(interop.and_then(|i| i.report.gl.clone()));
        }
        if let Some(missing) = gl::missing_gl_elements().first() {
            return Err(ChainError::Build(
                crate::chainbin::BuildError::MissingElement(missing),
            ));
        }
        // Every pipeline, not only the first one the cached checks below ran in.
        gl::share_display_with_pipeline(self.obj().upcast_ref());
        if let Some(gl_info) = interop.and_then(|i| i.report.gl.clone()) {
            return Ok(Some(gl_info));
        }
        match gl::context_check_cached(Some(self.obj().upcast_ref())) {
            Ok(info) => Ok(Some(info.clone())),
            Err(err) => Err(ChainError::NoGlContext(err.clone())),
        }
    }
}

/// The threads `n-threads` gives the software converter: 0 means one per CPU this process may
/// use (its affinity and cgroup CPU quota, so a container limited to 2 CPUs gets 2 threads on a
/// 64-core host), not one per core of the host.
pub(super) fn threads_for(n_threads: u32) -> u32 {
    match n_threads {
        0 => crate::cpus::usable(),
        n => n,
    }
}

/// The `n-threads` the bin's setting gives a chain element made by `factory`: the setting itself
/// for the fast converter (which reads 0 per conversion), the threads for
/// `videoconvert`/`videoconvertscale`; `None` for elements without threads.
fn converter_threads(factory: &str, setting: u32) -> Option<u32> {
    match factory {
        crate::convert::ELEMENT_NAME => Some(setting),
        "videoconvert" | "videoconvertscale" => {
            Some(videoconvert_threads(setting, gstversion::running()))
        }
        _ => None,
    }
}

/// `videoconvert`'s threads for the bin's `n-threads` on GStreamer `version`: 0 is one per
/// usable CPU where the thread count does not change the picture, and one thread (stock
/// `videoconvert`'s default, so the same bytes) where it does; N is N.
fn videoconvert_threads(setting: u32, version: GstVersion) -> u32 {
    match setting {
        0 if gstversion::videoconvert_threads_change_the_picture(version) => 1,
        n => threads_for(n),
    }
}

/// [`converter_threads`] for an element of a built chain (the fast converter has no factory).
pub(super) fn n_threads_of(element: &gst::Element, setting: u32) -> Option<u32> {
    if element.type_() == crate::convert::FastConvert::static_type() {
        return converter_threads(crate::convert::ELEMENT_NAME, setting);
    }
    converter_threads(&element.factory()?.name(), setting)
}

/// Whether `element` is a stock converter of a built chain, which takes the bin's videoconvert
/// properties.
pub(super) fn is_stock_converter(element: &gst::Element) -> bool {
    element
        .factory()
        .is_some_and(|f| matches!(f.name().as_str(), "videoconvert" | "videoconvertscale"))
}

/// The name of the capsfilter at the end of a GL chain that may write YUV from RGB.
const OUTPUT_PIN: &str = "strom-output-caps";

/// A GL chain that scales: glcolorscale would choose another size than videoconvertscale.
fn pins_output_size(shape: &ChainShape) -> bool {
    shape.scale && shape.pin_output
}

/// What the output pin lets through: YUV (labelled as the BT.601 it is with `bt601`), or RGB,
/// at the size videoconvertscale would choose when the chain scales.
fn output_pin_caps(size: Option<&OutputSize>, bt601: bool) -> gst::Caps {
    caps::gl_written_caps(size.map(|s| (s.width, s.height, s.par)), bt601)
}

/// Where `bayer2rgb` sizes its buffers wrongly without a pool from downstream
/// ([`gstversion::bayer2rgb_needs_a_pool`]), its allocation query is answered by downstream
/// first and, when that offers no pool, with a video buffer pool sized for its output caps.
fn offer_bayer2rgb_a_pool(bayer2rgb: &gst::Element) {
    if !gstversion::bayer2rgb_needs_a_pool(gstversion::running()) {
        return;
    }
    let Some(src) = bayer2rgb.static_pad("src") else {
        return;
    };
    src.add_probe(gst::PadProbeType::QUERY_DOWNSTREAM, |pad, info| {
        let Some(gst::PadProbeData::Query(query)) = info.data.as_mut() else {
            return gst::PadProbeReturn::Ok;
        };
        let gst::QueryViewMut::Allocation(allocation) = query.view_mut() else {
            return gst::PadProbeReturn::Ok;
        };
        // The peer directly: a query through `pad` would come back to this probe.
        if let Some(peer) = pad.peer() {
            peer.query(allocation.query_mut());
        }
        if allocation.allocation_pools().len() == 0
            && let (Some(caps), _) = allocation.get()
            && let Ok(info) = gst_video::VideoInfo::from_caps(caps)
        {
            let pool = gst_video::VideoBufferPool::new();
            let size = u32::try_from(info.size()).unwrap_or(u32::MAX);
            allocation.add_allocation_pool(Some(&pool), size, 0, 0);
        }
        gst::PadProbeReturn::Handled
    });
}

/// How to make each element of `shape` under the bin's `n-threads`; `output_size` pins a GL
/// scaling chain's size.
fn specs_for(
    shape: &ChainShape,
    n_threads: u32,
    output_size: Option<&OutputSize>,
    stock: &[(&'static str, glib::Value)],
) -> Vec<ElementSpec> {
    // The first capsfilter of a chain with the RGBA hop is the hop; any other is the pin.
    let mut hop_left = shape.rgba_hop && !shape.scale;
    shape
        .factories()
        .into_iter()
        .map(|factory| {
            let spec = match factory {
                crate::convert::ELEMENT_NAME => {
                    ElementSpec::internal(crate::convert::ELEMENT_NAME, crate::convert::make)
                }
                "identity" => ElementSpec::new("identity").property("silent", true),
                "bayer2rgb" => ElementSpec::new("bayer2rgb").setup(offer_bayer2rgb_a_pool),
                "capsfilter" if !std::mem::take(&mut hop_left) => ElementSpec::new("capsfilter")
                    .property("name", OUTPUT_PIN)
                    .property("caps", output_pin_caps(output_size, shape.pin_bt601)),
                "capsfilter" => ElementSpec::new("capsfilter").property(
                    "caps",
                    gst::Caps::builder("video/x-raw")
                        .features([caps::GL_MEMORY])
                        .field("format", "RGBA")
                        .build(),
                ),
                other => ElementSpec::new(other),
            };
            let spec = if matches!(factory, "videoconvert" | "videoconvertscale") {
                stock.iter().fold(spec, |spec, (name, value)| {
                    spec.property(name, value.clone())
                })
            } else {
                spec
            };
            match converter_threads(factory, n_threads) {
                Some(threads) => spec.property("n-threads", threads),
                None => spec,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_videoconvert_threads_keep_stock_videoconverts_picture() {
        let (v1_22, v1_26) = (GstVersion::new(1, 22), GstVersion::new(1, 26));
        assert_eq!(videoconvert_threads(0, v1_22), crate::cpus::usable());
        assert_eq!(videoconvert_threads(0, v1_26), 1);
        for version in [v1_22, v1_26] {
            assert_eq!(videoconvert_threads(3, version), 3);
        }
    }

    #[test]
    fn every_factory_of_a_shape_gets_a_spec_that_builds() {
        gst::init().unwrap();
        let software = ChainShape::software();
        for shape in [
            software,
            ChainShape {
                download_input: true,
                ..software
            },
            ChainShape {
                fast_convert: true,
                ..software
            },
            ChainShape {
                scale: true,
                bayer_input: true,
                bayer_output: true,
                ..software
            },
            ChainShape {
                passthrough: true,
                ..software
            },
            ChainShape {
                path: ConvertPath::Gl,
                rgba_hop: true,
                download_output: true,
                ..software
            },
            ChainShape {
                path: ConvertPath::Gl,
                scale: true,
                bayer_input: true,
                ..software
            },
        ] {
            let specs = specs_for(&shape, 2, None, &[]);
            let names: Vec<&str> = specs.iter().map(|s| s.factory).collect();
            assert_eq!(names, shape.factories());
            let elements = crate::chainbin::chain::build(&specs).expect("builds");
            for converter in &elements {
                if let Some(threads) = n_threads_of(converter, 2) {
                    assert_eq!(converter.property::<u32>("n-threads"), threads);
                    assert_eq!(threads, 2);
                }
            }
            // Automatic: videoconvert gets the usable CPUs, the fast converter decides itself.
            let elements = crate::chainbin::chain::build(&specs_for(&shape, 0, None, &[])).unwrap();
            let converters: Vec<_> = elements
                .iter()
                .filter_map(|e| Some((e, n_threads_of(e, 0)?)))
                .collect();
            for (converter, threads) in &converters {
                assert_eq!(converter.property::<u32>("n-threads"), *threads);
                let fast = converter.factory().is_none();
                let auto = videoconvert_threads(0, gstversion::running());
                assert_eq!(*threads, if fast { 0 } else { auto });
            }
            let converts = !shape.passthrough && shape.path == ConvertPath::Software;
            assert_eq!(converters.len(), usize::from(converts), "{shape:?}");
        }
    }
}
