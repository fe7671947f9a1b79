// SPDX-License-Identifier: MPL-2.0
//! The verdict: which tier a pipeline will get, and which fix to apply first.
//!
//! The tier follows from four facts the elements themselves depend on, not from the count of
//! failed rows: a machine can fail an advisory row (no EGL vendor file on a desktop that uses GLX)
//! and still get zero-copy, because the interop test passed.

use super::{Check, Tier};

/// What decides the tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// CUDA devices visible to this process (0 without a driver).
    pub(crate) cuda_devices: usize,
    /// `nvh264enc` is registered (nvcodec found NVENC on a GPU).
    pub(crate) nvenc_element: bool,
    /// `glupload`, `glcolorconvert` and `gldownload` are registered.
    pub(crate) gl_elements: bool,
    /// The CUDA-GL interop test registered and mapped a GL buffer in this process.
    pub(crate) interop_works: bool,
}

/// The tier a pipeline through `stromautoconvert` and an H.264 encoder gets with `caps`.
pub(crate) fn tier(caps: &Capabilities) -> Tier {
    let nvenc = caps.cuda_devices > 0 && caps.nvenc_element;
    if nvenc && caps.gl_elements && caps.interop_works {
        Tier::GpuInterop
    } else if nvenc {
        Tier::SoftwareConvertNvenc
    } else {
        Tier::Software
    }
}

/// The fix to apply first: of the rows that need action and stand between `tier` and a better
/// one, those blocking the next tier up come first, and among them the earliest row (rows are
/// ordered from the environment inwards, so a container flag comes before the library it
/// mounts). `None` at the top tier.
pub(crate) fn first_fix(checks: &[Check], tier: Tier) -> Option<String> {
    if tier == Tier::GpuInterop {
        return None;
    }
    let needs_action = |c: &&Check| !c.ok() && c.fix.is_some();
    let next_blocker = checks
        .iter()
        .filter(needs_action)
        .filter_map(|c| c.blocks.filter(|b| *b > tier).map(|b| (b, c)))
        .min_by_key(|(blocks, _)| *blocks)
        .map(|(_, check)| check);
    next_blocker
        .or_else(|| checks.iter().find(needs_action))
        .and_then(|c| c.fix.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(cuda_devices: usize, nvenc: bool, gl: bool, interop: bool) -> Capabilities {
        Capabilities {
            cuda_devices,
            nvenc_element: nvenc,
            gl_elements: gl,
            interop_works: interop,
        }
    }

    #[test]
    fn no_gpu_is_software() {
        assert_eq!(tier(&Capabilities::default()), Tier::Software);
        // The interop stand-in can "work" without NVENC: still no GPU encoder.
        assert_eq!(tier(&caps(1, false, true, true)), Tier::Software);
    }

    #[test]
    fn nvenc_without_interop_is_software_convert() {
        assert_eq!(
            tier(&caps(1, true, true, false)),
            Tier::SoftwareConvertNvenc
        );
        assert_eq!(
            tier(&caps(1, true, false, true)),
            Tier::SoftwareConvertNvenc
        );
        // An element registered from a stale registry without a device is not a GPU.
        assert_eq!(tier(&caps(0, true, true, true)), Tier::Software);
    }

    #[test]
    fn everything_working_is_gpu_interop() {
        assert_eq!(tier(&caps(2, true, true, true)), Tier::GpuInterop);
    }

    #[test]
    fn first_fix_prefers_the_next_tier_then_table_order() {
        let checks = vec![
            Check::pass("container", "not in a container"),
            Check::fail("EGL vendor file", "missing")
                .with_fix("write 10_nvidia.json")
                .blocking(Tier::GpuInterop),
            Check::fail("libcuda", "libcuda.so.1 not found")
                .with_fix("install the NVIDIA driver")
                .blocking(Tier::SoftwareConvertNvenc),
            Check::fail("cuda devices", "not checked").blocking(Tier::SoftwareConvertNvenc),
        ];
        assert_eq!(
            first_fix(&checks, Tier::Software).as_deref(),
            Some("install the NVIDIA driver")
        );
        assert_eq!(
            first_fix(&checks, Tier::SoftwareConvertNvenc).as_deref(),
            Some("write 10_nvidia.json")
        );
        assert_eq!(first_fix(&checks, Tier::GpuInterop), None);
    }

    #[test]
    fn warnings_count_and_earlier_rows_win() {
        let checks = vec![
            Check::warn("container", "capabilities lack video")
                .with_fix("NVIDIA_DRIVER_CAPABILITIES=all")
                .blocking(Tier::SoftwareConvertNvenc),
            Check::fail("libcuda", "libcuda.so.1 not found")
                .with_fix("install the NVIDIA driver")
                .blocking(Tier::SoftwareConvertNvenc),
        ];
        assert_eq!(
            first_fix(&checks, Tier::Software).as_deref(),
            Some("NVIDIA_DRIVER_CAPABILITIES=all")
        );
    }

    #[test]
    fn without_a_blocking_row_the_first_actionable_row_is_the_fix() {
        let checks = vec![
            Check::info("nvidia-smi", "not on PATH"),
            Check::warn("libnvrtc", "missing").with_fix("install libnvrtc"),
        ];
        assert_eq!(
            first_fix(&checks, Tier::Software).as_deref(),
            Some("install libnvrtc")
        );
        assert_eq!(first_fix(&[], Tier::Software), None);
    }
}
