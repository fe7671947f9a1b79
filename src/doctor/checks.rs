// SPDX-License-Identifier: MPL-2.0
//! Each check as a pure function: plain facts in, one report row out. Nothing here touches the
//! machine; [`super::gather`] reads it and calls these.

use std::path::Path;

use super::{Check, Tier};
use crate::gpu::gl::{self, GlInfo};
use crate::gpu::interop::{InteropOutcome, InteropReport};
use crate::gpu::libraries::NvrtcProbe;
use crate::gpu::loader::ShadowLibrary;
use crate::gpu::platform::{self, DriverCapabilities, EglVendorFile, GlEnvironment};

/// How to give a container the GPU, named wherever a container lacks it.
const CONTAINER_GPU_FIX: &str = "run the container with --gpus all -e NVIDIA_DRIVER_CAPABILITIES=all \
     (needs the NVIDIA Container Toolkit on the host: sudo scripts/install-nvidia-container-toolkit.sh)";
const DRIVER_INSTALL_FIX: &str =
    "install the NVIDIA driver (not a -headless variant): sudo scripts/install-nvidia-driver.sh";

/// Inside a container, and what the NVIDIA runtime was asked to mount.
pub(crate) fn container(in_container: bool, caps: &DriverCapabilities) -> Check {
    const NAME: &str = "container";
    if !in_container {
        return Check::pass(NAME, "not in a container");
    }
    let raw = caps.raw.as_deref().unwrap_or("unset");
    if caps.graphics && caps.video {
        return Check::pass(
            NAME,
            format!("in a container, NVIDIA_DRIVER_CAPABILITIES={raw}"),
        );
    }
    let missing: Vec<&str> = [
        (!caps.graphics).then_some("graphics (EGL/GL, needed for CUDA-GL interop)"),
        (!caps.video).then_some("video (NVENC/NVDEC, needed for nvh264enc)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let blocks = if caps.video {
        Tier::GpuInterop
    } else {
        Tier::SoftwareConvertNvenc
    };
    Check::warn(
        NAME,
        format!(
            "in a container, NVIDIA_DRIVER_CAPABILITIES={raw} lacks {} (the NVIDIA runtime \
             mounts only compute,utility by default)",
            missing.join(" and ")
        ),
    )
    .with_fix(CONTAINER_GPU_FIX)
    .blocking(blocks)
}

/// WSL2 offers CUDA but no NVIDIA OpenGL/EGL.
pub(crate) fn wsl(is_wsl: bool) -> Check {
    const NAME: &str = "wsl2";
    if !is_wsl {
        return Check::pass(NAME, "not WSL2");
    }
    Check::fail(
        NAME,
        "WSL2: its GPU driver offers CUDA and NVENC but no NVIDIA OpenGL/EGL, so CUDA-GL interop \
         is unsupported",
    )
    .with_fix(
        "expect software-convert-nvenc at best on WSL2; for zero-copy run native Linux (or a VM \
         with GPU passthrough)",
    )
    .blocking(Tier::GpuInterop)
}

/// `CUDA_VISIBLE_DEVICES` as set.
pub(crate) fn cuda_visible_devices(value: Option<&str>) -> Check {
    const NAME: &str = "CUDA_VISIBLE_DEVICES";
    match value.map(str::trim) {
        None => Check::pass(NAME, "unset: CUDA sees every GPU"),
        Some(v) if v.is_empty() || v == "-1" || v.eq_ignore_ascii_case("none") => {
            Check::warn(NAME, format!("'{v}' hides every GPU from CUDA"))
                .with_fix("unset CUDA_VISIBLE_DEVICES, or set it to the GPU to use")
                .blocking(Tier::SoftwareConvertNvenc)
        }
        Some(v) => Check::info(
            NAME,
            format!(
                "{v}: CUDA sees only these GPUs; for interop the GPU that runs GL must be one of them"
            ),
        ),
    }
}

/// `libcuda.so.1`: loaded from `path`, or why not.
pub(crate) fn libcuda(load: &Result<Option<String>, String>, in_container: bool) -> Check {
    const NAME: &str = "libcuda";
    match load {
        Ok(path) => Check::pass(
            NAME,
            format!(
                "loaded from {}",
                path.as_deref().unwrap_or(crate::gpu::cuda::LIBCUDA_SONAME)
            ),
        ),
        Err(err) => {
            let fix = if in_container {
                CONTAINER_GPU_FIX
            } else {
                DRIVER_INSTALL_FIX
            };
            Check::fail(NAME, format!("{err}: no NVIDIA driver in this process"))
                .with_fix(fix)
                .blocking(Tier::SoftwareConvertNvenc)
        }
    }
}

/// A `libcuda.so` on the loader path that is not the driver: harmless to this plugin and to
/// nvcodec (both open `libcuda.so.1` only), but whatever opens `libcuda.so` gets it, and once it is
/// loaded its soname (`libcuda.so.1`) can shadow the driver for everyone in the process.
pub(crate) fn libcuda_stub(shadow: Option<&ShadowLibrary>, driver: Option<&Path>) -> Check {
    const NAME: &str = "libcuda-stub";
    let Some(shadow) = shadow else {
        return Check::pass(
            NAME,
            "no libcuda.so on the loader path other than the driver",
        );
    };
    let folder = shadow.path.parent().map_or_else(
        || shadow.path.display().to_string(),
        |p| p.display().to_string(),
    );
    let fix = if shadow.looks_like_stub {
        format!(
            "take {folder} off LD_LIBRARY_PATH (and out of ld.so.conf): the CUDA toolkit's stubs \
             are for linking only; a program that opens libcuda.so, or loads it before the \
             driver (its soname is libcuda.so.1), gets CUDA_ERROR_STUB_LIBRARY"
        )
    } else {
        format!(
            "remove or repoint {}: it is not the driver's libcuda.so.1",
            shadow.path.display()
        )
    };
    Check::warn(NAME, shadow.describe(driver)).with_fix(fix)
}

/// `cuInit`, the device count and names. `None` when the driver did not load.
pub(crate) fn cuda_devices(devices: Option<&Result<Vec<String>, String>>) -> Check {
    const NAME: &str = "cuda-devices";
    match devices {
        None => Check::skip(NAME, "not checked: libcuda.so.1 is not loaded")
            .blocking(Tier::SoftwareConvertNvenc),
        Some(Err(err)) if err.contains("CUDA_ERROR_STUB_LIBRARY") => Check::fail(NAME, err.clone())
            .with_fix(
                "libcuda.so.1 is the CUDA toolkit's link-time stub, not the driver (the libcuda \
                 row says where it was loaded from): remove the stubs folder from \
                 LD_LIBRARY_PATH and any libcuda.so.1 symlink to it, and give the machine or \
                 container the real driver (--gpus all)",
            )
            .blocking(Tier::SoftwareConvertNvenc),
        Some(Err(err)) => Check::fail(NAME, err.clone())
            .with_fix(
                "the driver is installed but CUDA cannot start: check nvidia-smi, dmesg for NVRM \
                 errors, and that the kernel module matches the user-space driver (reboot after \
                 a driver upgrade)",
            )
            .blocking(Tier::SoftwareConvertNvenc),
        Some(Ok(names)) if names.is_empty() => Check::fail(NAME, "cuInit ok but no CUDA device")
            .with_fix("check nvidia-smi and CUDA_VISIBLE_DEVICES; in a container pass --gpus all")
            .blocking(Tier::SoftwareConvertNvenc),
        Some(Ok(names)) => {
            let list: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(i, name)| format!("{i}: {name}"))
                .collect();
            Check::pass(
                NAME,
                format!("cuInit ok, {} device(s): {}", names.len(), list.join(", ")),
            )
        }
    }
}

/// `nvidia-smi` on `PATH`: informative only (it is not needed by any element).
pub(crate) fn nvidia_smi(path: Option<&Path>) -> Check {
    const NAME: &str = "nvidia-smi";
    match path {
        Some(p) => Check::info(NAME, format!("found at {}", p.display())),
        None => Check::info(
            NAME,
            "not on PATH (informative only; containers get it with the utility capability)",
        ),
    }
}

/// What NVML answered, as `stromgpumonitor` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NvmlAnswer {
    pub(crate) device_count: u32,
    pub(crate) driver_version: Option<String>,
}

/// Why NVML could not be used, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NvmlMissing {
    pub(crate) reason: String,
    pub(crate) fix: String,
}

/// NVML loadable and its device count; `None` when this build does not check it.
pub(crate) fn nvml(result: Option<Result<NvmlAnswer, NvmlMissing>>) -> Check {
    const NAME: &str = "nvml";
    match result {
        None => Check::skip(NAME, "not checked in this build"),
        Some(Ok(answer)) if answer.device_count == 0 => {
            Check::warn(NAME, "NVML loaded but reports no device")
                .with_fix("check nvidia-smi; in a container pass --gpus all")
        }
        Some(Ok(answer)) => Check::pass(
            NAME,
            format!(
                "{} device(s), driver {}",
                answer.device_count,
                answer
                    .driver_version
                    .as_deref()
                    .unwrap_or("version unknown")
            ),
        ),
        Some(Err(missing)) => Check::warn(
            NAME,
            format!(
                "{} (stromgpumonitor cannot report GPU statistics)",
                missing.reason
            ),
        )
        .with_fix(missing.fix),
    }
}

/// CUDA's runtime compiler, which nvcodec needs to register `cudaconvert` and `cudascale`.
pub(crate) fn libnvrtc(probe: &NvrtcProbe) -> Check {
    const NAME: &str = "libnvrtc";
    let version = |v: &Option<String>| v.as_deref().map_or(String::new(), |v| format!(" ({v})"));
    match &probe.opened {
        Some(lib) if probe.usable_by_gstreamer() => Check::pass(
            NAME,
            format!(
                "{}{} loads: nvcodec can register cudaconvert/cudascale",
                lib.name,
                version(&lib.version)
            ),
        ),
        Some(lib) => Check::warn(
            NAME,
            format!(
                "{}{} loads, but GStreamer opens {}: cudaconvert/cudascale will be missing",
                lib.name,
                version(&lib.version),
                probe.gstreamer_name
            ),
        )
        .with_fix(format!("export GST_CUDA_NVRTC_LIBNAME={}", lib.name)),
        None => Check::warn(
            NAME,
            format!(
                "{} not found: nvcodec needs CUDA's runtime compiler to register cudaconvert and \
                 cudascale (gst-inspect-1.0 nvcodec then prints only an Info line); nvh264enc \
                 does not need it",
                probe.gstreamer_name
            ),
        )
        .with_fix(
            "install CUDA's libnvrtc (Debian/Ubuntu: the libnvrtc12 or libnvrtc11.2 package; \
             NVIDIA's repository: cuda-nvrtc-12-x) and make sure libnvrtc.so is on the loader \
             path (or set GST_CUDA_NVRTC_LIBNAME to its versioned name)",
        ),
    }
}

/// The fix for a missing or unnamed NVIDIA EGL vendor file: the file and its exact content.
pub(crate) fn egl_vendor_file_fix() -> String {
    format!(
        "create {} containing:\n{}",
        platform::NVIDIA_EGL_VENDOR_FILE,
        platform::NVIDIA_EGL_VENDOR_JSON.trim_end()
    )
}

/// `libEGL_nvidia.so.0` can be opened.
pub(crate) fn libegl_nvidia(loadable: &Result<(), String>, in_container: bool) -> Check {
    const NAME: &str = "libEGL_nvidia";
    match loadable {
        Ok(()) => Check::pass(NAME, format!("{} loads", platform::NVIDIA_EGL_LIBRARY)),
        Err(err) => {
            let fix = if in_container {
                "NVIDIA_DRIVER_CAPABILITIES must include graphics (use =all) so the runtime mounts \
                 the NVIDIA EGL library"
            } else {
                "install the full NVIDIA driver: the -headless variants have no OpenGL/EGL \
                 (sudo scripts/install-nvidia-driver.sh)"
            };
            Check::fail(
                NAME,
                format!("{err}: GL cannot run on the NVIDIA GPU through EGL"),
            )
            .with_fix(fix)
            .blocking(Tier::GpuInterop)
        }
    }
}

/// The GLVND vendor file that points EGL at `libEGL_nvidia.so.0`.
pub(crate) fn egl_vendor_file(file: &EglVendorFile) -> Check {
    const NAME: &str = "egl-vendor-file";
    match file {
        EglVendorFile::Found(path) => Check::pass(
            NAME,
            format!("{} names {}", path.display(), platform::NVIDIA_EGL_LIBRARY),
        ),
        EglVendorFile::Missing => Check::fail(
            NAME,
            format!(
                "no vendor file in {} names {}: GLVND will not use the NVIDIA GPU for EGL",
                platform::EGL_VENDOR_DIRS.join(", "),
                platform::NVIDIA_EGL_LIBRARY
            ),
        )
        .with_fix(egl_vendor_file_fix())
        .blocking(Tier::GpuInterop),
        EglVendorFile::OverriddenWithoutNvidia(list) => Check::fail(
            NAME,
            format!(
                "__EGL_VENDOR_LIBRARY_FILENAMES={list} names no file that names {}",
                platform::NVIDIA_EGL_LIBRARY
            ),
        )
        .with_fix(format!(
            "unset __EGL_VENDOR_LIBRARY_FILENAMES (or add the NVIDIA file to it); {}",
            egl_vendor_file_fix()
        ))
        .blocking(Tier::GpuInterop),
    }
}

/// `GST_GL_WINDOW` / `GST_GL_PLATFORM`, which decide where GStreamer makes its GL context.
pub(crate) fn gl_environment(env: &GlEnvironment) -> Check {
    const NAME: &str = "gst-gl-environment";
    let shown = format!(
        "GST_GL_WINDOW={} GST_GL_PLATFORM={}",
        env.gl_window.as_deref().unwrap_or("unset"),
        env.gl_platform.as_deref().unwrap_or("unset")
    );
    if env.is_egl_device() {
        return Check::pass(NAME, format!("{shown}: headless EGL on a GPU device"));
    }
    if env.is_gbm() {
        return Check::warn(
            NAME,
            format!(
                "{shown}: GBM renders through a DRM render node, and CUDA-GL interop fails there \
                 (typically CUDA_ERROR_OPERATING_SYSTEM)"
            ),
        )
        .with_fix(format!("export {}", gl::GL_HEADLESS_FIX))
        .blocking(Tier::GpuInterop);
    }
    if env.headless {
        return Check::warn(
            NAME,
            format!(
                "{shown} with no DISPLAY or WAYLAND_DISPLAY: GStreamer may find no GL display \
                 or pick a software one"
            ),
        )
        .with_fix(format!("export {}", gl::GL_HEADLESS_FIX))
        .blocking(Tier::GpuInterop);
    }
    Check::info(
        NAME,
        format!("{shown}: a display is set, GStreamer uses its window system"),
    )
}

/// A GL context made through GStreamer, as `glupload` would make it.
pub(crate) fn gl_context(context: &Result<GlInfo, String>) -> Check {
    const NAME: &str = "gl-context";
    let headless_fix = format!(
        "export {} (and install gstreamer1.0-gl and the NVIDIA EGL vendor file)",
        gl::GL_HEADLESS_FIX
    );
    match context {
        Err(err) => Check::fail(NAME, err.clone())
            .with_fix(headless_fix)
            .blocking(Tier::GpuInterop),
        Ok(info) => {
            let who = format!(
                "GL_VENDOR={}, GL_RENDERER={} (display {})",
                info.vendor, info.renderer, info.display
            );
            if info.is_mesa_or_software() {
                Check::fail(NAME, format!("{who}: NVIDIA GPU not used for GL"))
                    .with_fix(format!(
                        "export {} with the NVIDIA EGL vendor file installed (see \
                         libEGL_nvidia and egl-vendor-file)",
                        gl::GL_HEADLESS_FIX
                    ))
                    .blocking(Tier::GpuInterop)
            } else if is_nvidia(info) {
                Check::pass(NAME, who)
            } else {
                Check::warn(NAME, format!("{who}: GL is not on an NVIDIA GPU"))
                    .with_fix(headless_fix)
                    .blocking(Tier::GpuInterop)
            }
        }
    }
}

fn is_nvidia(info: &GlInfo) -> bool {
    let nvidia = |s: &str| s.to_ascii_lowercase().contains("nvidia");
    nvidia(&info.vendor) || nvidia(&info.renderer)
}

/// The CUDA-GL interop test, the same report `stromautoconvert` reads.
pub(crate) fn interop(report: &InteropReport) -> Check {
    interop_row("cuda-gl-interop", report)
}

/// The test on CUDA device 0 as well, where `nvh264enc` encodes, when GL runs on another device.
pub(crate) fn interop_on_device_0(report: &InteropReport) -> Check {
    let mut check = interop_row("cuda-gl-interop device 0", report);
    check.detail.push_str(
        "; nvh264enc encodes on CUDA device 0, nvh264device<N>enc on device N: pick the encoder \
         on the GPU whose row passes",
    );
    check
}

/// What the test says about devices: those behind the GL context and the one tested.
pub(crate) fn gl_devices(report: &InteropReport) -> Check {
    const NAME: &str = "cuda-gl-devices";
    let Some(gl) = report.gl_devices_text() else {
        return Check::skip(
            NAME,
            "not asked: the interop test stopped before cuGLGetDevices",
        );
    };
    if gl.is_empty() {
        return Check::info(
            NAME,
            "gl-devices none: no CUDA device is behind the GL context",
        );
    }
    let tested = report.tested_device().map_or_else(String::new, |d| {
        format!(
            ", cuda-device {d} tested ({})",
            if report.requested_device.is_some() {
                "the consumer's"
            } else {
                "the first behind GL; a pipeline tests its encoder's cuda-device-id"
            }
        )
    });
    Check::pass(NAME, format!("gl-devices {gl}{tested}"))
}

fn interop_row(name: &str, report: &InteropReport) -> Check {
    let mut detail = format!("{}: {}", report.outcome.as_str(), report.reason);
    if let Some(error) = report.cuda_error.as_deref()
        && !detail.contains(error)
    {
        detail.push_str(&format!(" ({error})"));
    }
    match report.outcome {
        InteropOutcome::Ok => Check::pass(name, detail),
        // Nothing to test with: the rows above name the missing piece and its fix.
        InteropOutcome::Unavailable if report.cuda_devices.is_none() => {
            Check::skip(name, detail).blocking(Tier::GpuInterop)
        }
        InteropOutcome::Unavailable | InteropOutcome::Skipped | InteropOutcome::Failed => {
            Check::fail(name, detail)
                .with_fix(interop_fix(report))
                .blocking(Tier::GpuInterop)
        }
    }
}

fn interop_fix(report: &InteropReport) -> String {
    if report.status.contains("WSL2") {
        return "none on WSL2: use native Linux for zero-copy".to_owned();
    }
    if let (Some(device), Some(gl)) = (report.tested_device(), report.gl_devices.as_ref())
        && !gl.is_empty()
        && !gl.contains(&device)
    {
        return format!(
            "GL renders on CUDA device {} and the encoder reads on CUDA device {device}: use \
             the encoder of the GL GPU (nvh264device{}enc; nvh264enc is device 0), or make GL \
             render on device {device} (an EGL device display on that GPU)",
            gl[0], gl[0]
        );
    }
    let gl_on_mesa = report.gl.as_ref().is_some_and(GlInfo::is_mesa_or_software);
    if gl_on_mesa || report.gl.is_none() {
        return format!(
            "make GL run on the NVIDIA GPU: export {}, install the NVIDIA EGL vendor file, use the \
             full (not -headless) driver, and in Docker NVIDIA_DRIVER_CAPABILITIES=all",
            gl::GL_HEADLESS_FIX
        );
    }
    format!(
        "GL runs on the GPU but CUDA cannot map its memory: check that CUDA_VISIBLE_DEVICES \
         includes the GL GPU, that GST_GL_WINDOW is not gbm ({}), and that the driver's kernel \
         module and libraries match",
        gl::GL_HEADLESS_FIX
    )
}

/// How an element is needed, and what to do when it is missing.
pub(crate) struct ElementNeed {
    pub(crate) name: &'static str,
    /// Why it matters, shown when it is missing.
    pub(crate) role: &'static str,
    pub(crate) fix: &'static str,
    /// The tier that needs it.
    pub(crate) blocks: Option<Tier>,
    /// Missing is a failure; otherwise the row is informative (nothing to fix).
    pub(crate) required: bool,
}

const NVCODEC_FIX: &str = "needs a working NVIDIA driver with NVENC (libnvidia-encode.so.1; in \
     containers NVIDIA_DRIVER_CAPABILITIES=all) and gstreamer1.0-plugins-bad (nvcodec); then \
     rm -rf ~/.cache/gstreamer-1.0 so the registry is rebuilt";

const STROM_PLUGIN_FIX: &str =
    "install libgststrom.so (meson install) or set GST_PLUGIN_PATH to its folder";

/// Every element the doctor looks up, in the order of the table.
pub(crate) const ELEMENTS: &[ElementNeed] = &[
    ElementNeed {
        name: "glupload",
        role: "GL conversion path",
        fix: gl::GL_PACKAGE_FIX,
        blocks: Some(Tier::GpuInterop),
        required: true,
    },
    ElementNeed {
        name: "glcolorconvert",
        role: "GL conversion path",
        fix: gl::GL_PACKAGE_FIX,
        blocks: Some(Tier::GpuInterop),
        required: true,
    },
    ElementNeed {
        name: "gldownload",
        role: "GL conversion path for system-memory consumers",
        fix: gl::GL_PACKAGE_FIX,
        blocks: Some(Tier::GpuInterop),
        required: true,
    },
    ElementNeed {
        name: "nvh264enc",
        role: "GPU H.264 encoding",
        fix: NVCODEC_FIX,
        blocks: Some(Tier::SoftwareConvertNvenc),
        required: true,
    },
    ElementNeed {
        name: "nvh265enc",
        role: "GPU H.265 encoding",
        fix: "",
        blocks: None,
        required: false,
    },
    ElementNeed {
        name: "nvav1enc",
        role: "GPU AV1 encoding (GStreamer 1.24 or newer and an Ada or newer GPU)",
        fix: "",
        blocks: None,
        required: false,
    },
    ElementNeed {
        name: "nvh264dec",
        role: "GPU H.264 decoding",
        fix: "",
        blocks: None,
        required: false,
    },
    ElementNeed {
        name: "cudaupload",
        role: "CUDA memory upload",
        fix: "",
        blocks: None,
        required: false,
    },
    ElementNeed {
        name: "cudaconvert",
        role: "CUDA conversion, which needs libnvrtc",
        fix: "",
        blocks: None,
        required: false,
    },
    ElementNeed {
        name: "x264enc",
        role: "CPU H.264 encoding",
        fix: "apt-get install gstreamer1.0-plugins-ugly",
        blocks: None,
        required: true,
    },
    ElementNeed {
        name: "videoconvert",
        role: "CPU conversion path",
        fix: "apt-get install gstreamer1.0-plugins-base",
        blocks: None,
        required: true,
    },
    ElementNeed {
        name: "stromautoconvert",
        role: "automatic GL/software conversion",
        fix: STROM_PLUGIN_FIX,
        blocks: None,
        required: true,
    },
    ElementNeed {
        name: "stromautoconvertscale",
        role: "automatic GL/software conversion and scaling",
        fix: STROM_PLUGIN_FIX,
        blocks: None,
        required: true,
    },
    ElementNeed {
        name: "stromautoenc",
        role: "the first encoder that opens, hardware before software",
        fix: STROM_PLUGIN_FIX,
        blocks: None,
        required: true,
    },
    ElementNeed {
        name: "stromcompositor",
        role: "mixing on the GPU or the CPU",
        fix: STROM_PLUGIN_FIX,
        blocks: None,
        required: true,
    },
    ElementNeed {
        name: "stromgpumonitor",
        role: "GPU statistics as bus messages",
        fix: STROM_PLUGIN_FIX,
        blocks: None,
        required: true,
    },
];

/// One element: `found` is the plugin (name and version) that provides it, if registered.
pub(crate) fn element(need: &ElementNeed, found: Option<&str>) -> Check {
    let name = format!("element {}", need.name);
    if let Some(plugin) = found {
        return Check::pass(&name, format!("from plugin {plugin}"));
    }
    if !need.required {
        return Check::info(
            &name,
            format!("not registered (used for {}; informative only)", need.role),
        );
    }
    let check =
        Check::fail(&name, format!("not registered (needed for {})", need.role)).with_fix(need.fix);
    match need.blocks {
        Some(tier) => check.blocking(tier),
        None => check,
    }
}

/// Whether GStreamer's registry finds the installed `strom` plugin (`installed`: its file and
/// version), and whether the doctor fell back to its own built-in copy to check the elements.
pub(crate) fn strom_plugin(installed: Option<&str>, registered_builtin: bool) -> Check {
    const NAME: &str = "strom-plugin";
    match installed {
        Some(file) => Check::pass(NAME, format!("installed: {file}")),
        None => {
            let fallback = if registered_builtin {
                "; the element rows show strom-doctor's built-in copy"
            } else {
                ""
            };
            Check::warn(
                NAME,
                format!(
                    "GStreamer's registry has no 'strom' plugin (gst-inspect-1.0 strom fails, \
                     gst-launch-1.0 cannot use its elements){fallback}"
                ),
            )
            .with_fix(
                "install libgststrom.so into $(pkg-config --variable=pluginsdir gstreamer-1.0) \
                 (meson install does) or set GST_PLUGIN_PATH to the folder holding it",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Level;
    use crate::gpu::libraries::OpenedLibrary;
    use std::path::PathBuf;
    use std::time::Duration;

    fn mesa() -> GlInfo {
        crate::gpu::gl::llvmpipe_for_tests()
    }

    fn report(outcome: InteropOutcome, status: &str, cuda_error: Option<&str>) -> InteropReport {
        InteropReport {
            outcome,
            status: status.into(),
            reason: "reason".into(),
            cuda_error: cuda_error.map(str::to_owned),
            gl: None,
            cuda_devices: Some(1),
            device: None,
            gl_devices: None,
            requested_device: None,
            display: None,
            shadow: None,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn container_without_capabilities_points_at_the_runtime_flags() {
        let check = container(true, &platform::driver_capabilities_from(None));
        assert_eq!(check.level, Level::Warn);
        assert!(check.detail.contains("lacks graphics"), "{}", check.detail);
        assert!(check.fix.as_deref().unwrap().contains("--gpus all"));
        assert_eq!(check.blocks, Some(Tier::SoftwareConvertNvenc));

        let video_only = container(true, &platform::driver_capabilities_from(Some("video")));
        assert_eq!(video_only.blocks, Some(Tier::GpuInterop));

        assert!(container(true, &platform::driver_capabilities_from(Some("all"))).ok());
        assert!(container(false, &platform::driver_capabilities_from(None)).ok());
    }

    #[test]
    fn wsl_blocks_interop_only() {
        assert!(wsl(false).ok());
        let check = wsl(true);
        assert_eq!(check.level, Level::Fail);
        assert_eq!(check.blocks, Some(Tier::GpuInterop));
        assert!(check.detail.contains("interop is unsupported"));
    }

    #[test]
    fn cuda_visible_devices_cases() {
        assert!(cuda_visible_devices(None).ok());
        assert_eq!(cuda_visible_devices(Some("-1")).level, Level::Warn);
        assert_eq!(cuda_visible_devices(Some("")).level, Level::Warn);
        let some = cuda_visible_devices(Some("1"));
        assert_eq!(some.level, Level::Info);
        assert!(some.detail.starts_with("1: CUDA sees only"));
    }

    #[test]
    fn missing_libcuda_fix_depends_on_where_we_run() {
        let err = Err("libcuda.so.1 not found".to_owned());
        let native = libcuda(&err, false);
        assert_eq!(native.level, Level::Fail);
        assert!(
            native
                .fix
                .as_deref()
                .unwrap()
                .contains("install-nvidia-driver.sh")
        );
        let docker = libcuda(&err, true);
        assert!(docker.fix.as_deref().unwrap().contains("--gpus all"));
        let ok = libcuda(&Ok(Some("/usr/lib/libcuda.so.1".into())), false);
        assert_eq!(ok.detail, "loaded from /usr/lib/libcuda.so.1");
    }

    #[test]
    fn cuda_devices_are_listed_by_ordinal() {
        let names = Ok(vec!["NVIDIA H100".to_owned(), "NVIDIA L4".to_owned()]);
        let check = cuda_devices(Some(&names));
        assert!(check.ok());
        assert_eq!(
            check.detail,
            "cuInit ok, 2 device(s): 0: NVIDIA H100, 1: NVIDIA L4"
        );
        assert_eq!(cuda_devices(None).level, Level::Skip);
        let failed = Err("cuInit returned CUDA_ERROR_NO_DEVICE".to_owned());
        let check = cuda_devices(Some(&failed));
        assert_eq!(check.level, Level::Fail);
        assert!(check.detail.contains("CUDA_ERROR_NO_DEVICE"));
        assert_eq!(cuda_devices(Some(&Ok(vec![]))).level, Level::Fail);
    }

    #[test]
    fn nvidia_smi_is_informative_either_way() {
        assert!(nvidia_smi(None).ok());
        assert!(nvidia_smi(Some(Path::new("/usr/bin/nvidia-smi"))).ok());
    }

    #[test]
    fn nvml_results() {
        let check = nvml(None);
        assert_eq!(check.level, Level::Skip);
        assert_eq!(check.detail, "not checked in this build");
        let ok = nvml(Some(Ok(NvmlAnswer {
            device_count: 2,
            driver_version: Some("550.54.15".into()),
        })));
        assert_eq!(ok.detail, "2 device(s), driver 550.54.15");
        let missing = nvml(Some(Err(NvmlMissing {
            reason: "libnvidia-ml.so.1 not found".into(),
            fix: "install the driver".into(),
        })));
        assert_eq!(missing.level, Level::Warn);
        assert!(missing.detail.starts_with("libnvidia-ml.so.1 not found"));
        assert_eq!(missing.fix.as_deref(), Some("install the driver"));
        assert_eq!(missing.blocks, None);
    }

    #[test]
    fn nvrtc_explains_what_it_is_for() {
        let missing = libnvrtc(&NvrtcProbe {
            opened: None,
            gstreamer_name: "libnvrtc.so".into(),
        });
        assert_eq!(missing.level, Level::Warn);
        assert!(missing.detail.contains("cudaconvert and cudascale"));
        let versioned = libnvrtc(&NvrtcProbe {
            opened: Some(OpenedLibrary {
                name: "libnvrtc.so.12".into(),
                version: Some("12.4".into()),
            }),
            gstreamer_name: "libnvrtc.so".into(),
        });
        assert_eq!(
            versioned.fix.as_deref(),
            Some("export GST_CUDA_NVRTC_LIBNAME=libnvrtc.so.12")
        );
    }

    #[test]
    fn egl_vendor_fix_carries_the_exact_json() {
        let check = egl_vendor_file(&EglVendorFile::Missing);
        assert_eq!(check.level, Level::Fail);
        let fix = check.fix.unwrap();
        assert!(fix.starts_with("create /usr/share/glvnd/egl_vendor.d/10_nvidia.json"));
        assert!(fix.contains(platform::NVIDIA_EGL_VENDOR_JSON.trim_end()));
        let overridden = egl_vendor_file(&EglVendorFile::OverriddenWithoutNvidia("/x".into()));
        assert!(
            overridden
                .detail
                .contains("__EGL_VENDOR_LIBRARY_FILENAMES=/x")
        );
        assert!(
            overridden
                .fix
                .unwrap()
                .contains("\"library_path\" : \"libEGL_nvidia.so.0\"")
        );
        let found = egl_vendor_file(&EglVendorFile::Found(PathBuf::from("/a/10_nvidia.json")));
        assert!(found.ok());
    }

    #[test]
    fn gl_environment_warns_on_gbm_and_headless_defaults() {
        let env = |window: Option<&str>, platform: Option<&str>, headless: bool| GlEnvironment {
            gl_window: window.map(str::to_owned),
            gl_platform: platform.map(str::to_owned),
            headless,
        };
        let gbm = gl_environment(&env(Some("gbm"), None, true));
        assert_eq!(gbm.level, Level::Warn);
        assert!(gbm.detail.contains("GBM"));
        assert_eq!(
            gbm.fix.as_deref(),
            Some("export GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl")
        );
        let headless = gl_environment(&env(None, None, true));
        assert_eq!(headless.level, Level::Warn);
        assert!(headless.detail.contains("no DISPLAY"));
        assert!(gl_environment(&env(Some("egl-device"), Some("egl"), true)).ok());
        assert_eq!(gl_environment(&env(None, None, false)).level, Level::Info);
    }

    #[test]
    fn mesa_gl_is_flagged() {
        let check = gl_context(&Ok(mesa()));
        assert_eq!(check.level, Level::Fail);
        assert!(check.detail.ends_with("NVIDIA GPU not used for GL"));
        assert!(check.detail.contains("GL_RENDERER=llvmpipe"));
        let nvidia = GlInfo {
            vendor: "NVIDIA Corporation".into(),
            renderer: "NVIDIA H100/PCIe/SSE2".into(),
            ..mesa()
        };
        assert!(gl_context(&Ok(nvidia)).ok());
        let none = gl_context(&Err(
            "no GL context on display 'egl': EGL_NOT_INITIALIZED".into()
        ));
        assert!(none.fix.unwrap().contains("GST_GL_WINDOW=egl-device"));
    }

    #[test]
    fn the_stub_row_warns_without_blocking_and_names_the_folder() {
        assert!(libcuda_stub(None, None).ok());
        let stub = ShadowLibrary {
            path: PathBuf::from("/usr/local/cuda/lib64/stubs/libcuda.so"),
            looks_like_stub: true,
        };
        let driver = PathBuf::from("/usr/lib/x86_64-linux-gnu/libcuda.so.1");
        let check = libcuda_stub(Some(&stub), Some(&driver));
        assert_eq!(check.level, Level::Warn);
        assert_eq!(check.blocks, None);
        assert!(
            check
                .detail
                .contains("/usr/local/cuda/lib64/stubs/libcuda.so")
        );
        assert!(
            check
                .detail
                .contains("/usr/lib/x86_64-linux-gnu/libcuda.so.1")
        );
        assert!(
            check
                .fix
                .unwrap()
                .contains("take /usr/local/cuda/lib64/stubs off LD_LIBRARY_PATH")
        );
        let stub_driver = cuda_devices(Some(&Err(
            "cuInit returned CUDA_ERROR_STUB_LIBRARY".to_owned()
        )));
        assert!(stub_driver.fix.unwrap().contains("link-time stub"));
    }

    #[test]
    fn gl_devices_row_shows_what_was_tested() {
        let mut report = report(InteropOutcome::Ok, "ok", None);
        assert_eq!(gl_devices(&report).level, Level::Skip);
        report.gl_devices = Some(vec![]);
        assert_eq!(gl_devices(&report).level, Level::Info);
        report.gl_devices = Some(vec![1, 0]);
        report.device = Some(crate::gpu::interop::InteropDevice {
            handle: 1,
            name: "GPU".into(),
        });
        let check = gl_devices(&report);
        assert!(check.ok());
        assert!(
            check
                .detail
                .starts_with("gl-devices 1,0, cuda-device 1 tested"),
            "{}",
            check.detail
        );
        assert!(
            interop_on_device_0(&report)
                .detail
                .contains("nvh264enc encodes on CUDA device 0")
        );

        let mut crossed = report_failed_on(0, vec![1]);
        crossed.gl = Some(mesa());
        let fix = interop(&crossed).fix.unwrap();
        assert!(fix.contains("nvh264device1enc"), "{fix}");
    }

    fn report_failed_on(device: i32, gl_devices: Vec<i32>) -> InteropReport {
        let mut report = report(
            InteropOutcome::Failed,
            "failed: CUDA_ERROR_OPERATING_SYSTEM",
            Some("CUDA_ERROR_OPERATING_SYSTEM"),
        );
        report.device = Some(crate::gpu::interop::InteropDevice {
            handle: device,
            name: "GPU".into(),
        });
        report.gl_devices = Some(gl_devices);
        report
    }

    #[test]
    fn interop_rows_carry_the_cuda_error() {
        let failed = interop(&report(
            InteropOutcome::Failed,
            "failed: CUDA_ERROR_OPERATING_SYSTEM",
            Some("CUDA_ERROR_OPERATING_SYSTEM"),
        ));
        assert_eq!(failed.level, Level::Fail);
        assert_eq!(
            failed.detail,
            "failed: reason (CUDA_ERROR_OPERATING_SYSTEM)"
        );
        assert_eq!(failed.blocks, Some(Tier::GpuInterop));
        assert!(failed.fix.is_some());

        let mut no_driver = report(
            InteropOutcome::Unavailable,
            "unavailable: libcuda.so.1 not found",
            None,
        );
        no_driver.cuda_devices = None;
        let check = interop(&no_driver);
        assert_eq!(check.level, Level::Skip);
        assert!(check.fix.is_none());

        assert!(interop(&report(InteropOutcome::Ok, "ok", None)).ok());
        let wsl = interop(&report(InteropOutcome::Skipped, "skipped: WSL2", None));
        assert!(wsl.fix.unwrap().contains("WSL2"));
    }

    #[test]
    fn elements_fail_warn_or_inform_by_need() {
        let need = |name: &str| ELEMENTS.iter().find(|n| n.name == name).unwrap();
        let gl = element(need("gldownload"), None);
        assert_eq!(gl.level, Level::Fail);
        assert_eq!(gl.fix.as_deref(), Some("apt-get install gstreamer1.0-gl"));
        assert_eq!(gl.blocks, Some(Tier::GpuInterop));
        assert_eq!(
            element(need("nvh264enc"), None).blocks,
            Some(Tier::SoftwareConvertNvenc)
        );
        assert_eq!(element(need("nvav1enc"), None).level, Level::Info);
        let found = element(need("x264enc"), Some("x264 1.22.0"));
        assert!(found.ok());
        assert_eq!(found.name, "element x264enc");
        assert_eq!(found.detail, "from plugin x264 1.22.0");
    }

    #[test]
    fn every_issue_element_is_checked() {
        let names: Vec<&str> = ELEMENTS.iter().map(|n| n.name).collect();
        for name in [
            "glupload",
            "glcolorconvert",
            "gldownload",
            "nvh264enc",
            "nvh265enc",
            "nvav1enc",
            "nvh264dec",
            "cudaupload",
            "cudaconvert",
            "x264enc",
            "videoconvert",
            "stromautoconvert",
            "stromautoconvertscale",
            "stromautoenc",
            "stromcompositor",
            "stromgpumonitor",
        ] {
            assert!(names.contains(&name), "{name}");
        }
    }

    #[test]
    fn strom_plugin_reports_registry_and_fallback() {
        assert!(strom_plugin(Some("/usr/lib/gstreamer-1.0/libgststrom.so"), false).ok());
        let missing = strom_plugin(None, true);
        assert_eq!(missing.level, Level::Warn);
        assert!(missing.detail.contains("built-in copy"));
        assert!(missing.fix.unwrap().contains("GST_PLUGIN_PATH"));
    }
}
