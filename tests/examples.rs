// SPDX-License-Identifier: MPL-2.0
//! The examples run with a few frames, so they cannot rot: each must write a non-empty MP4 and
//! print its element's decision (`strom-autoconvert`, `strom-compositor`).

mod built;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::describe_output;

const FRAMES: &str = "10";

fn output_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("examples");
    std::fs::create_dir_all(&dir).expect("output dir");
    let path = dir.join(format!("{name}-{}.mp4", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn assert_transcoded(out: &Output, mp4: &Path) {
    assert!(out.status.success(), "{}", describe_output(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("encoder: "), "{}", describe_output(out));
    assert!(
        stdout.contains("strom-autoconvert:\n  path: "),
        "{}",
        describe_output(out)
    );
    let size = std::fs::metadata(mp4).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 0,
        "{} is missing or empty\n{}",
        mp4.display(),
        describe_output(out)
    );
    let _ = std::fs::remove_file(mp4);
}

#[test]
fn rust_example_transcodes() {
    let mp4 = output_path("rust");
    let out = Command::new(built::example("transcode"))
        .args(["--frames", FRAMES, "--output"])
        .arg(&mp4)
        .envs(common::HEADLESS_GL)
        .output()
        .expect("the example runs");
    assert_transcoded(&out, &mp4);
}

#[test]
fn python_example_transcodes() {
    let plugin_dir = built::plugin_only_dir("python-example-plugin");
    let mp4 = output_path("python");
    let out = Command::new("/usr/bin/python3")
        .arg(common::repo_root().join("examples/transcode.py"))
        .args(["--frames", FRAMES, "--output"])
        .arg(&mp4)
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", plugin_dir.join("registry.bin"))
        .envs(common::HEADLESS_GL)
        .output()
        .expect("/usr/bin/python3 runs");
    assert_transcoded(&out, &mp4);
}

#[test]
fn python_mosaic_example_mixes_and_encodes() {
    let plugin_dir = built::plugin_only_dir("python-mosaic-plugin");
    for mode in ["auto", "gl"] {
        let mp4 = output_path(&format!("mosaic-{mode}"));
        let out = Command::new("/usr/bin/python3")
            .arg(common::repo_root().join("examples/mosaic.py"))
            .args([
                "--frames", FRAMES, "--size", "320x180", "--mode", mode, "--output",
            ])
            .arg(&mp4)
            .env("GST_PLUGIN_PATH", &plugin_dir)
            .env("GST_REGISTRY", plugin_dir.join("registry.bin"))
            .envs(common::HEADLESS_GL)
            .output()
            .expect("/usr/bin/python3 runs");
        assert!(out.status.success(), "{}", common::describe_output(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let path = if mode == "gl" { "gl" } else { "software" };
        assert!(
            stdout.contains(&format!("strom-compositor:\n  path: {path}")),
            "{}",
            common::describe_output(&out)
        );
        let size = std::fs::metadata(&mp4).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 0,
            "{} is missing or empty\n{}",
            mp4.display(),
            common::describe_output(&out)
        );
        let _ = std::fs::remove_file(&mp4);
    }
}
