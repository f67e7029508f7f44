//! Helpers shared by the `kpm-analyze` end-to-end tests (`analyze_cli.rs`,
//! `analyze_errors.rs`): running the binary, reading its JSON report, and
//! copying scenario bundles to mutate them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Exit codes documented by `kpm-analyze --help` (analyzer/src/cli.rs).
pub const EXIT_OK: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_BUNDLE: i32 = 3;
pub const EXIT_OUTPUT: i32 = 4;

pub fn analyze(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(kpm_e2e::bin("kpm-analyze"))
        .args(args)
        .output()
        .expect("run kpm-analyze")
}

/// Runs kpm-analyze with string arguments.
pub fn analyze_s<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(AsRef::as_ref).collect();
    analyze(&args)
}

pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .expect("kpm-analyze was killed by a signal")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn scenario(name: &str) -> PathBuf {
    let dir = kpm_e2e::testdata().join(name);
    assert!(
        dir.join("manifest.json").is_file(),
        "{} is not a scenario bundle",
        dir.display()
    );
    dir
}

/// `Kind/namespace/name` (or `Kind/name`) of a finding's object in the JSON
/// report, the form `expected.json` uses.
pub fn object_of(finding: &Value) -> String {
    let o = &finding["object"];
    let kind = o["kind"].as_str().unwrap_or_default();
    let name = o["name"].as_str().unwrap_or_default();
    match o["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

pub fn findings(report: &Value) -> &Vec<Value> {
    report["findings"]
        .as_array()
        .expect("report has a findings array")
}

/// Runs the analysis to JSON on stdout and parses it; panics with stderr
/// when the run does not exit `want`.
pub fn json_report<S: AsRef<std::ffi::OsStr>>(args: &[S], want: i32) -> Value {
    let out = analyze_s(args);
    assert_eq!(code(&out), want, "exit code; stderr:\n{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr:\n{}\nstdout starts:\n{}",
            stderr(&out),
            String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(400)])
        )
    })
}

/// The text of an HTML page with the entities the renderer writes decoded
/// (it escapes `/` as `&#x2F;`), so object paths can be searched for.
pub fn html_text(html: &str) -> String {
    html.replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Copies a scenario directory into `dest` (a plain recursive copy).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Copies an unpacked bundle directory into a zip bundle with the bundle
/// writer, so the CLI's zip path (and its SHA-256) is exercised too.
pub fn zip_scenario(dir: &Path, dest: &Path) {
    let bundle = kpm_bundle::Bundle::open(dir).unwrap();
    let mut writer = kpm_bundle::BundleWriter::create_zip(dest, true).unwrap();
    let entries: Vec<String> = bundle
        .entries()
        .filter(|e| *e != "manifest.json")
        .map(String::from)
        .collect();
    for entry in &entries {
        writer
            .write_entry(entry, &bundle.read_bytes(entry).unwrap())
            .unwrap();
    }
    writer.finish(bundle.manifest().clone()).unwrap();
}
