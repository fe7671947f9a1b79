// SPDX-License-Identifier: MPL-2.0
//! gst-strom: `stromautoconvert` picks zero-copy GL conversion when CUDA-GL interop works in this
//! process and a multi-threaded `videoconvert` otherwise (`stromautoconvertscale` scales too);
//! `stromautoenc` encodes with the first encoder that really opens and falls back without losing a
//! frame; `stromcompositor` mixes with `glvideomixer` when GL renders on a GPU and with
//! `compositor` otherwise; `stromgpumonitor` posts NVML statistics.
//!
//! Layout: `gpu/` touches the NVIDIA and GL libraries and knows nothing of elements; each element
//! lives in its own folder (`mod.rs` public type, `imp.rs` subclass); decisions are plain modules.

// Boundaries the compiler enforces: an item is `pub` only if it is reachable from outside the crate.
#![deny(unreachable_pub)]

pub mod autoconvert;
pub mod autoenc;
mod chainbin;
pub mod compositor;
mod convert;
mod cpus;
#[cfg(feature = "doctor")]
pub mod doctor;
mod formats;
mod framecheck;
pub mod gpu;
pub mod gpumonitor;
pub mod gstversion;
// Public where a plan re-exports it (the `testing` hooks); crate-private otherwise.
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
mod path;
mod sync;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    autoconvert::register(plugin)?;
    compositor::register(plugin)?;
    autoenc::register(plugin)?;
    gpumonitor::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    strom,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
