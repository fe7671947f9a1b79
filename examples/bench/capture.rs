// SPDX-License-Identifier: MPL-2.0
//! "CPU per frame" for the conversions capture sources feed an encoder (UYVY, YUY2, NV12 and
//! BGRx/BGRA/RGBA/RGBx into I420/NV12), `stromautoconvert` against `videoconvert` with its
//! default one thread and with one thread per core, interleaved round-robin in one run.
//!
//! Each contender's whole-process CPU time per frame minus the source's own: the same
//! `videotestsrc ! imagefreeze ! fakesink` pipeline without a converter, measured in the same
//! rounds. The physical floor is a `memcpy` of the input frame's bytes into a reused
//! buffer, timed in this thread.

use serde_json::{Value, json};

use crate::cases::{Case, Contender, Video};
use crate::pipeline;
use crate::stats::{Summary, ratio};

/// Where `videoconvert` 1.22 has a fast path of its own (`video_orc_convert_*_I420`): the goal
/// there is never to cost more than it.
fn videoconvert_fast_path(case: &Case) -> bool {
    matches!(case.input.format, "UYVY" | "YUY2") && case.output.format == "I420"
}

/// The CPU goal for `case`, as a ratio to `videoconvert` (1 thread).
pub fn cpu_goal(case: &Case) -> f64 {
    if videoconvert_fast_path(case) {
        1.0
    } else if matches!(case.input.format, "BGRx" | "BGRA" | "RGBA" | "RGBx") {
        0.6
    } else {
        0.5
    }
}

/// The conversions, at 1080p and 2160p.
pub fn cases() -> Vec<Case> {
    const PAIRS: [(&str, &str, &str); 13] = [
        ("uyvy-nv12", "UYVY", "NV12"),
        ("uyvy-i420", "UYVY", "I420"),
        ("yuy2-nv12", "YUY2", "NV12"),
        ("yuy2-i420", "YUY2", "I420"),
        ("nv12-i420", "NV12", "I420"),
        ("bgrx-nv12", "BGRx", "NV12"),
        ("bgrx-i420", "BGRx", "I420"),
        ("bgra-nv12", "BGRA", "NV12"),
        ("bgra-i420", "BGRA", "I420"),
        ("rgba-nv12", "RGBA", "NV12"),
        ("rgba-i420", "RGBA", "I420"),
        ("rgbx-nv12", "RGBx", "NV12"),
        ("rgbx-i420", "RGBx", "I420"),
    ];
    let mut cases = Vec::new();
    for (name, (w, h), frames) in [("1080p", (1920, 1080), 120), ("2160p", (3840, 2160), 40)] {
        for (id, from, to) in PAIRS {
            // Leaked once per run: Case holds &'static str like the fixed cases do.
            let id: &'static str = Box::leak(format!("{name}-{id}").into_boxed_str());
            let label: &'static str = Box::leak(format!("{name} {from}→{to}").into_boxed_str());
            cases.push(Case {
                id,
                label,
                input: Video::new(from, w, h),
                output: Video::new(to, w, h),
                frames,
            });
        }
    }
    cases
}

/// One case's numbers.
pub struct CaptureResult {
    pub case: Case,
    /// CPU ms per frame of the pipeline without a converter.
    pub source_ms: Option<Summary>,
    /// Net CPU ms per frame (source subtracted) per contender, or why it did not run.
    pub net_ms: Vec<(String, Result<Summary, String>)>,
    /// Frames per second per contender.
    pub fps: Vec<(String, Option<Summary>)>,
    /// `memcpy` of the input frame's bytes, ms.
    pub floor_ms: Summary,
}

impl CaptureResult {
    fn net(&self, contender: &str) -> Option<Summary> {
        self.net_ms
            .iter()
            .find(|(c, _)| c == contender)
            .and_then(|(_, s)| s.as_ref().ok().copied())
    }

    fn fps_of(&self, contender: &str) -> Option<Summary> {
        self.fps
            .iter()
            .find(|(c, _)| c == contender)
            .and_then(|(_, s)| *s)
    }
}

/// Input frame size in bytes, as GStreamer lays it out.
fn frame_bytes(video: &Video) -> usize {
    let format = gst_video::VideoFormat::from_string(video.format);
    gst_video::VideoInfo::builder(format, video.width, video.height)
        .build()
        .map_or(0, |info| info.size())
}

/// CPU time of this thread.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; the clock id is valid on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// ms per `memcpy` of `bytes` from one buffer into another, both reused (as a pool gives).
fn memcpy_ms(bytes: usize, copies: usize) -> f64 {
    let source: Vec<u8> = (0..bytes).map(|i| i as u8).collect();
    let mut target = vec![0u8; bytes];
    target.copy_from_slice(&source);
    let start = thread_cpu();
    for _ in 0..copies {
        target.copy_from_slice(std::hint::black_box(&source));
        std::hint::black_box(&mut target);
    }
    (thread_cpu() - start) * 1000.0 / copies as f64
}

/// The source alone: what every contender's measurement also contains.
fn source_only() -> Contender {
    Contender {
        id: "source only".into(),
        launch: "identity".into(),
        scaling_reference: false,
    }
}

/// What `--quick` runs: one packed, one layout and one RGB case at 1080p (a smoke run).
pub const QUICK_CASES: [&str; 3] = ["1080p-uyvy-nv12", "1080p-nv12-i420", "1080p-bgrx-nv12"];

/// The cases `wanted` keeps, each contender interleaved round-robin with the others.
pub fn measure(
    reps: usize,
    wanted: impl Fn(&Case) -> bool,
    frames: impl Fn(&Case) -> u32,
    contenders: &[Contender],
) -> Vec<CaptureResult> {
    cases()
        .into_iter()
        .filter(|c| wanted(c))
        .map(|case| {
            let n = frames(&case);
            // The baseline keeps the input format end to end.
            let baseline_case = Case {
                output: case.input,
                ..case
            };
            let mut source = Vec::new();
            let mut cpu: Vec<Result<Vec<f64>, String>> = vec![Ok(Vec::new()); contenders.len()];
            let mut fps: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
            let mut floor = Vec::new();
            for _ in 0..reps {
                if let Ok(m) = pipeline::measure(&baseline_case, &source_only(), n, "") {
                    source.extend(m.cpu_ms_per_frame);
                }
                for ((contender, slot), fps) in contenders.iter().zip(&mut cpu).zip(&mut fps) {
                    let Ok(list) = slot else { continue };
                    match pipeline::measure(&case, contender, n, "") {
                        Ok(m) => {
                            list.extend(m.cpu_ms_per_frame);
                            fps.push(m.fps);
                        }
                        Err(err) => *slot = Err(err),
                    }
                }
                floor.push(memcpy_ms(frame_bytes(&case.input), n as usize));
                crate::progress(&format!("cpu per frame {}", case.id));
            }
            let source_ms = Summary::of(&source);
            let base = source_ms.map_or(0.0, |s| s.median);
            let net_ms = contenders
                .iter()
                .zip(cpu)
                .map(|(c, samples)| {
                    let net = samples.and_then(|list| {
                        let net: Vec<f64> = list.iter().map(|ms| (ms - base).max(0.0)).collect();
                        Summary::of(&net).ok_or_else(|| "no samples".to_owned())
                    });
                    (c.id.clone(), net)
                })
                .collect();
            let fps = contenders
                .iter()
                .zip(fps)
                .map(|(c, list)| (c.id.clone(), Summary::of(&list)))
                .collect();
            CaptureResult {
                case,
                source_ms,
                net_ms,
                fps,
                floor_ms: Summary::of(&floor).unwrap_or(Summary {
                    median: 0.0,
                    min: 0.0,
                    max: 0.0,
                    samples: 0,
                }),
            }
        })
        .collect()
}

pub fn markdown(results: &[CaptureResult], strom: &str, stock: &str, threaded: &str) -> String {
    use std::fmt::Write;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n## CPU per frame (capture formats)\n\n\
         Net CPU ms per frame: whole-process CPU (all threads) from the first buffer to EOS, \
         divided by the frames, minus the same for the source alone (`videotestsrc ! \
         imagefreeze ! identity ! fakesink`, median given); median (min–max). Floor: a \
         `memcpy` of the input frame's bytes. CPU ratio: {strom} ÷ {stock} (1 thread, its \
         default); wall: frames per second, {strom} ÷ {stock}. Goal: the issue's CPU ratio \
         (≤ 0.5 packed YUV and NV12, ≤ 0.6 RGB, ≤ 1.0 where {stock} has a fast path of its own) \
         and wall ≥ 1.5×.\n\n\
         | case | floor (memcpy) | source alone | {strom} | {stock} | {threaded} | CPU ÷ {stock} | CPU ÷ {threaded} | × floor | wall ÷ {stock} | goal | met |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for r in results {
        let cell = |c: &str| match r.net_ms.iter().find(|(id, _)| id == c) {
            Some((_, Ok(s))) => s.cell(3),
            Some((_, Err(_))) => "fails".into(),
            None => "–".into(),
        };
        let cpu = ratio(r.net(strom), r.net(stock));
        let cpu_threaded = ratio(r.net(strom), r.net(threaded));
        let floor = r.net(strom).map(|s| s.median / r.floor_ms.median.max(1e-9));
        let wall = ratio(r.fps_of(strom), r.fps_of(stock));
        let goal = cpu_goal(&r.case);
        let met = match (cpu, wall) {
            (Some(c), Some(w)) if c <= goal && w >= 1.5 => "yes",
            (Some(_), Some(_)) => "**no**",
            _ => "–",
        };
        let f = |v: Option<f64>, d: usize| v.map_or("–".into(), |v| format!("{v:.d$}×"));
        let _ = writeln!(
            md,
            "| {} | {:.3} | {} | {} | {} | {} | {} | {} | {} | {} | CPU ≤ {goal:.1}×, wall ≥ 1.5× | {met} |",
            r.case.label,
            r.floor_ms.median,
            r.source_ms
                .map_or("–".into(), |s| format!("{:.3}", s.median)),
            cell(strom),
            cell(stock),
            cell(threaded),
            f(cpu, 2),
            f(cpu_threaded, 2),
            f(floor, 1),
            f(wall, 2),
        );
    }
    md
}

pub fn to_json(results: &[CaptureResult]) -> Value {
    json!(
        results
            .iter()
            .map(|r| json!({
                "case": r.case.id,
                "label": r.case.label,
                "memcpy-floor-ms": r.floor_ms.to_json(),
                "source-ms": r.source_ms.map(Summary::to_json),
                "cpu-goal-vs-videoconvert": cpu_goal(&r.case),
                "net-cpu-ms-per-frame": r.net_ms.iter().map(|(c, s)| json!({
                    "contender": c,
                    "net-ms": s.as_ref().ok().map(|s| s.to_json()),
                    "fails": s.as_ref().err(),
                })).collect::<Vec<_>>(),
                "fps": r.fps.iter().map(|(c, s)| json!({
                    "contender": c, "fps": s.map(Summary::to_json),
                })).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    )
}
