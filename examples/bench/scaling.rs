// SPDX-License-Identifier: MPL-2.0
//! The scaling ladder a transcoder feeds its encoders: 1080p I420 into 720p and 480p NV12,
//! `stromautoconvertscale` (auto mode, which with a system-memory consumer builds its software
//! chain) and `videoscale ! stromautoconvert` against `videoconvertscale` with the same threads and with its default one thread,
//! interleaved round-robin in one run; frames per second and CPU per frame side by side.

use serde_json::{Value, json};

use crate::cases::{Case, Contender, Video};
use crate::pipeline;
use crate::stats::{Summary, ratio};

/// The reference every ratio is against: `videoconvertscale` as users run it by default.
pub const STOCK: &str = "videoconvertscale";

pub const CASES: [Case; 2] = [
    Case {
        id: "1080p-720p-i420-nv12",
        label: "1080p I420 → 720p NV12",
        input: Video::new("I420", 1920, 1080),
        output: Video::new("NV12", 1280, 720),
        frames: 120,
    },
    Case {
        id: "1080p-480p-i420-nv12",
        label: "1080p I420 → 480p NV12 (854×480)",
        input: Video::new("I420", 1920, 1080),
        output: Video::new("NV12", 854, 480),
        frames: 120,
    },
];

/// `stromautoconvertscale`, `stromautoconvert` behind `videoscale` (how a pipeline that scales
/// and then converts uses it) and `videoconvertscale`, with `threads` threads each, and
/// `videoconvertscale` alone.
pub fn contenders(threads: usize) -> Vec<Contender> {
    [
        format!("stromautoconvertscale n-threads={threads}"),
        format!("videoscale n-threads={threads} ! stromautoconvert n-threads={threads}"),
        format!("videoconvertscale n-threads={threads}"),
        STOCK.to_owned(),
    ]
    .into_iter()
    .map(|launch| Contender {
        id: launch.clone(),
        launch,
        scaling_reference: false,
    })
    .collect()
}

/// One contender on one case.
pub struct Entry {
    pub contender: String,
    pub fps: Result<Summary, String>,
    pub cpu_ms: Option<Summary>,
    /// The `chain` of the bin's `strom-autoconvert` message, for the bin.
    pub chain: Option<String>,
}

pub struct ScalingResult {
    pub case: Case,
    pub entries: Vec<Entry>,
}

impl ScalingResult {
    fn find(&self, contender: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.contender == contender)
    }

    /// `contender` over `other`: frames per second and CPU per frame, ratios of medians.
    fn ratios(&self, contender: &str, other: &str) -> (Option<f64>, Option<f64>) {
        let (Some(a), Some(b)) = (self.find(contender), self.find(other)) else {
            return (None, None);
        };
        let fps = ratio(a.fps.as_ref().ok().copied(), b.fps.as_ref().ok().copied());
        let cpu = ratio(a.cpu_ms, b.cpu_ms);
        (fps, cpu)
    }
}

/// Every contender on every case `wanted` keeps, interleaved round-robin within each repetition.
pub fn measure(
    reps: usize,
    wanted: impl Fn(&Case) -> bool,
    frames: impl Fn(&Case) -> u32,
    contenders: &[Contender],
) -> Vec<ScalingResult> {
    CASES
        .iter()
        .filter(|c| wanted(c))
        .map(|case| {
            let n = frames(case);
            let mut fps: Vec<Result<Vec<f64>, String>> = vec![Ok(Vec::new()); contenders.len()];
            let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
            let mut chains: Vec<Option<String>> = vec![None; contenders.len()];
            for _ in 0..reps {
                for (i, contender) in contenders.iter().enumerate() {
                    let Ok(list) = &mut fps[i] else { continue };
                    let description = pipeline::throughput_description(case, contender, n, "");
                    match pipeline::measure_description(&description, n) {
                        Ok((m, messages)) => {
                            list.push(m.fps);
                            cpu[i].extend(m.cpu_ms_per_frame);
                            chains[i] = chains[i].take().or_else(|| chain_of(&messages));
                        }
                        Err(err) => fps[i] = Err(err),
                    }
                }
                crate::progress(&format!("scaling {}", case.id));
            }
            let entries = contenders
                .iter()
                .zip(fps)
                .zip(cpu)
                .zip(chains)
                .map(|(((c, fps), cpu), chain)| Entry {
                    contender: c.id.clone(),
                    fps: fps.and_then(|l| Summary::of(&l).ok_or_else(|| "no samples".into())),
                    cpu_ms: Summary::of(&cpu),
                    chain,
                })
                .collect();
            ScalingResult {
                case: *case,
                entries,
            }
        })
        .collect()
}

/// The chain the bin said it built.
fn chain_of(messages: &[gst::Structure]) -> Option<String> {
    messages
        .iter()
        .find(|s| s.name() == "strom-autoconvert")
        .and_then(|s| {
            let path = s.get::<String>("path").ok()?;
            let chain = s.get::<String>("chain").ok()?;
            Some(format!("{path}: {chain}"))
        })
}

pub fn markdown(results: &[ScalingResult], reps: usize, threads: usize) -> String {
    use std::fmt::Write;
    let threaded = format!("videoconvertscale n-threads={threads}");
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n## Scaling: 1080p → 720p / 480p\n\n\
         Frames per second and CPU per frame (ms, all threads of the process, first buffer to \
         EOS), median (min–max) of {reps} runs, contenders interleaved round-robin; the source \
         (`videotestsrc ! imagefreeze`) is included and costs a few µs per frame. Ratios of \
         medians against `{threaded}` (the same threads) and `{STOCK}` (its default, 1 thread) \
         in the same run.\n\n\
         | case | contender | chain | fps | CPU ms / frame | fps ÷ {threaded} | CPU ÷ {threaded} | fps ÷ {STOCK} | CPU ÷ {STOCK} |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|"
    );
    let f = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2}×"));
    for r in results {
        for e in &r.entries {
            let (fps_t, cpu_t) = r.ratios(&e.contender, &threaded);
            let (fps_s, cpu_s) = r.ratios(&e.contender, STOCK);
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} |",
                r.case.label,
                e.contender,
                e.chain.as_deref().unwrap_or("–"),
                e.fps.as_ref().map_or("fails".into(), |s| s.cell(1)),
                e.cpu_ms.map_or("–".into(), |s| s.cell(3)),
                f(fps_t),
                f(cpu_t),
                f(fps_s),
                f(cpu_s),
            );
        }
    }
    for r in results {
        for e in &r.entries {
            if let Err(why) = &e.fps {
                let _ = writeln!(md, "\n- `{}` on {} fails: {why}", e.contender, r.case.label);
            }
        }
    }
    md
}

pub fn to_json(results: &[ScalingResult]) -> Value {
    json!(
        results
            .iter()
            .map(|r| json!({
                "case": r.case.id,
                "label": r.case.label,
                "results": r.entries.iter().map(|e| json!({
                    "contender": e.contender,
                    "chain": e.chain,
                    "fps": e.fps.as_ref().ok().map(|s| s.to_json()),
                    "cpu-ms-per-frame": e.cpu_ms.map(Summary::to_json),
                    "fails": e.fps.as_ref().err(),
                })).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    )
}
