// SPDX-License-Identifier: MPL-2.0
//! Reads this machine and assembles the report. Every fact comes from `crate::gpu` (the reports
//! the elements read) or GStreamer's registry; every judgement is made in [`super::checks`].
//!
//! Cheap checks run first and nothing here can panic on a missing library: a machine without a
//! driver pays for one `dlopen` attempt per library and one GL context.

use std::path::{Path, PathBuf};

use gst::prelude::*;

use super::verdict::{self, Capabilities};
use super::{Check, Report};
use super::{checks, paths};
use crate::autoenc::{Codec, registry};
use crate::compositor::plan::GlState;
use crate::gpu::cuda::CudaDriver;
use crate::gpu::gl::GlInfo;
use crate::gpu::interop::InteropReport;
use crate::gpu::{gl, interop, libraries, platform};

/// Runs every check and returns the report. Never fails: what cannot be checked is a row.
pub fn run() -> Report {
    let mut checks = Vec::new();
    let in_container = platform::in_container();

    checks.push(checks::container(
        in_container,
        &platform::driver_capabilities(),
    ));
    checks.push(checks::wsl(platform::is_wsl()));
    checks.push(checks::cuda_visible_devices(
        platform::cuda_visible_devices().as_deref(),
    ));

    let driver = CudaDriver::get();
    let driver_path = driver.as_ref().ok().and_then(|d| d.library_path());
    let load = driver
        .as_ref()
        .map(|d| d.library_path().map(|p| p.display().to_string()))
        .map_err(|err| err.to_string());
    checks.push(checks::libcuda(&load, in_container));
    checks.push(checks::libcuda_stub(interop::shadow_library(), driver_path));
    let devices = driver.as_ref().ok().map(|d| cuda_device_names(d));
    checks.push(checks::cuda_devices(devices.as_ref()));
    checks.push(checks::nvidia_smi(find_on_path("nvidia-smi").as_deref()));
    let nvml = nvml_answer();
    checks.push(checks::nvml(Some(nvml.clone())));
    checks.push(checks::libnvrtc(&libraries::probe_nvrtc()));

    checks.push(checks::libegl_nvidia(
        &libraries::nvidia_egl_library_loadable(),
        in_container,
    ));
    checks.push(checks::egl_vendor_file(&platform::nvidia_egl_vendor_file()));
    checks.push(checks::gl_environment(&platform::gl_environment()));

    let gst_ready = gst::init().map_err(|err| err.to_string());
    let mut caps = Capabilities {
        cuda_devices: devices
            .as_ref()
            .and_then(|d| d.as_ref().ok())
            .map_or(0, Vec::len),
        ..Capabilities::default()
    };
    match gst_ready {
        Ok(()) => {
            gstreamer_checks(&mut checks, &mut caps);
            checks.push(paths::gpumonitor(&nvml));
        }
        Err(err) => checks.push(
            Check::fail(
                "gstreamer",
                format!("GStreamer could not initialise: {err}"),
            )
            .with_fix("apt-get install gstreamer1.0-plugins-base gstreamer1.0-gl"),
        ),
    }

    let tier = verdict::tier(&caps);
    Report {
        tier,
        first_fix: verdict::first_fix(&checks, tier),
        checks,
    }
}

/// The rows that need GStreamer: the GL context, the interop test, elements and the plugin.
fn gstreamer_checks(checks: &mut Vec<Check>, caps: &mut Capabilities) {
    // The interop test makes its own GL context only when CUDA works; reuse what it saw. Without
    // a pipeline there is no encoder to ask for its device: the first device behind GL is tested,
    // and device 0 (where nvh264enc encodes) as well when that is another one.
    let (report, _) = interop::probe_cached(None, None);
    let context = match &report.gl {
        Some(info) => Ok(info.clone()),
        None => gl::context_check_cached(None).clone(),
    };
    checks.push(checks::gl_context(&context));
    checks.push(checks::interop(&report));
    checks.push(checks::gl_devices(&report));
    let tested_elsewhere = report.tested_device().is_some_and(|d| d != 0);
    if tested_elsewhere && report.cuda_devices.is_some_and(|n| n > 1) {
        let (on_device_0, _) = interop::probe_cached(None, Some(0));
        checks.push(checks::interop_on_device_0(&on_device_0));
    }
    caps.interop_works = report.works();

    let installed = installed_strom_plugin();
    // Without an installed plugin, register this build's elements so their rows say whether
    // they work here; with one, registering a second copy of the same types would clash.
    let registered_builtin = installed.is_none() && crate::plugin_register_static().is_ok();
    for need in checks::ELEMENTS {
        checks.push(checks::element(need, element_plugin(need.name).as_deref()));
    }
    checks.push(checks::strom_plugin(
        installed.as_deref(),
        registered_builtin,
    ));
    element_paths(checks, &report, &context);

    caps.nvenc_element = gst::ElementFactory::find("nvh264enc").is_some();
    caps.gl_elements = gl::missing_gl_elements().is_empty();
}

/// Which path each element would take here, from the same interop report and GL context.
fn element_paths(
    checks: &mut Vec<Check>,
    report: &InteropReport,
    context: &Result<GlInfo, String>,
) {
    checks.push(paths::autoconvert(report, false));
    checks.push(paths::autoconvert(report, true));
    for codec in [Codec::H264, Codec::H265, Codec::Av1] {
        checks.push(paths::autoenc(codec, registry::registered));
    }
    let gl = GlState::from_facts(
        |name| gst::ElementFactory::find(name).is_some(),
        None,
        || context.clone(),
    );
    checks.push(paths::compositor(gl, report));
}

/// `cuInit`, then every device's name; the first failing call as text.
fn cuda_device_names(driver: &CudaDriver) -> Result<Vec<String>, String> {
    driver.init().map_err(|err| err.to_string())?;
    let count = driver.device_count().map_err(|err| err.to_string())?;
    (0..count)
        .map(|ordinal| {
            driver
                .device(ordinal)
                .and_then(|device| driver.device_name(device))
                .map_err(|err| err.to_string())
        })
        .collect()
}

/// The plugin providing element `name` and its version, e.g. `opengl 1.22.0`.
fn element_plugin(name: &str) -> Option<String> {
    let factory = gst::ElementFactory::find(name)?;
    let plugin = factory
        .plugin_name()
        .map_or_else(|| "(statically registered)".to_owned(), |p| p.to_string());
    let version = factory.plugin().map(|p| p.version().to_string());
    Some(match version {
        Some(v) => format!("{plugin} {v}"),
        None => plugin,
    })
}

/// The installed `strom` plugin as GStreamer's registry knows it: file and version.
fn installed_strom_plugin() -> Option<String> {
    let plugin = gst::Registry::get().find_plugin("strom")?;
    let file = plugin
        .filename()
        .map_or_else(|| "(no file)".to_owned(), |f| f.display().to_string());
    Some(format!("{file} (version {})", plugin.version()))
}

/// The first executable `name` in `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// NVML as the doctor reports it: loaded once per process by `gpu::nvml`, shared with
/// `stromgpumonitor`.
fn nvml_answer() -> Result<checks::NvmlAnswer, checks::NvmlMissing> {
    let nvml = crate::gpu::nvml::nvml().map_err(|e| checks::NvmlMissing {
        reason: e.reason.clone(),
        fix: e.fix.clone(),
    })?;
    let device_count = nvml.device_count().map_err(|reason| checks::NvmlMissing {
        reason,
        fix: "check the driver with nvidia-smi".into(),
    })?;
    Ok(checks::NvmlAnswer {
        device_count,
        driver_version: nvml.driver_version(),
    })
}
