// SPDX-License-Identifier: MPL-2.0
//! From a plan to the elements of a chain: how to make each element (threads, stock properties,
//! the output pin), the interop test on the consumer's device, and making sure GL can serve a GL
//! chain. `imp.rs` gathers the request, asks `plan.rs` and installs what this module specifies.

use gst::glib;
use gst::prelude::*;

use super::CAT;
use super::caps;
use super::fixate::{self, OutputSize};
use super::plan::{Chain, ChainPlan, Step};
use super::report::{ChainError, InteropUse};
use crate::chainbin::{ElementSpec, consumer};
use crate::gpu::gl::{self, GlInfo};
use crate::gstversion::{self, GstVersion};

/// Runs the interop test (once per GL display and CUDA device, cached) on the CUDA device of the
/// consumer downstream of `srcpad`.
pub(super) fn interop_for(bin: &gst::Element, srcpad: &gst::Pad) -> InteropUse {
    let (consumer, report, ran_now) = consumer::probe_interop(bin, srcpad);
    gst::debug!(
        CAT,
        obj = bin,
        "interop test for consumer {:?} on CUDA device {:?}",
        consumer.as_ref().map(consumer::Consumer::describe),
        consumer.as_ref().and_then(|c| c.cuda_device)
    );
    InteropUse { report, ran_now }
}

/// Before building a GL chain in `bin`, make sure GL elements exist and a GL context can be made,
/// so the user gets the cause and the fix instead of a bare not-negotiated. Returns the GL the
/// chain will run on, when known.
pub(super) fn check_gl_for(
    bin: &gst::Element,
    plan: &ChainPlan,
    interop: Option<&InteropUse>,
) -> Result<Option<GlInfo>, ChainError> {
    let needs_gl = plan.chain.needs_gl_context();
    if !needs_gl {
        return Ok(interop.and_then(|i| i.report.gl.clone()));
    }
    if let Some(missing) = gl::missing_gl_elements().first() {
        return Err(ChainError::Build(
            crate::chainbin::BuildError::MissingElement(missing),
        ));
    }
    // Every pipeline, not only the first one the cached checks below ran in.
    gl::share_display_with_pipeline(bin);
    if let Some(gl_info) = interop.and_then(|i| i.report.gl.clone()) {
        return Ok(Some(gl_info));
    }
    match gl::context_check_cached(Some(bin)) {
        Ok(info) => Ok(Some(info.clone())),
        Err(err) => Err(ChainError::NoGlContext(err.clone())),
    }
}

/// The size a GL scaling chain for `plan` pins on its output: the one videoconvertscale would
/// choose from the input `caps` for `downstream_caps`; None where nothing is pinned.
pub(super) fn output_size_for(
    plan: &ChainPlan,
    caps: &gst::Caps,
    downstream_caps: &gst::Caps,
) -> Option<OutputSize> {
    pins_output_size(&plan.chain)
        .then(|| fixate::like_videoconvertscale(caps, downstream_caps))
        .flatten()
}

/// New input caps on a GL scaling chain that stays: the size videoconvertscale would now choose
/// replaces the old one on the chain's output pin before the caps reach the chain.
pub(super) fn repin_output_size(elements: &[gst::Element], output_size: &OutputSize, bt601: bool) {
    if let Some(pin) = elements.iter().find(|e| e.name().as_str() == OUTPUT_PIN) {
        pin.set_property("caps", output_pin_caps(Some(output_size), bt601));
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
fn pins_output_size(chain: &Chain) -> bool {
    matches!(chain.output_pin(), Some(Step::OutputPin { size: true, .. }))
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

/// How to make each element of `chain` under the bin's `n-threads`; `output_size` pins a GL
/// scaling chain's size; `scales` (the scaling variant) puts the fast converter in scaling mode.
pub(super) fn specs_for(
    chain: &Chain,
    scales: bool,
    n_threads: u32,
    output_size: Option<&OutputSize>,
    stock: &[(&'static str, glib::Value)],
) -> Vec<ElementSpec> {
    chain
        .steps()
        .iter()
        .map(|&step| {
            let factory = step.factory();
            let spec = match step {
                Step::FastConvert => {
                    let make = match scales {
                        true => crate::convert::make_scaler,
                        false => crate::convert::make,
                    };
                    ElementSpec::internal(crate::convert::ELEMENT_NAME, make)
                }
                Step::Identity => ElementSpec::new(factory).property("silent", true),
                Step::Demosaic => ElementSpec::new(factory).setup(offer_bayer2rgb_a_pool),
                Step::OutputPin { bt601, .. } => ElementSpec::new(factory)
                    .property("name", OUTPUT_PIN)
                    .property("caps", output_pin_caps(output_size, bt601)),
                Step::RgbaHop => ElementSpec::new(factory).property(
                    "caps",
                    gst::Caps::builder("video/x-raw")
                        .features([crate::formats::GL_MEMORY])
                        .field("format", "RGBA")
                        .build(),
                ),
                _ => ElementSpec::new(factory),
            };
            let spec = if matches!(step, Step::VideoConvert | Step::VideoConvertScale) {
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
    use super::super::plan::{ConvertPath, Converter, Entry, Exit, GlConversion};
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
    fn every_step_of_a_chain_gets_a_spec_that_builds() {
        gst::init().unwrap();
        let stock = Converter::Stock { scale: false };
        for chain in [
            Chain::software(Entry::System, stock, Exit::System),
            Chain::software(Entry::GlMemory, stock, Exit::System),
            Chain::software(Entry::System, Converter::Fast, Exit::Upload),
            Chain::software(Entry::Bayer, Converter::Stock { scale: true }, Exit::Mosaic),
            Chain::passthrough(),
            Chain::gl(false, GlConversion::RgbaHop, true, true),
            Chain::gl(true, GlConversion::Scale, false, false),
        ] {
            let specs = specs_for(&chain, false, 2, None, &[]);
            let names: Vec<&str> = specs.iter().map(|s| s.factory).collect();
            assert_eq!(names, chain.factories());
            let elements = crate::chainbin::chain::build(&specs).expect("builds");
            for converter in &elements {
                if let Some(threads) = n_threads_of(converter, 2) {
                    assert_eq!(converter.property::<u32>("n-threads"), threads);
                    assert_eq!(threads, 2);
                }
            }
            // Automatic: videoconvert gets the usable CPUs, the fast converter decides itself.
            let elements =
                crate::chainbin::chain::build(&specs_for(&chain, false, 0, None, &[])).unwrap();
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
            let converts = chain.path() == ConvertPath::Software && chain != Chain::passthrough();
            assert_eq!(converters.len(), usize::from(converts), "{chain:?}");
        }
    }
}
