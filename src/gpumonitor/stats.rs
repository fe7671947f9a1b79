// SPDX-License-Identifier: MPL-2.0
//! Plain conversions for `stromgpumonitor`: which devices a `device` setting selects, and the
//! `strom-gpu-stats` structures built from [`GpuStats`]. No element, no NVML: unit-testable here.

use crate::gpu::nvml::GpuStats;

/// Name of the element message (and of each `last-stats` structure).
pub(crate) const MESSAGE_NAME: &str = "strom-gpu-stats";
/// Name of the `last-stats` structure when every GPU is monitored (`device=-1`).
pub(crate) const LIST_NAME: &str = "strom-gpu-stats-list";

/// Why a `device` setting selects nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceSelectionError {
    /// NVML works but lists no GPU.
    NoGpu,
    /// `device` names an index NVML does not have.
    OutOfRange { device: i32, count: u32 },
}

impl std::fmt::Display for DeviceSelectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSelectionError::NoGpu => write!(f, "NVML found no GPU"),
            DeviceSelectionError::OutOfRange { device, count } => write!(
                f,
                "device={device} does not exist: NVML found {count} GPU(s) (indices 0 to {})",
                count.saturating_sub(1)
            ),
        }
    }
}

/// The NVML indices to sample: every GPU for a negative `device`, else that one.
pub(crate) fn select_devices(device: i32, count: u32) -> Result<Vec<u32>, DeviceSelectionError> {
    if count == 0 {
        return Err(DeviceSelectionError::NoGpu);
    }
    match u32::try_from(device) {
        Err(_) => Ok((0..count).collect()),
        Ok(index) if index < count => Ok(vec![index]),
        Ok(_) => Err(DeviceSelectionError::OutOfRange { device, count }),
    }
}

/// The message for one successful sample. Metrics NVML could not report are left out.
pub(crate) fn stats_structure(
    stats: &GpuStats,
    running_time: Option<gst::ClockTime>,
) -> gst::Structure {
    gst::Structure::builder(MESSAGE_NAME)
        .field("available", true)
        .field("index", stats.index)
        .field_if_some("name", stats.name.as_deref())
        .field_if_some("uuid", stats.uuid.as_deref())
        .field_if_some("pci-bus-id", stats.pci_bus_id.as_deref())
        .field_if_some("gpu-util", stats.gpu_util)
        .field_if_some("memory-util", stats.memory_util)
        .field_if_some("encoder-util", stats.encoder_util)
        .field_if_some("decoder-util", stats.decoder_util)
        .field_if_some("memory-used", stats.memory_used)
        .field_if_some("memory-total", stats.memory_total)
        .field_if_some("temperature", stats.temperature)
        .field_if_some("power-watts", stats.power_watts)
        .field_if_some("graphics-clock-mhz", stats.graphics_clock_mhz)
        .field_if_some("memory-clock-mhz", stats.memory_clock_mhz)
        .field_if_some("encoder-sessions", stats.encoder_sessions)
        .field_if_some("encoder-fps", stats.encoder_fps)
        .field_if_some("encoder-latency-us", stats.encoder_latency_us)
        .field_if_some("process-memory-used", stats.process_memory_used)
        .field_if_some("driver-version", stats.driver_version.as_deref())
        .field_if_some("running-time", running_time.map(gst::ClockTime::nseconds))
        .build()
}

/// The message saying statistics are unavailable: for every GPU (`index` `None`: NVML itself is
/// missing or failing) or for one GPU that stopped answering.
pub(crate) fn unavailable_structure(
    index: Option<u32>,
    reason: &str,
    fix: Option<&str>,
    running_time: Option<gst::ClockTime>,
) -> gst::Structure {
    gst::Structure::builder(MESSAGE_NAME)
        .field("available", false)
        .field_if_some("index", index)
        .field("reason", reason)
        .field_if_some("fix", fix)
        .field_if_some("running-time", running_time.map(gst::ClockTime::nseconds))
        .build()
}

/// `last-stats` for `device=-1`: the latest structure of each GPU, in index order.
pub(crate) fn list_structure(devices: &[gst::Structure]) -> gst::Structure {
    gst::Structure::builder(LIST_NAME)
        .field("devices", gst::Array::new(devices.iter().cloned()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_selection() {
        assert_eq!(select_devices(-1, 2), Ok(vec![0, 1]));
        assert_eq!(select_devices(1, 2), Ok(vec![1]));
        assert_eq!(
            select_devices(2, 2),
            Err(DeviceSelectionError::OutOfRange {
                device: 2,
                count: 2
            })
        );
        assert_eq!(select_devices(-1, 0), Err(DeviceSelectionError::NoGpu));
        assert_eq!(
            DeviceSelectionError::OutOfRange {
                device: 5,
                count: 2
            }
            .to_string(),
            "device=5 does not exist: NVML found 2 GPU(s) (indices 0 to 1)"
        );
    }

    #[test]
    fn unsupported_metrics_are_left_out_not_zero() {
        gst::init().unwrap();
        let stats = GpuStats {
            index: 1,
            name: Some("Example".into()),
            gpu_util: Some(0),
            power_watts: Some(71.5),
            memory_used: Some(1 << 30),
            ..Default::default()
        };
        let s = stats_structure(&stats, Some(gst::ClockTime::from_mseconds(1500)));
        assert_eq!(s.name(), MESSAGE_NAME);
        assert_eq!(s.get::<bool>("available"), Ok(true));
        assert_eq!(s.get::<u32>("index"), Ok(1));
        assert_eq!(s.get::<u32>("gpu-util"), Ok(0));
        assert_eq!(s.get::<f64>("power-watts"), Ok(71.5));
        assert_eq!(s.get::<u64>("memory-used"), Ok(1 << 30));
        assert_eq!(s.get::<u64>("running-time"), Ok(1_500_000_000));
        for absent in ["uuid", "temperature", "encoder-fps", "process-memory-used"] {
            assert!(!s.has_field(absent), "{absent} must be left out: {s}");
        }
    }

    #[test]
    fn unavailable_and_list() {
        gst::init().unwrap();
        let s = unavailable_structure(None, "libnvidia-ml.so.1 not found", Some("install"), None);
        assert_eq!(s.get::<bool>("available"), Ok(false));
        assert!(!s.has_field("index"));
        assert_eq!(s.get::<&str>("reason"), Ok("libnvidia-ml.so.1 not found"));
        let list = list_structure(&[s.clone(), s]);
        assert_eq!(list.get::<gst::Array>("devices").unwrap().len(), 2);
    }
}
