// SPDX-License-Identifier: MPL-2.0
//! NVML (the NVIDIA Management Library), loaded at run time, turned into plain [`GpuStats`].
//!
//! nvml-wrapper opens `libnvidia-ml.so.1` with libloading and resolves every entry point as a
//! checked symbol, so a machine without the driver (or with a library lacking a symbol) gets an
//! error rather than a failed plugin load or a panic. NVML is initialised once per process and
//! shared: initialisation loads hundreds of symbols, and NVML counts `nvmlInit` calls anyway.
//!
//! A metric the GPU or driver does not support is `None`, never 0: a dashboard must be able to
//! tell "idle" from "unknown". Only errors that mean the device itself is gone make a whole
//! sample fail.

use std::sync::OnceLock;

use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;

/// The soname the driver installs; named in messages because that is what users look for.
pub(crate) const LIBNVML_SONAME: &str = "libnvidia-ml.so.1";

/// Why NVML cannot be used in this process, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvmlUnavailable {
    pub(crate) reason: String,
    pub(crate) fix: String,
}

/// One sample of one GPU. Every metric is optional: `None` means NVML could not report it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GpuStats {
    /// NVML device index.
    pub(crate) index: u32,
    pub(crate) name: Option<String>,
    pub(crate) uuid: Option<String>,
    pub(crate) pci_bus_id: Option<String>,
    /// Percent of the last sample period a kernel ran.
    pub(crate) gpu_util: Option<u32>,
    /// Percent of the last sample period device memory was read or written.
    pub(crate) memory_util: Option<u32>,
    /// NVENC utilisation, percent.
    pub(crate) encoder_util: Option<u32>,
    /// NVDEC utilisation, percent.
    pub(crate) decoder_util: Option<u32>,
    /// Bytes.
    pub(crate) memory_used: Option<u64>,
    /// Bytes.
    pub(crate) memory_total: Option<u64>,
    /// Degrees Celsius, GPU die sensor.
    pub(crate) temperature: Option<u32>,
    pub(crate) power_watts: Option<f64>,
    pub(crate) graphics_clock_mhz: Option<u32>,
    pub(crate) memory_clock_mhz: Option<u32>,
    /// Active NVENC sessions.
    pub(crate) encoder_sessions: Option<u32>,
    /// Trailing average frames per second over all NVENC sessions.
    pub(crate) encoder_fps: Option<u32>,
    /// Trailing average NVENC latency, microseconds.
    pub(crate) encoder_latency_us: Option<u32>,
    /// Bytes this process uses on the GPU.
    pub(crate) process_memory_used: Option<u64>,
    pub(crate) driver_version: Option<String>,
}

/// The process-wide NVML handle.
pub struct Nvml {
    inner: nvml_wrapper::Nvml,
    driver_version: Option<String>,
}

/// NVML for this process, initialised on first use. The outcome (success or why not) is cached:
/// a library that is not there now will not appear while the process runs.
pub fn nvml() -> Result<&'static Nvml, NvmlUnavailable> {
    static NVML: OnceLock<Result<Nvml, NvmlUnavailable>> = OnceLock::new();
    NVML.get_or_init(Nvml::init).as_ref().map_err(Clone::clone)
}

impl Nvml {
    fn init() -> Result<Nvml, NvmlUnavailable> {
        let inner = nvml_wrapper::Nvml::builder()
            .lib_path(LIBNVML_SONAME.as_ref())
            .init()
            .map_err(|e| unavailable_from_init_error(&e))?;
        let driver_version = inner.sys_driver_version().ok();
        Ok(Nvml {
            inner,
            driver_version,
        })
    }

    /// How many GPUs NVML sees. NVML ignores `CUDA_VISIBLE_DEVICES`: its indices need not match
    /// CUDA ordinals.
    pub(crate) fn device_count(&self) -> Result<u32, String> {
        self.inner
            .device_count()
            .map_err(|e| call_failed("nvmlDeviceGetCount_v2", &e))
    }

    /// The driver version, e.g. `550.54.14`.
    pub(crate) fn driver_version(&self) -> Option<String> {
        self.driver_version.clone()
    }

    /// Samples every metric of GPU `index`. Fails only when the device (or NVML) stopped
    /// answering; unsupported metrics are `None`.
    pub(crate) fn sample(&self, index: u32) -> Result<GpuStats, String> {
        let device = self
            .inner
            .device_by_index(index)
            .map_err(|e| call_failed("nvmlDeviceGetHandleByIndex_v2", &e))?;

        let utilization = metric("nvmlDeviceGetUtilizationRates", device.utilization_rates())?;
        let memory = metric("nvmlDeviceGetMemoryInfo_v2", device.memory_info())?;
        let encoder = metric("nvmlDeviceGetEncoderStats", device.encoder_stats())?;
        let compute = metric(
            "nvmlDeviceGetComputeRunningProcesses_v3",
            device.running_compute_processes(),
        )?;
        let graphics = metric(
            "nvmlDeviceGetGraphicsRunningProcesses_v3",
            device.running_graphics_processes(),
        )?;

        Ok(GpuStats {
            index,
            name: metric("nvmlDeviceGetName", device.name())?,
            uuid: metric("nvmlDeviceGetUUID", device.uuid())?,
            pci_bus_id: metric("nvmlDeviceGetPciInfo_v3", device.pci_info())?.map(|p| p.bus_id),
            gpu_util: utilization.as_ref().map(|u| u.gpu),
            memory_util: utilization.as_ref().map(|u| u.memory),
            encoder_util: metric(
                "nvmlDeviceGetEncoderUtilization",
                device.encoder_utilization(),
            )?
            .map(|u| u.utilization),
            decoder_util: metric(
                "nvmlDeviceGetDecoderUtilization",
                device.decoder_utilization(),
            )?
            .map(|u| u.utilization),
            memory_used: memory.as_ref().map(|m| m.used),
            memory_total: memory.as_ref().map(|m| m.total),
            temperature: metric(
                "nvmlDeviceGetTemperature",
                device.temperature(TemperatureSensor::Gpu),
            )?,
            power_watts: metric("nvmlDeviceGetPowerUsage", device.power_usage())?
                .map(|milliwatts| f64::from(milliwatts) / 1000.0),
            graphics_clock_mhz: metric(
                "nvmlDeviceGetClockInfo",
                device.clock_info(Clock::Graphics),
            )?,
            memory_clock_mhz: metric("nvmlDeviceGetClockInfo", device.clock_info(Clock::Memory))?,
            encoder_sessions: encoder.as_ref().map(|e| e.session_count),
            encoder_fps: encoder.as_ref().map(|e| e.average_fps),
            encoder_latency_us: encoder.as_ref().map(|e| e.average_latency),
            process_memory_used: process_memory_used(
                std::process::id(),
                compute.as_deref(),
                graphics.as_deref(),
            ),
            driver_version: self.driver_version(),
        })
    }
}

/// A metric's value, `None` when the device cannot report it, or an error when the device is gone.
fn metric<T>(call: &str, result: Result<T, NvmlError>) -> Result<Option<T>, String> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if means_device_gone(&e) => Err(call_failed(call, &e)),
        Err(_) => Ok(None),
    }
}

/// Errors after which nothing more can be read from the device. Anything else (not supported,
/// no permission for this query, a symbol an older driver lacks) loses only that metric.
fn means_device_gone(e: &NvmlError) -> bool {
    matches!(
        e,
        NvmlError::GpuLost
            | NvmlError::ResetRequired
            | NvmlError::Uninitialized
            | NvmlError::DriverNotLoaded
            | NvmlError::LibRmVersionMismatch
    ) || matches!(e, NvmlError::UnexpectedVariant(code) if *code == NVML_ERROR_GPU_NOT_FOUND)
}

/// `NVML_ERROR_GPU_NOT_FOUND`: newer than the error enum nvml-wrapper 0.13 knows.
const NVML_ERROR_GPU_NOT_FOUND: u32 = 28;

/// Bytes `pid` uses on a device, from its compute and graphics process lists. A process with both
/// a CUDA and a GL context appears in both lists with the same allocation, so the larger entry is
/// taken rather than the sum. `None` when neither list could be read or NVML hides the amount.
pub(crate) fn process_memory_used(
    pid: u32,
    compute: Option<&[ProcessInfo]>,
    graphics: Option<&[ProcessInfo]>,
) -> Option<u64> {
    if compute.is_none() && graphics.is_none() {
        return None;
    }
    let mut used = Some(0u64);
    for info in compute.into_iter().chain(graphics).flatten() {
        if info.pid != pid {
            continue;
        }
        used = match (used, &info.used_gpu_memory) {
            (Some(so_far), UsedGpuMemory::Used(bytes)) => Some(so_far.max(*bytes)),
            _ => None,
        };
    }
    used
}

/// `call: NVML_ERROR_NAME (description)`.
fn call_failed(call: &str, e: &NvmlError) -> String {
    match error_name(e) {
        Some(name) => format!("{call} returned {name} ({e})"),
        None => format!("{call} failed: {e}"),
    }
}

/// The `nvml.h` name of an error NVML returned; `None` for errors raised by the loader.
pub(crate) fn error_name(e: &NvmlError) -> Option<String> {
    let name = match e {
        NvmlError::Uninitialized => "NVML_ERROR_UNINITIALIZED",
        NvmlError::InvalidArg => "NVML_ERROR_INVALID_ARGUMENT",
        NvmlError::NotSupported => "NVML_ERROR_NOT_SUPPORTED",
        NvmlError::NoPermission => "NVML_ERROR_NO_PERMISSION",
        NvmlError::NotFound => "NVML_ERROR_NOT_FOUND",
        NvmlError::InsufficientSize(_) => "NVML_ERROR_INSUFFICIENT_SIZE",
        NvmlError::InsufficientPower => "NVML_ERROR_INSUFFICIENT_POWER",
        NvmlError::DriverNotLoaded => "NVML_ERROR_DRIVER_NOT_LOADED",
        NvmlError::Timeout => "NVML_ERROR_TIMEOUT",
        NvmlError::IrqIssue => "NVML_ERROR_IRQ_ISSUE",
        NvmlError::LibraryNotFound => "NVML_ERROR_LIBRARY_NOT_FOUND",
        NvmlError::FunctionNotFound => "NVML_ERROR_FUNCTION_NOT_FOUND",
        NvmlError::CorruptedInfoROM => "NVML_ERROR_CORRUPTED_INFOROM",
        NvmlError::GpuLost => "NVML_ERROR_GPU_IS_LOST",
        NvmlError::ResetRequired => "NVML_ERROR_RESET_REQUIRED",
        NvmlError::OperatingSystem => "NVML_ERROR_OPERATING_SYSTEM",
        NvmlError::LibRmVersionMismatch => "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
        NvmlError::InUse => "NVML_ERROR_IN_USE",
        NvmlError::InsufficientMemory => "NVML_ERROR_MEMORY",
        NvmlError::NoData => "NVML_ERROR_NO_DATA",
        NvmlError::VgpuEccNotSupported => "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED",
        NvmlError::Unknown => "NVML_ERROR_UNKNOWN",
        NvmlError::UnexpectedVariant(NVML_ERROR_GPU_NOT_FOUND) => "NVML_ERROR_GPU_NOT_FOUND",
        NvmlError::UnexpectedVariant(code) => return Some(format!("NVML error {code}")),
        _ => return None,
    };
    Some(name.to_owned())
}

/// What a failed initialisation means for the user.
fn unavailable_from_init_error(e: &NvmlError) -> NvmlUnavailable {
    match e {
        NvmlError::LibloadingError(detail) => NvmlUnavailable {
            reason: format!("{LIBNVML_SONAME} not found ({detail})"),
            fix: format!(
                "install the NVIDIA driver, which ships {LIBNVML_SONAME} (check with \
                 `nvidia-smi`); in a container run with `--gpus all` and \
                 NVIDIA_DRIVER_CAPABILITIES including `utility` (or `all`)"
            ),
        },
        NvmlError::FailedToLoadSymbol(detail) => NvmlUnavailable {
            reason: format!("{LIBNVML_SONAME} is not a usable NVML ({detail})"),
            fix: "the library is too old or not NVIDIA's: reinstall the NVIDIA driver".into(),
        },
        other => NvmlUnavailable {
            reason: call_failed("nvmlInit_v2", other),
            fix: init_fix(other).into(),
        },
    }
}

fn init_fix(e: &NvmlError) -> &'static str {
    match e {
        NvmlError::DriverNotLoaded => {
            "load the NVIDIA kernel module (`sudo modprobe nvidia`, or reboot after installing \
             the driver) and check that `nvidia-smi` works"
        }
        NvmlError::NoPermission => {
            "give this user read and write access to /dev/nvidiactl and /dev/nvidia*"
        }
        NvmlError::LibRmVersionMismatch => {
            "the NVIDIA library and kernel module versions differ: reboot, or reinstall the \
             driver so that both match"
        }
        _ => "check that `nvidia-smi` works for this user",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, used: UsedGpuMemory) -> ProcessInfo {
        ProcessInfo {
            pid,
            used_gpu_memory: used,
            gpu_instance_id: None,
            compute_instance_id: None,
        }
    }

    #[test]
    fn lost_device_fails_the_sample_unsupported_metric_does_not() {
        let gone = metric::<u32>("nvmlDeviceGetPowerUsage", Err(NvmlError::GpuLost));
        assert_eq!(
            gone.unwrap_err(),
            "nvmlDeviceGetPowerUsage returned NVML_ERROR_GPU_IS_LOST (device fell off the bus or \
             has otherwise become inacessible)"
        );
        assert_eq!(metric::<u32>("x", Err(NvmlError::NotSupported)), Ok(None));
        assert_eq!(metric::<u32>("x", Err(NvmlError::NoPermission)), Ok(None));
        let missing = NvmlError::FailedToLoadSymbol("undefined symbol: nvmlX".into());
        assert_eq!(metric::<u32>("x", Err(missing)), Ok(None));
        assert_eq!(metric("x", Ok(7u32)), Ok(Some(7)));
        assert!(metric::<u32>("x", Err(NvmlError::UnexpectedVariant(28))).is_err());
    }

    #[test]
    fn process_memory_counts_only_this_process() {
        let compute = [
            process(1, UsedGpuMemory::Used(5)),
            process(42, UsedGpuMemory::Used(100)),
        ];
        let graphics = [process(42, UsedGpuMemory::Used(100))];
        assert_eq!(
            process_memory_used(42, Some(&compute), Some(&graphics)),
            Some(100)
        );
        assert_eq!(process_memory_used(7, Some(&compute), None), Some(0));
        assert_eq!(process_memory_used(42, None, None), None);
        let hidden = [process(42, UsedGpuMemory::Unavailable)];
        assert_eq!(process_memory_used(42, Some(&hidden), None), None);
    }

    #[test]
    fn init_errors_name_cause_and_fix() {
        let u = unavailable_from_init_error(&NvmlError::DriverNotLoaded);
        assert!(u.reason.contains("NVML_ERROR_DRIVER_NOT_LOADED"), "{u:?}");
        assert!(u.fix.contains("modprobe nvidia"), "{u:?}");
        let u = unavailable_from_init_error(&NvmlError::FailedToLoadSymbol("nvmlInit_v2".into()));
        assert!(u.reason.contains("nvmlInit_v2"), "{u:?}");
        assert_eq!(
            error_name(&NvmlError::UnexpectedVariant(99)).unwrap(),
            "NVML error 99"
        );
    }
}
