//! Findings matching: a finding is known by its rule and its subject. A
//! pod's subject is its workload and revision (`Deployment/shop/web@hash`),
//! so a replaced pod of the same revision is the same incident; any other
//! object is its own subject. Grouped in a hash map, never compared pairwise.

use std::collections::HashMap;

use kpm_model::diff::{Change, FindingDelta};
use kpm_model::{Finding, ObjectRef, Severity};

use super::snapshot::Digest;
use super::Snapshot;

/// Findings of one rule on one subject in one snapshot.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// Worst severity.
    pub severity: Severity,
    /// Any of them is a root cause.
    pub root: bool,
    /// The findings.
    pub findings: Vec<&'a Finding>,
}

/// The subject a finding is matched on.
pub fn subject(f: &Finding, digest: &Digest) -> String {
    let o = &f.object;
    if o.kind == "Pod" {
        let ns = o.namespace.as_deref().unwrap_or_default();
        if let Some(p) = digest.pods.get(&format!("{ns}/{}", o.name)) {
            if let Some(w) = &p.workload {
                return match &p.revision {
                    Some(r) => format!("{w}@{r}"),
                    None => w.to_string(),
                };
            }
        }
    }
    o.to_string()
}

/// Every finding of a snapshot grouped by (rule, subject).
pub fn groups(s: &Snapshot) -> HashMap<(String, String), Group<'_>> {
    let mut out: HashMap<(String, String), Group<'_>> = HashMap::new();
    for f in &s.report.findings {
        let k = (f.rule.clone(), subject(f, &s.digest));
        let g = out.entry(k).or_insert_with(|| Group {
            severity: f.severity,
            root: false,
            findings: Vec::new(),
        });
        g.severity = g.severity.max(f.severity);
        g.root |= f.is_root();
        g.findings.push(f);
    }
    out
}

fn objects(groups: [Option<&Group<'_>>; 2]) -> Vec<ObjectRef> {
    let mut v: Vec<ObjectRef> = groups
        .into_iter()
        .flatten()
        .flat_map(|g| g.findings.iter().map(|f| f.object.clone()))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// New, resolved and persisting findings, roots first, worst first.
pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<FindingDelta> {
    let b = groups(before);
    let a = groups(after);
    let mut out = Vec::new();
    for (k, gb) in &b {
        let ga = a.get(k);
        out.push(delta(k, Some(gb), ga));
    }
    for (k, ga) in &a {
        if !b.contains_key(k) {
            out.push(delta(k, None, Some(ga)));
        }
    }
    out.sort_by(|x, y| {
        y.root
            .cmp(&x.root)
            .then_with(|| x.change.cmp(&y.change))
            .then_with(|| y.severity.cmp(&x.severity))
            .then_with(|| x.rule.cmp(&y.rule))
            .then_with(|| x.subject.cmp(&y.subject))
    });
    out
}

fn delta(
    (rule, subject): &(String, String),
    before: Option<&Group<'_>>,
    after: Option<&Group<'_>>,
) -> FindingDelta {
    let change = match (before.is_some(), after.is_some()) {
        (true, true) => Change::Persisting,
        (true, false) => Change::Resolved,
        _ => Change::New,
    };
    let shown = after.or(before);
    FindingDelta {
        change,
        rule: rule.clone(),
        severity: [before, after]
            .into_iter()
            .flatten()
            .map(|g| g.severity)
            .max()
            .unwrap_or(Severity::Info),
        subject: subject.clone(),
        root: [before, after].into_iter().flatten().any(|g| g.root),
        before: before.map_or(0, |g| g.findings.len()),
        after: after.map_or(0, |g| g.findings.len()),
        symptom: shown
            .and_then(|g| g.findings.first())
            .map(|f| f.symptom.clone())
            .unwrap_or_default(),
        objects: objects([before, after]),
    }
}

/// (resolved, new, persisting) incidents: root groups.
pub fn incident_counts(deltas: &[FindingDelta]) -> (usize, usize, usize) {
    let roots = deltas.iter().filter(|d| d.root);
    let mut counts = (0, 0, 0);
    for d in roots {
        match d.change {
            Change::Resolved => counts.0 += 1,
            Change::New => counts.1 += 1,
            _ => counts.2 += 1,
        }
    }
    counts
}
