//! The `kpm-bench exec` launcher, driven as the harness drives it.

use std::path::PathBuf;
use std::process::Command;

fn result_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "kpm-bench-launcher-{name}-{}.json",
        std::process::id()
    ))
}

fn launch(args: &[&str], name: &str) -> (serde_json::Value, i32) {
    let result = result_file(name);
    let _ = std::fs::remove_file(&result);
    let status = Command::new(env!("CARGO_BIN_EXE_kpm-bench"))
        .args(["exec", "--"])
        .args(args)
        .env("KPM_BENCH_RESULT", &result)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    std::fs::remove_file(&result).unwrap();
    (m, status.code().unwrap())
}

#[test]
fn small_program_under_a_big_parent_reports_its_own_peak() {
    // Make this (parent) process big: a direct vfork+exec child would
    // inherit this high-water mark into its ru_maxrss.
    let ballast = vec![1u8; 300 * 1024 * 1024];
    let (m, code) = launch(&["true"], "small");
    assert_eq!(code, 0);
    assert_eq!(m["exit_code"], 0);
    let rss = m["max_rss_kib"].as_u64().unwrap();
    assert!(rss < 32 * 1024, "true measured at {rss} KiB");
    std::hint::black_box(&ballast);
}

#[test]
fn big_program_is_measured_and_exit_code_passes_through() {
    let (m, code) = launch(
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1"],
        "big",
    );
    assert_eq!(code, 0);
    assert!(m["max_rss_kib"].as_u64().unwrap() >= 96 * 1024, "{m}");

    let (m, code) = launch(&["sh", "-c", "exit 7"], "exit");
    assert_eq!(code, 7);
    assert_eq!(m["exit_code"], 7);
}
