// SPDX-License-Identifier: MPL-2.0
//! Everything that touches the NVIDIA driver libraries or GL. Nothing here knows about elements:
//! the elements and `strom-doctor` read the same reports.

pub mod cuda;
pub mod gl;
pub mod health;
pub mod interop;
pub mod libraries;
pub mod loader;
pub mod nvml;
pub mod platform;
