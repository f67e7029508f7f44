//! The expert's expectations for one real-corpus bundle (format in
//! `tests/real_corpus/README.md`) and the judgement of a kpm report against
//! them: which expected findings are present with their severity and
//! evidence, which findings are false, and whether the verdict agrees.

use std::fmt;

use kpm_model::{Evidence, Finding, Report, Severity};
use serde::Deserialize;
use serde_json::Value;

/// Whether anything needs an on-call engineer at collection time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Healthy,
    Broken,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Broken => "broken",
        }
    }
}

/// One `expectations/<bundle>.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub bundle: String,
    pub verdict: Verdict,
    pub summary: String,
    pub expected: Vec<Expected>,
    #[serde(default)]
    pub allowed: Vec<Pattern>,
    #[serde(default)]
    pub must_not: Vec<Pattern>,
    #[serde(default)]
    pub known_failures: Vec<KnownFailure>,
    pub notes: Vec<String>,
}

/// A finding a correct report must contain.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub rule: String,
    #[serde(default)]
    pub also_accept: Vec<String>,
    pub object: String,
    pub min_severity: Option<Severity>,
    #[serde(default)]
    pub evidence_contains: Vec<String>,
    pub why: String,
}

impl Expected {
    fn accepts(&self, f: &Finding) -> bool {
        (f.rule == self.rule || self.also_accept.contains(&f.rule))
            && f.object.to_string() == self.object
    }
}

/// A `must_not` (with `min_severity`) or `allowed` (with `max_severity`)
/// pattern; every field given must match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pattern {
    pub rule: Option<String>,
    pub object: Option<String>,
    pub object_prefix: Option<String>,
    pub namespace: Option<String>,
    pub min_severity: Option<Severity>,
    pub max_severity: Option<Severity>,
    pub why: String,
}

impl Pattern {
    fn selects(&self, rule: &str, object: &str, namespace: Option<&str>) -> bool {
        self.rule.as_deref().is_none_or(|r| r == rule)
            && self.object.as_deref().is_none_or(|o| o == object)
            && self
                .object_prefix
                .as_deref()
                .is_none_or(|p| object.starts_with(p))
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| namespace == Some(n))
    }

    fn forbids(&self, f: &Finding) -> bool {
        let min = self.min_severity.unwrap_or(Severity::Warning);
        f.severity >= min
            && self.selects(
                &f.rule,
                &f.object.to_string(),
                f.object.namespace.as_deref(),
            )
    }

    fn allows(&self, f: &Finding) -> bool {
        let max = self.max_severity.unwrap_or(Severity::Warning);
        f.severity <= max
            && self.selects(
                &f.rule,
                &f.object.to_string(),
                f.object.namespace.as_deref(),
            )
    }
}

/// A discrepancy observed in phase 2 that kpm does not get right yet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFailure {
    /// A discrepancy key, or a prefix of one ending in `*`.
    #[serde(rename = "match")]
    pub pattern: String,
    pub why: String,
}

impl KnownFailure {
    pub fn matches(&self, key: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => key == self.pattern,
        }
    }
}

/// One way the report differs from the expert; `Display` is the stable key
/// `known_failures` match against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discrepancy {
    Missing {
        rule: String,
        object: String,
    },
    Severity {
        rule: String,
        object: String,
        got: Severity,
        min: Severity,
    },
    Evidence {
        rule: String,
        object: String,
        text: String,
    },
    MustNot {
        rule: String,
        object: String,
        severity: Severity,
    },
    FalsePositive {
        rule: String,
        object: String,
        severity: Severity,
    },
    Verdict {
        want: Verdict,
        got: Verdict,
    },
}

impl Discrepancy {
    /// The key without details that change from run to run.
    pub fn key(&self) -> String {
        match self {
            Discrepancy::Missing { rule, object } => format!("missing {rule} {object}"),
            Discrepancy::Severity { rule, object, .. } => format!("severity {rule} {object}"),
            Discrepancy::Evidence { rule, object, text } => {
                format!("evidence {rule} {object}: {text}")
            }
            Discrepancy::MustNot { rule, object, .. } => format!("must-not {rule} {object}"),
            Discrepancy::FalsePositive { rule, object, .. } => {
                format!("false-positive {rule} {object}")
            }
            Discrepancy::Verdict { want, .. } => format!("verdict {}", want.as_str()),
        }
    }

    /// Whether this is a finding that should not be there (precision).
    pub fn is_false_finding(&self) -> bool {
        matches!(
            self,
            Discrepancy::MustNot { .. } | Discrepancy::FalsePositive { .. }
        )
    }
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Discrepancy::Severity { got, min, .. } => {
                write!(f, "{} (got {got}, want at least {min})", self.key())
            }
            Discrepancy::MustNot { severity, .. } | Discrepancy::FalsePositive { severity, .. } => {
                write!(f, "{} at {severity}", self.key())
            }
            Discrepancy::Verdict { got, .. } => {
                write!(f, "{} (report says {})", self.key(), got.as_str())
            }
            _ => f.write_str(&self.key()),
        }
    }
}

/// The outcome for one bundle.
#[derive(Debug, Default)]
pub struct Judgement {
    /// Expected entries.
    pub expected: usize,
    /// Expected entries with at least one matching finding.
    pub found: usize,
    /// Found with the severity and every evidence string.
    pub complete: usize,
    /// Findings matching an expected entry (any severity).
    pub matched_findings: usize,
    /// Findings at warning+ that are allowed remarks.
    pub allowed_findings: usize,
    pub discrepancies: Vec<Discrepancy>,
    pub verdict: Option<Verdict>,
}

impl Judgement {
    /// Findings that should not be there.
    pub fn false_findings(&self) -> usize {
        self.discrepancies
            .iter()
            .filter(|d| d.is_false_finding())
            .count()
    }
}

/// Everything the report says about one finding, searched for evidence.
pub fn finding_text(f: &Finding) -> String {
    let mut parts = vec![f.symptom.clone(), f.cause.clone()];
    for e in &f.evidence {
        match e {
            Evidence::Event {
                reason, message, ..
            } => {
                parts.push(format!("{reason}: {message}"));
            }
            Evidence::Log { lines, .. } => parts.extend(lines.iter().map(|l| l.text.clone())),
            Evidence::Field { path, value, .. } => parts.push(format!("{path} = {value}")),
            Evidence::Metric {
                name,
                value,
                compared_to,
            } => parts.push(format!(
                "{name} {value} {}",
                compared_to.as_deref().unwrap_or_default()
            )),
            Evidence::Note { text } => parts.push(text.clone()),
        }
    }
    parts.join("\n")
}

/// The report's verdict: `summary.verdict` when the report has one, else
/// `broken` when any finding is error or worse.
pub fn report_verdict(report: &Report, raw: &Value) -> Verdict {
    match raw["summary"]["verdict"].as_str() {
        Some("healthy") => Verdict::Healthy,
        Some(_) => Verdict::Broken,
        None if report
            .findings
            .iter()
            .any(|f| f.severity >= Severity::Error) =>
        {
            Verdict::Broken
        }
        None => Verdict::Healthy,
    }
}

/// Mistakes inside an expectation file: an entry without its reasoning, a
/// pattern with the wrong severity bound, or an expected finding a `must_not`
/// pattern forbids (which no report could satisfy).
pub fn self_contradictions(exp: &Expectation) -> Vec<String> {
    let mut out = Vec::new();
    let b = &exp.bundle;
    if exp.summary.trim().is_empty() || exp.notes.is_empty() {
        out.push(format!(
            "{b}: the expectation needs a summary and notes citing the objects"
        ));
    }
    let whys = exp.expected.iter().map(|e| e.why.as_str());
    let whys = whys.chain(
        exp.allowed
            .iter()
            .chain(&exp.must_not)
            .map(|p| p.why.as_str()),
    );
    let whys = whys.chain(exp.known_failures.iter().map(|k| k.why.as_str()));
    if whys.into_iter().any(|w| w.trim().is_empty()) {
        out.push(format!("{b}: every entry needs a non-empty why"));
    }
    if exp.must_not.iter().any(|p| p.max_severity.is_some()) {
        out.push(format!(
            "{b}: a must_not pattern takes min_severity, not max_severity"
        ));
    }
    if exp.allowed.iter().any(|p| p.min_severity.is_some()) {
        out.push(format!(
            "{b}: an allowed pattern takes max_severity, not min_severity"
        ));
    }
    for e in &exp.expected {
        let ns = e
            .object
            .split('/')
            .nth(1)
            .filter(|_| e.object.matches('/').count() == 2);
        for rule in std::iter::once(&e.rule).chain(&e.also_accept) {
            for p in &exp.must_not {
                if p.selects(rule, &e.object, ns) {
                    out.push(format!(
                        "{}: expected {rule} {} is forbidden by must_not ({})",
                        exp.bundle, e.object, p.why
                    ));
                }
            }
        }
    }
    out
}

/// Judges one report.
pub fn judge(exp: &Expectation, report: &Report, raw: &Value) -> Judgement {
    let mut j = Judgement {
        expected: exp.expected.len(),
        ..Judgement::default()
    };
    let mut claimed = vec![false; report.findings.len()];
    for e in &exp.expected {
        judge_expected(e, report, &mut claimed, &mut j);
    }
    for (f, claimed) in report.findings.iter().zip(&claimed) {
        if exp.must_not.iter().any(|p| p.forbids(f)) {
            j.discrepancies.push(Discrepancy::MustNot {
                rule: f.rule.clone(),
                object: f.object.to_string(),
                severity: f.severity,
            });
        } else if *claimed {
            j.matched_findings += 1;
        } else if f.severity < Severity::Warning {
            continue;
        } else if exp.allowed.iter().any(|p| p.allows(f)) {
            j.allowed_findings += 1;
        } else {
            j.discrepancies.push(Discrepancy::FalsePositive {
                rule: f.rule.clone(),
                object: f.object.to_string(),
                severity: f.severity,
            });
        }
    }
    let got = report_verdict(report, raw);
    j.verdict = Some(got);
    if got != exp.verdict {
        j.discrepancies.push(Discrepancy::Verdict {
            want: exp.verdict,
            got,
        });
    }
    j
}

fn judge_expected(e: &Expected, report: &Report, claimed: &mut [bool], j: &mut Judgement) {
    let hits: Vec<&Finding> = report
        .findings
        .iter()
        .zip(claimed.iter_mut())
        .filter(|(f, _)| e.accepts(f))
        .map(|(f, c)| {
            *c = true;
            f
        })
        .collect();
    let (rule, object) = (e.rule.clone(), e.object.clone());
    let Some(best) = hits.iter().map(|f| f.severity).max() else {
        j.discrepancies.push(Discrepancy::Missing { rule, object });
        return;
    };
    j.found += 1;
    let before = j.discrepancies.len();
    if let Some(min) = e.min_severity.filter(|min| best < *min) {
        j.discrepancies.push(Discrepancy::Severity {
            rule: rule.clone(),
            object: object.clone(),
            got: best,
            min,
        });
    }
    let texts: Vec<String> = hits.iter().map(|f| finding_text(f)).collect();
    for want in &e.evidence_contains {
        if !texts.iter().any(|t| t.contains(want.as_str())) {
            j.discrepancies.push(Discrepancy::Evidence {
                rule: rule.clone(),
                object: object.clone(),
                text: want.clone(),
            });
        }
    }
    if j.discrepancies.len() == before {
        j.complete += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, ns: &str, name: &str, severity: &str, cause: &str) -> Value {
        serde_json::json!({
            "id": format!("{rule}:Pod/{ns}/{name}"), "rule": rule, "layer": "pod",
            "severity": severity, "object": {"kind": "Pod", "namespace": ns, "name": name},
            "symptom": "CrashLoopBackOff", "cause": cause,
            "evidence": [{"type": "log", "file": "x.log", "lines": [{"number": 1, "text": "boom: decisive"}]}]
        })
    }

    fn report(findings: Vec<Value>) -> (Report, Value) {
        let raw = serde_json::json!({
            "schema_version": 1, "kpm_version": "t",
            "bundle": {"path": "b", "format_version": 1, "collected_by": "t",
                       "started_at": "2020-01-01T00:00:00Z", "collected_at": "2020-01-01T00:00:00Z",
                       "all_namespaces": true, "namespaces": [], "partial": false},
            "summary": {"by_severity": {}, "findings": 0, "incidents": 0, "applications": 0,
                        "applications_broken": 0, "pods": 0, "nodes": 0},
            "applications": [], "incidents": [], "findings": findings, "timeline": [],
            "nodes": [], "top_pods": [], "coverage": [],
            "collection": {"steps_total": 0, "redaction_enabled": false},
            "damage": []
        });
        let parsed = serde_json::from_value(raw.clone());
        (
            parsed.unwrap_or_else(|e| panic!("test report does not parse: {e}")),
            raw,
        )
    }

    fn expectation(json: &str) -> Expectation {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad test expectation: {e}"))
    }

    const EXP: &str = r#"{"bundle": "b", "verdict": "broken", "summary": "s",
        "expected": [{"rule": "pod-crashloop", "object": "Pod/app/api", "min_severity": "error",
                      "evidence_contains": ["boom: decisive"], "why": "w"}],
        "allowed": [{"rule": "resources-no-limits", "namespace": "app", "max_severity": "warning", "why": "w"}],
        "must_not": [{"rule": "pod-crashloop", "namespace": "kube-system", "min_severity": "warning", "why": "recovered"}],
        "notes": ["n"]}"#;

    #[test]
    fn a_matching_report_has_no_discrepancy() {
        let (r, raw) = report(vec![
            finding("pod-crashloop", "app", "api", "critical", "exit 1"),
            finding("resources-no-limits", "app", "api", "warning", "no limits"),
            finding("image-tag-mutable", "app", "api", "info", "latest"),
        ]);
        let j = judge(&expectation(EXP), &r, &raw);
        assert_eq!(j.discrepancies, vec![]);
        assert_eq!(
            (j.found, j.complete, j.matched_findings, j.allowed_findings),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn every_kind_of_discrepancy_is_reported_with_its_key() {
        let (r, raw) = report(vec![
            finding("pod-crashloop", "kube-system", "coredns", "critical", "x"),
            finding("resources-no-limits", "app", "api", "error", "no limits"),
            finding("pod-not-ready", "app", "web", "warning", "x"),
        ]);
        let keys: Vec<String> = judge(&expectation(EXP), &r, &raw)
            .discrepancies
            .iter()
            .map(Discrepancy::key)
            .collect();
        assert_eq!(
            keys,
            vec![
                "missing pod-crashloop Pod/app/api",
                "must-not pod-crashloop Pod/kube-system/coredns",
                "false-positive resources-no-limits Pod/app/api",
                "false-positive pod-not-ready Pod/app/web",
            ]
        );
    }

    #[test]
    fn weak_findings_and_a_wrong_verdict_are_discrepancies() {
        let (r, raw) = report(vec![finding("pod-crashloop", "app", "api", "warning", "x")]);
        let mut exp = expectation(EXP);
        exp.expected[0].evidence_contains.push("not quoted".into());
        let keys: Vec<String> = judge(&exp, &r, &raw)
            .discrepancies
            .iter()
            .map(Discrepancy::key)
            .collect();
        assert_eq!(
            keys,
            vec![
                "severity pod-crashloop Pod/app/api",
                "evidence pod-crashloop Pod/app/api: not quoted",
                "verdict broken",
            ]
        );
    }

    #[test]
    fn known_failures_match_exactly_or_by_star_prefix() {
        let k = |p: &str| KnownFailure {
            pattern: p.into(),
            why: String::new(),
        };
        assert!(k("missing a Pod/x/y").matches("missing a Pod/x/y"));
        assert!(!k("missing a Pod/x/y").matches("missing a Pod/x/yz"));
        assert!(k("must-not r Pod/kube-system/*").matches("must-not r Pod/kube-system/coredns"));
        assert!(!k("must-not r Pod/kube-system/*").matches("must-not r Pod/default/web"));
    }

    #[test]
    fn an_expectation_forbidding_its_own_expected_finding_is_caught() {
        let mut exp = expectation(EXP);
        exp.expected[0].object = "Pod/kube-system/coredns".into();
        assert_eq!(self_contradictions(&exp).len(), 1);
        assert!(self_contradictions(&expectation(EXP)).is_empty());
    }
}
