// SPDX-License-Identifier: MPL-2.0
//! `strom-doctor` run as users run it: the built binary, in child processes with the environment
//! each case needs. No machine here has a GPU; the libcuda stand-in drives the CUDA branches and
//! proves nothing about real GPUs.

mod built;
mod common;

use std::process::{Command, Output};

use common::describe_output;
use gststrom::doctor::Tier;
use serde_json::Value;

fn doctor(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strom-doctor"));
    cmd.args(args);
    for (key, value) in envs {
        cmd.env(key, value);
    }
    cmd.output().expect("strom-doctor runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `strom-doctor --json` and returns the parsed document.
fn doctor_json(envs: &[(&str, &str)]) -> Value {
    let out = doctor(&["--json"], envs);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("--json is not JSON ({err}):\n{}", describe_output(&out)))
}

/// True where a real NVIDIA driver loads: the no-GPU expectations below then do not apply.
fn driver_here() -> bool {
    gststrom::gpu::cuda::CudaDriver::get().is_ok()
}

/// Whether the no-GPU expectations apply here; where a driver loads, says they were skipped.
fn without_a_driver() -> bool {
    let here = driver_here();
    if here {
        common::skip("a real NVIDIA driver loads here: the no-GPU expectations are not checked");
    }
    !here
}

fn check<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .expect("checks is an array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check named {name} in {doc:#}"))
}

#[test]
fn prints_the_table_and_verdict_without_a_gpu() {
    let out = doctor(&[], &common::HEADLESS_GL);
    assert_eq!(out.status.code(), Some(0), "{}", describe_output(&out));
    let text = stdout(&out);
    assert!(text.starts_with("CHECK "), "{text}");
    assert!(text.lines().next().unwrap().ends_with("RESULT  DETAIL"));
    for row in [
        "libcuda ",
        "cuda-devices ",
        "nvidia-smi ",
        "nvml ",
        "libnvrtc ",
        "libEGL_nvidia ",
        "egl-vendor-file ",
        "gst-gl-environment ",
        "gl-context ",
        "cuda-gl-interop ",
        "element glupload ",
        "element stromautoconvert ",
        "element stromautoconvertscale ",
        "element stromautoenc ",
        "element stromcompositor ",
        "element stromgpumonitor ",
        "strom-plugin ",
        "path stromautoconvert ",
        "path stromautoenc h264 ",
        "path stromcompositor ",
        "path stromgpumonitor ",
    ] {
        assert!(text.contains(row), "no row '{row}' in\n{text}");
    }
    assert!(text.contains("\nVerdict: "), "{text}");
    assert!(text.contains("\nFirst fix: "), "{text}");
    if without_a_driver() {
        assert!(text.contains("libcuda.so.1 not found"), "{text}");
        // GL through egl-device without the NVIDIA driver is Mesa llvmpipe.
        assert!(text.contains("NVIDIA GPU not used for GL"), "{text}");
        assert!(text.contains("\nVerdict: software ("), "{text}");
    }
}

#[test]
fn json_has_the_documented_shape_and_tier_software() {
    let doc = doctor_json(&common::HEADLESS_GL);
    let tier = doc["tier"].as_str().expect("tier is a string");
    assert!(tier.parse::<Tier>().is_ok(), "{tier}");
    let checks = doc["checks"].as_array().expect("checks is an array");
    assert!(checks.len() > 20, "{doc:#}");
    for c in checks {
        assert!(c["name"].is_string(), "{c}");
        assert!(c["ok"].is_boolean(), "{c}");
        assert!(c["detail"].is_string(), "{c}");
        assert!(c["fix"].is_string() || c["fix"].is_null(), "{c}");
    }
    assert_eq!(check(&doc, "element videoconvert")["ok"], true);
    assert_eq!(check(&doc, "element x264enc")["ok"], true);
    if gststrom::gpu::nvml::nvml().is_err() {
        assert_eq!(check(&doc, "nvml")["ok"], false);
        assert!(
            check(&doc, "nvml")["detail"]
                .as_str()
                .unwrap()
                .contains("libnvidia-ml.so.1"),
            "{}",
            check(&doc, "nvml")
        );
    } else {
        common::skip("NVML works here: the check without it is not made");
    }
    if without_a_driver() {
        assert_eq!(tier, "software");
        assert!(doc["first_fix"].is_string(), "{doc:#}");
        assert_eq!(check(&doc, "libcuda")["ok"], false);
    }
}

const ELEMENTS: [&str; 5] = [
    "stromautoconvert",
    "stromautoconvertscale",
    "stromautoenc",
    "stromcompositor",
    "stromgpumonitor",
];

#[test]
fn every_element_is_registered_with_its_version_and_path() {
    let doc = doctor_json(&common::HEADLESS_GL);
    for element in ELEMENTS {
        let row = check(&doc, &format!("element {element}"));
        assert_eq!(row["ok"], true, "{row}");
        assert!(
            row["detail"]
                .as_str()
                .unwrap()
                .starts_with("from plugin strom "),
            "{row}"
        );
    }
    let paths: Vec<String> = [
        "path stromautoconvert",
        "path stromautoconvertscale",
        "path stromautoenc h264",
        "path stromautoenc h265",
        "path stromautoenc av1",
        "path stromcompositor",
        "path stromgpumonitor",
    ]
    .iter()
    .map(|name| {
        let row = check(&doc, name);
        assert_eq!(row["result"], "info", "{row}");
        row["detail"].as_str().unwrap().to_owned()
    })
    .collect();
    // x264enc comes with gstreamer1.0-plugins-ugly, which the tests install.
    assert!(
        paths[2].contains("(software) is tried first") || driver_here(),
        "{}",
        paths[2]
    );
    if without_a_driver() {
        // No GPU: the interop test cannot pass and GL is Mesa (or absent).
        assert!(
            paths[0].starts_with("software (videoconvert"),
            "{}",
            paths[0]
        );
        assert!(
            paths[1].starts_with("software (videoconvertscale"),
            "{}",
            paths[1]
        );
        assert!(
            paths[5].starts_with("software (compositor)"),
            "{}",
            paths[5]
        );
        assert!(
            paths[2].contains("nvh264enc not registered"),
            "{}",
            paths[2]
        );
    }
}

#[test]
fn require_gates_on_the_tier() {
    let tier: Tier = doctor_json(&[])["tier"].as_str().unwrap().parse().unwrap();
    if without_a_driver() {
        assert_eq!(tier, Tier::Software);
    }
    let ok = doctor(&["--require", "software"], &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", describe_output(&ok));

    let interop = doctor(&["--require", "gpu-interop"], &[]);
    if tier < Tier::GpuInterop {
        assert_eq!(
            interop.status.code(),
            Some(1),
            "{}",
            describe_output(&interop)
        );
        let stderr = String::from_utf8_lossy(&interop.stderr);
        assert!(
            stderr.contains("below the required gpu-interop"),
            "{stderr}"
        );
    } else {
        assert_eq!(
            interop.status.code(),
            Some(0),
            "{}",
            describe_output(&interop)
        );
    }

    let nvenc = doctor(&["--json", "--require=software-convert-nvenc"], &[]);
    let expected = if tier < Tier::SoftwareConvertNvenc {
        1
    } else {
        0
    };
    assert_eq!(
        nvenc.status.code(),
        Some(expected),
        "{}",
        describe_output(&nvenc)
    );
    serde_json::from_slice::<Value>(&nvenc.stdout).expect("prints its JSON either way");
}

#[test]
fn usage_errors_and_help() {
    let help = doctor(&["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).starts_with("Usage: strom-doctor"));

    let bad = doctor(&["--require", "fast"], &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", describe_output(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown tier 'fast'"));
    assert_eq!(doctor(&["--frobnicate"], &[]).status.code(), Some(2));
    assert_eq!(doctor(&["--require"], &[]).status.code(), Some(2));
}

#[test]
fn interop_failure_names_the_cuda_error() {
    let library_path = common::library_path_with(&common::cuda_stub_dir());
    let doc = doctor_json(&[
        ("LD_LIBRARY_PATH", library_path.as_str()),
        ("STROM_STUB_CUDA_REGISTER", "304"),
        common::HEADLESS_GL[0],
        common::HEADLESS_GL[1],
    ]);
    let devices = check(&doc, "cuda-devices");
    assert_eq!(devices["ok"], true, "{devices}");
    assert!(
        devices["detail"]
            .as_str()
            .unwrap()
            .contains("Stand-in CUDA device")
    );
    let interop = check(&doc, "cuda-gl-interop");
    assert_eq!(interop["ok"], false, "{interop}");
    assert_eq!(interop["result"], "fail", "{interop}");
    let detail = interop["detail"].as_str().unwrap();
    assert!(
        detail.contains("cuGraphicsGLRegisterBuffer returned CUDA_ERROR_OPERATING_SYSTEM"),
        "{detail}"
    );
    assert!(interop["fix"].is_string(), "{interop}");
    // The stand-in has no NVENC, so nvcodec registers no encoder: still the software tier.
    assert_eq!(doc["tier"], "software");
}

#[test]
fn egl_vendor_override_without_nvidia_fails_with_the_json_fix() {
    let doc = doctor_json(&[("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent")]);
    let egl = check(&doc, "egl-vendor-file");
    assert_eq!(egl["ok"], false, "{egl}");
    assert!(
        egl["detail"]
            .as_str()
            .unwrap()
            .contains("__EGL_VENDOR_LIBRARY_FILENAMES=/nonexistent")
    );
    let fix = egl["fix"].as_str().unwrap();
    assert!(
        fix.contains(gststrom::gpu::platform::NVIDIA_EGL_VENDOR_JSON.trim_end()),
        "{fix}"
    );
    assert!(
        fix.contains("/usr/share/glvnd/egl_vendor.d/10_nvidia.json"),
        "{fix}"
    );
}

#[test]
fn wsl_is_flagged() {
    let doc = doctor_json(&[("WSL_DISTRO_NAME", "Ubuntu")]);
    let wsl = check(&doc, "wsl2");
    assert_eq!(wsl["ok"], false, "{wsl}");
    assert!(
        wsl["detail"]
            .as_str()
            .unwrap()
            .contains("interop is unsupported")
    );
    let interop = check(&doc, "cuda-gl-interop");
    assert!(
        interop["detail"].as_str().unwrap().starts_with("skipped: "),
        "{interop}"
    );
}

#[test]
fn gbm_window_warns() {
    let doc = doctor_json(&[("GST_GL_WINDOW", "gbm")]);
    let env = check(&doc, "gst-gl-environment");
    assert_eq!(env["result"], "warn", "{env}");
    assert!(
        env["detail"]
            .as_str()
            .unwrap()
            .contains("GST_GL_WINDOW=gbm")
    );
    assert_eq!(
        env["fix"],
        "export GST_GL_WINDOW=egl-device GST_GL_PLATFORM=egl"
    );
}

#[test]
fn container_capabilities_are_read() {
    let doc = doctor_json(&[
        ("container", "docker"),
        ("NVIDIA_DRIVER_CAPABILITIES", "compute"),
    ]);
    let container = check(&doc, "container");
    assert_eq!(container["result"], "warn", "{container}");
    assert!(
        container["detail"]
            .as_str()
            .unwrap()
            .contains("NVIDIA_DRIVER_CAPABILITIES=compute lacks graphics")
    );
    let doc = doctor_json(&[
        ("container", "docker"),
        ("NVIDIA_DRIVER_CAPABILITIES", "all"),
    ]);
    assert_eq!(check(&doc, "container")["ok"], true);
}

#[test]
fn cuda_visible_devices_is_reported() {
    let doc = doctor_json(&[("CUDA_VISIBLE_DEVICES", "-1")]);
    assert_eq!(check(&doc, "CUDA_VISIBLE_DEVICES")["result"], "warn");
}

#[test]
fn installed_plugin_is_found_through_the_registry() {
    let dir = built::plugin_only_dir("doctor-plugin");
    let registry = dir.join("registry.bin");
    let doc = doctor_json(&[
        ("GST_PLUGIN_PATH", dir.to_str().unwrap()),
        ("GST_REGISTRY", registry.to_str().unwrap()),
    ]);
    let row = check(&doc, "strom-plugin");
    assert_eq!(row["ok"], true, "{row}");
    assert!(
        row["detail"].as_str().unwrap().contains("libgststrom.so"),
        "{row}"
    );
    assert_eq!(check(&doc, "element stromautoconvert")["ok"], true);
}

/// `LD_LIBRARY_PATH` of `dirs`, in order.
fn library_path_of(dirs: &[std::path::PathBuf]) -> String {
    std::env::join_paths(dirs)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_stub_libcuda_so_first_on_the_path_is_a_warning_not_the_driver() {
    let path = library_path_of(&[common::toolkit_stub_dir(), common::cuda_stub_dir()]);
    let doc = doctor_json(&[
        ("LD_LIBRARY_PATH", path.as_str()),
        common::HEADLESS_GL[0],
        common::HEADLESS_GL[1],
    ]);
    let stub = check(&doc, "libcuda-stub");
    assert_eq!(stub["result"], "warn", "{stub}");
    let detail = stub["detail"].as_str().unwrap();
    assert!(
        detail.contains("cuda-toolkit/lib64/stubs/libcuda.so")
            && detail.contains("CUDA_ERROR_STUB_LIBRARY"),
        "{detail}"
    );
    assert!(
        stub["fix"]
            .as_str()
            .unwrap()
            .contains("off LD_LIBRARY_PATH"),
        "{stub}"
    );
    // The driver is the stand-in's libcuda.so.1, and interop works with it.
    let libcuda = check(&doc, "libcuda");
    assert!(
        libcuda["detail"]
            .as_str()
            .unwrap()
            .contains("stubs/libcuda.so.1/libcuda.so.1"),
        "{libcuda}"
    );
    assert_eq!(check(&doc, "cuda-gl-interop")["ok"], true);
}

#[test]
fn the_stub_as_libcuda_so_1_fails_cuinit_with_the_stub_fix() {
    let path = library_path_of(&[common::stub_as_driver_dir()]);
    let doc = doctor_json(&[("LD_LIBRARY_PATH", path.as_str())]);
    let devices = check(&doc, "cuda-devices");
    assert_eq!(devices["ok"], false, "{devices}");
    assert!(
        devices["detail"]
            .as_str()
            .unwrap()
            .contains("CUDA_ERROR_STUB_LIBRARY")
    );
    assert!(
        devices["fix"].as_str().unwrap().contains("link-time stub"),
        "{devices}"
    );
}

#[test]
fn multi_gpu_rows_show_the_gl_devices_and_device_0() {
    let path = common::library_path_with(&common::cuda_stub_dir());
    let doc = doctor_json(&[
        ("LD_LIBRARY_PATH", path.as_str()),
        ("STROM_STUB_CUDA_DEVICES", "2"),
        ("STROM_STUB_CUDA_GL_DEVICE_LIST", "1"),
        ("STROM_STUB_CUDA_REGISTER_DEV0", "304"),
        common::HEADLESS_GL[0],
        common::HEADLESS_GL[1],
    ]);
    let devices = check(&doc, "cuda-gl-devices");
    assert_eq!(devices["ok"], true, "{devices}");
    assert!(
        devices["detail"]
            .as_str()
            .unwrap()
            .starts_with("gl-devices 1, cuda-device 1 tested"),
        "{devices}"
    );
    assert_eq!(check(&doc, "cuda-gl-interop")["ok"], true);
    let device_0 = check(&doc, "cuda-gl-interop device 0");
    assert_eq!(device_0["result"], "fail", "{device_0}");
    let detail = device_0["detail"].as_str().unwrap();
    assert!(
        detail.contains("CUDA_ERROR_OPERATING_SYSTEM on CUDA device 0")
            && detail.contains("nvh264enc encodes on CUDA device 0"),
        "{detail}"
    );
}

#[test]
fn wsl_interop_is_flagged() {
    let doc = doctor_json(&[("WSL_INTEROP", "/run/WSL/1_interop")]);
    assert_eq!(check(&doc, "wsl2")["ok"], false);
}
