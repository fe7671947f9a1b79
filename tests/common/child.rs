// SPDX-License-Identifier: MPL-2.0
//! Child processes, for anything cached once per process (the interop verdict, NVML, a library
//! path) or measured per process (resident size): the parent starts one `#[ignore]`d test of its
//! own binary by its exact name, and the child prints what it saw as one typed report
//! (`STROM_CHILD_REPORT <json>`) that the parent reads back into the same struct.

use std::process::{Command, Output};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The prefix of the one line holding a child's report.
const REPORT: &str = "STROM_CHILD_REPORT ";

/// The name libtest knows the test `function` of module `module_path` (as `module_path!()` says
/// it, crate first) by.
pub fn test_name(module_path: &str, function: &str) -> String {
    match module_path.split_once("::") {
        Some((_crate, path)) => format!("{path}::{function}"),
        None => function.to_owned(),
    }
}

/// `child_name!(child_fn)`: the libtest name of the test function `child_fn` of the calling
/// module, for [`run_child`]. Naming the function (not writing a string) makes the compiler check
/// that it exists, and the module path follows the caller wherever it moves.
macro_rules! child_name {
    ($child:ident) => {{
        let _: fn() = $child;
        $crate::common::test_name(module_path!(), stringify!($child))
    }};
}
pub(crate) use child_name;

/// What a child printed.
#[derive(Debug)]
pub struct Child {
    pub name: String,
    pub stdout: String,
    pub stderr: String,
}

impl Child {
    /// The child's report (see [`report`]); panics unless it printed exactly one.
    pub fn report<T: DeserializeOwned>(&self) -> T {
        let reports: Vec<&str> = self
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix(REPORT))
            .collect();
        let [json] = reports[..] else {
            panic!(
                "child {} printed {} reports, not one:\n{}",
                self.name,
                reports.len(),
                self.stdout
            );
        };
        serde_json::from_str(json).unwrap_or_else(|e| {
            panic!(
                "child {}: report does not read back ({e}):\n{json}",
                self.name
            )
        })
    }
}

/// Prints `report` as the line [`Child::report`] reads back (a leading newline: libtest prints
/// the first line after "test <name> ... ").
pub fn report(report: &impl Serialize) {
    let json = serde_json::to_string(report).expect("the report serialises");
    println!("\n{REPORT}{json}");
}

/// Runs test `name` (from [`child_name!`]) of the current test binary in a fresh process with
/// `envs`. The child is marked `#[ignore]` and checks `STROM_TEST_CHILD` so it only runs here.
/// Fails unless the child passed and libtest says exactly that one test ran: a name that matches
/// nothing would otherwise "pass" with 0 tests run.
pub fn run_child(name: &str, envs: &[(&str, &str)]) -> Child {
    run_child_under(&[], name, envs)
}

/// [`run_child`] started through `wrapper` (a command and its arguments, the test binary's path
/// and arguments appended), e.g. `taskset -c 0` to run the child with a CPU affinity.
pub fn run_child_under(wrapper: &[&str], name: &str, envs: &[(&str, &str)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = match wrapper {
        [] => Command::new(&exe),
        [program, args @ ..] => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(&exe);
            cmd
        }
    };
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "--color=never",
    ])
    .env("STROM_TEST_CHILD", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("child test runs");
    assert!(
        out.status.success(),
        "child {name} failed: {}",
        describe_output(&out)
    );
    let child = Child {
        name: name.to_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let lines: Vec<&str> = child.stdout.lines().collect();
    assert!(
        lines.contains(&"running 1 test")
            && lines
                .iter()
                .any(|l| l.starts_with("test result: ok. 1 passed;")),
        "child {name} did not run (no test of that name?): {}",
        describe_output(&out)
    );
    super::skip::forward_skips(&child.stderr);
    child
}

/// True inside a child started by [`run_child`]; children return early otherwise.
pub fn is_child() -> bool {
    std::env::var_os("STROM_TEST_CHILD").is_some()
}

/// A finished process's exit status and output, for assertion messages.
pub fn describe_output(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Serde for timestamps in reports: `Vec<Option<gst::ClockTime>>` as nanoseconds.
pub mod pts {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        pts: &[Option<gst::ClockTime>],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let ns: Vec<Option<u64>> = pts
            .iter()
            .map(|t| t.map(gst::ClockTime::nseconds))
            .collect();
        ns.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Option<gst::ClockTime>>, D::Error> {
        let ns = Vec::<Option<u64>>::deserialize(deserializer)?;
        Ok(ns
            .into_iter()
            .map(|t| t.map(gst::ClockTime::from_nseconds))
            .collect())
    }
}
