// SPDX-License-Identifier: MPL-2.0
//! Skips: a test that cannot run a check (a plugin, a device or a permission is missing, or this
//! GStreamer version has nothing to check) says so instead of passing having checked nothing.
//!
//! [`skip`] writes `SKIP: <test name>: <why>` straight to the process's stderr: libtest captures
//! only `print!`/`eprint!` (and panics), so the line shows in `cargo test` output with capture on,
//! for passing tests too. scripts/test.sh counts these lines after `cargo test` (libtest has no
//! end-of-run hook, and its own summary knows only passed, failed and ignored).

use std::io::Write;

/// The prefix scripts/test.sh counts.
pub const SKIP: &str = "SKIP: ";

/// Reports that the calling test skipped a check, and why. It returns `()` so that a test can
/// end with `return common::skip(..)`; a test that checks other things after it simply goes on.
pub fn skip(why: impl std::fmt::Display) {
    let thread = std::thread::current();
    // libtest runs every test on a thread named after it (also with --test-threads=1).
    let test = thread.name().unwrap_or("<unnamed test>");
    // One write of one line, so parallel tests do not interleave within it.
    let line = format!("{SKIP}{test}: {why}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Passes on the skips a child process (see [`super::run_child`]) reported: its output is
/// captured by the parent, so they would be lost otherwise.
pub fn forward_skips(child_stderr: &str) {
    for line in child_stderr.lines() {
        if let Some((_, why)) = line.split_once(SKIP) {
            skip(format_args!("in a child: {why}"));
        }
    }
}
