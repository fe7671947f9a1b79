// SPDX-License-Identifier: MPL-2.0
//! The benchmark harness (`examples/bench`, run by `scripts/bench.sh`) in `--quick` mode, so it
//! cannot rot: every section runs and reports in the documented JSON shape. No timing assertions:
//! quick-mode numbers mean nothing.

mod built;

use std::process::Command;

use serde_json::Value;

fn quick_run() -> Value {
    let bench = built::example("bench");
    let out = Command::new(&bench)
        .args(["--quick", "--json"])
        .env("GST_GL_WINDOW", "egl-device")
        .env("GST_GL_PLATFORM", "egl")
        .output()
        .expect("the bench harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed ({:?}):\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("bench --json is not JSON ({e}):\n{stdout}"))
}

fn result<'a>(run: &'a Value, case: &str, contender: &str) -> &'a Value {
    run["throughput"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["case"] == case))
        .and_then(|c| c["results"].as_array())
        .and_then(|r| r.iter().find(|e| e["contender"] == contender))
        .unwrap_or_else(|| panic!("no {contender} result for {case}"))
}

#[test]
fn quick_bench_reports_every_section() {
    let run = quick_run();
    assert_eq!(run["environment"]["quick"], true);

    let cases = run["throughput"].as_array().expect("throughput cases");
    assert_eq!(cases.len(), 7, "{cases:?}");
    for case in cases {
        for entry in case["results"].as_array().expect("results") {
            assert!(
                entry["fps"].is_object() != entry["fails"].is_string(),
                "each result has numbers or a reason: {entry}"
            );
        }
    }
    for contender in ["stromautoconvert", "videoconvert"] {
        let entry = result(&run, "1080p-i420-nv12", contender);
        assert!(
            entry["fps"]["median"].as_f64().is_some_and(|f| f > 0.0),
            "{entry}"
        );
    }
    // videoconvert does not scale in 1.22; the reference scaler must.
    assert!(result(&run, "2160p-1080p-i420", "videoconvert")["fails"].is_string());
    let cores = run["environment"]["cores"].as_u64().expect("cores");
    let scaler = format!("videoconvertscale n-threads={cores}");
    assert!(result(&run, "2160p-1080p-i420", &scaler)["fps"].is_object());

    let startup = run["startup"].as_array().expect("startup settings");
    let no_libcuda = startup
        .iter()
        .find(|s| s["setting"] == "no-libcuda")
        .expect("no-libcuda setting");
    assert_eq!(no_libcuda["path"], "software", "{no_libcuda}");
    assert!(
        no_libcuda["probe-ms-first-call"]["median"].is_number(),
        "{no_libcuda}"
    );
    assert!(
        no_libcuda["videoconvert-first-buffer-ms"]["median"].is_number(),
        "{no_libcuda}"
    );

    let monitor = &run["monitor"];
    assert!(
        monitor.is_array() || monitor["skipped"] == "stromgpumonitor not available",
        "{monitor}"
    );
    let direct = run["direct-converter"]
        .as_array()
        .expect("direct converter");
    assert_eq!(direct[0]["bit-exact-with-videoconvert"], true, "{direct:?}");
    assert!(
        run["rss"]["pipelines"][0]["max-rss-kib"]
            .as_i64()
            .is_some_and(|k| k > 0)
    );
    let capture = run["cpu-per-frame"].as_array().expect("cpu per frame");
    assert_eq!(capture.len(), 3, "{capture:?}");
    for case in capture {
        assert!(case["memcpy-floor-ms"]["median"].is_number(), "{case}");
        let net = case["net-cpu-ms-per-frame"].as_array().expect("contenders");
        assert!(
            net.iter().all(|c| c["net-ms"]["median"].is_number()),
            "every contender converts: {case}"
        );
    }
    assert_eq!(run["targets"].as_array().map(Vec::len), Some(5));

    let scaling = run["scaling"].as_array().expect("scaling cases");
    assert_eq!(scaling.len(), 2, "{scaling:?}");
    for case in scaling {
        let results = case["results"].as_array().expect("results");
        let contenders: Vec<&str> = results
            .iter()
            .filter_map(|e| e["contender"].as_str())
            .collect();
        assert_eq!(
            contenders,
            [
                format!("stromautoconvertscale n-threads={cores}"),
                format!("videoscale n-threads={cores} ! stromautoconvert n-threads={cores}"),
                format!("videoconvertscale n-threads={cores}"),
                "videoconvertscale".to_owned()
            ],
            "{case}"
        );
        for entry in results {
            assert!(
                entry["fps"].is_object() && entry["cpu-ms-per-frame"].is_object(),
                "every contender scales: {entry}"
            );
        }
        // A system-memory consumer: the bin's software chain, one videoconvertscale, or the
        // fast scaler where it is within bounds (I420 -> smaller NV12, issue #28).
        let chain = results[0]["chain"].as_str().unwrap_or_default();
        assert!(
            ["software: videoconvertscale", "software: stromfastconvert"].contains(&chain),
            "{case}"
        );
    }

    let layouts = run["compositor"].as_array().expect("compositor layouts");
    assert_eq!(layouts.len(), 2, "{layouts:?}");
    for layout in layouts {
        let results = layout["results"].as_array().expect("results");
        assert_eq!(results.len(), 5, "{layout}");
        for entry in results {
            assert!(
                entry["fps"].is_object() && entry["cpu-ms-per-frame"].is_object(),
                "every mixer runs: {entry}"
            );
        }
        let auto = results
            .iter()
            .find(|e| e["mixer"] == "stromcompositor")
            .expect("stromcompositor");
        // Auto follows the GL renderer its reason names: software on a CPU rasteriser
        // (llvmpipe, where there is no GPU); on a GPU, glvideomixer when the reason says so.
        let reason = auto["reason"].as_str().unwrap_or_default();
        let gl = reason.contains("is a GPU") && reason.contains("glvideomixer");
        assert_eq!(auto["path"], if gl { "gl" } else { "software" }, "{auto}");
        assert!(auto["fps-ratio-vs-compositor"].is_number(), "{auto}");
    }
}
