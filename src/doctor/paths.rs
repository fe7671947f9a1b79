// SPDX-License-Identifier: MPL-2.0
//! Which path each of the plugin's elements would take on this machine. Every row asks the
//! element's own plain decision module (`autoconvert::plan`, `compositor::plan`,
//! `autoenc::plan`; the first two ask the memory-path planner, `crate::path`, with the
//! `Downstream` given here) with a typical request and this machine's facts (the interop report,
//! GL, the registry), so the doctor says what the element would decide and never decides it
//! itself.
//! Pure: the facts come in from [`super::gather`].

use super::Check;
use super::checks::{NvmlAnswer, NvmlMissing};
use crate::autoconvert::{self, plan as convert};
use crate::autoenc::plan::{self as enc, Registered};
use crate::autoenc::{Codec, Preference};
use crate::compositor::{self, plan as mix};
use crate::gpu::interop::InteropReport;
use crate::path::{Downstream, Formats, InteropVerdict, Memory};

/// The consumer the rows assume: an encoder that takes GL and system memory, as `nvh264enc` does,
/// so the interop test decides (the case the elements exist for).
const CONSUMER: &str = "a consumer of GL and system memory such as nvh264enc";

/// `stromautoconvert` (or, with `scale`, `stromautoconvertscale`): I420 in system memory into
/// [`CONSUMER`].
pub(crate) fn autoconvert(interop: &InteropReport, scale: bool) -> Check {
    let name = if scale {
        "path stromautoconvertscale"
    } else {
        "path stromautoconvert"
    };
    let request = convert::Request {
        mode: autoconvert::Mode::Auto,
        input: convert::Input::raw("I420", true),
        downstream: Downstream {
            system: Some(Formats::Any),
            gl: Some(Formats::Any),
            ..Default::default()
        },
        direct_target: None,
        gl_failed: None,
        interop: Some(InteropVerdict::from(interop)),
        consumer_cuda_device: None,
        passthrough: false,
        scale,
        software_settings: None,
        gst_version: crate::gstversion::running(),
    };
    match convert::plan(&request) {
        Ok(plan) => Check::info(
            name,
            format!(
                "{} ({}, {} copies per frame) for I420 into {CONSUMER}: {}",
                plan.chain.path().as_str(),
                plan.chain.describe(),
                plan.chain.copies_per_frame(&Memory::System),
                plan.reason
            ),
        ),
        Err(err) => Check::fail(name, err.0),
    }
}

/// `stromcompositor`: a mosaic of four unscaled opaque inputs into [`CONSUMER`], with GL as
/// this process has it.
pub(crate) fn compositor(gl: mix::GlState, interop: &InteropReport) -> Check {
    const NAME: &str = "path stromcompositor";
    let mut request = mix::Request {
        mode: compositor::Mode::Auto,
        gl,
        downstream: Downstream {
            system: Some(Formats::Any),
            gl: Some(Formats::Any),
            ..Default::default()
        },
        load: mix::MixLoad {
            inputs: 4,
            scaled: 0,
            blended: 0,
        },
        interop: None,
        consumer_cuda_device: None,
        gst_version: crate::gstversion::running(),
    };
    if request.needs_interop() {
        request.interop = Some(InteropVerdict::from(interop));
    }
    match mix::plan(&request) {
        Ok(plan) => Check::info(
            NAME,
            format!(
                "{} ({}) for 4 unscaled inputs into {CONSUMER}: {}",
                plan.path.as_str(),
                plan.describe(),
                plan.reason
            ),
        ),
        Err(err) => Check::fail(NAME, err.0),
    }
}

/// `stromautoenc codec=<codec>` with the built-in candidates and `preference=auto`: the first
/// candidate the bin's screen lets through (the one it tries first), and why the ones before it
/// were passed over. `registered` reads GStreamer's registry (`autoenc::registry`).
pub(crate) fn autoenc(codec: Codec, registered: impl Fn(&str) -> Registered) -> Check {
    let name = format!("path stromautoenc {}", codec.nick());
    let mut passed_over = Vec::new();
    for candidate in enc::order(codec, &[]) {
        match enc::screen(
            &candidate,
            &registered(&candidate.factory),
            codec,
            Preference::Auto,
        ) {
            Ok(hardware) => {
                let before = if passed_over.is_empty() {
                    String::new()
                } else {
                    format!("; before it: {}", passed_over.join(", "))
                };
                return Check::info(
                    &name,
                    format!(
                        "{} ({}) is tried first; the next candidate takes over if it fails to \
                         open{before}",
                        candidate.factory,
                        if hardware { "hardware" } else { "software" }
                    ),
                );
            }
            Err(outcome) => passed_over.push(format!("{} {outcome}", candidate.factory)),
        }
    }
    let mut packages: Vec<&str> = enc::built_in(codec)
        .filter(|row| !row.hardware)
        .map(|row| row.package)
        .collect();
    packages.dedup();
    Check::warn(
        &name,
        format!(
            "no {} encoder registered: stromautoenc codec={} fails ({})",
            codec.label(),
            codec.nick(),
            passed_over.join(", ")
        ),
    )
    .with_fix(format!(
        "install a software {} encoder: {}",
        codec.label(),
        packages.join(" or ")
    ))
}

/// `stromgpumonitor`: NVML as it would load it.
pub(crate) fn gpumonitor(nvml: &Result<NvmlAnswer, NvmlMissing>) -> Check {
    const NAME: &str = "path stromgpumonitor";
    match nvml {
        Ok(answer) => Check::info(
            NAME,
            format!(
                "samples {} GPU(s) through NVML into strom-gpu-stats messages",
                answer.device_count
            ),
        ),
        Err(missing) => Check::info(
            NAME,
            format!(
                "passes buffers through and posts one strom-gpu-stats message saying statistics \
                 are unavailable ({}; the nvml row has the fix)",
                missing.reason
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Level;
    use crate::gpu::interop::report_for_tests;

    fn unavailable() -> InteropReport {
        report_for_tests("unavailable: libcuda.so.1 not found")
    }

    #[test]
    fn autoconvert_follows_the_interop_report() {
        let software = autoconvert(&unavailable(), false);
        assert_eq!(software.name, "path stromautoconvert");
        assert_eq!(software.level, Level::Info);
        assert!(
            software.detail.starts_with("software (videoconvert")
                && software.detail.contains("CUDA-GL interop is unavailable"),
            "{}",
            software.detail
        );
        let gl = autoconvert(&report_for_tests("ok"), true);
        assert_eq!(gl.name, "path stromautoconvertscale");
        assert!(
            gl.detail.starts_with("gl (glupload") && gl.detail.contains("zero-copy"),
            "{}",
            gl.detail
        );
    }

    fn context(vendor: &str, renderer: &str) -> mix::GlState {
        mix::GlState::from_facts(
            |_| true,
            None,
            || {
                Ok(crate::gpu::gl::GlInfo {
                    vendor: vendor.into(),
                    renderer: renderer.into(),
                    ..crate::gpu::gl::llvmpipe_for_tests()
                })
            },
        )
    }

    #[test]
    fn compositor_mixes_on_the_cpu_without_a_gpu_renderer() {
        let info = crate::gpu::gl::llvmpipe_for_tests();
        let llvmpipe = compositor(context(&info.vendor, &info.renderer), &unavailable());
        assert!(
            llvmpipe.detail.starts_with("software (compositor)")
                && llvmpipe.detail.contains("rasterises on the CPU"),
            "{}",
            llvmpipe.detail
        );
        let missing =
            mix::GlState::from_facts(|name| name != "glvideomixer", None, || unreachable!());
        assert_eq!(missing, mix::GlState::MissingElement("glvideomixer".into()));
        assert!(
            compositor(missing, &unavailable())
                .detail
                .starts_with("software")
        );
        let gpu = compositor(
            context("NVIDIA Corporation", "NVIDIA L4/PCIe/SSE2"),
            &report_for_tests("ok"),
        );
        assert!(
            gpu.detail.starts_with("gl (glvideomixer)"),
            "{}",
            gpu.detail
        );
    }

    fn only(names: &'static [&'static str]) -> impl Fn(&str) -> Registered {
        move |factory| {
            if names.contains(&factory) {
                Registered::Yes {
                    hardware_klass: false,
                    produces: None,
                }
            } else {
                Registered::No
            }
        }
    }

    #[test]
    fn autoenc_names_the_first_candidate_the_bin_would_try() {
        let software = autoenc(Codec::H264, only(&["x264enc", "openh264enc"]));
        assert_eq!(software.name, "path stromautoenc h264");
        assert!(software.ok());
        assert!(
            software
                .detail
                .starts_with("x264enc (software) is tried first")
                && software.detail.contains("nvh264enc not registered"),
            "{}",
            software.detail
        );
        let nvenc = autoenc(Codec::H264, only(&["nvh264enc", "x264enc"]));
        assert!(
            nvenc.detail.starts_with("nvh264enc (hardware)") && !nvenc.detail.contains("before"),
            "{}",
            nvenc.detail
        );
        let none = autoenc(Codec::Av1, only(&[]));
        assert_eq!(none.level, Level::Warn);
        assert!(none.detail.contains("no AV1 encoder registered"));
        assert!(
            none.fix
                .as_deref()
                .unwrap()
                .contains("gstreamer1.0-plugins-bad")
        );
    }

    #[test]
    fn gpumonitor_says_whether_it_samples() {
        let answer = NvmlAnswer {
            device_count: 2,
            driver_version: None,
        };
        assert!(
            gpumonitor(&Ok(answer))
                .detail
                .starts_with("samples 2 GPU(s)")
        );
        let missing = NvmlMissing {
            reason: "libnvidia-ml.so.1 not found".into(),
            fix: "install the driver".into(),
        };
        let row = gpumonitor(&Err(missing));
        assert!(row.ok());
        assert!(row.detail.contains("libnvidia-ml.so.1 not found"));
    }
}
