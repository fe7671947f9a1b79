// SPDX-License-Identifier: MPL-2.0
//! NVIDIA user-space libraries that this project never calls but whose presence decides what
//! GStreamer can do: CUDA's runtime compiler (nvcodec's `cudaconvert`/`cudascale`) and the NVIDIA
//! EGL vendor library (GL on the GPU when headless). They are only opened, never used.

use std::ffi::c_int;

/// The name GStreamer's nvcodec opens (1.22), overridable with `GST_CUDA_NVRTC_LIBNAME`.
pub(crate) const NVRTC_LIBNAME: &str = "libnvrtc.so";

/// Names tried after the unversioned one: CUDA toolkits and pip wheels often ship only these.
const NVRTC_VERSIONED_NAMES: &[&str] = &[
    "libnvrtc.so.13",
    "libnvrtc.so.12",
    "libnvrtc.so.11.2",
    "libnvrtc.so.11.1",
    "libnvrtc.so.11.0",
];

/// A library that opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenedLibrary {
    /// The name that opened, as passed to the dynamic loader.
    pub(crate) name: String,
    /// `major.minor` when the library reports its version.
    pub(crate) version: Option<String>,
}

/// The runtime compiler as nvcodec would find it, and under which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NvrtcProbe {
    /// What opened, if anything.
    pub(crate) opened: Option<OpenedLibrary>,
    /// The name GStreamer will open: `GST_CUDA_NVRTC_LIBNAME` or `libnvrtc.so`.
    pub(crate) gstreamer_name: String,
}

impl NvrtcProbe {
    /// True when the library opened under the name GStreamer asks for.
    pub(crate) fn usable_by_gstreamer(&self) -> bool {
        self.opened
            .as_ref()
            .is_some_and(|lib| lib.name == self.gstreamer_name)
    }
}

/// Opens `libnvrtc` the way nvcodec does, then under its versioned names.
pub(crate) fn probe_nvrtc() -> NvrtcProbe {
    let gstreamer_name = std::env::var("GST_CUDA_NVRTC_LIBNAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| NVRTC_LIBNAME.to_owned());
    let opened = std::iter::once(gstreamer_name.as_str())
        .chain(NVRTC_VERSIONED_NAMES.iter().copied())
        .find_map(open_nvrtc);
    NvrtcProbe {
        opened,
        gstreamer_name,
    }
}

fn open_nvrtc(name: &str) -> Option<OpenedLibrary> {
    // SAFETY: libnvrtc has no initialisers with preconditions; we only read its version.
    let lib = unsafe { libloading::Library::new(name) }.ok()?;
    // SAFETY: `nvrtcVersion(int *major, int *minor)` per nvrtc.h.
    let version = unsafe {
        lib.get::<unsafe extern "C" fn(*mut c_int, *mut c_int) -> c_int>(b"nvrtcVersion")
    }
    .ok()
    .and_then(|nvrtc_version| {
        let (mut major, mut minor) = (0, 0);
        // SAFETY: writes two ints; returns NVRTC_SUCCESS (0) on success.
        (unsafe { nvrtc_version(&mut major, &mut minor) } == 0).then(|| format!("{major}.{minor}"))
    });
    Some(OpenedLibrary {
        name: name.to_owned(),
        version,
    })
}

/// Whether the dynamic loader can open `libEGL_nvidia.so.0`, the library GLVND loads for EGL on
/// the NVIDIA GPU. Opened `RTLD_LAZY | RTLD_LOCAL` and kept open: GLVND would load it anyway, and
/// unloading vendor GL libraries is not safe.
pub(crate) fn nvidia_egl_library_loadable() -> Result<(), String> {
    use libloading::os::unix::{Library, RTLD_LAZY, RTLD_LOCAL};
    // SAFETY: the vendor library's initialisers run as they would under GLVND.
    match unsafe {
        Library::open(
            Some(super::platform::NVIDIA_EGL_LIBRARY),
            RTLD_LAZY | RTLD_LOCAL,
        )
    } {
        Ok(lib) => {
            std::mem::forget(lib);
            Ok(())
        }
        Err(err) => Err(loader_message(&err)),
    }
}

/// The dynamic loader's own words (`libloading` keeps them in the error's source).
fn loader_message(err: &libloading::Error) -> String {
    use std::error::Error;
    err.source()
        .map_or_else(|| err.to_string(), |source| source.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gstreamer_uses_only_its_own_name() {
        let probe = |name: &str| NvrtcProbe {
            opened: Some(OpenedLibrary {
                name: name.into(),
                version: Some("12.4".into()),
            }),
            gstreamer_name: NVRTC_LIBNAME.into(),
        };
        assert!(probe("libnvrtc.so").usable_by_gstreamer());
        assert!(!probe("libnvrtc.so.12").usable_by_gstreamer());
    }

    #[test]
    fn missing_libraries_are_errors_not_crashes() {
        // Whether or not the libraries exist here, both probes return an answer.
        let probe = probe_nvrtc();
        assert!(!probe.gstreamer_name.is_empty());
        if let Err(reason) = nvidia_egl_library_loadable() {
            assert!(reason.contains("libEGL_nvidia.so.0"), "{reason}");
        }
    }
}
