// SPDX-License-Identifier: MPL-2.0
//! The test-only stand-in libraries (`tests/stubs`), compiled on demand and put first on
//! `LD_LIBRARY_PATH`. Stand-ins exercise error branches only; they prove nothing about real GPUs.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::repo_root;

/// Compiles `tests/stubs/<source>` into a folder holding `<soname>` (and the unversioned name),
/// for use first on `LD_LIBRARY_PATH`.
pub fn build_stub(source: &str, soname: &str) -> PathBuf {
    // Tests run in parallel threads: build each stand-in once per test process.
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, dir)) = built.iter().find(|(s, _)| s == soname) {
        return dir.clone();
    }
    let dir = compile_stub(source, soname);
    built.push((soname.to_owned(), dir.clone()));
    dir
}

fn compile_stub(source: &str, soname: &str) -> PathBuf {
    let src = repo_root().join("tests/stubs").join(source);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("stubs")
        .join(soname);
    std::fs::create_dir_all(&dir).expect("stub dir");
    let lib = dir.join(soname);
    // Build to a unique name and rename, so parallel tests never load a half-written file.
    let tmp = dir.join(format!("{soname}.{}.tmp", std::process::id()));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall"])
        .arg(format!("-Wl,-soname,{soname}"))
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .status()
        .expect("cc runs (install gcc)");
    assert!(status.success(), "compiling {source} failed");
    std::fs::rename(&tmp, &lib).expect("install stub");
    let unversioned = soname.split(".so").next().unwrap_or(soname).to_owned() + ".so";
    let link = dir.join(unversioned);
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(soname, &link);
    }
    dir
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
