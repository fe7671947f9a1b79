// SPDX-License-Identifier: MPL-2.0
//! The test-only stand-in libraries (`tests/stubs`), compiled on demand and put first on
//! `LD_LIBRARY_PATH`. Stand-ins exercise error branches only; they prove nothing about real GPUs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use super::{init, repo_root};

/// Compiles `tests/stubs/<source>` into a folder holding `<soname>` (and the unversioned name),
/// for use first on `LD_LIBRARY_PATH`.
pub fn build_stub(source: &str, soname: &str) -> PathBuf {
    // Tests run in parallel threads: build each stand-in once per test process.
    once_per_process(soname, || compile_stub(source, soname))
}

fn compile_stub(source: &str, soname: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("stubs")
        .join(soname);
    compile_c(source, &dir, soname, soname, &["-lpthread"]);
    let unversioned = soname.split(".so").next().unwrap_or(soname).to_owned() + ".so";
    let link = dir.join(unversioned);
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(soname, &link);
    }
    dir
}

/// Compiles `tests/stubs/<source>` into `<dir>/<file>` as a shared object with `soname`.
fn compile_c(source: &str, dir: &Path, file: &str, soname: &str, extra: &[&str]) -> PathBuf {
    let src = repo_root().join("tests/stubs").join(source);
    std::fs::create_dir_all(dir).expect("stub dir");
    let lib = dir.join(file);
    // Build to a unique name and rename, so parallel tests never load a half-written file.
    let tmp = dir.join(format!("{file}.{}.tmp", std::process::id()));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall"])
        .arg(format!("-Wl,-soname,{soname}"))
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .args(extra)
        .status()
        .expect("cc runs (install gcc)");
    assert!(status.success(), "compiling {source} failed");
    std::fs::rename(&tmp, &lib).expect("install stub");
    lib
}

/// Builds `key` once per test process with `build`.
fn once_per_process(key: &str, build: impl FnOnce() -> PathBuf) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(k, _)| k == key) {
        return path.clone();
    }
    let path = build();
    built.push((key.to_owned(), path.clone()));
    path
}

/// A folder laid out like the CUDA toolkit's (`.../lib64/stubs/`) holding only `libcuda.so`: the
/// test-only imitation of its link-time stub (soname `libcuda.so.1`, every call answers
/// `CUDA_ERROR_STUB_LIBRARY`). Put it first on `LD_LIBRARY_PATH` to shadow the driver for any
/// loader that tries `libcuda.so` first.
pub fn toolkit_stub_dir() -> PathBuf {
    once_per_process("toolkit-stub", || {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stubs/cuda-toolkit/lib64/stubs");
        compile_c(
            "libcuda_toolkit_stub.c",
            &dir,
            "libcuda.so",
            "libcuda.so.1",
            &[],
        );
        dir
    })
}

/// A folder where that stub is `libcuda.so.1` itself (an image that symlinked the stub there).
pub fn stub_as_driver_dir() -> PathBuf {
    once_per_process("stub-as-driver", || {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stubs/stub-as-driver/stubs");
        compile_c(
            "libcuda_toolkit_stub.c",
            &dir,
            "libcuda.so.1",
            "libcuda.so.1",
            &[],
        );
        dir
    })
}

/// The test-only plugin `stromtest` (element `stromtestconsumer`, a consumer with
/// `cuda-device-id` that can refuse GL memory), built with the system GStreamer.
pub fn test_plugin() -> PathBuf {
    once_per_process("test-plugin", || {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-plugin");
        let pkg = Command::new("pkg-config")
            .args(["--cflags", "--libs", "gstreamer-1.0"])
            .output()
            .expect("pkg-config runs (install pkg-config, libgstreamer1.0-dev)");
        assert!(pkg.status.success(), "pkg-config gstreamer-1.0 failed");
        let flags = String::from_utf8_lossy(&pkg.stdout).into_owned();
        let flags: Vec<&str> = flags.split_whitespace().collect();
        compile_c(
            "gst_test_consumer.c",
            &dir,
            "libgststromtest.so",
            "libgststromtest.so",
            &flags,
        )
    })
}

/// Initialises GStreamer and registers `stromtestconsumer` (tests only).
pub fn init_with_test_consumer() {
    init();
    static LOADED: Once = Once::new();
    LOADED.call_once(|| {
        gst::Plugin::load_file(test_plugin()).expect("the test plugin loads");
    });
}

/// A symbol of the `libcuda.so.1` stand-in this process loaded (None when it is not loaded).
fn stand_in_symbol(name: &std::ffi::CStr) -> Option<*mut libc::c_void> {
    // SAFETY: RTLD_NOLOAD only looks the library up; dlsym reads the loader's tables.
    unsafe {
        let handle = libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
        if handle.is_null() {
            return None;
        }
        let sym = libc::dlsym(handle, name.as_ptr());
        (!sym.is_null()).then_some(sym)
    }
}

/// How many contexts, pushes, resources and maps the stand-in still holds (-1: not loaded).
pub fn stub_outstanding() -> i32 {
    stand_in_symbol(c"strom_stub_outstanding").map_or(-1, |sym| {
        // SAFETY: the stand-in exports this test-only counter with this signature.
        let f = unsafe { std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> i32>(sym) };
        f()
    })
}

/// The calls the stand-in saw, in order (empty: not loaded).
pub fn stub_trace() -> String {
    stand_in_symbol(c"strom_stub_trace").map_or_else(String::new, |sym| {
        // SAFETY: the stand-in exports this with this signature; the string is NUL-terminated.
        unsafe {
            let f = std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> *const libc::c_char>(sym);
            std::ffi::CStr::from_ptr(f()).to_string_lossy().into_owned()
        }
    })
}

/// The `libcuda.so.1` stand-in's folder.
pub fn cuda_stub_dir() -> PathBuf {
    build_stub("libcuda_stub.c", "libcuda.so.1")
}

/// The `libnvidia-ml.so.1` stand-in's folder.
pub fn nvml_stub_dir() -> PathBuf {
    build_stub("libnvidia_ml_stub.c", "libnvidia-ml.so.1")
}

/// This process's `LD_LIBRARY_PATH` with `dir` first.
pub fn library_path_with(dir: &Path) -> String {
    match std::env::var("LD_LIBRARY_PATH") {
        Ok(old) if !old.is_empty() => format!("{}:{old}", dir.display()),
        _ => dir.display().to_string(),
    }
}
