// SPDX-License-Identifier: MPL-2.0
//! Everything that touches the NVIDIA driver libraries or GL. Nothing here knows about elements:
//! the elements and `strom-doctor` read the same reports.
// Some facts (NVRTC, driver capabilities, the GL environment) only strom-doctor reads: without the
// `doctor` feature they are built (and unit-tested) but unused.
#![cfg_attr(not(feature = "doctor"), allow(dead_code))]

pub mod cuda;
pub(crate) mod gl;
pub mod health;
pub mod interop;
pub(crate) mod libraries;
pub mod nvml;
pub mod platform;
