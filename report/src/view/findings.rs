//! Views of findings, their evidence and the incidents grouping them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kpm_model::{Evidence, Finding, Incident, Report, Severity};
use serde::Serialize;

use super::format::{age, clip, clip_opt, clip_ref, timestamp};
use super::{Capped, Limits};

/// Finding id → position in `report.findings`, built once so resolving
/// incident references stays linear on reports with 100k findings.
pub struct FindingIndex<'a> {
    by_id: HashMap<&'a str, usize>,
    report: &'a Report,
}

impl<'a> FindingIndex<'a> {
    /// Indexes every finding of `report`.
    pub fn new(report: &'a Report) -> Self {
        let mut by_id = HashMap::with_capacity(report.findings.len());
        for (i, f) in report.findings.iter().enumerate() {
            // First wins: ids are unique by contract, and a duplicate must
            // not make the report point at a different finding.
            by_id.entry(f.id.as_str()).or_insert(i);
        }
        FindingIndex { by_id, report }
    }

    /// Position of the finding with this id in `report.findings`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The finding with this id and its HTML anchor.
    pub fn get(&self, id: &str) -> Option<(&'a Finding, String)> {
        let i = *self.by_id.get(id)?;
        self.report.findings.get(i).map(|f| (f, anchor(i)))
    }
}

/// Anchors are positional (`f-12`) because finding ids contain `/` and `:`,
/// and a positional id can never carry markup from the cluster.
pub fn anchor(i: usize) -> String {
    format!("f-{i}")
}

/// A link to another finding.
#[derive(Debug, Clone, Serialize)]
pub struct FindingLink {
    /// Anchor in the HTML page; empty when the id is unknown.
    pub anchor: String,
    /// The finding id.
    pub id: String,
}

/// One command to run next.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub description: String,
    pub command: String,
}

/// One numbered log line.
#[derive(Debug, Clone, Serialize)]
pub struct LineView {
    pub number: usize,
    pub text: String,
}

/// One piece of evidence, tagged by `kind` for the templates.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvidenceView {
    Event {
        object: String,
        event_type: String,
        warning: bool,
        reason: String,
        message: String,
        count: u64,
        first_seen: String,
        last_seen: String,
        last_seen_age: String,
    },
    Log {
        file: String,
        lines: Vec<LineView>,
        /// Lines quoted by the analyzer but cut here (the earliest ones).
        lines_hidden: usize,
        /// The quoted lines as one text, for Markdown code blocks.
        text: String,
    },
    Field {
        object: String,
        path: String,
        value: String,
    },
    Metric {
        name: String,
        value: String,
        compared_to: String,
    },
    Note {
        text: String,
    },
}

/// A finding ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    pub anchor: String,
    pub id: String,
    pub rule: String,
    pub layer: String,
    pub severity: String,
    pub object: String,
    pub namespace: String,
    pub application: String,
    pub symptom: String,
    pub cause: String,
    pub evidence: Capped<EvidenceView>,
    pub next_steps: Capped<StepView>,
    pub related: Capped<String>,
    pub caused_by: Vec<FindingLink>,
}

/// An incident: its root finding and the consequences.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    pub anchor: String,
    pub severity: String,
    pub title: String,
    pub namespace: String,
    pub root: FindingView,
    pub consequences: Capped<FindingView>,
    /// The same cause on other objects of the application (replicas).
    pub same_cause: Capped<FindingView>,
    /// Findings of this incident (roots + every consequence), shown or not.
    pub findings_total: usize,
}

impl IncidentView {
    /// Findings of this incident that are printed.
    pub fn findings_shown(&self) -> usize {
        1 + self.consequences.items.len() + self.same_cause.items.len()
    }
}

fn time_fields(t: Option<&DateTime<Utc>>, now: &DateTime<Utc>) -> (String, String) {
    match t {
        Some(t) => (timestamp(t), age(t, now)),
        None => (String::new(), String::new()),
    }
}

fn evidence_view(e: &Evidence, limits: &Limits, now: &DateTime<Utc>) -> EvidenceView {
    match e {
        Evidence::Event {
            object,
            event_type,
            reason,
            message,
            count,
            first_seen,
            last_seen,
        } => {
            let (first_seen, _) = time_fields(first_seen.as_ref(), now);
            let (last_seen, last_seen_age) = time_fields(last_seen.as_ref(), now);
            EvidenceView::Event {
                object: clip_ref(object, limits.name),
                warning: event_type == "Warning",
                event_type: clip(event_type, limits.name),
                reason: clip(reason, limits.short_text),
                message: clip(message, limits.text),
                count: *count,
                first_seen,
                last_seen,
                last_seen_age,
            }
        }
        Evidence::Log { file, lines } => {
            // The analyzer quotes the lines leading up to a crash; when there
            // are too many, the last ones are the ones that matter.
            let skip = lines.len().saturating_sub(limits.log_lines);
            let shown: Vec<LineView> = lines
                .iter()
                .skip(skip)
                .map(|l| LineView {
                    number: l.number,
                    text: clip(&l.text, limits.log_line_chars),
                })
                .collect();
            let width = shown
                .iter()
                .map(|l| l.number.to_string().len())
                .max()
                .unwrap_or(1);
            let text = shown
                .iter()
                .map(|l| format!("{:>width$}  {}", l.number, l.text))
                .collect::<Vec<_>>()
                .join("\n");
            EvidenceView::Log {
                file: clip(file, limits.name),
                lines: shown,
                lines_hidden: skip,
                text,
            }
        }
        Evidence::Field {
            object,
            path,
            value,
        } => EvidenceView::Field {
            object: clip_ref(object, limits.name),
            path: clip(path, limits.short_text),
            value: clip(value, limits.text),
        },
        Evidence::Metric {
            name,
            value,
            compared_to,
        } => EvidenceView::Metric {
            name: clip(name, limits.short_text),
            value: clip(value, limits.short_text),
            compared_to: compared_to
                .as_deref()
                .map(|c| clip(c, limits.short_text))
                .unwrap_or_default(),
        },
        Evidence::Note { text } => EvidenceView::Note {
            text: clip(text, limits.text),
        },
    }
}

/// Builds the view of one finding, with `evidence_cap` items of evidence.
pub fn finding_view(
    f: &Finding,
    anchor: String,
    index: &FindingIndex<'_>,
    limits: &Limits,
    evidence_cap: usize,
    now: &DateTime<Utc>,
) -> FindingView {
    FindingView {
        anchor,
        id: clip(&f.id, limits.name),
        rule: clip(&f.rule, limits.name),
        layer: f.layer.as_str().to_string(),
        severity: f.severity.as_str().to_string(),
        object: clip_ref(&f.object, limits.name),
        namespace: clip_opt(f.object.namespace.as_deref(), limits.name),
        application: clip_opt(f.application.as_deref(), limits.name),
        symptom: clip(&f.symptom, limits.short_text),
        cause: clip(&f.cause, limits.text),
        evidence: Capped::take(&f.evidence, evidence_cap, |e| evidence_view(e, limits, now)),
        next_steps: Capped::take(&f.next_steps, limits.next_steps, |s| StepView {
            description: clip(&s.description, limits.short_text),
            command: clip(&s.command, limits.text),
        }),
        related: Capped::take(&f.related, limits.related, |r| clip_ref(r, limits.name)),
        caused_by: f
            .caused_by
            .iter()
            .take(limits.related)
            .map(|id| FindingLink {
                anchor: index.get(id).map(|(_, a)| a).unwrap_or_default(),
                id: clip(id, limits.name),
            })
            .collect(),
    }
}

/// Builds the view of one incident; `None` when its root finding is missing
/// (a malformed report must still render the rest).
pub fn incident_view(
    inc: &Incident,
    pos: usize,
    index: &FindingIndex<'_>,
    limits: &Limits,
    now: &DateTime<Utc>,
) -> Option<IncidentView> {
    let (root, root_anchor) = index.get(&inc.root)?;
    // Consequences and the other roots of the same cause (which repeat the
    // first root's story) are printed alike, with less evidence than the root.
    let secondary = |ids: &[String]| {
        let known: Vec<(&Finding, String)> = ids.iter().filter_map(|id| index.get(id)).collect();
        let view = Capped::take(&known, limits.consequences, |(f, a)| {
            finding_view(
                f,
                a.clone(),
                index,
                limits,
                limits.consequence_evidence,
                now,
            )
        });
        (view, known.len())
    };
    let (consequences, known) = secondary(&inc.consequences);
    let (same_cause, alike) = secondary(&inc.same_cause);
    Some(IncidentView {
        anchor: format!("i-{pos}"),
        severity: inc.severity.as_str().to_string(),
        title: clip(&inc.title, limits.short_text),
        namespace: clip_opt(root.object.namespace.as_deref(), limits.name),
        root: finding_view(root, root_anchor, index, limits, limits.evidence, now),
        findings_total: 1 + known + alike,
        consequences,
        same_cause,
    })
}

/// Findings that belong to no incident (neither a root nor a listed
/// consequence): shown so a gap in the analyzer's grouping never hides one.
pub fn orphan_findings<'a>(
    report: &'a Report,
    index: &FindingIndex<'a>,
) -> Vec<(usize, &'a Finding)> {
    let grouped_count: usize = report
        .incidents
        .iter()
        .map(|i| 1 + i.consequences.len() + i.same_cause.len())
        .sum();
    let mut grouped = vec![false; report.findings.len()];
    let mut marked = 0usize;
    for inc in &report.incidents {
        let ids = std::iter::once(&inc.root)
            .chain(inc.consequences.iter())
            .chain(inc.same_cause.iter());
        for id in ids {
            if let Some(slot) = index.position(id).and_then(|p| grouped.get_mut(p)) {
                if !*slot {
                    *slot = true;
                    marked += 1;
                }
            }
        }
    }
    // Fast path: the analyzer grouped every finding exactly once.
    if marked == report.findings.len() && grouped_count == marked {
        return Vec::new();
    }
    report
        .findings
        .iter()
        .enumerate()
        .filter(|(i, _)| !grouped.get(*i).copied().unwrap_or(false))
        .collect()
}

/// Severity as a sortable rank (critical first).
pub fn rank(s: Severity) -> u8 {
    match s {
        Severity::Critical => 0,
        Severity::Error => 1,
        Severity::Warning => 2,
        Severity::Info => 3,
    }
}
