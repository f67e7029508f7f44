//! kpm-analyze judged on captures of real clusters (`../shared/corpus/kpm/`)
//! against an expert's expectations written from the objects
//! (`tests/real_corpus/expectations/`, format in `tests/real_corpus/README.md`).
//!
//! Fails when the corpus is missing or empty, when a bundle has no
//! expectation (or the reverse), on any discrepancy not listed in the
//! bundle's `known_failures`, and on any listed one that no longer occurs.
//! With `KPM_CORPUS_TABLE=<file>` it also writes the precision/recall table
//! as Markdown (relative paths from the workspace root).

mod judge;
mod table;

use std::path::{Path, PathBuf};
use std::process::Command;

use judge::{Expectation, Judgement};
use kpm_model::Report;
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    kpm_e2e::workspace_root().join("../shared/corpus/kpm")
}

fn expectations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("real_corpus/expectations")
}

/// Bundle directories of the corpus, sorted; panics when there are none.
fn bundles() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the real-world corpus {} cannot be read ({e}); it must exist (see ../shared/corpus/README.md)",
            dir.display()
        )
    });
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    out.sort();
    assert!(
        !out.is_empty(),
        "no bundle (directory with manifest.json) in {}",
        dir.display()
    );
    out
}

fn load_expectation(name: &str) -> Result<Expectation, String> {
    let path = expectations_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{name}: no expectation {} ({e})", path.display()))?;
    let exp: Expectation = serde_json::from_str(&text)
        .map_err(|e| format!("{name}: {} is not a valid expectation: {e}", path.display()))?;
    if exp.bundle != name {
        return Err(format!(
            "{name}: {} says bundle {:?}",
            path.display(),
            exp.bundle
        ));
    }
    Ok(exp)
}

/// Runs `kpm-analyze <bundle> --format json` and parses the report.
fn analyze(bundle: &Path) -> Result<(Report, Value), String> {
    let out = Command::new(kpm_e2e::bin("kpm-analyze"))
        .arg(bundle)
        .args(["--format", "json"])
        .output()
        .map_err(|e| format!("cannot run kpm-analyze: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(0) {
        return Err(format!(
            "kpm-analyze exited {:?}; stderr:\n{stderr}",
            out.status.code()
        ));
    }
    let raw: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("stdout is not JSON ({e}); stderr:\n{stderr}"))?;
    let report: Report = serde_json::from_value(raw.clone())
        .map_err(|e| format!("the JSON is not a kpm report ({e})"))?;
    Ok((report, raw))
}

/// Problems with a judged bundle that fail the test.
fn failures(exp: &Expectation, j: &Judgement) -> Vec<String> {
    let mut out = judge::self_contradictions(exp);
    for d in &j.discrepancies {
        if !exp.known_failures.iter().any(|k| k.matches(&d.key())) {
            out.push(format!("{}: {d}", exp.bundle));
        }
    }
    for k in &exp.known_failures {
        if !j.discrepancies.iter().any(|d| k.matches(&d.key())) {
            out.push(format!(
                "{}: known failure {:?} no longer occurs — remove it from known_failures",
                exp.bundle, k.pattern
            ));
        }
    }
    out
}

fn write_table(rows: &[table::Row<'_>]) {
    let Some(target) = std::env::var_os("KPM_CORPUS_TABLE") else {
        return;
    };
    let path = kpm_e2e::workspace_root().join(target);
    if let Err(e) = std::fs::write(&path, table::markdown(rows)) {
        panic!("cannot write the corpus table to {}: {e}", path.display());
    }
    println!("wrote {}", path.display());
}

#[test]
fn real_corpus() {
    let bundles = bundles();
    let mut problems = Vec::new();
    let mut judged = Vec::new();
    for dir in &bundles {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let exp = match load_expectation(&name) {
            Ok(exp) => exp,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        match analyze(dir) {
            Ok((report, raw)) => {
                let j = judge::judge(&exp, &report, &raw);
                judged.push((exp, j, report.kpm_version));
            }
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    let names: Vec<String> = bundles
        .iter()
        .filter_map(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let exp_dir = expectations_dir();
    let rd = std::fs::read_dir(&exp_dir)
        .unwrap_or_else(|e| panic!("cannot read the expectations {}: {e}", exp_dir.display()));
    for e in rd {
        let e = e.unwrap_or_else(|e| panic!("cannot list {}: {e}", exp_dir.display()));
        let file = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = file
            .strip_suffix(".json")
            .filter(|s| !names.iter().any(|n| n == s))
        {
            problems.push(format!(
                "expectation {file} has no bundle {stem} in the corpus"
            ));
        }
    }
    let rows: Vec<table::Row<'_>> = judged
        .iter()
        .map(|(exp, judgement, kpm_version)| table::Row {
            exp,
            judgement,
            kpm_version: kpm_version.clone(),
        })
        .collect();
    println!("{}", table::text(&rows));
    for (exp, j, _) in &judged {
        for d in &j.discrepancies {
            println!("{}: {d}", exp.bundle);
        }
        problems.extend(failures(exp, j));
    }
    write_table(&rows);
    assert!(
        problems.is_empty(),
        "{} problem(s) on the real corpus (a discrepancy must be fixed in kpm or, \
         with a diagnosis, listed in the bundle's known_failures):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
