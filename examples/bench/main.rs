// SPDX-License-Identifier: MPL-2.0
//! Benchmarks `stromautoconvert` against GStreamer's stock converters in one run: throughput,
//! start-up cost, the interop test's time, `stromgpumonitor` overhead, peak memory, a
//! hand-written I420→NV12 converter, CPU per frame for the capture formats against a `memcpy`
//! floor; and `stromcompositor` against `compositor` and `glvideomixer` (4 × 1080p → 1080p).
//! Prints Markdown (or JSON with `--json`).
//!
//! Run through `scripts/bench.sh` (release build). Options: `--quick` (tiny frame counts, one
//! repetition: a smoke run, numbers meaningless), `--json`, `--reps N`, `--only a,b` with
//! sections throughput, cpu, scaling, monitor, startup, rss, direct, compositor, `--cases a,b`
//! (only the cases whose id contains one of these).

mod capture;
mod cases;
mod child;
mod compositor;
mod direct;
mod monitor;
mod pipeline;
mod report;
mod scaling;
mod startup;
mod stats;

use std::process::ExitCode;

use serde_json::json;

use cases::{CASES, Case, Contender, STROM};
use stats::Summary;

const USAGE: &str = "Usage: bench [--quick] [--json] [--reps N] \
                     [--only throughput,cpu,scaling,monitor,startup,rss,direct,compositor] \
                     [--cases SUBSTRING,...]";
const SECTIONS: [&str; 8] = [
    "throughput",
    "cpu",
    "scaling",
    "monitor",
    "startup",
    "rss",
    "direct",
    "compositor",
];
/// Frames per run in `--quick` mode: enough to compute a rate, not to trust it.
const QUICK_FRAMES: u32 = 12;

pub struct Options {
    pub quick: bool,
    pub json: bool,
    pub reps: usize,
    pub sections: Vec<String>,
    /// Only the cases whose id contains one of these (throughput, cpu and scaling sections).
    pub cases: Option<Vec<String>>,
}

impl Options {
    fn wants(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }

    pub fn wants_case(&self, case: &Case) -> bool {
        self.cases
            .as_ref()
            .is_none_or(|list| list.iter().any(|c| case.id.contains(c.as_str())))
    }

    fn frames(&self, case: &Case) -> u32 {
        if self.quick {
            QUICK_FRAMES
        } else {
            case.frames
        }
    }
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        json: false,
        reps: 5,
        sections: SECTIONS.iter().map(|s| (*s).to_owned()).collect(),
        cases: None,
    };
    let mut reps_given = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--json" => options.json = true,
            "--reps" => {
                let reps = value()?;
                options.reps = reps
                    .parse()
                    .ok()
                    .filter(|r| *r > 0)
                    .ok_or(format!("--reps takes a positive number, not '{reps}'"))?;
                reps_given = true;
            }
            "--only" => {
                let list = value()?;
                options.sections = list.split(',').map(str::to_owned).collect();
                if let Some(bad) = options
                    .sections
                    .iter()
                    .find(|s| !SECTIONS.contains(&s.as_str()))
                {
                    return Err(format!("unknown section '{bad}'\n{USAGE}"));
                }
            }
            "--cases" => options.cases = Some(value()?.split(',').map(str::to_owned).collect()),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    if options.quick && !reps_given {
        options.reps = 1;
    }
    Ok(options)
}

/// GStreamer, with this build's `strom` elements (unless an installed plugin already has them).
fn init() -> Result<(), String> {
    gst::init().map_err(|err| format!("GStreamer could not initialise: {err}"))?;
    if gst::ElementFactory::find(STROM).is_none() {
        gststrom::plugin_register_static()
            .map_err(|err| format!("the strom plugin could not register: {err}"))?;
    }
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One contender's samples on one case: frames per second, or why it does not run.
pub struct Entry {
    pub contender: Contender,
    pub fps: Result<Summary, String>,
    /// CPU milliseconds per frame (whole process, all threads).
    pub cpu_ms: Option<Summary>,
}

pub struct CaseResult {
    pub case: Case,
    pub entries: Vec<Entry>,
}

impl CaseResult {
    pub fn cpu_ms(&self, contender: &str) -> Option<Summary> {
        self.entries
            .iter()
            .find(|e| e.contender.id == contender)
            .and_then(|e| e.cpu_ms)
    }

    pub fn fps(&self, contender: &str) -> Option<Summary> {
        self.entries
            .iter()
            .find(|e| e.contender.id == contender)
            .and_then(|e| e.fps.as_ref().ok().copied())
    }
}

/// Every contender on every case; contenders interleaved round-robin within each repetition so
/// that load from elsewhere hits them alike. A contender that fails once is not retried.
fn measure_throughput(options: &Options, contenders: &[Contender]) -> Vec<CaseResult> {
    CASES
        .iter()
        .filter(|case| options.wants_case(case))
        .map(|case| {
            let runnable: Vec<&Contender> = contenders
                .iter()
                .filter(|c| !c.scaling_reference || case.scales())
                .collect();
            let mut samples: Vec<Result<Vec<f64>, String>> = vec![Ok(Vec::new()); runnable.len()];
            let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); runnable.len()];
            for _ in 0..options.reps {
                for ((contender, slot), cpu) in
                    runnable.iter().zip(samples.iter_mut()).zip(cpu.iter_mut())
                {
                    let Ok(list) = slot else { continue };
                    match pipeline::measure(case, contender, options.frames(case), "") {
                        Ok(m) => {
                            list.push(m.fps);
                            cpu.extend(m.cpu_ms_per_frame);
                        }
                        Err(err) => *slot = Err(err),
                    }
                }
                progress(&format!("throughput {}", case.id));
            }
            let entries = runnable
                .into_iter()
                .zip(samples)
                .zip(cpu)
                .map(|((contender, s), cpu)| Entry {
                    contender: contender.clone(),
                    fps: s.and_then(|list| Summary::of(&list).ok_or("no samples".into())),
                    cpu_ms: Summary::of(&cpu),
                })
                .collect();
            CaseResult {
                case: *case,
                entries,
            }
        })
        .collect()
}

/// Peak resident memory of each pipeline, each in its own process.
pub struct RssResult {
    pub case: &'static str,
    pub contender: String,
    pub kib: Result<i64, String>,
}

fn measure_rss(options: &Options, contenders: &[Contender]) -> (Option<i64>, Vec<RssResult>) {
    let floor = child::spawn(&["rss-floor"], &[])
        .ok()
        .and_then(|v| v["max-rss-kib"].as_i64());
    let cases: &[Case] = if options.quick { &CASES[..1] } else { &CASES };
    let frames = if options.quick { "q" } else { "full" };
    let mut results = Vec::new();
    for case in cases {
        for contender in contenders
            .iter()
            .filter(|c| !c.scaling_reference || case.scales())
        {
            let kib = child::spawn(&["rss", case.id, &contender.launch, frames], &[]).and_then(
                |v| match v["error"].as_str() {
                    Some(err) => Err(err.to_owned()),
                    None => v["max-rss-kib"].as_i64().ok_or("no value".into()),
                },
            );
            results.push(RssResult {
                case: case.id,
                contender: contender.id.clone(),
                kib,
            });
        }
        progress(&format!("rss {}", case.id));
    }
    (floor, results)
}

/// The hand-written converter against `videoconvert n-threads=<cores>`, per resolution.
pub struct DirectResult {
    pub case: Case,
    pub bit_exact: bool,
    pub direct: Summary,
    pub direct_one_thread: Summary,
    pub videoconvert: Summary,
}

fn measure_direct(options: &Options, cores: usize) -> Result<Vec<DirectResult>, String> {
    let stock = Contender {
        id: format!("videoconvert n-threads={cores}"),
        launch: format!("videoconvert n-threads={cores}"),
        scaling_reference: false,
    };
    let cases: &[Case] = if options.quick {
        &CASES[..1]
    } else {
        &CASES[..2]
    };
    let mut results = Vec::new();
    for case in cases {
        let (w, h) = (case.input.width, case.input.height);
        let reference = direct::reference(w, h)?;
        let mut ours = direct::Nv12::new(w as usize, h as usize);
        direct::convert(&reference.i420, &mut ours, cores)?;
        let bit_exact = direct::bit_exact(&reference.nv12, &ours)?;
        let frames = options.frames(case);
        let (mut d, mut d1, mut v) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..options.reps {
            d.push(direct::throughput(&reference.i420, frames, cores)?);
            d1.push(direct::throughput(&reference.i420, frames, 1)?);
            v.push(pipeline::throughput(case, &stock, frames, "")?);
            progress(&format!("direct {}", case.id));
        }
        results.push(DirectResult {
            case: *case,
            bit_exact,
            direct: Summary::of(&d).ok_or("no samples")?,
            direct_one_thread: Summary::of(&d1).ok_or("no samples")?,
            videoconvert: Summary::of(&v).ok_or("no samples")?,
        });
    }
    // Odd sizes: the edges of the chroma planes.
    let odd = direct::reference(642, 362)?;
    let mut ours = direct::Nv12::new(642, 362);
    direct::convert(&odd.i420, &mut ours, cores)?;
    if !direct::bit_exact(&odd.nv12, &ours)? {
        return Err("direct converter differs from videoconvert at 642x362".into());
    }
    Ok(results)
}

pub fn progress(what: &str) {
    eprintln!("bench: {what}");
}

/// `--child` modes, run in fresh processes by the parent.
fn run_child(args: &[String]) -> ExitCode {
    let value = match args {
        [mode, launch] if mode == "startup" => startup::child_sample(launch),
        [mode, case_id, frames, reps] if mode == "monitor" => {
            monitor::child_measure(case_id, frames, reps)
        }
        [mode] if mode == "rss-floor" => json!({ "max-rss-kib": child::max_rss_kib() }),
        [mode, case_id, launch, frames] if mode == "rss" => {
            rss_child(case_id, launch, frames == "q")
        }
        _ => json!({ "error": format!("unknown child mode {args:?}") }),
    };
    child::report(&value);
    ExitCode::SUCCESS
}

fn rss_child(case_id: &str, launch: &str, quick: bool) -> serde_json::Value {
    let Some(case) = CASES.iter().find(|c| c.id == case_id) else {
        return json!({ "error": format!("unknown case {case_id}") });
    };
    let contender = Contender {
        id: launch.into(),
        launch: launch.into(),
        scaling_reference: false,
    };
    let frames = if quick {
        QUICK_FRAMES
    } else {
        case.frames.min(500)
    };
    match pipeline::throughput(case, &contender, frames, "") {
        Ok(_) => json!({ "max-rss-kib": child::max_rss_kib() }),
        Err(err) => json!({ "error": err }),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(err) = init() {
        eprintln!("bench: {err}");
        return ExitCode::FAILURE;
    }
    if args.first().is_some_and(|a| a == "--child") {
        return run_child(&args[1..]);
    }
    let options = match parse_args(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let cores = cores();
    let contenders = cases::contenders(cores);
    let mut run = report::Run::new(&options, cores);

    if options.wants("startup") {
        run.startup = Some(startup::measure(options.reps));
    }
    if options.wants("throughput") {
        run.throughput = measure_throughput(&options, &contenders);
    }
    if options.wants("cpu") {
        let compared: Vec<Contender> = contenders
            .iter()
            .filter(|c| c.id == STROM || c.id == cases::STOCK || c.id == run.threaded_id())
            .cloned()
            .collect();
        run.capture = Some(capture::measure(
            options.reps,
            |c| options.wants_case(c) && (!options.quick || capture::QUICK_CASES.contains(&c.id)),
            |c| options.frames(c),
            &compared,
        ));
    }
    if options.wants("scaling") {
        run.scaling = Some(scaling::measure(
            options.reps,
            |c| options.wants_case(c),
            |c| options.frames(c),
            &scaling::contenders(cores),
        ));
    }
    if options.wants("monitor") {
        run.monitor = Some(monitor::measure(options.reps, |c| options.frames(c)));
    }
    if options.wants("direct") {
        run.direct = Some(measure_direct(&options, cores));
    }
    if options.wants("rss") {
        run.rss = Some(measure_rss(&options, &contenders));
    }
    if options.wants("compositor") {
        run.compositor = Some(compositor::measure(options.reps, options.quick));
    }
    run.finish();
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&run.to_json()).unwrap_or_default()
        );
    } else {
        print!("{}", run.to_markdown());
    }
    ExitCode::SUCCESS
}
