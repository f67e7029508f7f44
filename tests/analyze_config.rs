//! End-to-end tests of `kpm-analyze --config`: a policy file mutes and
//! re-grades findings, the report counts what each entry did (JSON `muted`
//! and the Markdown section), the default `.kpm.json` in the current
//! directory is picked up unless `--no-config`, and a bad file is a usage
//! error naming the file, the entry and the unknown rule id.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::analyze::*;

/// Runs kpm-analyze in `cwd` with `args`.
fn analyze_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(kpm_e2e::bin("kpm-analyze"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run kpm-analyze")
}

fn json_of(out: &Output) -> Value {
    assert_eq!(code(out), EXIT_OK, "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("kpm-analyze printed JSON")
}

fn finding<'a>(report: &'a Value, rule: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()?
        .iter()
        .find(|f| f["rule"] == rule)
}

const POLICY: &str = r#"{
  "entries": [
    { "rule": "resources-no-limits", "namespace": "sh*", "name": "report?ng",
      "action": "mute", "reason": "batch job, sized by the platform team" },
    { "rule": "image-tag-mutable", "severity": "warning" }
  ]
}"#;

#[test]
fn policy_mutes_and_regrades_and_the_report_counts_it() {
    let bundle = scenario("no-limits");
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("team-policy.json");
    std::fs::write(&policy, POLICY).expect("write policy");
    let b = bundle.to_str().expect("utf-8 path");
    let p = policy.to_str().expect("utf-8 path");

    let plain = json_of(&analyze_in(dir.path(), &[b, "--format", "json"]));
    let no_limits = finding(&plain, "resources-no-limits").expect("the scenario's finding");
    assert_eq!(object_of(no_limits), "Deployment/shop/reporting");
    assert_eq!(plain["muted"], Value::Array(vec![]));

    let report = json_of(&analyze_in(
        dir.path(),
        &[b, "--format", "json", "--config", p],
    ));
    assert!(
        finding(&report, "resources-no-limits").is_none(),
        "muted finding still listed"
    );
    let muted = report["muted"].as_array().expect("muted section");
    let entry = muted
        .iter()
        .find(|m| m["action"] == "mute")
        .expect("the mute entry is counted");
    assert_eq!(entry["entry"], 1);
    assert_eq!(entry["count"], 1);
    assert_eq!(entry["file"], p);
    assert_eq!(entry["reason"], "batch job, sized by the platform team");
    assert_eq!(
        entry["findings"][0],
        "resources-no-limits:Deployment/shop/reporting"
    );
    // Every image-tag-mutable finding of the plain run is still there, at warning.
    let tags_before = plain["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule"] == "image-tag-mutable")
        .count();
    let regraded: Vec<&Value> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule"] == "image-tag-mutable")
        .collect();
    assert_eq!(regraded.len(), tags_before);
    assert!(regraded.iter().all(|f| f["severity"] == "warning"));
    if tags_before > 0 {
        assert!(muted
            .iter()
            .any(|m| m["action"] == "severity warning" && m["count"] == tags_before));
    }
    // The summary counts what is left.
    assert_eq!(
        report["summary"]["findings"].as_u64(),
        Some(report["findings"].as_array().map_or(0, |a| a.len() as u64))
    );

    let md = analyze_in(dir.path(), &[b, "--format", "md", "--config", p]);
    assert_eq!(code(&md), EXIT_OK, "{}", stderr(&md));
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("## Muted or re-graded by policy"), "{md}");
    // Markdown escapes the glob's `*` so it cannot open emphasis.
    assert!(
        md.contains(
            "entry 1: rule=resources-no-limits namespace=sh\\* name=report?ng | mute | 1 |"
        ),
        "{md}"
    );
}

#[test]
fn default_policy_file_in_the_current_directory_unless_no_config() {
    let bundle = scenario("no-limits");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(".kpm.json"), POLICY).expect("write policy");
    let b = bundle.to_str().expect("utf-8 path");

    let report = json_of(&analyze_in(dir.path(), &[b, "--format", "json"]));
    assert!(finding(&report, "resources-no-limits").is_none());
    assert_eq!(report["muted"][0]["file"], ".kpm.json");

    let ignored = json_of(&analyze_in(
        dir.path(),
        &[b, "--format", "json", "--no-config"],
    ));
    assert!(finding(&ignored, "resources-no-limits").is_some());
    assert_eq!(ignored["muted"], Value::Array(vec![]));
}

#[test]
fn unknown_rule_id_is_a_usage_error_naming_file_entry_and_id() {
    let bundle = scenario("no-limits");
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("bad.json");
    std::fs::write(
        &policy,
        "{\"entries\": [\n  {\"rule\": \"resources-no-limits\", \"action\": \"mute\"},\n  {\"rule\": \"resource-no-limits\", \"action\": \"mute\"}\n]}\n",
    )
    .expect("write policy");
    let out = analyze_in(
        dir.path(),
        &[
            bundle.to_str().expect("utf-8"),
            "--config",
            policy.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code(&out), EXIT_USAGE);
    let err = stderr(&out);
    assert!(err.contains("bad.json"), "{err}");
    assert!(err.contains("entry 2 (line 3)"), "{err}");
    assert!(err.contains("\"resource-no-limits\""), "{err}");
    assert!(out.stdout.is_empty(), "no report on a bad policy");

    let missing = analyze_in(
        dir.path(),
        &[bundle.to_str().expect("utf-8"), "--config", "nope.json"],
    );
    assert_eq!(code(&missing), EXIT_USAGE);
    assert!(stderr(&missing).contains("cannot read policy file nope.json"));
}
