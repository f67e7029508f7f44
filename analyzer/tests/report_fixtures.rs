//! Keeps `testdata/reports/<name>.json` equal to the analyzer's JSON report
//! of a few scenarios and one real-corpus capture. kpm-report's tests render
//! these files instead of hand-built reports, so what they pin is what the
//! product really prints; the report crate reads JSON and never depends on
//! this one. Fails on drift; `KPM_BLESS=1` rewrites the files.

use std::path::{Path, PathBuf};

use kpm_analyzer::{analyze, Options};
use kpm_bundle::Bundle;

/// `(report name, bundle directory relative to the workspace root)`.
const FIXTURES: &[(&str, &str)] = &[
    ("crashloop", "testdata/crashloop"),
    ("healthy", "testdata/healthy"),
    ("demo", "testdata/demo"),
    // A real cluster with failed collection steps (coverage gaps).
    (
        "aks-tunnelfront-down",
        "../shared/corpus/kpm/aks-tunnelfront-down",
    ),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The report of `bundle` as pretty JSON, its path written as given here
/// (not the machine's absolute path) so the file is the same everywhere.
fn report_json(bundle: &str) -> String {
    let dir = workspace_root().join(bundle);
    assert!(
        dir.join("manifest.json").is_file(),
        "{} is not a bundle (the real-world corpus must be present)",
        dir.display()
    );
    let opened = Bundle::open(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut report = analyze(&opened, &Options::default());
    report.bundle.path = bundle.to_string();
    let mut text = serde_json::to_string_pretty(&report).expect("a report serializes");
    text.push('\n');
    text
}

#[test]
fn stored_reports_match_the_analyzer() {
    let bless = std::env::var_os("KPM_BLESS").is_some();
    let mut drifted = Vec::new();
    for (name, bundle) in FIXTURES {
        let path = workspace_root().join(format!("testdata/reports/{name}.json"));
        let want = report_json(bundle);
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have == want {
            continue;
        }
        if bless {
            std::fs::write(&path, &want)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        } else {
            drifted.push(path.display().to_string());
        }
    }
    assert!(
        drifted.is_empty(),
        "the stored reports drifted from the analyzer (review, then rerun with KPM_BLESS=1): {drifted:?}"
    );
}

#[test]
fn no_stray_stored_report() {
    let dir = workspace_root().join("testdata/reports");
    let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in rd {
        let e = e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let file = e.file_name().to_string_lossy().into_owned();
        assert!(
            FIXTURES
                .iter()
                .any(|(name, _)| file == format!("{name}.json")),
            "{file} in {} is kept current by no fixture",
            dir.display()
        );
    }
}
