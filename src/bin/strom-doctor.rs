// SPDX-License-Identifier: MPL-2.0
//! `strom-doctor`: checks whether this machine can run GStreamer video pipelines on the NVIDIA GPU
//! (zero-copy GL → NVENC, GPU encoding only, or CPU only), and says what to fix first.
//!
//! Only the front door: argument parsing and exit codes. The checks live in `gststrom::doctor`.

use std::process::ExitCode;

use gststrom::doctor::{self, Tier, render};

const USAGE: &str = "\
Usage: strom-doctor [--json] [--require TIER]

Checks the NVIDIA driver, CUDA, NVML, EGL/GL, CUDA-GL interop and the GStreamer elements a
pipeline needs, prints a table (check, result, detail, fix) and the verdict: the tier a pipeline
through stromautoconvert will get, with the first fix to apply.

Tiers, best first:
  gpu-interop              zero-copy GL conversion into NVENC
  software-convert-nvenc   CPU conversion, GPU encoding
  software                 CPU conversion and CPU encoding

Options:
  --json            print one JSON document: {\"tier\", \"first_fix\", \"checks\": [{\"name\", \"ok\",
                    \"result\", \"detail\", \"fix\"}...]}
  --require TIER    exit 1 when the verdict is below TIER (container health checks, CI gates)
  -h, --help        print this help

Exit status: 0 when the checks ran (and the verdict meets --require), 1 when it is below
--require, 2 on a usage error.
";

struct Options {
    json: bool,
    require: Option<Tier>,
}

enum Parsed {
    Run(Options),
    Help,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut options = Options {
        json: false,
        require: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--json" => options.json = true,
            "--require" => {
                let tier = args.next().ok_or("--require needs a tier")?;
                options.require = Some(tier.parse()?);
            }
            other => match other.strip_prefix("--require=") {
                Some(tier) => options.require = Some(tier.parse()?),
                None => return Err(format!("unknown argument '{other}'")),
            },
        }
    }
    Ok(Parsed::Run(options))
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("strom-doctor: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let report = doctor::run();
    if options.json {
        println!("{}", render::json(&report));
    } else {
        print!("{}", render::table(&report));
    }
    match options.require {
        Some(required) if report.tier < required => {
            eprintln!(
                "strom-doctor: verdict {} is below the required {}",
                report.tier, required
            );
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}
