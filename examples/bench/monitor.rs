// SPDX-License-Identifier: MPL-2.0
//! `stromgpumonitor`'s cost: the same pipeline with and without `stromgpumonitor interval=100`
//! after the converter, interleaved, in a fresh process per library setting (without NVML the
//! monitor only passes buffers on; with the NVML stand-in its sampling thread runs and posts).

use serde_json::json;

use crate::cases::{CASES, Case, Contender, STROM};
use crate::child;
use crate::pipeline;
use crate::stats::Summary;

const TAIL: &str = "! stromgpumonitor interval=100";
/// 1080p I420→NV12 (the target's case) and 1080p passthrough (per-buffer cost laid bare).
const CASE_IDS: [&str; 2] = ["1080p-i420-nv12", "1080p-nv12-nv12"];
const STATS_MESSAGE: &str = "strom-gpu-stats";

pub struct MonitorResult {
    pub setting: &'static str,
    pub case: Case,
    pub without: Summary,
    pub with: Summary,
    /// `strom-gpu-stats` messages posted during the runs with the monitor.
    pub stats_messages: u64,
}

impl MonitorResult {
    pub fn change_percent(&self) -> f64 {
        (self.with.median / self.without.median - 1.0) * 100.0
    }

    /// Within noise: the medians lie inside each other's min–max range, or differ by under 1%.
    pub fn within_noise(&self) -> bool {
        let inside = |a: &Summary, b: &Summary| a.median >= b.min && a.median <= b.max;
        self.change_percent().abs() < 1.0
            || inside(&self.with, &self.without)
            || inside(&self.without, &self.with)
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "setting": self.setting,
            "case": self.case.id,
            "without": self.without.to_json(),
            "with": self.with.to_json(),
            "change-percent": self.change_percent(),
            "stats-messages": self.stats_messages,
        })
    }
}

const SETTINGS: [(&str, bool); 2] = [("no libnvidia-ml", false), ("NVML stand-in", true)];

/// The parent's side.
pub fn measure(
    reps: usize,
    frames_of: impl Fn(&Case) -> u32,
) -> Result<Vec<MonitorResult>, String> {
    if gst::ElementFactory::find("stromgpumonitor").is_none() {
        return Err("stromgpumonitor not available".into());
    }
    let empty = child::work_dir("no-nvml")?;
    let stub = child::nvml_stub_dir()?;
    let mut results = Vec::new();
    for (setting, stand_in) in SETTINGS {
        let dir = if stand_in { &stub } else { &empty };
        for id in CASE_IDS {
            let case = *CASES.iter().find(|c| c.id == id).ok_or("unknown case")?;
            let frames = frames_of(&case).to_string();
            let reps = reps.to_string();
            let value = child::spawn(
                &["monitor", id, &frames, &reps],
                &[("LD_LIBRARY_PATH", dir.display().to_string())],
            )?;
            if let Some(err) = value["error"].as_str() {
                return Err(format!("{setting}, {id}: {err}"));
            }
            let samples = |key: &str| -> Vec<f64> {
                value[key]
                    .as_array()
                    .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
                    .unwrap_or_default()
            };
            results.push(MonitorResult {
                setting,
                case,
                without: Summary::of(&samples("without")).ok_or("no samples")?,
                with: Summary::of(&samples("with")).ok_or("no samples")?,
                stats_messages: value["stats-messages"].as_u64().unwrap_or(0),
            });
            crate::progress(&format!("monitor {setting} {id}"));
        }
    }
    Ok(results)
}

/// The child's side: `reps` interleaved pairs of runs without and with the monitor.
pub fn child_measure(case_id: &str, frames: &str, reps: &str) -> serde_json::Value {
    let Some(case) = CASES.iter().find(|c| c.id == case_id) else {
        return json!({ "error": format!("unknown case {case_id}") });
    };
    let (Ok(frames), Ok(reps)) = (frames.parse::<u32>(), reps.parse::<usize>()) else {
        return json!({ "error": "frames and reps must be numbers" });
    };
    let strom = Contender {
        id: STROM.into(),
        launch: STROM.into(),
        scaling_reference: false,
    };
    let (mut without, mut with, mut messages) = (Vec::new(), Vec::new(), 0u64);
    for _ in 0..reps {
        match pipeline::throughput(case, &strom, frames, "") {
            Ok(fps) => without.push(fps),
            Err(err) => return json!({ "error": err }),
        }
        match pipeline::throughput_with_messages(case, &strom, frames, TAIL) {
            Ok((fps, posted)) => {
                with.push(fps);
                messages += posted.iter().filter(|s| s.name() == STATS_MESSAGE).count() as u64;
            }
            Err(err) => return json!({ "error": err }),
        }
    }
    json!({ "without": without, "with": with, "stats-messages": messages })
}
