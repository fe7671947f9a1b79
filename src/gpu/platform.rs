// SPDX-License-Identifier: MPL-2.0
//! Facts about the machine that decide whether CUDA-GL interop can work at all, read without
//! touching any GPU library: WSL2, containers, the GLVND EGL vendor file, the GL environment.
//!
//! Each check has a pure `*_from` form that takes its inputs, so unit tests need no special host.

use std::path::{Path, PathBuf};

/// The NVIDIA EGL vendor library that GLVND must be told about.
pub(crate) const NVIDIA_EGL_LIBRARY: &str = "libEGL_nvidia.so.0";

/// Where GLVND looks for EGL vendor files when `__EGL_VENDOR_LIBRARY_*` are unset.
pub(crate) const EGL_VENDOR_DIRS: &[&str] =
    &["/etc/glvnd/egl_vendor.d", "/usr/share/glvnd/egl_vendor.d"];

/// The usual location of NVIDIA's vendor file, named in fixes.
pub(crate) const NVIDIA_EGL_VENDOR_FILE: &str = "/usr/share/glvnd/egl_vendor.d/10_nvidia.json";

/// The exact vendor file content NVIDIA's driver installs.
pub const NVIDIA_EGL_VENDOR_JSON: &str = "{\n    \"file_format_version\" : \"1.0.0\",\n    \"ICD\" : {\n        \"library_path\" : \"libEGL_nvidia.so.0\"\n    }\n}\n";

/// True on WSL2: its GPU driver exposes CUDA but no NVIDIA OpenGL/EGL, so interop cannot work.
/// Detected as Strom does: `WSL_INTEROP` or `WSL_DISTRO_NAME` set (WSL sets both in its shells),
/// or `/proc/version` naming `microsoft` or `WSL` in any case (the WSL2 kernel's version string,
/// which a container on WSL2 sees too).
pub(crate) fn is_wsl() -> bool {
    let proc_version = std::fs::read_to_string("/proc/version").unwrap_or_default();
    let env_set = ["WSL_INTEROP", "WSL_DISTRO_NAME"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    is_wsl_from(&proc_version, env_set)
}

pub(crate) fn is_wsl_from(proc_version: &str, wsl_env_set: bool) -> bool {
    let version = proc_version.to_ascii_lowercase();
    wsl_env_set || version.contains("microsoft") || version.contains("wsl")
}

/// Device nodes through which a GL driver can reach a GPU: DRM (`/dev/dri/*`, Mesa and
/// NVIDIA's DRM), NVIDIA's own (`/dev/nvidia0`, ...) and WSL2's (`/dev/dxg`).
pub(crate) fn gpu_device_nodes() -> Vec<String> {
    let list = |dir: &str, prefix: &str| -> Vec<String> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(prefix))
            .map(|name| format!("{dir}/{name}"))
            .collect()
    };
    let mut nodes = list("/dev/dri", "");
    nodes.extend(
        list("/dev", "nvidia")
            .into_iter()
            .filter(|n| n["/dev/nvidia".len()..].chars().all(|c| c.is_ascii_digit())),
    );
    nodes.extend(list("/dev", "dxg"));
    nodes
}

/// Why every GL context this process could make would rasterise on the CPU, known without
/// making one (which loads Mesa and LLVM, tens of MB that stay mapped): no GPU device node at
/// all. `None` where a GPU may be reachable (then only a context can tell).
pub(crate) fn gl_on_cpu_only() -> Option<String> {
    gl_on_cpu_only_from(&gpu_device_nodes())
}

pub(crate) fn gl_on_cpu_only_from(device_nodes: &[String]) -> Option<String> {
    device_nodes.is_empty().then(|| {
        "no GPU device node (/dev/dri/*, /dev/nvidia*, /dev/dxg) in this process's view, so GL \
         here could only rasterise on the CPU"
            .to_owned()
    })
}

/// True inside Docker, Podman or Kubernetes.
pub(crate) fn in_container() -> bool {
    let cgroup = std::fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    let markers_present = ["/.dockerenv", "/run/.containerenv"]
        .iter()
        .any(|p| Path::new(p).exists());
    in_container_from(
        markers_present,
        &cgroup,
        std::env::var_os("container").is_some(),
    )
}

pub(crate) fn in_container_from(
    marker_file_present: bool,
    cgroup: &str,
    container_env: bool,
) -> bool {
    marker_file_present
        || container_env
        || ["docker", "kubepods", "containerd", "libpod", "lxc"]
            .iter()
            .any(|m| cgroup.contains(m))
}

/// What the NVIDIA container runtime was asked to mount, from `NVIDIA_DRIVER_CAPABILITIES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DriverCapabilities {
    pub(crate) raw: Option<String>,
    /// `graphics` (EGL/GL libraries) is mounted: needed for CUDA-GL interop.
    pub(crate) graphics: bool,
    /// `video` (NVENC/NVDEC libraries) is mounted: needed for nvh264enc.
    pub(crate) video: bool,
}

pub(crate) fn driver_capabilities() -> DriverCapabilities {
    driver_capabilities_from(std::env::var("NVIDIA_DRIVER_CAPABILITIES").ok().as_deref())
}

pub(crate) fn driver_capabilities_from(value: Option<&str>) -> DriverCapabilities {
    let caps: Vec<&str> = value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let has = |name: &str| caps.iter().any(|c| *c == "all" || *c == name);
    DriverCapabilities {
        raw: value.map(str::to_owned),
        graphics: has("graphics"),
        video: has("video"),
    }
}

/// Where the NVIDIA EGL vendor file was looked for, and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EglVendorFile {
    /// A vendor file names `libEGL_nvidia.so.0`.
    Found(PathBuf),
    /// `__EGL_VENDOR_LIBRARY_FILENAMES` is set but none of its files names the NVIDIA library.
    OverriddenWithoutNvidia(String),
    /// No vendor file names the NVIDIA library.
    Missing,
}

/// Finds the vendor file GLVND would use for NVIDIA, honouring the same variables GLVND does.
pub(crate) fn nvidia_egl_vendor_file() -> EglVendorFile {
    let filenames = std::env::var("__EGL_VENDOR_LIBRARY_FILENAMES").ok();
    let dirs = std::env::var("__EGL_VENDOR_LIBRARY_DIRS").ok();
    nvidia_egl_vendor_file_from(filenames.as_deref(), dirs.as_deref(), |p| {
        std::fs::read_to_string(p).ok()
    })
}

pub(crate) fn nvidia_egl_vendor_file_from(
    filenames: Option<&str>,
    dirs: Option<&str>,
    read: impl Fn(&Path) -> Option<String>,
) -> EglVendorFile {
    let names_nvidia = |p: &Path| read(p).is_some_and(|text| text.contains(NVIDIA_EGL_LIBRARY));
    if let Some(list) = filenames.filter(|l| !l.is_empty()) {
        // GLVND uses exactly these files and ignores the directories.
        return list
            .split(':')
            .map(PathBuf::from)
            .find(|p| names_nvidia(p))
            .map_or_else(
                || EglVendorFile::OverriddenWithoutNvidia(list.to_owned()),
                EglVendorFile::Found,
            );
    }
    let search: Vec<PathBuf> = match dirs.filter(|d| !d.is_empty()) {
        Some(d) => d.split(':').map(PathBuf::from).collect(),
        None => EGL_VENDOR_DIRS.iter().map(PathBuf::from).collect(),
    };
    search
        .iter()
        .flat_map(|dir| json_files_in(dir))
        .find(|p| names_nvidia(p))
        .map_or(EglVendorFile::Missing, EglVendorFile::Found)
}

fn json_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The GL display selection variables GStreamer reads, as set now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct GlEnvironment {
    pub(crate) gl_window: Option<String>,
    pub(crate) gl_platform: Option<String>,
    /// Neither `DISPLAY` nor `WAYLAND_DISPLAY` is set.
    pub(crate) headless: bool,
}

pub(crate) fn gl_environment() -> GlEnvironment {
    GlEnvironment {
        gl_window: std::env::var("GST_GL_WINDOW").ok(),
        gl_platform: std::env::var("GST_GL_PLATFORM").ok(),
        headless: std::env::var_os("DISPLAY").is_none()
            && std::env::var_os("WAYLAND_DISPLAY").is_none(),
    }
}

impl GlEnvironment {
    /// The headless set-up that works with the NVIDIA driver (and with Mesa for testing).
    pub(crate) fn is_egl_device(&self) -> bool {
        self.gl_window.as_deref() == Some("egl-device")
            && self.gl_platform.as_deref() == Some("egl")
    }

    pub(crate) fn is_gbm(&self) -> bool {
        self.gl_window.as_deref() == Some("gbm")
    }
}

/// `CUDA_VISIBLE_DEVICES` when set: it can hide the GPU that drives GL from CUDA.
pub(crate) fn cuda_visible_devices() -> Option<String> {
    std::env::var("CUDA_VISIBLE_DEVICES").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wsl_is_detected_from_proc_version_or_env() {
        assert!(is_wsl_from(
            "Linux version 5.15.153.1-microsoft-standard-WSL2",
            false
        ));
        assert!(is_wsl_from("Linux version 6.1.0-18-amd64", true));
        assert!(is_wsl_from(
            "Linux version 5.10.16.3-MICROSOFT-standard",
            false
        ));
        assert!(is_wsl_from("Linux version 6.6.36.3-wsl2-custom", false));
        assert!(!is_wsl_from(
            "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org)",
            false
        ));
    }

    #[test]
    fn containers_are_detected_from_any_marker() {
        assert!(in_container_from(true, "", false));
        assert!(in_container_from(false, "0::/docker/abc123", false));
        assert!(in_container_from(
            false,
            "0::/kubepods/besteffort/pod1",
            false
        ));
        assert!(in_container_from(false, "0::/", true));
        assert!(!in_container_from(false, "0::/init.scope", false));
    }

    #[test]
    fn driver_capabilities_understand_all_and_lists() {
        let all = driver_capabilities_from(Some("all"));
        assert!(all.graphics && all.video);
        let compute = driver_capabilities_from(Some("compute,utility"));
        assert!(!compute.graphics && !compute.video);
        let video = driver_capabilities_from(Some("compute, video ,graphics"));
        assert!(video.graphics && video.video);
        assert!(!driver_capabilities_from(None).graphics);
    }

    #[test]
    fn vendor_file_override_is_honoured_exclusively() {
        let read = |p: &Path| match p.to_str() {
            Some("/x/10_nvidia.json") => Some(NVIDIA_EGL_VENDOR_JSON.to_owned()),
            Some("/x/50_mesa.json") => Some("{\"library_path\": \"libEGL_mesa.so.0\"}".into()),
            _ => None,
        };
        assert_eq!(
            nvidia_egl_vendor_file_from(Some("/x/50_mesa.json:/x/10_nvidia.json"), None, read),
            EglVendorFile::Found(PathBuf::from("/x/10_nvidia.json"))
        );
        assert_eq!(
            nvidia_egl_vendor_file_from(Some("/x/50_mesa.json"), None, read),
            EglVendorFile::OverriddenWithoutNvidia("/x/50_mesa.json".into())
        );
    }

    #[test]
    fn vendor_file_is_found_in_search_dirs() {
        let dir = std::env::temp_dir().join(format!("strom-egl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("50_mesa.json"),
            "{\"library_path\":\"libEGL_mesa.so.0\"}",
        )
        .unwrap();
        let dirs = dir.to_str().unwrap().to_owned();
        let read = |p: &Path| std::fs::read_to_string(p).ok();
        assert_eq!(
            nvidia_egl_vendor_file_from(None, Some(&dirs), read),
            EglVendorFile::Missing
        );
        std::fs::write(dir.join("10_nvidia.json"), NVIDIA_EGL_VENDOR_JSON).unwrap();
        assert_eq!(
            nvidia_egl_vendor_file_from(None, Some(&dirs), read),
            EglVendorFile::Found(dir.join("10_nvidia.json"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gl_environment_recognises_egl_device_and_gbm() {
        let env = GlEnvironment {
            gl_window: Some("egl-device".into()),
            gl_platform: Some("egl".into()),
            headless: true,
        };
        assert!(env.is_egl_device() && !env.is_gbm());
        let gbm = GlEnvironment {
            gl_window: Some("gbm".into()),
            ..Default::default()
        };
        assert!(gbm.is_gbm() && !gbm.is_egl_device());
    }

    #[test]
    fn gl_is_known_to_be_on_the_cpu_only_without_any_gpu_device_node() {
        assert!(gl_on_cpu_only_from(&[]).is_some_and(|why| why.contains("/dev/dri")));
        assert_eq!(gl_on_cpu_only_from(&["/dev/dri/renderD128".into()]), None);
        assert_eq!(gl_on_cpu_only_from(&["/dev/nvidia0".into()]), None);
    }
}
