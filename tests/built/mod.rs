// SPDX-License-Identifier: MPL-2.0
//! Artifacts of this build that a test runs from the outside: the `strom` cdylib and the examples,
//! built on demand with the cargo running the tests (same profile, same target folder).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The profile folder of this build (`target/<profile>`), where cargo puts the cdylib and
/// `examples/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// Builds what `targets` name (`--lib`, `--example NAME`) in this build's profile.
pub fn cargo_build(targets: &[&str]) {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.arg("build").args(targets).arg("--quiet");
    if profile_dir().ends_with("release") {
        cmd.arg("--release");
    }
    let out = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build {targets:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A folder named `name` holding only a fresh copy of `libgststrom.so`, for `GST_PLUGIN_PATH`
/// (pointing it at `target/` would make GStreamer load every shared object there). Use a private
/// `GST_REGISTRY` inside it too, so the user's registry never changes.
pub fn plugin_only_dir(name: &str) -> PathBuf {
    cargo_build(&["--lib"]);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("plugin dir");
    std::fs::copy(
        profile_dir().join("libgststrom.so"),
        dir.join("libgststrom.so"),
    )
    .expect("the cdylib is built");
    dir
}

/// The built example `name`.
pub fn example(name: &str) -> PathBuf {
    cargo_build(&["--example", name]);
    profile_dir().join("examples").join(name)
}
