//! End-to-end tests of the line `kpm-analyze BUNDLE -o FILE` ends with on
//! stderr (what it wrote and the verdict, from the report's own summary),
//! of `-q` silencing it, and of stdout staying the report's alone.

use std::path::Path;

use serde_json::Value;

use crate::support::analyze::*;

/// `n one` or `n many`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The verdict line the summary of the JSON report at `json` calls for,
/// naming `shown` and ending with `next`.
fn expected_line(json: &Path, shown: &Path, next: &str) -> String {
    let report: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let s = &report["summary"];
    let n = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"));
    let apps = count(n(&s["applications"]), "application", "applications");
    let at = |level: &str| s["by_severity"][level].as_u64().unwrap_or(0);
    let verdict = if s["verdict"] == "broken" {
        let worst: Vec<String> = [
            (at("critical"), "critical", "critical"),
            (at("error"), "error", "errors"),
        ]
        .into_iter()
        .filter(|(k, _, _)| *k > 0)
        .map(|(k, one, many)| count(k, one, many))
        .collect();
        format!(
            "{} of {apps} broken, {} ({})",
            n(&s["applications_broken"]),
            count(n(&s["incidents"]), "incident", "incidents"),
            worst.join(", ")
        )
    } else {
        let remarks = match (at("warning"), at("info")) {
            (0, 0) => "no findings".to_string(),
            (0, i) => count(i, "remark", "remarks"),
            (w, _) => count(w, "warning", "warnings"),
        };
        format!("healthy, {apps}, {remarks}")
    };
    format!("{}: {verdict}{next}\n", shown.display())
}

#[test]
fn broken_bundle_ends_with_what_was_written_and_the_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("r.json");
    let html = tmp.path().join("report.html");
    let out = analyze_s(&[
        scenario("demo").as_os_str(),
        "-o".as_ref(),
        json.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    assert_eq!(stderr(&out), expected_line(&json, &json, ""));
    let out = analyze_s(&[
        scenario("demo").as_os_str(),
        "-o".as_ref(),
        html.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    let line = stderr(&out);
    assert_eq!(line, expected_line(&json, &html, " — open it in a browser"));
    // The demo is the README's example: broken, with critical incidents.
    assert!(line.contains(" applications broken, "), "{line}");
    assert!(line.contains(" critical)"), "{line}");
    assert!(out.stdout.is_empty(), "the report went to the file only");
}

#[test]
fn healthy_bundle_says_healthy() {
    let tmp = tempfile::tempdir().unwrap();
    let md = tmp.path().join("r.md");
    let json = tmp.path().join("r.json");
    let out = analyze_s(&[
        scenario("healthy").as_os_str(),
        "-o".as_ref(),
        json.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    let out = analyze_s(&[
        scenario("healthy").as_os_str(),
        "-o".as_ref(),
        md.as_os_str(),
    ]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    let line = stderr(&out);
    assert_eq!(line, expected_line(&json, &md, ""));
    assert!(line.contains(": healthy, "), "{line}");
}

#[test]
fn quiet_silences_the_line_and_stdout_stays_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let html = tmp.path().join("r.html");
    for q in ["-q", "--quiet"] {
        let out = analyze_s(&[
            scenario("demo").as_os_str(),
            "-o".as_ref(),
            html.as_os_str(),
            q.as_ref(),
        ]);
        assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
        assert_eq!(stderr(&out), "", "{q} prints nothing");
        assert!(html.is_file());
    }
    // Without -o the report is on stdout and stderr has no verdict line.
    let out = analyze_s(&[scenario("demo").as_os_str()]);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    assert!(report["summary"].is_object());
    // Errors are not silenced by -q.
    let missing = tmp.path().join("missing.zip");
    let out = analyze_s(&[missing.as_os_str(), "-q".as_ref()]);
    assert_eq!(code(&out), EXIT_BUNDLE);
    assert!(
        stderr(&out).contains("cannot open bundle"),
        "{}",
        stderr(&out)
    );
}
