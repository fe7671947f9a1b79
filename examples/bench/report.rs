// SPDX-License-Identifier: MPL-2.0
//! The run's results as a Markdown report (tables, ratios, targets) or JSON.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::cases::{STOCK, STROM};
use crate::compositor::LayoutResult;
use crate::monitor::MonitorResult;
use crate::startup::SettingResult;
use crate::stats::Summary;
use crate::{CaseResult, DirectResult, Options, RssResult};

/// Where and when the numbers were taken.
pub struct Environment {
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub gstreamer: String,
    pub load_before: String,
    pub load_after: String,
    pub command: String,
    pub quick: bool,
    pub reps: usize,
}

pub struct Run {
    pub env: Environment,
    pub startup: Option<Result<Vec<SettingResult>, String>>,
    pub throughput: Vec<CaseResult>,
    pub monitor: Option<Result<Vec<MonitorResult>, String>>,
    pub direct: Option<Result<Vec<DirectResult>, String>>,
    pub rss: Option<(Option<i64>, Vec<RssResult>)>,
    pub capture: Option<Vec<crate::capture::CaptureResult>>,
    pub scaling: Option<Vec<crate::scaling::ScalingResult>>,
    pub compositor: Option<Result<Vec<LayoutResult>, String>>,
}

/// A target of the issue, checked on this run's numbers.
pub struct Target {
    pub name: &'static str,
    pub goal: &'static str,
    pub measured: String,
    /// None: not measured in this run.
    pub met: Option<bool>,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

impl Run {
    pub fn new(options: &Options, cores: usize) -> Run {
        let command = std::env::var("STROM_BENCH_COMMAND").unwrap_or_else(|_| {
            std::iter::once("bench".to_owned())
                .chain(std::env::args().skip(1))
                .collect::<Vec<_>>()
                .join(" ")
        });
        Run {
            env: Environment {
                date: utc_now(),
                cpu: cpu_model(),
                cores,
                gstreamer: gst::version_string().to_string(),
                load_before: load_average(),
                load_after: String::new(),
                command,
                quick: options.quick,
                reps: options.reps,
            },
            startup: None,
            throughput: Vec::new(),
            monitor: None,
            direct: None,
            rss: None,
            capture: None,
            scaling: None,
            compositor: None,
        }
    }

    pub fn finish(&mut self) {
        self.env.load_after = load_average();
    }

    fn threaded(&self) -> String {
        format!("videoconvert n-threads={}", self.env.cores)
    }

    /// The contender id of `videoconvert` with one thread per core.
    pub fn threaded_id(&self) -> String {
        self.threaded()
    }

    fn no_libcuda(&self) -> Option<&SettingResult> {
        match &self.startup {
            Some(Ok(settings)) => settings.iter().find(|s| s.setting.id == "no-libcuda"),
            _ => None,
        }
    }

    pub fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let hd = self
            .throughput
            .iter()
            .find(|c| c.case.id == "1080p-i420-nv12");
        let ratio = |other: &str| {
            let hd = hd?;
            Some(hd.fps(STROM)?.median / hd.fps(other)?.median)
        };
        let best = |other: &str| {
            hd.and_then(|hd| Some(hd.fps(STROM)?.max / hd.fps(other)?.max))
                .map_or(String::new(), |r| format!("; best runs {r:.2}×"))
        };
        let cpu = |other: &str| {
            hd.and_then(|hd| Some(hd.cpu_ms(STROM)?.median / hd.cpu_ms(other)?.median))
                .map_or(String::new(), |r| format!("; CPU per frame {r:.2}×"))
        };
        let stock = ratio(STOCK);
        targets.push(Target {
            name: "software path vs videoconvert (1 thread), 1080p I420→NV12",
            goal: "≥ 1.40×",
            measured: stock.map_or("not measured".into(), |r| format!("{r:.2}×{}", best(STOCK))),
            met: stock.map(|r| r >= 1.4),
        });
        let threaded = ratio(&self.threaded());
        targets.push(Target {
            name: "software path vs videoconvert n-threads=<cores>, 1080p I420→NV12",
            goal: "≥ 0.97× (at most 3% slower)",
            measured: threaded.map_or("not measured".into(), |r| {
                let t = self.threaded();
                format!("{r:.3}×{}{}", best(&t), cpu(&t))
            }),
            met: threaded.map(|r| r >= 0.97),
        });
        let none = self.no_libcuda();
        let probe = none.and_then(|s| s.probe_ms);
        targets.push(Target {
            name: "interop test time without libcuda.so.1 (first call)",
            goal: "≤ 5 ms",
            measured: probe.map_or("not measured".into(), |p| format!("{:.3} ms", p.median)),
            met: probe.map(|p| p.median <= 5.0),
        });
        let late =
            none.and_then(|s| Some(s.strom_first_buffer?.median - s.stock_first_buffer?.median));
        targets.push(Target {
            name: "first buffer later than videoconvert, no libcuda.so.1",
            goal: "≤ 10 ms",
            measured: late.map_or("not measured".into(), |d| format!("{d:+.1} ms")),
            met: late.map(|d| d <= 10.0),
        });
        let monitor = match &self.monitor {
            Some(Ok(results)) => results
                .iter()
                .find(|m| m.setting == "NVML stand-in" && m.case.id == "1080p-i420-nv12"),
            _ => None,
        };
        targets.push(Target {
            name: "stromgpumonitor interval=100 overhead, 1080p I420→NV12, NVML stand-in",
            goal: "within noise",
            measured: match (&self.monitor, monitor) {
                (_, Some(m)) => format!(
                    "{:+.1}% (run-to-run spread ±{:.1}%)",
                    m.change_percent(),
                    m.without.spread_percent().max(m.with.spread_percent())
                ),
                (Some(Err(why)), None) => why.clone(),
                _ => "not measured".into(),
            },
            met: monitor.map(MonitorResult::within_noise),
        });
        targets
    }

    pub fn to_json(&self) -> Value {
        let env = &self.env;
        let throughput: Vec<Value> = self
            .throughput
            .iter()
            .map(|c| {
                json!({
                    "case": c.case.id,
                    "label": c.case.label,
                    "frames": if env.quick { crate::QUICK_FRAMES } else { c.case.frames },
                    "results": c.entries.iter().map(|e| json!({
                        "contender": e.contender.id,
                        "fps": e.fps.as_ref().ok().map(|s| s.to_json()),
                        "cpu-ms-per-frame": e.cpu_ms.map(Summary::to_json),
                        "fails": e.fps.as_ref().err(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let section = |r: &Option<Result<Vec<Value>, String>>| match r {
            None => Value::Null,
            Some(Ok(v)) => json!(v),
            Some(Err(e)) => json!({ "skipped": e }),
        };
        let startup = self.startup.as_ref().map(|r| {
            r.as_ref()
                .map(|v| v.iter().map(SettingResult::to_json).collect())
                .map_err(Clone::clone)
        });
        let monitor = self.monitor.as_ref().map(|r| {
            r.as_ref()
                .map(|v| v.iter().map(MonitorResult::to_json).collect())
                .map_err(Clone::clone)
        });
        let direct = self.direct.as_ref().map(|r| {
            r.as_ref()
                .map(|v| {
                    v.iter()
                        .map(|d| {
                            json!({
                                "case": d.case.id,
                                "bit-exact-with-videoconvert": d.bit_exact,
                                "direct-fps": d.direct.to_json(),
                                "direct-one-thread-fps": d.direct_one_thread.to_json(),
                                "videoconvert-threaded-fps": d.videoconvert.to_json(),
                            })
                        })
                        .collect()
                })
                .map_err(Clone::clone)
        });
        let rss = self.rss.as_ref().map(|(floor, list)| {
            json!({
                "process-floor-kib": floor,
                "pipelines": list.iter().map(|r| json!({
                    "case": r.case, "contender": r.contender,
                    "max-rss-kib": r.kib.as_ref().ok(), "fails": r.kib.as_ref().err(),
                })).collect::<Vec<_>>(),
            })
        });
        json!({
            "environment": {
                "date": env.date, "cpu": env.cpu, "cores": env.cores, "gstreamer": env.gstreamer,
                "load-average-before": env.load_before, "load-average-after": env.load_after,
                "command": env.command, "quick": env.quick, "repetitions": env.reps,
            },
            "throughput": throughput,
            "startup": section(&startup),
            "monitor": section(&monitor),
            "direct-converter": section(&direct),
            "rss": rss,
            "cpu-per-frame": self.capture.as_deref().map(crate::capture::to_json),
            "scaling": self.scaling.as_deref().map(crate::scaling::to_json),
            "compositor": section(&self.compositor.as_ref().map(|r| {
                r.as_ref()
                    .map(|v| v.iter().map(LayoutResult::to_json).collect())
                    .map_err(Clone::clone)
            })),
            "targets": self.targets().iter().map(|t| json!({
                "target": t.name, "goal": t.goal, "measured": t.measured, "met": t.met,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let env = &self.env;
        let _ = writeln!(md, "## Environment\n");
        let _ = writeln!(md, "- Date: {}", env.date);
        let _ = writeln!(md, "- CPU: {} ({} cores available)", env.cpu, env.cores);
        let _ = writeln!(md, "- {}", env.gstreamer);
        let _ = writeln!(
            md,
            "- Load average (1, 5, 15 min): {} before, {} after",
            env.load_before, env.load_after
        );
        let _ = writeln!(md, "- Command: `{}`", env.command);
        let _ = writeln!(md, "- Repetitions: {}", env.reps);
        if env.quick {
            let _ = writeln!(md, "- **Quick smoke run: the numbers mean nothing.**");
        }
        self.throughput_markdown(&mut md);
        if let Some(capture) = &self.capture {
            md.push_str(&crate::capture::markdown(
                capture,
                STROM,
                STOCK,
                &self.threaded(),
            ));
        }
        if let Some(scaling) = &self.scaling {
            md.push_str(&crate::scaling::markdown(scaling, env.reps, env.cores));
        }
        self.targets_markdown(&mut md);
        self.startup_markdown(&mut md);
        self.monitor_markdown(&mut md);
        self.direct_markdown(&mut md);
        self.rss_markdown(&mut md);
        self.compositor_markdown(&mut md);
        md
    }

    fn compositor_markdown(&self, md: &mut String) {
        let Some(compositor) = &self.compositor else {
            return;
        };
        let _ = writeln!(md, "\n## stromcompositor: 4 × 1080p → 1080p");
        match compositor {
            Err(why) => {
                let _ = writeln!(md, "\nSkipped: {why}.");
            }
            Ok(layouts) => {
                for layout in layouts {
                    md.push_str(&layout.markdown(self.env.reps));
                }
            }
        }
    }

    fn throughput_markdown(&self, md: &mut String) {
        let Some(first) = self.throughput.first() else {
            return;
        };
        let _ = writeln!(
            md,
            "\n## Throughput\n\nFrames per second, median (min–max) of {} runs; contenders \
             interleaved round-robin; \"fails\" where the pipeline does not negotiate.\n",
            self.env.reps
        );
        // Every contender that appears in any case, in order.
        let mut columns: Vec<String> = first
            .entries
            .iter()
            .map(|e| e.contender.id.clone())
            .collect();
        for c in &self.throughput {
            for e in &c.entries {
                if !columns.contains(&e.contender.id) {
                    columns.push(e.contender.id.clone());
                }
            }
        }
        let _ = writeln!(md, "| case | {} |", columns.join(" | "));
        let _ = writeln!(md, "|---|{}", "---:|".repeat(columns.len()));
        for c in &self.throughput {
            let cells: Vec<String> = columns
                .iter()
                .map(
                    |col| match c.entries.iter().find(|e| &e.contender.id == col) {
                        None => "–".into(),
                        Some(Entry { fps: Ok(s), .. }) => s.cell(0),
                        Some(Entry { fps: Err(_), .. }) => "fails".into(),
                    },
                )
                .collect();
            let _ = writeln!(md, "| {} | {} |", c.case.label, cells.join(" | "));
        }
        let threaded = self.threaded();
        let _ = writeln!(
            md,
            "\nRatios, stromautoconvert ÷ other: of the medians, and of the best runs (the least \
             disturbed by other load):\n\n| case | ÷ videoconvert, median | best | ÷ {threaded}, median | best |\n|---|---:|---:|---:|---:|"
        );
        for c in &self.throughput {
            let r = |other: &str, pick: fn(&Summary) -> f64| match (c.fps(STROM), c.fps(other)) {
                (Some(a), Some(b)) => format!("{:.2}×", pick(&a) / pick(&b)),
                _ => "–".into(),
            };
            let median: fn(&Summary) -> f64 = |s| s.median;
            let best: fn(&Summary) -> f64 = |s| s.max;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                c.case.label,
                r(STOCK, median),
                r(STOCK, best),
                r(&threaded, median),
                r(&threaded, best)
            );
        }
        let _ = writeln!(
            md,
            "\nCPU time per frame (ms, all threads of the process, first buffer to EOS), median \
             (min–max): the work each converter does, which load from elsewhere barely moves.\n\n\
             | case | {} |\n|---|{}",
            columns.join(" | "),
            "---:|".repeat(columns.len())
        );
        for c in &self.throughput {
            let cells: Vec<String> = columns
                .iter()
                .map(|col| {
                    c.entries
                        .iter()
                        .find(|e| &e.contender.id == col && e.fps.is_ok())
                        .and_then(|e| e.cpu_ms)
                        .map_or("–".into(), |s| s.cell(4))
                })
                .collect();
            let _ = writeln!(md, "| {} | {} |", c.case.label, cells.join(" | "));
        }
        let failures: Vec<String> = self
            .throughput
            .iter()
            .flat_map(|c| {
                c.entries.iter().filter_map(move |e| {
                    e.fps
                        .as_ref()
                        .err()
                        .map(|why| format!("- {} on {}: {why}", e.contender.id, c.case.label))
                })
            })
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(md, "\nWhy \"fails\":\n\n{}", failures.join("\n"));
        }
    }

    fn targets_markdown(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "\n## Targets\n\n| target | goal | measured | met |\n|---|---|---|---|"
        );
        for t in self.targets() {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            let _ = writeln!(md, "| {} | {} | {} | {met} |", t.name, t.goal, t.measured);
        }
    }

    fn startup_markdown(&self, md: &mut String) {
        let Some(startup) = &self.startup else { return };
        let _ = writeln!(
            md,
            "\n## Start-up\n\nPLAYING → first output buffer (ms), 1080p I420 into a consumer taking \
             `{}`; each sample a fresh process; median (min–max). `probe-ms` is the interop test's \
             own time from the `strom-autoconvert` message; \"cached\" is a second pipeline in the \
             same process, and the cost of a cached `probe_cached()` call. \"CUDA check\" is one \
             mid-stream check of the GL path (`cuGLGetDevices` in the GL thread, made every \
             `cuda-check-interval`, default 1000 ms), median of 200, where a libcuda answers.\n",
            crate::startup::CONSUMER_CAPS
        );
        let settings = match startup {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(md, "Not measured: {e}");
                return;
            }
        };
        let _ = writeln!(
            md,
            "| setting | videoconvert | stromautoconvert | difference | probe-ms (first call) | stromautoconvert, probe cached | cached call (µs) | CUDA check (µs) | path chosen | interop-status |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
        );
        let cell = |s: Option<Summary>, d: usize| s.map_or("–".into(), |s| s.cell(d));
        for s in settings {
            let diff = match (s.strom_first_buffer, s.stock_first_buffer) {
                (Some(a), Some(b)) => format!("{:+.1}", a.median - b.median),
                _ => "–".into(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {diff} | {} | {} | {} | {} | {} | {} |",
                s.setting.label,
                cell(s.stock_first_buffer, 1),
                cell(s.strom_first_buffer, 1),
                cell(s.probe_ms, 2),
                cell(s.cached_first_buffer, 1),
                cell(s.cached_call_us, 1),
                cell(s.cuda_check_us, 1),
                s.path,
                s.interop_status
            );
            for e in &s.errors {
                let _ = writeln!(md, "\n- error ({}): {e}", s.setting.id);
            }
        }
    }

    fn monitor_markdown(&self, md: &mut String) {
        let Some(monitor) = &self.monitor else { return };
        let _ = writeln!(md, "\n## stromgpumonitor overhead\n");
        match monitor {
            Err(why) => {
                let _ = writeln!(md, "Skipped: {why}.");
            }
            Ok(results) => {
                let _ = writeln!(
                    md,
                    "`stromautoconvert ! <caps> [! stromgpumonitor interval=100] ! fakesink`, fps median \
                     (min–max), each setting in a fresh process; stats messages: \
                     `strom-gpu-stats` posted during the runs with the monitor.\n\n\
                     | libraries | case | without | with | change | stats messages |\n\
                     |---|---|---:|---:|---:|---:|"
                );
                for m in results {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {:+.1}% | {} |",
                        m.setting,
                        m.case.label,
                        m.without.cell(0),
                        m.with.cell(0),
                        m.change_percent(),
                        m.stats_messages
                    );
                }
            }
        }
    }

    fn direct_markdown(&self, md: &mut String) {
        let Some(direct) = &self.direct else { return };
        let _ = writeln!(
            md,
            "\n## Direct I420→NV12 converter (measured only, not in the element)\n"
        );
        match direct {
            Err(why) => {
                let _ = writeln!(md, "Not measured: {why}");
            }
            Ok(results) => {
                let threaded = self.threaded();
                let _ = writeln!(
                    md,
                    "| case | direct, {} threads | direct, 1 thread | {threaded} | direct ÷ videoconvert | bit-exact with videoconvert |\n|---|---:|---:|---:|---:|---|",
                    self.env.cores
                );
                for d in results {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {:.2}× | {} |",
                        d.case.label,
                        d.direct.cell(0),
                        d.direct_one_thread.cell(0),
                        d.videoconvert.cell(0),
                        d.direct.median / d.videoconvert.median,
                        if d.bit_exact { "yes" } else { "**no**" }
                    );
                }
            }
        }
    }

    fn rss_markdown(&self, md: &mut String) {
        let Some((floor, list)) = &self.rss else {
            return;
        };
        let _ = writeln!(
            md,
            "\n## Peak resident memory\n\nMiB, the process's `VmHWM` (peak resident set) at the end of a \
             run, each pipeline in its own process. A process that only initialises GStreamer \
             peaks at {}.\n",
            floor.map_or("–".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
        );
        let mut cases: Vec<&str> = Vec::new();
        let mut columns: Vec<&str> = Vec::new();
        for r in list {
            if !cases.contains(&r.case) {
                cases.push(r.case);
            }
            if !columns.contains(&r.contender.as_str()) {
                columns.push(&r.contender);
            }
        }
        let _ = writeln!(
            md,
            "| case | {} |\n|---|{}",
            columns.join(" | "),
            "---:|".repeat(columns.len())
        );
        for case in cases {
            let cells: Vec<String> = columns
                .iter()
                .map(
                    |col| match list.iter().find(|r| r.case == case && r.contender == *col) {
                        None => "–".into(),
                        Some(RssResult { kib: Ok(k), .. }) => format!("{:.1}", *k as f64 / 1024.0),
                        Some(RssResult { kib: Err(_), .. }) => "fails".into(),
                    },
                )
                .collect();
            let _ = writeln!(md, "| {case} | {} |", cells.join(" | "));
        }
    }
}

use crate::Entry;
