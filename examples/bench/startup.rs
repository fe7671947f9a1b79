// SPDX-License-Identifier: MPL-2.0
//! Start-up cost: PLAYING → first output buffer, each sample in a fresh process, with the
//! consumer accepting GL and system memory so that `stromautoconvert` runs its interop test.

use std::str::FromStr;
use std::time::Instant;

use gst::prelude::*;
use serde_json::json;

use crate::cases::{STOCK, STROM};
use crate::child;
use crate::pipeline;
use crate::stats::Summary;

/// What the consumer takes: GL memory first, like `nvh264enc`, then system memory.
pub const CONSUMER_CAPS: &str = "video/x-raw(memory:GLMemory),format=NV12;video/x-raw,format=NV12";

/// A library situation a start-up sample runs in.
pub struct Setting {
    pub id: &'static str,
    pub label: &'static str,
    /// The `libcuda` stand-in first on the library path (else an empty folder: no libcuda).
    pub stand_in: bool,
    /// Extra stand-in variables (which CUDA call fails).
    pub stub_env: &'static [(&'static str, &'static str)],
}

pub const SETTINGS: [Setting; 3] = [
    Setting {
        id: "no-libcuda",
        label: "no libcuda.so.1",
        stand_in: false,
        stub_env: &[],
    },
    Setting {
        id: "stand-in-interop-fails",
        label: "stand-in libcuda, interop fails (CUDA_ERROR_OPERATING_SYSTEM)",
        stand_in: true,
        stub_env: &[("STROM_STUB_CUDA_REGISTER", "304")],
    },
    Setting {
        id: "stand-in-interop-ok",
        label: "stand-in libcuda, interop \"works\" (GL path on llvmpipe)",
        stand_in: true,
        stub_env: &[],
    },
];

/// The child's side: one start-up sample of `launch`, then (for `stromautoconvert`) a second
/// pipeline in the same process, where the interop test is cached.
pub fn child_sample(launch: &str) -> serde_json::Value {
    let first = match sample(launch) {
        Ok(v) => v,
        Err(err) => return json!({ "error": err }),
    };
    let mut result = json!({ "first": first });
    if launch == STROM {
        result["second"] = sample(launch).unwrap_or_else(|err| json!({ "error": err }));
        let started = Instant::now();
        let _ = gststrom::gpu::interop::probe_cached(None, None);
        result["cached-call-us"] = json!(started.elapsed().as_secs_f64() * 1e6);
        if let Some(us) = cuda_check_us() {
            result["cuda-check-us"] = json!(us);
        }
    }
    result
}

/// Median time of one mid-stream CUDA check (`cuGLGetDevices` in the GL thread, as
/// `stromautoconvert` makes it every `cuda-check-interval`), on the GL context of a prerolled
/// `glupload`. None without a libcuda to ask.
fn cuda_check_us() -> Option<f64> {
    use gst_gl::prelude::GLBaseFilterExt;
    gststrom::gpu::cuda::CudaDriver::get().ok()?;
    let pipeline = gst::parse::launch("videotestsrc num-buffers=1 ! glupload name=up ! fakesink")
        .ok()?
        .downcast::<gst::Pipeline>()
        .ok()?;
    pipeline.set_state(gst::State::Paused).ok()?;
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    let context = pipeline
        .by_name("up")
        .and_then(|up| up.downcast::<gst_gl::GLBaseFilter>().ok())
        .and_then(|up| up.gl_context());
    let mut samples: Vec<f64> = context
        .iter()
        .flat_map(|context| {
            (0..200).map(move |_| {
                let started = Instant::now();
                let _ = gststrom::gpu::health::check_gl_context(context, None);
                started.elapsed().as_secs_f64() * 1e6
            })
        })
        .collect();
    let _ = pipeline.set_state(gst::State::Null);
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied()
}

fn sample(launch: &str) -> Result<serde_json::Value, String> {
    let description = format!(
        "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 \
         ! {launch} ! capsfilter name=consumer ! fakesink name=sink sync=false"
    );
    let output = pipeline::run_with(&description, |p| {
        let caps = gst::Caps::from_str(CONSUMER_CAPS).map_err(|e| e.to_string())?;
        let filter = p.by_name("consumer").ok_or("no consumer capsfilter")?;
        filter.set_property("caps", caps);
        Ok(())
    })?;
    let first_buffer = output.first_buffer().ok_or("no buffer arrived")?;
    let mut value = json!({ "first-buffer-ms": first_buffer.as_secs_f64() * 1000.0 });
    if let Some(decision) = output
        .messages
        .iter()
        .find(|s| s.name() == "strom-autoconvert")
    {
        for field in ["path", "interop-status"] {
            if let Ok(v) = decision.get::<String>(field) {
                value[field] = json!(v);
            }
        }
        if let Ok(ms) = decision.get::<f64>("probe-ms") {
            value["probe-ms"] = json!(ms);
        }
    }
    Ok(value)
}

/// Start-up numbers of one setting, summarised.
pub struct SettingResult {
    pub setting: &'static Setting,
    pub strom_first_buffer: Option<Summary>,
    pub stock_first_buffer: Option<Summary>,
    pub probe_ms: Option<Summary>,
    pub cached_first_buffer: Option<Summary>,
    pub cached_call_us: Option<Summary>,
    pub cuda_check_us: Option<Summary>,
    pub path: String,
    pub interop_status: String,
    pub errors: Vec<String>,
}

impl SettingResult {
    pub fn to_json(&self) -> serde_json::Value {
        let s = |x: Option<Summary>| x.map(Summary::to_json);
        json!({
            "setting": self.setting.id,
            "label": self.setting.label,
            "stromautoconvert-first-buffer-ms": s(self.strom_first_buffer),
            "videoconvert-first-buffer-ms": s(self.stock_first_buffer),
            "probe-ms-first-call": s(self.probe_ms),
            "stromautoconvert-first-buffer-ms-cached": s(self.cached_first_buffer),
            "probe-cached-call-us": s(self.cached_call_us),
            "cuda-check-us": s(self.cuda_check_us),
            "path": self.path,
            "interop-status": self.interop_status,
            "errors": self.errors,
        })
    }
}

/// The parent's side: `reps` fresh-process samples per converter and setting, interleaved.
pub fn measure(reps: usize) -> Result<Vec<SettingResult>, String> {
    let empty = child::work_dir("no-libcuda")?;
    let stub = child::cuda_stub_dir()?;
    let mut results = Vec::new();
    for setting in &SETTINGS {
        let dir = if setting.stand_in { &stub } else { &empty };
        let mut envs = vec![
            ("LD_LIBRARY_PATH", dir.display().to_string()),
            ("GST_GL_WINDOW", "egl-device".to_owned()),
            ("GST_GL_PLATFORM", "egl".to_owned()),
        ];
        envs.extend(setting.stub_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        results.push(measure_setting(setting, &envs, reps));
    }
    Ok(results)
}

fn measure_setting(
    setting: &'static Setting,
    envs: &[(&str, String)],
    reps: usize,
) -> SettingResult {
    let (mut strom, mut stock, mut probe, mut cached, mut call, mut check) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut result = SettingResult {
        setting,
        strom_first_buffer: None,
        stock_first_buffer: None,
        probe_ms: None,
        cached_first_buffer: None,
        cached_call_us: None,
        cuda_check_us: None,
        path: String::new(),
        interop_status: String::new(),
        errors: Vec::new(),
    };
    let number = |v: &serde_json::Value, key: &str| v.get(key).and_then(serde_json::Value::as_f64);
    for _ in 0..reps {
        for launch in [STROM, STOCK] {
            let value = match child::spawn(&["startup", launch], envs) {
                Ok(v) => v,
                Err(err) => {
                    result.errors.push(err);
                    continue;
                }
            };
            if let Some(err) = value.get("error").and_then(|e| e.as_str()) {
                result.errors.push(format!("{launch}: {err}"));
                continue;
            }
            let first = &value["first"];
            let Some(ms) = number(first, "first-buffer-ms") else {
                continue;
            };
            if launch == STOCK {
                stock.push(ms);
                continue;
            }
            strom.push(ms);
            probe.extend(number(first, "probe-ms"));
            cached.extend(number(&value["second"], "first-buffer-ms"));
            call.extend(number(&value, "cached-call-us"));
            check.extend(number(&value, "cuda-check-us"));
            for (field, target) in [
                ("path", &mut result.path),
                ("interop-status", &mut result.interop_status),
            ] {
                if let Some(v) = first.get(field).and_then(|v| v.as_str()) {
                    *target = v.to_owned();
                }
            }
        }
    }
    result.strom_first_buffer = Summary::of(&strom);
    result.stock_first_buffer = Summary::of(&stock);
    result.probe_ms = Summary::of(&probe);
    result.cached_first_buffer = Summary::of(&cached);
    result.cached_call_us = Summary::of(&call);
    result.cuda_check_us = Summary::of(&check);
    result
}
