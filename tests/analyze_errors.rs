//! End-to-end tests of what a `kpm-analyze` user sees when something is
//! wrong: bad command lines (exit 2), unreadable bundles (exit 3, naming the
//! path and the problem), a damaged bundle (a report that lists the damage)
//! and output that cannot be written (exit 4), never losing an existing
//! report file on a failed run.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::analyze::*;

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

/// Runs `kpm-analyze ARGS…` expecting exit `want` and an empty stdout;
/// returns stderr, checked to name `path` exactly once.
fn fails_naming_once(args: &[&std::ffi::OsStr], path: &Path, want: i32) -> String {
    let out = analyze(args);
    let err = stderr(&out);
    assert_eq!(code(&out), want, "{err}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    let shown = path.display().to_string();
    assert_eq!(
        err.matches(&shown).count(),
        1,
        "{shown} not named once: {err}"
    );
    err
}

#[test]
fn missing_bundle_says_path_and_cause_once_for_analyze_and_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("shared");
    let p = missing.display();
    let err = fails_naming_once(&[missing.as_os_str()], &missing, EXIT_BUNDLE);
    assert_eq!(
        err,
        format!("kpm-analyze: cannot open bundle {p}: No such file or directory (os error 2)\n")
    );
    let err = fails_naming_once(
        &["serve".as_ref(), missing.as_os_str()],
        &missing,
        EXIT_BUNDLE,
    );
    assert_eq!(
        err,
        format!(
            "kpm-analyze serve: cannot open bundle {p}: No such file or directory (os error 2)\n"
        )
    );
}

#[test]
fn directory_of_no_known_format_is_one_line_naming_what_was_looked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("neither");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a bundle").unwrap();
    let err = fails_naming_once(&[dir.as_os_str()], &dir, EXIT_BUNDLE);
    assert_eq!(
        err,
        format!(
            "kpm-analyze: {} is not a kpm bundle (no manifest.json), a troubleshoot support \
             bundle (no cluster-resources/) or a kubectl cluster-info dump (no nodes.json with \
             <namespace>/pods.json); found: notes.txt\n",
            dir.display()
        )
    );
}

#[test]
fn truncated_zip_is_one_line_naming_the_zip_once() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole.zip");
    zip_scenario(&scenario("healthy"), &whole);
    let bytes = std::fs::read(&whole).unwrap();
    let zip = tmp.path().join("truncated.zip");
    std::fs::write(&zip, &bytes[..bytes.len() / 2]).unwrap();
    for serve in [false, true] {
        let mut args: Vec<&std::ffi::OsStr> = Vec::new();
        if serve {
            args.push("serve".as_ref());
        }
        args.push(zip.as_os_str());
        let err = fails_naming_once(&args, &zip, EXIT_BUNDLE);
        let prefix = if serve {
            "kpm-analyze serve"
        } else {
            "kpm-analyze"
        };
        // The end of central directory record went with the second half.
        assert_eq!(
            err,
            format!(
                "{prefix}: {} is not a valid bundle zip: invalid Zip archive: Could not find EOCD\n",
                zip.display()
            )
        );
    }
}
