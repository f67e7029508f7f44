//! Recall of the benchmark analysis: `gen-bundle scale` writes every
//! failure it injected (rule + object) next to the bundle as
//! `<bundle stem>.injected.json`; the benchmark analyses the bundle to JSON
//! once more (untimed) and checks that each one is among the findings.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::env::Env;

/// The list written next to a generated bundle
/// (`kpm_gen_bundle::scale_injected::InjectedFile`).
#[derive(Debug, Deserialize)]
struct InjectedFile {
    injected: Vec<Injected>,
}

/// One injected failure: the rule that must fire on the object.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Hash)]
pub struct Injected {
    /// Rule id.
    pub rule: String,
    /// `Kind/namespace/name` or `Kind/name`.
    pub object: String,
}

/// How many injected failures the analysis found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recall {
    /// Injected failures.
    pub injected: usize,
    /// Of those, found among the report's findings.
    pub found: usize,
    /// The ones not found, as `rule:object`.
    pub missing: Vec<String>,
    /// Findings the JSON report left out for size (`truncated.omitted.findings`).
    pub omitted: u64,
}

impl Recall {
    /// `injected N, found M`.
    pub fn summary(&self) -> String {
        format!("injected {}, found {}", self.injected, self.found)
    }
}

/// Where `gen-bundle scale` writes the injected failures of `bundle`
/// (`kpm_gen_bundle::scale_injected::injected_path`).
pub fn injected_path(bundle: &Path) -> PathBuf {
    bundle.with_extension("injected.json")
}

/// The report's findings, reduced to what identifies them.
#[derive(Debug, Deserialize)]
struct Report {
    #[serde(default)]
    findings: Vec<Finding>,
    #[serde(default)]
    truncated: Option<Truncated>,
}

#[derive(Debug, Deserialize)]
struct Finding {
    rule: String,
    object: ObjectRef,
}

#[derive(Debug, Deserialize)]
struct ObjectRef {
    kind: String,
    #[serde(default)]
    namespace: Option<String>,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Truncated {
    #[serde(default)]
    omitted: std::collections::BTreeMap<String, u64>,
}

impl ObjectRef {
    fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// Compares the injected failures with a JSON report's text.
pub fn recall(injected: &[Injected], report_json: &str) -> Result<Recall> {
    let report: Report =
        serde_json::from_str(report_json).context("the JSON report does not parse")?;
    let found: HashSet<(String, String)> = report
        .findings
        .iter()
        .map(|f| (f.rule.clone(), f.object.key()))
        .collect();
    let missing: Vec<String> = injected
        .iter()
        .filter(|i| !found.contains(&(i.rule.clone(), i.object.clone())))
        .map(|i| format!("{}:{}", i.rule, i.object))
        .collect();
    Ok(Recall {
        injected: injected.len(),
        found: injected.len() - missing.len(),
        missing,
        omitted: report
            .truncated
            .and_then(|t| t.omitted.get("findings").copied())
            .unwrap_or(0),
    })
}

/// Reads the injected failures of `bundle`; `None` when the bundle has no
/// such list (a bundle given with `--bundle`).
pub fn read(bundle: &Path) -> Result<Option<Vec<Injected>>> {
    let path = injected_path(bundle);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let file: InjectedFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a list of injected failures", path.display()))?;
    Ok(Some(file.injected))
}

/// Analyses `bundle` to JSON (not timed) and checks the injected failures
/// against its findings; `None` when the bundle has no injected list.
pub fn check(env: &Env, size: &str, bundle: &Path) -> Result<Option<Recall>> {
    let Some(injected) = read(bundle)? else {
        return Ok(None);
    };
    let dir = env.scratch(&format!("recall-{size}"))?;
    let out = dir.join("report.json");
    let status = Command::new(env.bin("kpm-analyze")?)
        .arg(bundle)
        .args(["--format", "json", "-o"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .context("cannot run kpm-analyze")?;
    if !status.success() {
        bail!(
            "kpm-analyze --format json failed on {}: {status}",
            bundle.display()
        );
    }
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("cannot read {}", out.display()))?;
    let r = recall(&injected, &text)?;
    eprintln!("recall {size}: {}", r.summary());
    Ok(Some(r))
}

/// Fails when an analysis missed an injected failure, naming them.
pub fn require_all_found<'a>(
    recalls: impl IntoIterator<Item = (&'a str, &'a Recall)>,
) -> Result<()> {
    let mut problems = Vec::new();
    for (size, r) in recalls {
        if r.missing.is_empty() {
            continue;
        }
        let shown: Vec<&str> = r.missing.iter().take(20).map(String::as_str).collect();
        let more = r.missing.len().saturating_sub(shown.len());
        let truncated = if r.omitted > 0 {
            format!(" (the JSON report omitted {} findings for size)", r.omitted)
        } else {
            String::new()
        };
        problems.push(format!(
            "{size}: {}; missing{truncated}: {}{}",
            r.summary(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("injected failures not found:\n{}", problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inj(rule: &str, object: &str) -> Injected {
        Injected {
            rule: rule.into(),
            object: object.into(),
        }
    }

    #[test]
    fn counts_found_and_names_the_missing() {
        let report = r#"{"findings": [
            {"rule": "pod-crashloop", "object": {"kind": "Pod", "namespace": "a", "name": "p-1"}},
            {"rule": "node-not-ready", "object": {"kind": "Node", "name": "ip-10-16-0-4.ec2.internal"}},
            {"rule": "pod-oom-killed", "object": {"kind": "Pod", "namespace": "a", "name": "p-2"}}
        ]}"#;
        let injected = [
            inj("pod-crashloop", "Pod/a/p-1"),
            inj("node-not-ready", "Node/ip-10-16-0-4.ec2.internal"),
            // Right object, wrong rule; right rule, wrong object.
            inj("pod-crashloop", "Pod/a/p-2"),
            inj("pod-oom-killed", "Pod/b/p-2"),
        ];
        let r = recall(&injected, report).unwrap();
        assert_eq!(r.summary(), "injected 4, found 2");
        assert_eq!(
            r.missing,
            ["pod-crashloop:Pod/a/p-2", "pod-oom-killed:Pod/b/p-2"]
        );
        let err = require_all_found([("small", &r)]).unwrap_err().to_string();
        assert!(err.contains("small: injected 4, found 2"), "{err}");
        let all = recall(&injected[..2], report).unwrap();
        assert!(require_all_found([("small", &all)]).is_ok());
        assert!(recall(&injected, "not json").is_err());
    }

    #[test]
    fn reads_the_list_next_to_the_bundle() {
        let dir = crate::testutil::tmp("injected");
        let bundle = dir.join("scale-small-seed1-fail0.05.zip");
        assert!(read(&bundle).unwrap().is_none());
        std::fs::write(
            dir.join("scale-small-seed1-fail0.05.injected.json"),
            r#"{"bundle": "scale-small-seed1-fail0.05.zip", "injected": [{"rule": "pod-crashloop", "object": "Pod/a/p-1"}]}"#,
        )
        .unwrap();
        assert_eq!(
            read(&bundle).unwrap().unwrap(),
            [inj("pod-crashloop", "Pod/a/p-1")]
        );
    }
}
