// SPDX-License-Identifier: MPL-2.0
//! The report for people (a table) and for scripts (one JSON document).

use std::fmt::Write;

use super::Report;

/// The table: one row per check (check, result, detail), its fix on the lines below, then the
/// verdict and the first fix. Multi-line fixes (the EGL vendor file's JSON) keep their lines.
pub fn table(report: &Report) -> String {
    let name_width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .chain(std::iter::once("CHECK".len()))
        .max()
        .unwrap_or(0);
    let result_width = "RESULT".len();
    let indent = " ".repeat(name_width + 2 + result_width + 2);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:name_width$}  {:result_width$}  DETAIL",
        "CHECK", "RESULT"
    );
    for check in &report.checks {
        let _ = writeln!(
            out,
            "{:name_width$}  {:result_width$}  {}",
            check.name,
            check.level.label(),
            check.detail
        );
        if let Some(fix) = check.fix.as_deref().filter(|_| !check.ok()) {
            for (i, line) in fix.lines().enumerate() {
                let label = if i == 0 { "fix: " } else { "     " };
                let _ = writeln!(out, "{indent}{label}{line}");
            }
        }
    }
    let _ = writeln!(
        out,
        "\nVerdict: {} ({})",
        report.tier.as_str(),
        report.tier.describe()
    );
    match report.first_fix.as_deref() {
        Some(fix) => {
            let mut lines = fix.lines();
            let _ = writeln!(out, "First fix: {}", lines.next().unwrap_or(""));
            for line in lines {
                let _ = writeln!(out, "           {line}");
            }
        }
        None => {
            let _ = writeln!(out, "First fix: none needed");
        }
    }
    out
}

/// `{"tier": ..., "first_fix": ..., "checks": [{"name", "ok", "result", "detail", "fix"}...]}`,
/// keys in that order (written by hand so the tier comes first; serde_json escapes the values).
pub fn json(report: &Report) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    let optional = |s: Option<&str>| s.map_or_else(|| "null".to_owned(), text);
    let checks: Vec<String> = report
        .checks
        .iter()
        .map(|c| {
            format!(
                "    {{\"name\": {}, \"ok\": {}, \"result\": {}, \"detail\": {}, \"fix\": {}}}",
                text(&c.name),
                c.ok(),
                text(&c.level.label().to_ascii_lowercase()),
                text(&c.detail),
                optional(c.fix.as_deref())
            )
        })
        .collect();
    format!(
        "{{\n  \"tier\": {},\n  \"first_fix\": {},\n  \"checks\": [\n{}\n  ]\n}}",
        text(report.tier.as_str()),
        optional(report.first_fix.as_deref()),
        checks.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{Check, Tier};

    fn report() -> Report {
        Report {
            tier: Tier::Software,
            first_fix: Some("install the NVIDIA driver".into()),
            checks: vec![
                Check::pass("wsl2", "not WSL2"),
                Check::fail("egl-vendor-file", "missing").with_fix("create it:\n{\n}"),
            ],
        }
    }

    #[test]
    fn table_aligns_columns_and_keeps_fix_lines() {
        let text = table(&report());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "CHECK            RESULT  DETAIL");
        assert_eq!(lines[1], "wsl2             ok      not WSL2");
        assert_eq!(lines[2], "egl-vendor-file  FAIL    missing");
        assert_eq!(lines[3], "                         fix: create it:");
        assert_eq!(lines[4], "                              {");
        assert!(text.contains("Verdict: software (CPU conversion and CPU encoding"));
        assert!(text.contains("First fix: install the NVIDIA driver"));
    }

    #[test]
    fn json_has_the_documented_shape() {
        let doc: serde_json::Value = serde_json::from_str(&json(&report())).unwrap();
        assert_eq!(doc["tier"], "software");
        assert_eq!(doc["first_fix"], "install the NVIDIA driver");
        let checks = doc["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0]["name"], "wsl2");
        assert_eq!(checks[0]["ok"], true);
        assert_eq!(checks[0]["fix"], serde_json::Value::Null);
        assert_eq!(checks[1]["ok"], false);
        assert_eq!(checks[1]["result"], "fail");
        assert_eq!(checks[1]["fix"], "create it:\n{\n}");
        assert!(json(&report()).starts_with("{\n  \"tier\": \"software\","));
    }
}
