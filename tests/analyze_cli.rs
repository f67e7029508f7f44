//! End-to-end tests of the `kpm-analyze` binary: every scenario of
//! `testdata/` in every output format, the exit-code contract
//! (`--fail-on`), the filtering flags, and what a user sees on bad input.
//!
//! These drive the real binary as a user would. They only cross-check the
//! expected findings (rule and object present in the JSON, object named in
//! the Markdown and HTML); the exact-match comparison of findings lives in
//! `analyzer/tests/scenarios.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kpm_bundle::{Bundle, BundleWriter};
use serde_json::Value;

/// Exit codes documented by `kpm-analyze --help` (analyzer/src/cli.rs).
const EXIT_OK: i32 = 0;
const EXIT_FINDINGS: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_BUNDLE: i32 = 3;
const EXIT_OUTPUT: i32 = 4;

/// One expected finding of `testdata/expected/<scenario>.json`.
struct Expected {
    rule: String,
    object: String,
    /// `None` for a root cause.
    root_cause: Option<String>,
}

fn analyze(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(kpm_e2e::bin("kpm-analyze"))
        .args(args)
        .output()
        .expect("run kpm-analyze")
}

/// Runs kpm-analyze with string arguments.
fn analyze_s<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(AsRef::as_ref).collect();
    analyze(&args)
}

fn code(out: &Output) -> i32 {
    out.status
        .code()
        .expect("kpm-analyze was killed by a signal")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scenario(name: &str) -> PathBuf {
    let dir = kpm_e2e::testdata().join(name);
    assert!(
        dir.join("manifest.json").is_file(),
        "{} is not a scenario bundle",
        dir.display()
    );
    dir
}

fn name_of(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn expected(name: &str) -> Vec<Expected> {
    let path = kpm_e2e::testdata()
        .join("expected")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no findings array", path.display()))
        .iter()
        .map(|f| Expected {
            rule: f["rule"].as_str().unwrap().to_string(),
            object: f["object"].as_str().unwrap().to_string(),
            root_cause: f["root_cause"].as_str().map(String::from),
        })
        .collect()
}

/// `Kind/namespace/name` (or `Kind/name`) of a finding's object in the JSON
/// report, the form `expected.json` uses.
fn object_of(finding: &Value) -> String {
    let o = &finding["object"];
    let kind = o["kind"].as_str().unwrap_or_default();
    let name = o["name"].as_str().unwrap_or_default();
    match o["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"]
        .as_array()
        .expect("report has a findings array")
}

/// Runs the analysis to JSON on stdout and parses it; panics with stderr
/// when the run does not exit `want`.
fn json_report<S: AsRef<std::ffi::OsStr>>(args: &[S], want: i32) -> Value {
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

/// Every `src`/`href`/`action`/`srcset`/`url(`/`@import` target that leaves
/// the file. A self-contained report only links to `#anchors` and `data:`.
fn leaving_references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for attr in [
        " src=", " href=", " action=", " srcset=", "url(", "@import", " poster=",
    ] {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(attr) {
            let start = from + pos + attr.len();
            let value: String = lower[start..]
                .trim_start_matches(['"', '\'', ' '])
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | ')' | ' ' | '>'))
                .collect();
            if !(value.starts_with('#') || value.starts_with("data:")) {
                found.push(format!("{}{value}", attr.trim()));
            }
            from = start;
        }
    }
    found
}

/// The text of an HTML page with the entities the renderer writes decoded
/// (it escapes `/` as `&#x2F;`), so object paths can be searched for.
fn html_text(html: &str) -> String {
    html.replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
fn reference_scanner_flags_external_and_relative_links() {
    // Control for the self-containment assertion below.
    let page = r##"<a href="#top">x</a><img src="data:image/png;base64,AA">
        <img src="https://cdn.example/x.png"><link href="style.css"><div style="background:url(//x/y)">"##;
    assert_eq!(
        leaving_references(page),
        vec![
            "src=https://cdn.example/x.png".to_string(),
            "href=style.css".to_string(),
            "url(//x/y".to_string()
        ]
    );
}

/// Checks one scenario in the three formats; returns the problems found.
fn check_scenario(dir: &Path, out_dir: &Path) -> Vec<String> {
    let name = name_of(dir);
    let mut problems = Vec::new();
    let want = expected(&name);

    // JSON to stdout.
    let out = analyze_s(&[dir.as_os_str()]);
    if code(&out) != EXIT_OK {
        problems.push(format!(
            "{name}: json run exited {} : {}",
            code(&out),
            stderr(&out)
        ));
        return problems;
    }
    let report: Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{name}: stdout is not JSON: {e}"));
            return problems;
        }
    };
    if report["schema_version"].as_u64() != Some(1) {
        problems.push(format!(
            "{name}: schema_version is {}",
            report["schema_version"]
        ));
    }
    let got = findings(&report);
    for e in &want {
        let found = got
            .iter()
            .any(|f| f["rule"] == e.rule.as_str() && object_of(f) == e.object);
        if !found {
            problems.push(format!(
                "{name}: JSON lacks expected finding {}:{} (got {:?})",
                e.rule,
                e.object,
                got.iter()
                    .map(|f| format!("{}:{}", f["rule"].as_str().unwrap_or("?"), object_of(f)))
                    .collect::<Vec<_>>()
            ));
        }
    }

    // Markdown to a file (format from the extension).
    let md_path = out_dir.join(format!("{name}.md"));
    let out = analyze_s(&[dir.as_os_str(), "-o".as_ref(), md_path.as_os_str()]);
    if code(&out) != EXIT_OK {
        problems.push(format!(
            "{name}: md run exited {}: {}",
            code(&out),
            stderr(&out)
        ));
    } else if !out.stdout.is_empty() {
        problems.push(format!("{name}: md run with -o also wrote to stdout"));
    }
    let md = std::fs::read_to_string(&md_path).unwrap_or_default();
    let incidents = report["incidents"].as_array().map_or(0, Vec::len);
    if !md.contains(&format!("## Incidents ({incidents})")) {
        problems.push(format!("{name}: md lacks \"## Incidents ({incidents})\""));
    }
    for e in &want {
        // Root causes get their own section with an Object line;
        // consequences are listed as `rule on object` under their root.
        let line = match e.root_cause {
            None => format!("**Object:** {} ({},", e.object, e.rule),
            Some(_) => format!("{} on {}", e.rule, e.object),
        };
        if !md.contains(&line) {
            problems.push(format!("{name}: md lacks {line:?}"));
        }
    }
    // An empty report says so; a report with findings never does.
    if got.is_empty() != md.contains("No findings.") {
        problems.push(format!(
            "{name}: {} findings but md {} \"No findings.\"",
            got.len(),
            if got.is_empty() { "lacks" } else { "says" }
        ));
    }

    // HTML to a file.
    let html_path = out_dir.join(format!("{name}.html"));
    let out = analyze_s(&[dir.as_os_str(), "-o".as_ref(), html_path.as_os_str()]);
    if code(&out) != EXIT_OK {
        problems.push(format!(
            "{name}: html run exited {}: {}",
            code(&out),
            stderr(&out)
        ));
    }
    let html = std::fs::read_to_string(&html_path).unwrap_or_default();
    if !html.starts_with("<!DOCTYPE html>") {
        problems.push(format!("{name}: html does not start with a doctype"));
    }
    let leaving = leaving_references(&html);
    if !leaving.is_empty() {
        problems.push(format!("{name}: html is not self-contained: {leaving:?}"));
    }
    if html.contains("<link ") || html.contains("<script src") {
        problems.push(format!(
            "{name}: html loads an external stylesheet or script"
        ));
    }
    let text = html_text(&html);
    for e in &want {
        if !text.contains(&e.object) || !text.contains(&e.rule) {
            problems.push(format!(
                "{name}: html does not mention {}:{}",
                e.rule, e.object
            ));
        }
    }
    problems
}

#[test]
fn every_scenario_renders_in_every_format() {
    let scenarios = kpm_e2e::scenarios();
    assert!(
        scenarios.len() >= 20,
        "expected the testdata scenarios, found {scenarios:?}"
    );
    let out_dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for dir in &scenarios {
        problems.extend(check_scenario(dir, out_dir.path()));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Copies an unpacked bundle directory into a zip bundle with the bundle
/// writer, so the CLI's zip path (and its SHA-256) is exercised too.
fn zip_scenario(dir: &Path, dest: &Path) {
    let bundle = Bundle::open(dir).unwrap();
    let mut writer = BundleWriter::create_zip(dest, true).unwrap();
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

#[test]
fn zip_bundle_gives_the_same_findings_as_the_directory() {
    let dir = scenario("demo");
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("demo.zip");
    zip_scenario(&dir, &zip);
    let from_dir = json_report(&[dir.as_os_str()], EXIT_OK);
    let from_zip = json_report(&[zip.as_os_str()], EXIT_OK);
    let ids = |r: &Value| -> Vec<String> {
        let mut v: Vec<String> = findings(r)
            .iter()
            .map(|f| f["id"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    };
    assert!(!ids(&from_dir).is_empty());
    assert_eq!(ids(&from_dir), ids(&from_zip));
    // Only a zip has a file hash to record.
    let sha = from_zip["bundle"]["sha256"].as_str().unwrap_or_default();
    assert_eq!(sha.len(), 64, "bundle.sha256 of a zip: {sha:?}");
    assert!(from_dir["bundle"]["sha256"].is_null());
}

#[test]
fn fail_on_critical_exits_1_on_demo_and_0_on_healthy() {
    let demo = scenario("demo");
    let report = json_report(
        &[demo.as_os_str(), "--fail-on".as_ref(), "critical".as_ref()],
        EXIT_FINDINGS,
    );
    // The report is still written in full when the exit code says "findings".
    assert!(findings(&report)
        .iter()
        .any(|f| f["severity"] == "critical"));

    let healthy = scenario("healthy");
    let report = json_report(
        &[
            healthy.as_os_str(),
            "--fail-on".as_ref(),
            "critical".as_ref(),
        ],
        EXIT_OK,
    );
    assert!(!findings(&report)
        .iter()
        .any(|f| f["severity"] == "critical"));

    // --fail-on applies to a file output too.
    let tmp = tempfile::tempdir().unwrap();
    let html = tmp.path().join("r.html");
    let out = analyze_s(&[
        demo.as_os_str(),
        "--fail-on".as_ref(),
        "error".as_ref(),
        "-o".as_ref(),
        html.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_FINDINGS, "{}", stderr(&out));
    assert!(html.is_file(), "the report is written even when exiting 1");
}

#[test]
fn min_severity_leaves_out_lower_findings() {
    let demo = scenario("demo");
    let all = json_report(&[demo.as_os_str()], EXIT_OK);
    let rank = |s: &str| {
        ["info", "warning", "error", "critical"]
            .iter()
            .position(|l| *l == s)
    };
    let at_least_error = |f: &&Value| rank(f["severity"].as_str().unwrap_or("")) >= Some(2);
    let below: Vec<&Value> = findings(&all)
        .iter()
        .filter(|f| !at_least_error(f))
        .collect();
    assert!(
        !below.is_empty(),
        "demo must have warning findings (config-stale-configmap) for this test to mean anything"
    );
    let mut want: Vec<&str> = findings(&all)
        .iter()
        .filter(at_least_error)
        .filter_map(|f| f["id"].as_str())
        .collect();
    want.sort();
    assert!(!want.is_empty());

    let filtered = json_report(
        &[
            demo.as_os_str(),
            "--min-severity".as_ref(),
            "error".as_ref(),
        ],
        EXIT_OK,
    );
    let mut got: Vec<&str> = findings(&filtered)
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    got.sort();
    assert_eq!(got, want);

    // The filtered-out findings are gone from the Markdown too.
    let tmp = tempfile::tempdir().unwrap();
    let md = tmp.path().join("r.md");
    let out = analyze_s(&[
        demo.as_os_str(),
        "--min-severity".as_ref(),
        "error".as_ref(),
        "-o".as_ref(),
        md.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    let md = std::fs::read_to_string(md).unwrap();
    for f in below {
        let line = format!(
            "**Object:** {} ({},",
            object_of(f),
            f["rule"].as_str().unwrap()
        );
        assert!(!md.contains(&line), "filtered finding still in md: {line}");
    }
}

#[test]
fn namespace_flag_narrows_the_report() {
    let demo = scenario("demo");
    let report = json_report(
        &[
            demo.as_os_str(),
            "--namespace".as_ref(),
            "payments".as_ref(),
        ],
        EXIT_OK,
    );
    let got = findings(&report);
    assert!(
        got.iter().any(|f| f["rule"] == "pod-unschedulable"
            && object_of(f) == "Pod/payments/fraud-scorer-njhcr2ml8-hghbv"),
        "the payments finding is kept: {got:?}"
    );
    for f in got {
        if let Some(ns) = f["object"]["namespace"].as_str() {
            assert_eq!(ns, "payments", "finding outside --namespace: {}", f["id"]);
        }
    }
    let apps = report["applications"].as_array().unwrap();
    assert!(!apps.is_empty());
    for a in apps {
        assert_eq!(a["namespace"], "payments", "application {}", a["key"]);
    }

    // A namespace the bundle does not hold is a coverage gap, never a
    // silent "no findings".
    let none = json_report(
        &[demo.as_os_str(), "--namespace".as_ref(), "nosuch".as_ref()],
        EXIT_OK,
    );
    assert!(findings(&none).is_empty());
    let gaps = none["coverage"].as_array().expect("coverage array");
    assert!(
        gaps.iter()
            .any(|g| g["namespace"] == "nosuch"
                && g["reason"].as_str().unwrap_or("").contains("nosuch")),
        "no coverage gap for the unknown namespace: {gaps:?}"
    );

    // The unfiltered run does have shop findings, so the above is a narrowing.
    let all = json_report(&[demo.as_os_str()], EXIT_OK);
    assert!(findings(&all)
        .iter()
        .any(|f| f["object"]["namespace"] == "shop"));
}

#[test]
fn no_bundle_argument_is_a_usage_error() {
    let out = analyze_s::<&str>(&[]);
    assert_eq!(code(&out), EXIT_USAGE, "{}", stderr(&out));
    assert!(stderr(&out).contains("Usage"), "{}", stderr(&out));
}

#[test]
fn missing_bundle_path_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-bundle.zip");
    let out = analyze_s(&[missing.as_os_str()]);
    assert_eq!(code(&out), EXIT_BUNDLE, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(out.stdout.is_empty(), "no report on stdout");
}

#[test]
fn corrupt_zip_is_rejected_with_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("garbage.zip");
    std::fs::write(
        &zip,
        b"this is not a zip archive\n\x00\x01\x02 not PK at all",
    )
    .unwrap();
    let out = analyze_s(&[zip.as_os_str()]);
    assert_eq!(code(&out), EXIT_BUNDLE, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&zip.display().to_string()), "{err}");
    assert!(err.contains("not a valid bundle zip"), "{err}");
}

#[test]
fn directory_without_manifest_is_not_a_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("half-bundle");
    std::fs::create_dir_all(dir.join("cluster")).unwrap();
    std::fs::copy(
        scenario("demo").join("cluster/nodes.json"),
        dir.join("cluster/nodes.json"),
    )
    .unwrap();
    let out = analyze_s(&[dir.as_os_str()]);
    assert_eq!(code(&out), EXIT_BUNDLE, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no manifest.json"), "{err}");
    assert!(err.contains(&dir.display().to_string()), "{err}");
}

/// Copies a scenario directory into `dest` (a plain recursive copy).
fn copy_dir(from: &Path, to: &Path) {
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

#[test]
fn unsupported_format_version_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("future");
    copy_dir(&scenario("healthy"), &dir);
    let manifest = dir.join("manifest.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(m["formatVersion"], 1);
    m["formatVersion"] = Value::from(99);
    std::fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let out = analyze_s(&[dir.as_os_str()]);
    assert_eq!(code(&out), EXIT_BUNDLE, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("format version 99"), "{err}");
    assert!(err.contains("not supported"), "{err}");
}

#[test]
fn bad_format_value_is_a_usage_error() {
    let out = analyze_s(&[
        scenario("healthy").as_os_str(),
        "--format".as_ref(),
        "pdf".as_ref(),
    ]);
    assert_eq!(code(&out), EXIT_USAGE, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("pdf"), "{err}");
    for v in ["json", "md", "html"] {
        assert!(err.contains(v), "possible value {v} not listed: {err}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_min_severity_value_is_a_usage_error() {
    let out = analyze_s(&[
        scenario("healthy").as_os_str(),
        "--min-severity".as_ref(),
        "fatal".as_ref(),
    ]);
    assert_eq!(code(&out), EXIT_USAGE, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("fatal"), "{err}");
    assert!(
        err.contains("critical"),
        "possible values not listed: {err}"
    );
}

#[test]
fn explicit_format_overrides_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let out_path = tmp.path().join("report.html");
    let out = analyze_s(&[
        scenario("crashloop").as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
        "-o".as_ref(),
        out_path.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap())
        .expect("--format json wins over the .html extension");
    assert_eq!(v["schema_version"], 1);
}

#[test]
fn damaged_bundle_still_yields_a_report_listing_the_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("damaged");
    copy_dir(&scenario("demo"), &dir);
    let pods = dir.join("namespaces/shop/pods.json");
    let full = std::fs::read(&pods).unwrap();
    std::fs::write(&pods, &full[..full.len() / 2]).unwrap();

    // Damage does not change the exit code (analyzer/src/cli.rs): the
    // report is the deliverable, and it says what it could not read.
    let report = json_report(&[dir.as_os_str()], EXIT_OK);
    let damage = report["damage"].as_array().expect("damage array");
    assert!(
        damage
            .iter()
            .any(|d| d["file"] == "namespaces/shop/pods.json"
                && d["problem"].as_str().unwrap_or("").contains("truncated")),
        "damage lists the truncated file: {damage:?}"
    );
    // The undamaged namespace is still analysed.
    assert!(findings(&report)
        .iter()
        .any(|f| f["rule"] == "pod-unschedulable"
            && object_of(f) == "Pod/payments/fraud-scorer-njhcr2ml8-hghbv"));
    // The shop pods could not be checked: that is a coverage gap, not a pass.
    let gaps = report["coverage"].as_array().expect("coverage array");
    assert!(
        gaps.iter().any(|g| g["namespace"] == "shop"),
        "no coverage gap for shop: {gaps:?}"
    );

    // Markdown and HTML show it too.
    let md = tmp.path().join("r.md");
    let out = analyze_s(&[dir.as_os_str(), "-o".as_ref(), md.as_os_str()]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("**Damaged files:**"), "{md}");
    assert!(md.contains("namespaces/shop/pods.json"));
    let html = tmp.path().join("r.html");
    let out = analyze_s(&[dir.as_os_str(), "-o".as_ref(), html.as_os_str()]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    let html = html_text(&std::fs::read_to_string(html).unwrap());
    assert!(html.contains("namespaces/shop/pods.json"));
    assert!(!html.contains("Every file of the bundle was read and verified."));

    // --verify adds the checksum mismatch recorded by the manifest.
    let verified = json_report(&[dir.as_os_str(), "--verify".as_ref()], EXIT_OK);
    assert!(
        verified["damage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["file"] == "namespaces/shop/pods.json"
                && d["problem"]
                    .as_str()
                    .unwrap_or("")
                    .contains("checksum mismatch")),
        "{}",
        verified["damage"]
    );
}

/// Files in `dir` other than `keep`: a failed run must leave no temporary file.
fn others(dir: &Path, keep: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != keep)
        .collect()
}

#[test]
fn failed_run_keeps_the_existing_output_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let report = out_dir.join("report.html");
    let previous = "<!DOCTYPE html><p>yesterday's report</p>\n";
    std::fs::write(&report, previous).unwrap();

    // The bundle cannot be read.
    let garbage = tmp.path().join("garbage.zip");
    std::fs::write(&garbage, b"garbage").unwrap();
    let out = analyze_s(&[garbage.as_os_str(), "-o".as_ref(), report.as_os_str()]);
    assert_eq!(code(&out), EXIT_BUNDLE, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&report).unwrap(), previous);
    assert_eq!(others(&out_dir, &report), Vec::<PathBuf>::new());

    // The bundle is fine but the report cannot be rendered.
    let out = analyze_s(&[
        scenario("demo").as_os_str(),
        "--templates".as_ref(),
        tmp.path().join("no-such-templates").as_os_str(),
        "-o".as_ref(),
        report.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_OUTPUT, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no-such-templates"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&report).unwrap(), previous);
    assert_eq!(others(&out_dir, &report), Vec::<PathBuf>::new());

    // Control: a good run does replace it.
    let out = analyze_s(&[
        scenario("demo").as_os_str(),
        "-o".as_ref(),
        report.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    assert_ne!(std::fs::read_to_string(&report).unwrap(), previous);
    assert_eq!(others(&out_dir, &report), Vec::<PathBuf>::new());
}

#[test]
fn unwritable_output_is_exit_4_and_names_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("missing-dir").join("r.json");
    let out = analyze_s(&[
        scenario("healthy").as_os_str(),
        "-o".as_ref(),
        target.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_OUTPUT, "{}", stderr(&out));
    assert!(stderr(&out).contains("missing-dir"), "{}", stderr(&out));
}
