//! Engine behaviour on damaged and partial bundles, filters, and the CLI's
//! exit codes and output formats, on copies of the `testdata/crashloop`
//! scenario altered the way real bundles go wrong.

use std::path::{Path, PathBuf};
use std::process::Command;

use kpm_analyzer::{analyze, Options};
use kpm_bundle::Bundle;
use kpm_model::Severity;

/// A `testdata/` scenario; panics when it is missing, so a test never
/// passes without its data.
fn scenario(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name);
    assert!(dir.is_dir(), "scenario {} is missing", dir.display());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private copy of a scenario, removed on drop.
struct Copy(PathBuf);

impl Copy {
    fn of(name: &str, tag: &str) -> Option<Copy> {
        let src = scenario(name);
        let dir =
            std::env::temp_dir().join(format!("kpm-engine-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&src, &dir);
        Some(Copy(dir))
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn edit_manifest(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let p = self.path("manifest.json");
        let mut m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        f(&mut m);
        std::fs::write(&p, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn truncated_file_is_damage_and_a_gap_and_the_rest_is_analysed() {
    let Some(c) = Copy::of("crashloop", "truncated") else {
        return;
    };
    let events = c.path("namespaces/shop/events.json");
    let text = std::fs::read_to_string(&events).unwrap();
    std::fs::write(&events, text.get(..text.len() / 2).unwrap()).unwrap();
    let bundle = Bundle::open(&c.0).unwrap();
    let report = analyze(&bundle, &Options::default());
    assert!(
        report
            .damage
            .iter()
            .any(|d| d.file == "namespaces/shop/events.json" && d.problem.contains("truncated")),
        "{:?}",
        report.damage
    );
    assert!(report
        .coverage
        .iter()
        .any(|g| g.namespace.as_deref() == Some("shop") && g.reason.starts_with("events damaged")));
    // Pods were still read: the crash is found from container status alone.
    assert!(report.findings.iter().any(|f| f.rule == "pod-crashloop"));
}

#[test]
fn forbidden_secrets_become_a_named_coverage_gap() {
    let Some(c) = Copy::of("crashloop", "forbidden") else {
        return;
    };
    std::fs::remove_file(c.path("namespaces/shop/secrets.json")).unwrap();
    c.edit_manifest(|m| {
        let steps = m["steps"].as_array_mut().unwrap();
        steps.retain(|s| !(s["what"] == "secrets" && s["namespace"] == "shop"));
        steps.push(serde_json::json!({"what": "secrets", "namespace": "shop", "outcome": "forbidden", "httpStatus": 403,
            "message": "secrets is forbidden: User \"system:serviceaccount:ops:kpm\" cannot list resource \"secrets\" in API group \"\" in the namespace \"shop\""}));
        m["files"].as_object_mut().unwrap().remove("namespaces/shop/secrets.json");
    });
    let bundle = Bundle::open(&c.0).unwrap();
    let report = analyze(&bundle, &Options::default());
    let gap = report
        .coverage
        .iter()
        .find(|g| g.check == "secret rotation" && g.namespace.as_deref() == Some("shop"))
        .expect("secret rotation gap");
    assert_eq!(gap.reason, "secrets forbidden (403) during collection");
    assert!(report
        .collection
        .failed_steps
        .iter()
        .any(|s| s.what == "secrets" && s.outcome == "forbidden"));
}

#[test]
fn verify_lists_checksum_mismatches() {
    let Some(c) = Copy::of("crashloop", "verify") else {
        return;
    };
    let nodes = c.path("cluster/nodes.json");
    let mut text = std::fs::read_to_string(&nodes).unwrap();
    text.push(' ');
    std::fs::write(&nodes, text).unwrap();
    let bundle = Bundle::open(&c.0).unwrap();
    let plain = analyze(&bundle, &Options::default());
    assert!(plain.damage.is_empty());
    let verified = analyze(
        &bundle,
        &Options {
            verify: true,
            ..Options::default()
        },
    );
    assert!(verified
        .damage
        .iter()
        .any(|d| d.file == "cluster/nodes.json" && d.problem.contains("checksum mismatch")));
}

#[test]
fn namespace_filter_and_min_severity() {
    let dir = scenario("crashloop");
    let bundle = Bundle::open(&dir).unwrap();
    let only_default = analyze(
        &bundle,
        &Options {
            namespaces: vec!["default".into(), "nope".into()],
            ..Options::default()
        },
    );
    assert!(only_default
        .findings
        .iter()
        .all(|f| f.object.namespace.as_deref() != Some("shop")));
    assert!(only_default
        .coverage
        .iter()
        .any(|g| g.reason == "namespace nope is not in the bundle"));
    let critical = analyze(
        &bundle,
        &Options {
            min_severity: Some(Severity::Critical),
            ..Options::default()
        },
    );
    assert!(!critical.findings.is_empty());
    assert!(critical
        .findings
        .iter()
        .all(|f| f.severity == Severity::Critical));
    assert_eq!(critical.summary.findings, critical.findings.len());
    let by: usize = critical.summary.by_severity.values().sum();
    assert_eq!(by, critical.findings.len());
}

fn kpm_analyze(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kpm-analyze"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_exit_codes_and_formats() {
    let dir = scenario("crashloop");
    let bundle = dir.to_str().unwrap();
    let out = kpm_analyze(&[bundle]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema_version"], 1);

    let out = kpm_analyze(&[bundle, "--fail-on", "critical"]);
    assert_eq!(out.status.code(), Some(1));
    let healthy = scenario("healthy");
    {
        let out = kpm_analyze(&[healthy.to_str().unwrap(), "--fail-on", "warning"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    let out = kpm_analyze(&[bundle, "--min-severity", "fatal"]);
    assert_eq!(out.status.code(), Some(2));

    let not_bundle = std::env::temp_dir().join(format!("kpm-not-a-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&not_bundle).unwrap();
    let out = kpm_analyze(&[not_bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no manifest.json"));
    let zip = not_bundle.join("broken.zip");
    std::fs::write(&zip, b"PK\x03\x04 definitely not a zip").unwrap();
    let out = kpm_analyze(&[zip.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));

    for (name, needle) in [("report.md", "checkout"), ("report.html", "<html")] {
        let target = not_bundle.join(name);
        let out = kpm_analyze(&[bundle, "-o", target.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&target).unwrap();
        assert!(text.contains(needle), "{name} lacks {needle}");
    }
    std::fs::remove_dir_all(&not_bundle).unwrap();
}
