// SPDX-License-Identifier: MPL-2.0
//! The CUDA driver, loaded at run time.
//!
//! cudarc finds and opens `libcuda` (dynamic loading only: no link-time dependency, so the plugin
//! loads on machines without a driver). Every entry point we call is then resolved from that same
//! library as a checked symbol, for two reasons: a missing symbol must become an error rather than
//! cudarc's panic, and results are read as plain integers because a newer driver may return a code
//! that cudarc's `CUresult` enum does not list. cudarc does not bind the GL interop entry points at
//! all (`cuGLGetDevices`, `cuGraphicsGLRegisterBuffer`), so those are resolved the same way.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::fmt;
use std::sync::OnceLock;

/// A CUDA driver result, kept as the raw integer the driver returned.
pub(crate) type CuResult = c_int;
pub(crate) type CuDevice = c_int;
type CuContext = *mut c_void;
type CuGraphicsResource = *mut c_void;
type CuStream = *mut c_void;
type CuDevicePtr = u64;

pub(crate) const CUDA_SUCCESS: CuResult = 0;
/// `CU_GL_DEVICE_LIST_ALL`: every CUDA device behind the current GL context.
const CU_GL_DEVICE_LIST_ALL: c_int = 1;
/// `CU_GRAPHICS_REGISTER_FLAGS_READ_ONLY`: how an encoder reads an uploaded frame.
const CU_GRAPHICS_REGISTER_FLAGS_READ_ONLY: c_uint = 1;

/// The soname the driver installs; named in messages because that is what users look for.
pub(crate) const LIBCUDA_SONAME: &str = "libcuda.so.1";

/// Names of the error codes this project reports, for drivers whose `cuGetErrorName` is missing
/// or fails. Values from `cuda.h`.
const ERROR_NAMES: &[(CuResult, &str)] = &[
    (0, "CUDA_SUCCESS"),
    (1, "CUDA_ERROR_INVALID_VALUE"),
    (2, "CUDA_ERROR_OUT_OF_MEMORY"),
    (3, "CUDA_ERROR_NOT_INITIALIZED"),
    (4, "CUDA_ERROR_DEINITIALIZED"),
    (34, "CUDA_ERROR_STUB_LIBRARY"),
    (46, "CUDA_ERROR_DEVICE_UNAVAILABLE"),
    (100, "CUDA_ERROR_NO_DEVICE"),
    (101, "CUDA_ERROR_INVALID_DEVICE"),
    (102, "CUDA_ERROR_DEVICE_NOT_LICENSED"),
    (200, "CUDA_ERROR_INVALID_IMAGE"),
    (201, "CUDA_ERROR_INVALID_CONTEXT"),
    (207, "CUDA_ERROR_ALREADY_MAPPED"),
    (208, "CUDA_ERROR_ARRAY_IS_MAPPED"),
    (210, "CUDA_ERROR_NOT_MAPPED"),
    (211, "CUDA_ERROR_NOT_MAPPED_AS_ARRAY"),
    (212, "CUDA_ERROR_NOT_MAPPED_AS_POINTER"),
    (216, "CUDA_ERROR_CONTEXT_ALREADY_IN_USE"),
    (219, "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT"),
    (304, "CUDA_ERROR_OPERATING_SYSTEM"),
    (400, "CUDA_ERROR_INVALID_HANDLE"),
    (401, "CUDA_ERROR_ILLEGAL_STATE"),
    (500, "CUDA_ERROR_NOT_FOUND"),
    (700, "CUDA_ERROR_ILLEGAL_ADDRESS"),
    (800, "CUDA_ERROR_NOT_PERMITTED"),
    (801, "CUDA_ERROR_NOT_SUPPORTED"),
    (802, "CUDA_ERROR_SYSTEM_NOT_READY"),
    (803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"),
    (804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"),
    (999, "CUDA_ERROR_UNKNOWN"),
];

/// The name `cuda.h` gives a result code, when this project knows it.
pub(crate) fn known_error_name(code: CuResult) -> Option<&'static str> {
    ERROR_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

/// A CUDA driver call that did not return `CUDA_SUCCESS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CudaError {
    /// The driver entry point, e.g. `cuGraphicsGLRegisterBuffer`.
    pub(crate) call: &'static str,
    pub(crate) code: CuResult,
    /// `CUDA_ERROR_*` name of `code`.
    pub(crate) name: String,
}

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} returned {}", self.call, self.name)
    }
}

impl std::error::Error for CudaError {}

/// Why the driver could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// No `libcuda` could be opened: no driver, or it is not mounted into the container.
    NotFound,
    /// The library opened but lacks an entry point we need: a driver too old or a broken install.
    MissingSymbol(&'static str),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound => write!(f, "{LIBCUDA_SONAME} not found"),
            LoadError::MissingSymbol(sym) => write!(f, "{LIBCUDA_SONAME} has no {sym}"),
        }
    }
}

/// The GL interop entry points. Some driver builds (e.g. WSL's) lack them.
struct GlInteropFns {
    gl_get_devices: unsafe extern "C" fn(*mut c_uint, *mut CuDevice, c_uint, c_int) -> CuResult,
    graphics_gl_register_buffer:
        unsafe extern "C" fn(*mut CuGraphicsResource, c_uint, c_uint) -> CuResult,
    graphics_map_resources:
        unsafe extern "C" fn(c_uint, *mut CuGraphicsResource, CuStream) -> CuResult,
    graphics_resource_get_mapped_pointer:
        unsafe extern "C" fn(*mut CuDevicePtr, *mut usize, CuGraphicsResource) -> CuResult,
    graphics_unmap_resources:
        unsafe extern "C" fn(c_uint, *mut CuGraphicsResource, CuStream) -> CuResult,
    graphics_unregister_resource: unsafe extern "C" fn(CuGraphicsResource) -> CuResult,
}

/// The loaded driver with the entry points this project uses.
pub struct CudaDriver {
    init: unsafe extern "C" fn(c_uint) -> CuResult,
    device_get_count: unsafe extern "C" fn(*mut c_int) -> CuResult,
    device_get: unsafe extern "C" fn(*mut CuDevice, c_int) -> CuResult,
    device_get_name: unsafe extern "C" fn(*mut c_char, c_int, CuDevice) -> CuResult,
    get_error_name: Option<unsafe extern "C" fn(CuResult, *mut *const c_char) -> CuResult>,
    primary_ctx_retain: unsafe extern "C" fn(*mut CuContext, CuDevice) -> CuResult,
    primary_ctx_release: unsafe extern "C" fn(CuDevice) -> CuResult,
    ctx_push_current: unsafe extern "C" fn(CuContext) -> CuResult,
    ctx_pop_current: unsafe extern "C" fn(*mut CuContext) -> CuResult,
    gl: Result<GlInteropFns, LoadError>,
    path: Option<String>,
}

// SAFETY: the struct holds only function pointers into a library that stays loaded for the life of
// the process (cudarc keeps it in a static), plus owned strings.
unsafe impl Send for CudaDriver {}
unsafe impl Sync for CudaDriver {}

/// Resolves `names` in order (versioned name first) from the library cudarc loaded.
fn symbol<T: Copy>(lib: &libloading::Library, names: &[&'static str]) -> Result<T, LoadError> {
    names
        .iter()
        // SAFETY: the caller names the C signature `T` that `cuda.h` gives this symbol.
        .find_map(|name| unsafe { lib.get::<T>(name.as_bytes()).ok().map(|s| *s) })
        .ok_or(LoadError::MissingSymbol(names[0]))
}

impl CudaDriver {
    /// The driver, loaded once per process. Thread-safe; cheap after the first call.
    pub fn get() -> Result<&'static CudaDriver, LoadError> {
        static DRIVER: OnceLock<Result<CudaDriver, LoadError>> = OnceLock::new();
        DRIVER
            .get_or_init(Self::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn load() -> Result<CudaDriver, LoadError> {
        // SAFETY: cudarc only tries to dlopen well-known library names; checking presence first
        // keeps `culib()` from reaching its panic when none exists.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(LoadError::NotFound);
        }
        // SAFETY: presence was just checked, so this returns the opened library.
        let lib = unsafe { cudarc::driver::sys::culib() };
        let init: unsafe extern "C" fn(c_uint) -> CuResult = symbol(lib, &["cuInit"])?;
        Ok(CudaDriver {
            init,
            device_get_count: symbol(lib, &["cuDeviceGetCount"])?,
            device_get: symbol(lib, &["cuDeviceGet"])?,
            device_get_name: symbol(lib, &["cuDeviceGetName"])?,
            get_error_name: symbol(lib, &["cuGetErrorName"]).ok(),
            primary_ctx_retain: symbol(lib, &["cuDevicePrimaryCtxRetain"])?,
            primary_ctx_release: symbol(
                lib,
                &["cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"],
            )?,
            ctx_push_current: symbol(lib, &["cuCtxPushCurrent_v2", "cuCtxPushCurrent"])?,
            ctx_pop_current: symbol(lib, &["cuCtxPopCurrent_v2", "cuCtxPopCurrent"])?,
            gl: Self::load_gl_interop(lib),
            path: library_path(init as *const c_void),
        })
    }

    fn load_gl_interop(lib: &libloading::Library) -> Result<GlInteropFns, LoadError> {
        Ok(GlInteropFns {
            gl_get_devices: symbol(lib, &["cuGLGetDevices_v2", "cuGLGetDevices"])?,
            graphics_gl_register_buffer: symbol(lib, &["cuGraphicsGLRegisterBuffer"])?,
            graphics_map_resources: symbol(lib, &["cuGraphicsMapResources"])?,
            graphics_resource_get_mapped_pointer: symbol(
                lib,
                &[
                    "cuGraphicsResourceGetMappedPointer_v2",
                    "cuGraphicsResourceGetMappedPointer",
                ],
            )?,
            graphics_unmap_resources: symbol(lib, &["cuGraphicsUnmapResources"])?,
            graphics_unregister_resource: symbol(lib, &["cuGraphicsUnregisterResource"])?,
        })
    }

    /// The file the driver was loaded from, when the dynamic linker can tell.
    pub(crate) fn library_path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The `CUDA_ERROR_*` name of `code`, asking the driver first.
    pub(crate) fn error_name(&self, code: CuResult) -> String {
        if let Some(get_error_name) = self.get_error_name {
            let mut name: *const c_char = std::ptr::null();
            // SAFETY: cuGetErrorName writes a pointer to a static string or leaves it untouched.
            let ok = unsafe { get_error_name(code, &mut name) } == CUDA_SUCCESS;
            if ok && !name.is_null() {
                // SAFETY: the driver returns a NUL-terminated static string.
                return unsafe { CStr::from_ptr(name) }
                    .to_string_lossy()
                    .into_owned();
            }
        }
        known_error_name(code).map_or_else(|| format!("CUDA error {code}"), str::to_owned)
    }

    fn check(&self, call: &'static str, code: CuResult) -> Result<(), CudaError> {
        if code == CUDA_SUCCESS {
            Ok(())
        } else {
            Err(CudaError {
                call,
                code,
                name: self.error_name(code),
            })
        }
    }

    pub(crate) fn init(&self) -> Result<(), CudaError> {
        // SAFETY: plain driver call with a valid flags value.
        self.check("cuInit", unsafe { (self.init)(0) })
    }

    /// Devices visible to this process (after `CUDA_VISIBLE_DEVICES`). Needs `init` first.
    pub(crate) fn device_count(&self) -> Result<usize, CudaError> {
        let mut count: c_int = 0;
        // SAFETY: the driver writes one int.
        self.check("cuDeviceGetCount", unsafe {
            (self.device_get_count)(&mut count)
        })?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// The device handle of CUDA ordinal `ordinal`.
    pub(crate) fn device(&self, ordinal: usize) -> Result<CuDevice, CudaError> {
        let mut device: CuDevice = 0;
        let ordinal = c_int::try_from(ordinal).unwrap_or(c_int::MAX);
        // SAFETY: the driver writes one device handle.
        self.check("cuDeviceGet", unsafe {
            (self.device_get)(&mut device, ordinal)
        })?;
        Ok(device)
    }

    pub(crate) fn device_name(&self, device: CuDevice) -> Result<String, CudaError> {
        let mut buf = [0 as c_char; 256];
        // SAFETY: the driver writes at most `len` bytes, NUL-terminated.
        self.check("cuDeviceGetName", unsafe {
            (self.device_get_name)(buf.as_mut_ptr(), buf.len() as c_int, device)
        })?;
        // SAFETY: buf is NUL-terminated (zero-filled, and the driver terminates within len).
        let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
        Ok(name.to_string_lossy().into_owned())
    }

    /// Whether the GL interop entry points exist in this driver build.
    pub(crate) fn gl_interop_symbols(&self) -> Result<(), LoadError> {
        self.gl.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    fn gl_fns(&self) -> Result<&GlInteropFns, CudaError> {
        self.gl.as_ref().map_err(|err| CudaError {
            call: match err {
                LoadError::MissingSymbol(sym) => sym,
                LoadError::NotFound => "cuGLGetDevices",
            },
            code: 500,
            name: "CUDA_ERROR_NOT_FOUND".into(),
        })
    }

    /// The CUDA devices behind the GL context current on this thread (`CU_GL_DEVICE_LIST_ALL`),
    /// the check nvcodec makes before it trusts GL memory. Must run in the GL thread.
    pub(crate) fn gl_devices(&self) -> Result<Vec<CuDevice>, CudaError> {
        let gl = self.gl_fns()?;
        let mut devices = [0 as CuDevice; 16];
        let mut count: c_uint = 0;
        // SAFETY: the driver writes at most `devices.len()` handles and the count.
        self.check("cuGLGetDevices", unsafe {
            (gl.gl_get_devices)(
                &mut count,
                devices.as_mut_ptr(),
                devices.len() as c_uint,
                CU_GL_DEVICE_LIST_ALL,
            )
        })?;
        let count = (count as usize).min(devices.len());
        Ok(devices[..count].to_vec())
    }

    /// Runs `f` with `device`'s primary context current on this thread, and always restores it.
    pub(crate) fn with_primary_context<R>(
        &self,
        device: CuDevice,
        f: impl FnOnce() -> Result<R, CudaError>,
    ) -> Result<R, CudaError> {
        let mut context: CuContext = std::ptr::null_mut();
        // SAFETY: the driver writes a context handle for a valid device.
        self.check("cuDevicePrimaryCtxRetain", unsafe {
            (self.primary_ctx_retain)(&mut context, device)
        })?;
        // SAFETY: `context` was just retained.
        let pushed = self.check("cuCtxPushCurrent", unsafe {
            (self.ctx_push_current)(context)
        });
        let result = pushed.and_then(|()| {
            let result = f();
            let mut popped: CuContext = std::ptr::null_mut();
            // SAFETY: pops the context pushed above.
            let pop = self.check("cuCtxPopCurrent", unsafe {
                (self.ctx_pop_current)(&mut popped)
            });
            result.and_then(|r| pop.map(|()| r))
        });
        // SAFETY: balances the retain above; its result cannot change what we report.
        unsafe { (self.primary_ctx_release)(device) };
        result
    }

    /// Registers GL buffer object `buffer` with CUDA, maps it and reads its device pointer, as
    /// nvcodec does with the PBO behind `GstGLMemoryPBO`; then unmaps and unregisters it.
    /// Needs the GL context current (GL thread) and a CUDA context current.
    pub(crate) fn register_and_map_gl_buffer(&self, buffer: u32) -> Result<(), CudaError> {
        let gl = self.gl_fns()?;
        let mut resource: CuGraphicsResource = std::ptr::null_mut();
        // SAFETY: `buffer` names a live GL buffer object in the current GL context.
        self.check("cuGraphicsGLRegisterBuffer", unsafe {
            (gl.graphics_gl_register_buffer)(
                &mut resource,
                buffer,
                CU_GRAPHICS_REGISTER_FLAGS_READ_ONLY,
            )
        })?;
        let mapped = self.map_and_read_pointer(gl, &mut resource);
        // SAFETY: `resource` was registered above and is unmapped by now.
        let unregistered = self.check("cuGraphicsUnregisterResource", unsafe {
            (gl.graphics_unregister_resource)(resource)
        });
        mapped.and(unregistered)
    }

    fn map_and_read_pointer(
        &self,
        gl: &GlInteropFns,
        resource: &mut CuGraphicsResource,
    ) -> Result<(), CudaError> {
        let stream: CuStream = std::ptr::null_mut();
        // SAFETY: maps one registered resource on the default stream.
        self.check("cuGraphicsMapResources", unsafe {
            (gl.graphics_map_resources)(1, resource, stream)
        })?;
        let mut pointer: CuDevicePtr = 0;
        let mut size: usize = 0;
        // SAFETY: the resource is mapped; the driver writes a pointer and a size.
        let got_pointer = self.check("cuGraphicsResourceGetMappedPointer", unsafe {
            (gl.graphics_resource_get_mapped_pointer)(&mut pointer, &mut size, *resource)
        });
        // SAFETY: unmaps what was mapped above.
        let unmapped = self.check("cuGraphicsUnmapResources", unsafe {
            (gl.graphics_unmap_resources)(1, resource, stream)
        });
        got_pointer.and(unmapped)
    }
}

/// The path of the shared object holding `address`, from the dynamic linker.
fn library_path(address: *const c_void) -> Option<String> {
    // SAFETY: dladdr only reads loader tables; `info` is plain data it fills in.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let found = unsafe { libc::dladdr(address, &mut info) } != 0;
    if !found || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader.
    Some(
        unsafe { CStr::from_ptr(info.dli_fname) }
            .to_string_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_cover_the_codes_users_report() {
        assert_eq!(known_error_name(304), Some("CUDA_ERROR_OPERATING_SYSTEM"));
        assert_eq!(known_error_name(100), Some("CUDA_ERROR_NO_DEVICE"));
        assert_eq!(
            known_error_name(219),
            Some("CUDA_ERROR_INVALID_GRAPHICS_CONTEXT")
        );
        assert_eq!(known_error_name(12345), None);
    }

    #[test]
    fn cuda_error_names_call_and_error() {
        let err = CudaError {
            call: "cuGraphicsGLRegisterBuffer",
            code: 304,
            name: "CUDA_ERROR_OPERATING_SYSTEM".into(),
        };
        assert_eq!(
            err.to_string(),
            "cuGraphicsGLRegisterBuffer returned CUDA_ERROR_OPERATING_SYSTEM"
        );
    }

    #[test]
    fn load_errors_name_the_library() {
        assert_eq!(LoadError::NotFound.to_string(), "libcuda.so.1 not found");
        assert_eq!(
            LoadError::MissingSymbol("cuInit").to_string(),
            "libcuda.so.1 has no cuInit"
        );
    }
}
