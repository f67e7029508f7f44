//! What a team accepts: a policy file (`--config FILE`, else `.kpm.json` in
//! the current directory) that mutes or re-grades findings by rule id,
//! namespace, object name pattern or label — popeye's spinach file for kpm.
//!
//! The format, with examples, is in `docs/config.md`: `{"entries": [...]}`,
//! each entry with matchers (`rule`, `namespace` glob, `name` glob,
//! `labels`), an effect (`action: "mute"` or `severity`) and a `reason`.
//!
//! Every entry needs at least one matcher and exactly one of `action:
//! "mute"` or `severity`. The first entry that matches a finding decides.
//! Nothing is dropped silently: the report's `muted` section counts, per
//! entry, what it muted or re-graded. An unknown rule id, an unknown field
//! or a bad value is an error naming the file, the entry (and the line of
//! an unknown id) — a typo must not mute nothing while looking like it works.

use std::collections::BTreeMap;
use std::path::Path;

use kpm_model::{Finding, MutedEntry, ObjectRef, Severity};
use serde::Deserialize;

use crate::rules::registry::Rule;

/// File name looked for in the current directory when `--config` is not
/// given.
pub const DEFAULT_FILE: &str = ".kpm.json";

/// Ids kept per muted entry in the report; the count stays exact.
const MAX_IDS: usize = 100;

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("cannot read policy file {file}: {cause}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error, already in the message (not a `source()`).
        cause: std::io::Error,
    },
    /// Not valid JSON, or not the policy's shape.
    #[error("policy file {file}: line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's message.
        message: String,
    },
    /// An entry names a rule kpm does not have.
    #[error("policy file {file}: entry {entry} (line {line}) names unknown rule {id:?}; rule ids are listed in docs/rules.md")]
    UnknownRule {
        /// The file.
        file: String,
        /// 1-based entry.
        entry: usize,
        /// 1-based line where the id is written.
        line: usize,
        /// The id as written.
        id: String,
    },
    /// An entry is well-formed JSON but says something impossible.
    #[error("policy file {file}: entry {entry}: {problem}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based entry.
        entry: usize,
        /// What is wrong.
        problem: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    entries: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    rule: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    action: Option<String>,
    severity: Option<String>,
    #[serde(default)]
    reason: String,
}

/// What an entry does to the findings it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Take the finding out of the findings (counted in `muted`).
    Mute,
    /// Keep it with this severity.
    Grade(Severity),
}

/// One entry of a policy file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based position in the file.
    pub index: usize,
    rule: Option<Rule>,
    namespace: Option<String>,
    name: Option<String>,
    labels: BTreeMap<String, String>,
    /// What it does.
    pub action: Action,
    reason: String,
    description: String,
}

/// A parsed policy file.
#[derive(Debug, Clone)]
pub struct Policy {
    file: String,
    entries: Vec<Entry>,
}

/// `*` matches any run of characters, `?` one character; everything else
/// matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// 1-based line of the first occurrence of `needle` in `text`, or 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(1, |at| text[..at].matches('\n').count() + 1)
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            file: file.clone(),
            cause: source,
        })?;
        Policy::parse(&file, &text)
    }

    /// Parses the text of policy file `file`.
    pub fn parse(file: &str, text: &str) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = serde_json::from_str(text).map_err(|e| PolicyError::Parse {
            file: file.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let mut entries = Vec::new();
        for (i, r) in raw.entries.into_iter().enumerate() {
            entries.push(entry(file, text, i + 1, r)?);
        }
        Ok(Policy {
            file: file.to_string(),
            entries,
        })
    }

    /// The first entry matching `finding`, whose object carries `labels`
    /// (every label set the object is known by: its own, its pod template's).
    pub fn matching(
        &self,
        finding: &Finding,
        labels: &[&BTreeMap<String, String>],
    ) -> Option<&Entry> {
        self.entries.iter().find(|e| e.matches(finding, labels))
    }

    /// The file it was read from.
    pub fn file(&self) -> &str {
        &self.file
    }
}

fn entry(file: &str, text: &str, index: usize, r: RawEntry) -> Result<Entry, PolicyError> {
    let invalid = |problem: String| PolicyError::Invalid {
        file: file.to_string(),
        entry: index,
        problem,
    };
    let rule = match &r.rule {
        Some(id) => Some(Rule::from_id(id).ok_or_else(|| PolicyError::UnknownRule {
            file: file.to_string(),
            entry: index,
            line: line_of(text, &format!("\"{id}\"")),
            id: id.clone(),
        })?),
        None => None,
    };
    if rule.is_none() && r.namespace.is_none() && r.name.is_none() && r.labels.is_empty() {
        return Err(invalid(
            "no matcher: give at least one of rule, namespace, name, labels".to_string(),
        ));
    }
    let action = match (r.action.as_deref(), r.severity.as_deref()) {
        (Some("mute"), None) => Action::Mute,
        (None, Some(level)) => Action::Grade(Severity::parse(level).ok_or_else(|| {
            invalid(format!(
                "severity {level:?} is not one of info, warning, error, critical"
            ))
        })?),
        (Some(other), None) => {
            return Err(invalid(format!(
                "action {other:?} is not \"mute\" (to re-grade, give severity instead)"
            )))
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                "give either action \"mute\" or severity, not both".to_string(),
            ))
        }
        (None, None) => {
            return Err(invalid(
                "no effect: give action \"mute\" or a severity".to_string(),
            ))
        }
    };
    let mut parts = Vec::new();
    if let Some(id) = &r.rule {
        parts.push(format!("rule={id}"));
    }
    if let Some(ns) = &r.namespace {
        parts.push(format!("namespace={ns}"));
    }
    if let Some(n) = &r.name {
        parts.push(format!("name={n}"));
    }
    for (k, v) in &r.labels {
        parts.push(format!("label {k}={v}"));
    }
    Ok(Entry {
        index,
        rule,
        namespace: r.namespace,
        name: r.name,
        labels: r.labels,
        action,
        reason: r.reason,
        description: parts.join(" "),
    })
}

impl Entry {
    fn matches(&self, f: &Finding, labels: &[&BTreeMap<String, String>]) -> bool {
        let obj: &ObjectRef = &f.object;
        self.rule.is_none_or(|r| r.id() == f.rule)
            && self
                .namespace
                .as_deref()
                .is_none_or(|p| obj.namespace.as_deref().is_some_and(|ns| glob_match(p, ns)))
            && self
                .name
                .as_deref()
                .is_none_or(|p| glob_match(p, &obj.name))
            && (self.labels.is_empty()
                || labels
                    .iter()
                    .any(|l| self.labels.iter().all(|(k, v)| l.get(k) == Some(v))))
    }
}

/// What each entry did, accumulated over the run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Entry index → (finding count, first ids).
    by_entry: BTreeMap<usize, (usize, Vec<String>)>,
}

impl Tally {
    fn record(&mut self, entry: &Entry, id: &str) {
        let e = self.by_entry.entry(entry.index).or_default();
        e.0 += 1;
        if e.1.len() < MAX_IDS {
            e.1.push(id.to_string());
        }
    }

    /// One report entry per policy entry that matched something.
    pub fn finish(self, policy: &Policy) -> Vec<MutedEntry> {
        self.by_entry
            .into_iter()
            .filter_map(|(index, (count, findings))| {
                let e = policy.entries.iter().find(|e| e.index == index)?;
                Some(MutedEntry {
                    file: policy.file.clone(),
                    entry: index,
                    description: e.description.clone(),
                    action: match e.action {
                        Action::Mute => "mute".to_string(),
                        Action::Grade(s) => format!("severity {s}"),
                    },
                    reason: e.reason.clone(),
                    count,
                    findings,
                })
            })
            .collect()
    }
}

/// Applies `policy` to `findings`: muted ones are removed, re-graded ones
/// get the entry's severity; both are recorded in `tally`. `labels_of`
/// gives the label sets of a finding's object.
pub fn apply<'a>(
    policy: &Policy,
    findings: Vec<Finding>,
    labels_of: impl Fn(&ObjectRef) -> Vec<&'a BTreeMap<String, String>>,
    tally: &mut Tally,
) -> Vec<Finding> {
    let mut out = Vec::with_capacity(findings.len());
    for mut f in findings {
        let labels = labels_of(&f.object);
        match policy.matching(&f, &labels) {
            Some(e) => {
                tally.record(e, &f.id);
                match e.action {
                    Action::Mute => {}
                    Action::Grade(s) => {
                        f.severity = s;
                        out.push(f);
                    }
                }
            }
            None => out.push(f),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::FindingBuilder;

    fn finding(rule: Rule, kind: &str, ns: &str, name: &str) -> Finding {
        FindingBuilder::new(rule, ObjectRef::namespaced(kind, ns, name)).build()
    }

    #[test]
    fn globs_match_like_shell_patterns() {
        assert!(glob_match("legacy-*", "legacy-billing"));
        assert!(glob_match("*-canary", "web-canary"));
        assert!(glob_match("web-?", "web-1"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("web-?", "web-12"));
        assert!(!glob_match("legacy-*", "prod-legacy-x"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }

    #[test]
    fn mutes_and_regrades_by_rule_namespace_name_and_label() {
        let text = r#"{"entries": [
  {"rule": "resources-no-limits", "namespace": "legacy-*", "action": "mute", "reason": "owned by team Foo"},
  {"name": "web-*", "labels": {"team": "dev"}, "severity": "info"}
]}"#;
        let policy = Policy::parse("kpm.json", text).unwrap_or_else(|e| panic!("{e}"));
        let dev: BTreeMap<String, String> = [("team".to_string(), "dev".to_string())].into();
        let findings = vec![
            finding(
                Rule::ResourcesNoLimits,
                "Deployment",
                "legacy-billing",
                "api",
            ),
            finding(Rule::ResourcesNoLimits, "Deployment", "shop", "api"),
            finding(Rule::PodCrashloop, "Pod", "shop", "web-1"),
            finding(Rule::PodCrashloop, "Pod", "shop", "cart-1"),
        ];
        let mut tally = Tally::default();
        let out = apply(
            &policy,
            findings,
            |o| {
                if o.name.starts_with("web") {
                    vec![&dev]
                } else {
                    vec![]
                }
            },
            &mut tally,
        );
        let ids: Vec<(&str, Severity)> = out.iter().map(|f| (f.id.as_str(), f.severity)).collect();
        assert_eq!(
            ids,
            vec![
                ("resources-no-limits:Deployment/shop/api", Severity::Warning),
                ("pod-crashloop:Pod/shop/web-1", Severity::Info),
                ("pod-crashloop:Pod/shop/cart-1", Severity::Critical),
            ]
        );
        let muted = tally.finish(&policy);
        assert_eq!(muted.len(), 2);
        assert_eq!(muted[0].action, "mute");
        assert_eq!(muted[0].count, 1);
        assert_eq!(muted[0].reason, "owned by team Foo");
        assert_eq!(
            muted[0].description,
            "rule=resources-no-limits namespace=legacy-*"
        );
        assert_eq!(muted[1].action, "severity info");
        assert_eq!(muted[1].findings, vec!["pod-crashloop:Pod/shop/web-1"]);
    }

    #[test]
    fn unknown_rule_names_file_entry_line_and_id() {
        let text = "{\"entries\": [\n  {\"rule\": \"resources-no-limits\", \"action\": \"mute\"},\n  {\"rule\": \"pod-crash-loop\",\n   \"action\": \"mute\"}\n]}";
        let err = Policy::parse("team.json", text)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("policy file team.json: entry 2 (line 3) names unknown rule \"pod-crash-loop\"; rule ids are listed in docs/rules.md")
        );
    }

    #[test]
    fn malformed_entries_are_errors_not_no_ops() {
        let cases = [
            (
                r#"{"entries": [{"action": "mute"}]}"#,
                "entry 1: no matcher",
            ),
            (
                r#"{"entries": [{"rule": "image-tag-mutable"}]}"#,
                "entry 1: no effect",
            ),
            (
                r#"{"entries": [{"rule": "image-tag-mutable", "severity": "low"}]}"#,
                "severity \"low\"",
            ),
            (
                r#"{"entries": [{"rule": "image-tag-mutable", "action": "hide"}]}"#,
                "action \"hide\"",
            ),
            (
                r#"{"entries": [{"rule": "image-tag-mutable", "action": "mute", "namspace": "x"}]}"#,
                "unknown field `namspace`",
            ),
            ("{\"entries\": [\n{]}", "line 2"),
        ];
        for (text, want) in cases {
            let err = Policy::parse("p.json", text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(want), "{text}: {err}");
            assert!(err.contains("p.json"), "{err}");
        }
    }
}
