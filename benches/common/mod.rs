//! Shared by the benchmarks: after criterion has measured, print each comparison as a ratio of
//! medians measured in the same run (criterion leaves its estimates under `target/criterion`).

use std::path::PathBuf;

fn criterion_dir() -> PathBuf {
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    PathBuf::from(target).join("criterion")
}

/// The median, in nanoseconds, criterion measured for `group/id` in this run.
pub fn median_ns(group: &str, id: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// Prints `ours` against `baseline` in `group`: both medians and how many times faster we are.
pub fn print_ratio(group: &str, ours: &str, baseline: &str) {
    match (median_ns(group, ours), median_ns(group, baseline)) {
        (Some(a), Some(b)) => println!(
            "RESULT {group}: {ours} median {:.3} µs, {baseline} median {:.3} µs, ratio {:.2}x faster",
            a / 1000.0,
            b / 1000.0,
            b / a
        ),
        _ => println!("RESULT {group}: no estimates (run without a filter that skips {ours} or {baseline})"),
    }
}
