//! End-to-end tests of the `kpm-analyze` binary: every scenario of
//! `testdata/` in every output format, the exit-code contract
//! (`--fail-on`), the filtering flags and the output-format choice. Bad
//! input and damaged bundles are in `analyze_errors.rs`.
//!
//! These drive the real binary as a user would. They only cross-check the
//! expected findings (rule and object present in the JSON, object named in
//! the Markdown and HTML); the exact-match comparison of findings lives in
//! `analyzer/tests/scenarios.rs`.

use std::path::Path;

use serde_json::Value;

use crate::support::analyze::*;

/// One expected finding of `testdata/expected/<scenario>.json`.
struct Expected {
    rule: String,
    object: String,
    /// `None` for a root cause.
    root_cause: Option<String>,
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
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
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
    // Roots merged into another root's incident (replicas failing alike).
    let same_cause: Vec<&str> = report["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["same_cause"].as_array().into_iter().flatten())
        .filter_map(|id| id.as_str())
        .collect();
    for e in &want {
        // Root causes get their own section with an Object line;
        // consequences, and roots merged as the same cause, are listed as
        // `rule on object` under their incident's root.
        let merged = same_cause.contains(&format!("{}:{}", e.rule, e.object).as_str());
        let line = match e.root_cause {
            None if !merged => format!("**Object:** {} ({},", e.object, e.rule),
            _ => format!("{} on {}", e.rule, e.object),
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
