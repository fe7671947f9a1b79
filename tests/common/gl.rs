// SPDX-License-Identifier: MPL-2.0
//! What the tests expect of the GL renderer a decision message names (`gl-vendor`,
//! `gl-renderer`): Mesa's llvmpipe on machines without a GPU (this project's CI), a hardware
//! renderer on a GPU machine. Tests read the renderer the element reported and expect what it
//! implies, so they hold on both instead of assuming llvmpipe.

/// True when `renderer` rasterises on the CPU (Mesa's llvmpipe, softpipe and swrast), as the
/// plugin decides it (`gpu::gl::is_cpu_rasteriser`, which is not public).
pub fn is_cpu_rasteriser(renderer: &str) -> bool {
    let renderer = renderer.to_ascii_lowercase();
    ["llvmpipe", "softpipe", "swrast", "software rasterizer"]
        .iter()
        .any(|r| renderer.contains(r))
}

/// True for NVIDIA's own GL (the only one CUDA can read).
pub fn is_nvidia(vendor: &str, renderer: &str) -> bool {
    format!("{vendor} {renderer}")
        .to_ascii_lowercase()
        .contains("nvidia")
}

/// True for Mesa's drivers and software renderers, which CUDA cannot read: the plugin names them
/// in interop statuses ("GL is Mesa llvmpipe"), as `gpu::gl::is_mesa_or_software` decides.
pub fn is_mesa(vendor: &str, renderer: &str) -> bool {
    let renderer = renderer.to_ascii_lowercase();
    !is_nvidia(vendor, &renderer)
        && (vendor.to_ascii_lowercase().contains("mesa")
            || ["mesa", "llvmpipe", "softpipe", "swrast", "software"]
                .iter()
                .any(|r| renderer.contains(r)))
}

/// How the plugin names a Mesa GL in statuses and hints: "Mesa llvmpipe", "Mesa", ...
pub fn mesa_name(vendor: &str, renderer: &str) -> String {
    let renderer = renderer.to_ascii_lowercase();
    let mesa = vendor.to_ascii_lowercase().contains("mesa");
    match ["llvmpipe", "softpipe", "swrast", "lavapipe", "zink"]
        .into_iter()
        .find(|r| renderer.contains(r))
    {
        Some(r) if mesa => format!("Mesa {r}"),
        Some(r) => r.to_owned(),
        None if mesa => "Mesa".to_owned(),
        None => vendor.to_owned(),
    }
}
