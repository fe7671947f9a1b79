// SPDX-License-Identifier: MPL-2.0
//! Measurements that need a fresh process (the interop test is cached per process; peak memory
//! is per process): the harness runs itself with `--child ...` and reads one result line.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Marks the child's result line among whatever GStreamer prints.
pub const RESULT_PREFIX: &str = "BENCH-RESULT ";

/// Prints a child's result for the parent.
pub fn report(value: &serde_json::Value) {
    println!("{RESULT_PREFIX}{value}");
}

/// Runs this program with `args` and `envs`, and returns the child's result.
pub fn spawn(args: &[&str], envs: &[(&str, String)]) -> Result<serde_json::Value, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--child").args(args);
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start child: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_PREFIX))
        .ok_or_else(|| {
            format!(
                "child {args:?} gave no result (status {:?}): {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
    serde_json::from_str(line).map_err(|e| format!("child result unreadable: {e}"))
}

/// A folder next to the harness binary for what it builds (the `libcuda` stand-in).
pub fn work_dir(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let dir = exe
        .parent()
        .unwrap_or(Path::new("."))
        .join("bench-work")
        .join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Compiles `tests/stubs/<source>` into a folder holding `<soname>` and its unversioned name,
/// for the front of `LD_LIBRARY_PATH`. Stand-ins drive the real loading code through chosen
/// results; they are no GPU.
pub fn stub_dir(source: &str, soname: &str) -> Result<PathBuf, String> {
    let dir = work_dir(soname)?;
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/stubs")
        .join(source);
    let lib = dir.join(soname);
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1"])
        .arg(format!("-Wl,-soname,{soname}"))
        .arg("-o")
        .arg(&lib)
        .arg(&source)
        .status()
        .map_err(|e| format!("cc cannot run (install gcc): {e}"))?;
    if !status.success() {
        return Err(format!("compiling {} failed", source.display()));
    }
    let unversioned = soname.split(".so").next().unwrap_or(soname).to_owned() + ".so";
    let link = dir.join(unversioned);
    if !link.exists() {
        std::os::unix::fs::symlink(soname, &link)
            .map_err(|e| format!("cannot link {}: {e}", link.display()))?;
    }
    Ok(dir)
}

/// The `libcuda.so.1` stand-in's folder.
pub fn cuda_stub_dir() -> Result<PathBuf, String> {
    stub_dir("libcuda_stub.c", "libcuda.so.1")
}

/// The `libnvidia-ml.so.1` stand-in's folder.
pub fn nvml_stub_dir() -> Result<PathBuf, String> {
    stub_dir("libnvidia_ml_stub.c", "libnvidia-ml.so.1")
}

/// This process's peak resident set size in KiB (`VmHWM`). Not `getrusage`'s `ru_maxrss`: that
/// one carries the parent's peak into a child started through vfork+exec.
pub fn max_rss_kib() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
