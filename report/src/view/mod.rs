//! The render view: a [`Report`] precomputed into exactly what the templates
//! print.
//!
//! Templates only loop and print. Capping, sorting, formatting times and
//! sizes, resolving finding ids to anchors and computing bar widths happen
//! here, once, in Rust: tera walking 150,000 pods or resolving ids with
//! nested loops would make rendering cost more than the analysis. Every list
//! is a [`Capped`] so templates can say "N more not shown".

mod findings;
mod format;
mod remarks;
mod sections;

use chrono::{DateTime, Utc};
use kpm_model::{Report, Severity};
use serde::Serialize;

use findings::{
    finding_view, incident_view, orphan_findings, rank, FindingIndex, FindingView, IncidentView,
};
pub(crate) use format::clip;
use format::{clip_opt, human_duration, timestamp};
use remarks::{muted_views, remark_views, MutedView, RemarkView};
use sections::{app_view, nodes, timeline, top_pods, AppView, NodeView, PodRow, TimelineRow};

/// A list cut to a limit, remembering how many items were dropped.
#[derive(Debug, Clone, Serialize)]
pub struct Capped<T> {
    /// The items shown.
    pub items: Vec<T>,
    /// How many there were before capping.
    pub total: usize,
    /// How many are not shown (`total - items.len()`).
    pub hidden: usize,
}

impl<T> Capped<T> {
    /// Maps the first `limit` items of `all`.
    pub fn take<S>(all: &[S], limit: usize, f: impl FnMut(&S) -> T) -> Capped<T> {
        let items: Vec<T> = all.iter().take(limit).map(f).collect();
        Capped {
            hidden: all.len() - items.len(),
            total: all.len(),
            items,
        }
    }
}

/// How much of each list a rendering shows. HTML and Markdown use different
/// limits: a ticket needs the gist, a page can hold more behind `<details>`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub applications: usize,
    pub verdict_rows: usize,
    pub incidents: usize,
    pub consequences: usize,
    pub evidence: usize,
    pub consequence_evidence: usize,
    pub log_lines: usize,
    pub log_line_chars: usize,
    pub next_steps: usize,
    pub related: usize,
    pub objects_per_link: usize,
    pub roots_per_app: usize,
    pub orphans: usize,
    pub timeline: usize,
    pub timeline_text: usize,
    pub nodes: usize,
    pub top_pods: usize,
    pub coverage: usize,
    pub failed_steps: usize,
    pub damage: usize,
    pub namespaces: usize,
    /// Longest free text in bytes (cause, event message, field value).
    pub text: usize,
    /// Longest name in bytes (object names, namespaces, keys, labels, ids,
    /// file paths): no Kubernetes name is longer than 253 bytes, so only a
    /// hostile or broken bundle reaches it.
    pub name: usize,
    /// Longest one-liner (symptom, reason, summary).
    pub short_text: usize,
}

impl Limits {
    /// Limits for the HTML page: generous, still bounded on any report size.
    pub fn html() -> Limits {
        Limits {
            applications: 60,
            verdict_rows: 60,
            incidents: 60,
            consequences: 12,
            evidence: 12,
            consequence_evidence: 5,
            log_lines: 40,
            log_line_chars: 400,
            next_steps: 8,
            related: 12,
            objects_per_link: 3,
            roots_per_app: 3,
            orphans: 60,
            timeline: 200,
            timeline_text: 400,
            nodes: 40,
            top_pods: 20,
            coverage: 100,
            failed_steps: 100,
            damage: 100,
            namespaces: 200,
            text: 2000,
            short_text: 300,
            name: NAME_CAP,
        }
    }

    /// Limits for Markdown; the character cap trims further.
    pub fn markdown() -> Limits {
        Limits {
            applications: 30,
            verdict_rows: 30,
            incidents: 80,
            consequences: 8,
            evidence: 6,
            consequence_evidence: 0,
            log_lines: 20,
            log_line_chars: 300,
            next_steps: 4,
            related: 8,
            objects_per_link: 2,
            roots_per_app: 2,
            orphans: 30,
            timeline: 25,
            timeline_text: 200,
            nodes: 15,
            top_pods: 10,
            coverage: 40,
            failed_steps: 30,
            damage: 30,
            namespaces: 0,
            text: 1000,
            short_text: 200,
            name: NAME_CAP,
        }
    }
}

/// Header facts.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub title: String,
    pub cluster: String,
    pub context: String,
    pub server_version: String,
    pub started_at: String,
    pub collected_at: String,
    pub duration: String,
    pub scope: String,
    pub bundle_path: String,
    pub sha256: String,
    pub format_version: u32,
    pub collected_by: String,
    pub kpm_version: String,
    pub schema_version: u32,
    pub partial: bool,
}

/// Count of findings at one severity.
#[derive(Debug, Clone, Serialize)]
pub struct SeverityCount {
    pub severity: String,
    pub count: usize,
}

/// One row of the verdict: an application and its first broken layer.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictRow {
    pub anchor: String,
    pub key: String,
    pub namespace: String,
    pub severity: String,
    pub first_broken: String,
    pub root_cause: String,
    pub root_anchor: String,
}

/// The verdict: what a reader sees first.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Worst severity present, `ok` when there are no findings.
    pub status: String,
    pub headline: String,
    pub counts: Vec<SeverityCount>,
    pub findings: usize,
    pub incidents: usize,
    pub applications: usize,
    pub applications_broken: usize,
    pub pods: usize,
    pub nodes: usize,
    pub rows: Capped<VerdictRow>,
}

/// A coverage gap.
#[derive(Debug, Clone, Serialize)]
pub struct GapView {
    pub check: String,
    pub namespace: String,
    pub reason: String,
}

/// A failed collection step.
#[derive(Debug, Clone, Serialize)]
pub struct StepFailView {
    pub what: String,
    pub namespace: String,
    pub object: String,
    pub outcome: String,
    pub message: String,
}

/// A redaction counter.
#[derive(Debug, Clone, Serialize)]
pub struct RedactionView {
    pub rule: String,
    pub count: u64,
}

/// The manifest summary.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionView {
    pub steps_total: usize,
    pub failed: Capped<StepFailView>,
    pub redaction_enabled: bool,
    pub redaction: Vec<RedactionView>,
    pub redaction_total: u64,
}

/// A damaged file.
#[derive(Debug, Clone, Serialize)]
pub struct DamageView {
    pub file: String,
    pub problem: String,
}

/// Everything the templates print.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub meta: Meta,
    pub verdict: Verdict,
    pub applications: Capped<AppView>,
    pub incidents: Capped<IncidentView>,
    /// Findings in no incident.
    pub other_findings: Capped<FindingView>,
    pub timeline: Capped<TimelineRow>,
    pub nodes: Capped<NodeView>,
    pub top_pods: Capped<PodRow>,
    pub coverage: Capped<GapView>,
    pub collection: CollectionView,
    pub damage: Capped<DamageView>,
    /// Namespaces for the filter control.
    pub namespaces: Vec<String>,
    /// Findings not shown anywhere on the page (capped away).
    pub findings_hidden: usize,
    /// Best-practice remarks about system components, one line per rule.
    pub system_remarks: Vec<RemarkView>,
    /// What the `--config` policy muted or re-graded, per entry.
    pub muted: Vec<MutedView>,
}

/// Default cap in bytes on one name, label or id in HTML and Markdown.
pub const NAME_CAP: usize = 1024;

fn meta(report: &Report, limits: &Limits) -> Meta {
    let n = limits.name;
    let b = &report.bundle;
    let scope = if b.all_namespaces {
        format!("all namespaces ({})", b.namespaces.len())
    } else {
        match b.namespaces.len() {
            0 => "no namespaces".to_string(),
            k if k <= 6 => format!("namespaces: {}", join_clipped(&b.namespaces, k, n)),
            k => format!("{k} namespaces: {}, …", join_clipped(&b.namespaces, 5, n)),
        }
    };
    let cluster = clip_opt(b.cluster.as_deref(), n);
    Meta {
        title: if cluster.is_empty() {
            "kpm incident report".to_string()
        } else {
            format!("kpm incident report: {cluster}")
        },
        cluster,
        context: clip_opt(b.context.as_deref(), n),
        server_version: clip_opt(b.server_version.as_deref(), n),
        started_at: timestamp(&b.started_at),
        collected_at: timestamp(&b.collected_at),
        duration: human_duration(
            b.collected_at
                .signed_duration_since(b.started_at)
                .num_seconds()
                .max(0),
        ),
        scope,
        bundle_path: clip(&b.path, n),
        sha256: clip_opt(b.sha256.as_deref(), n),
        format_version: b.format_version,
        collected_by: clip(&b.collected_by, n),
        kpm_version: clip(&report.kpm_version, n),
        schema_version: report.schema_version,
        partial: b.partial,
    }
}

/// The verdict's one-sentence summary.
fn headline(s: &kpm_model::Summary) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if s.applications_broken > 0 {
        format!(
            "{} of {} applications broken: {} incident{} ({} finding{}).",
            s.applications_broken,
            s.applications,
            s.incidents,
            plural(s.incidents),
            s.findings,
            plural(s.findings),
        )
    } else if s.verdict == kpm_model::Verdict::Broken {
        format!(
            "Broken: no application is broken, but {} incident{} need attention ({} finding{}).",
            s.incidents,
            plural(s.incidents),
            s.findings,
            plural(s.findings),
        )
    } else if s.findings == 0 {
        format!(
            "Healthy. No problems found in {} applications.",
            s.applications
        )
    } else {
        format!(
            "Healthy. No application is broken; {} finding{} to review.",
            s.findings,
            plural(s.findings)
        )
    }
}

/// One row per broken application (error or worse), with its first root
/// cause.
fn verdict_rows(report: &Report, index: &FindingIndex<'_>, limits: &Limits) -> Capped<VerdictRow> {
    let with_findings: Vec<(usize, &kpm_model::Application)> = report
        .applications
        .iter()
        .enumerate()
        // Only what breaks traffic is "broken"; warnings stay in incidents.
        .filter(|(_, a)| a.severity.is_some_and(|s| s >= Severity::Error))
        .collect();
    Capped::take(&with_findings, limits.verdict_rows, |(i, a)| {
        let root = a.root_causes.first().and_then(|id| index.get(id));
        VerdictRow {
            // Only applications drawn on the page have an anchor to jump to.
            anchor: if *i < limits.applications {
                format!("a-{i}")
            } else {
                String::new()
            },
            key: clip(&a.key, limits.name),
            namespace: clip(&a.namespace, limits.name),
            severity: a
                .severity
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            first_broken: a
                .first_broken
                .map(|l| sections::layer_label(l).to_string())
                .unwrap_or_default(),
            root_cause: root
                .as_ref()
                .map(|(f, _)| clip(&f.cause, limits.short_text))
                .unwrap_or_default(),
            root_anchor: root.map(|(_, a)| a).unwrap_or_default(),
        }
    })
}

fn verdict(report: &Report, index: &FindingIndex<'_>, limits: &Limits) -> Verdict {
    let s = &report.summary;
    let counts: Vec<SeverityCount> = Severity::ALL
        .iter()
        .rev()
        .map(|sev| SeverityCount {
            severity: sev.as_str().to_string(),
            count: s.by_severity.get(sev).copied().unwrap_or(0),
        })
        .collect();
    let worst = Severity::ALL
        .iter()
        .rev()
        .find(|sev| s.by_severity.get(sev).copied().unwrap_or(0) > 0);
    let headline = headline(s);
    let rows = verdict_rows(report, index, limits);
    Verdict {
        status: worst.map(|w| w.as_str()).unwrap_or("ok").to_string(),
        headline,
        counts,
        findings: s.findings,
        incidents: s.incidents,
        applications: s.applications,
        applications_broken: s.applications_broken,
        pods: s.pods,
        nodes: s.nodes,
        rows,
    }
}

/// The first `k` of `items`, each clipped to `max` bytes, joined by `, `.
fn join_clipped(items: &[String], k: usize, max: usize) -> String {
    items
        .iter()
        .take(k)
        .map(|s| clip(s, max))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The collection section: failed steps and redaction counts.
fn collection(c: &kpm_model::CollectionSummary, limits: &Limits) -> CollectionView {
    CollectionView {
        steps_total: c.steps_total,
        failed: Capped::take(&c.failed_steps, limits.failed_steps, |s| StepFailView {
            what: clip(&s.what, limits.name),
            namespace: clip_opt(s.namespace.as_deref(), limits.name),
            object: clip_opt(s.object.as_deref(), limits.name),
            outcome: clip(&s.outcome, limits.name),
            message: s
                .message
                .as_deref()
                .map(|m| clip(m, limits.short_text))
                .unwrap_or_default(),
        }),
        redaction_enabled: c.redaction_enabled,
        redaction: c
            .redaction
            .iter()
            .take(limits.coverage)
            .map(|(rule, count)| RedactionView {
                rule: clip(rule, limits.name),
                count: *count,
            })
            .collect(),
        redaction_total: c.redaction.values().sum(),
    }
}

/// Builds the view of `report` under `limits`.
pub fn build(report: &Report, limits: &Limits) -> View {
    let index = FindingIndex::new(report);
    let now: DateTime<Utc> = report.bundle.collected_at;

    let incidents_all: Vec<IncidentView> = report
        .incidents
        .iter()
        .take(limits.incidents)
        .enumerate()
        .filter_map(|(i, inc)| incident_view(inc, i, &index, limits, &now))
        .collect();
    let incidents = Capped {
        hidden: report.incidents.len().saturating_sub(incidents_all.len()),
        total: report.incidents.len(),
        items: incidents_all,
    };

    let mut orphans = orphan_findings(report, &index);
    orphans.sort_by_key(|(i, f)| (rank(f.severity), *i));
    let other_findings = Capped::take(&orphans, limits.orphans, |(i, f)| {
        finding_view(
            f,
            findings::anchor(*i),
            &index,
            limits,
            limits.evidence,
            &now,
        )
    });

    let shown = incidents
        .items
        .iter()
        .map(|i| i.findings_shown())
        .sum::<usize>()
        + other_findings.items.len();

    let apps: Vec<(usize, &kpm_model::Application)> =
        report.applications.iter().enumerate().collect();
    View {
        meta: meta(report, limits),
        verdict: verdict(report, &index, limits),
        applications: Capped::take(&apps, limits.applications, |(i, a)| {
            app_view(a, *i, &index, limits)
        }),
        findings_hidden: report.findings.len().saturating_sub(shown),
        incidents,
        other_findings,
        timeline: timeline(&report.timeline, limits, &now),
        nodes: nodes(report, limits),
        top_pods: top_pods(&report.top_pods, limits),
        coverage: Capped::take(&report.coverage, limits.coverage, |g| GapView {
            check: clip(&g.check, limits.short_text),
            namespace: clip_opt(g.namespace.as_deref(), limits.name),
            reason: clip(&g.reason, limits.text),
        }),
        collection: collection(&report.collection, limits),
        damage: Capped::take(&report.damage, limits.damage, |d| DamageView {
            file: clip(&d.file, limits.name),
            problem: clip(&d.problem, limits.text),
        }),
        namespaces: report
            .bundle
            .namespaces
            .iter()
            .take(limits.namespaces)
            .map(|ns| clip(ns, limits.name))
            .collect(),
        system_remarks: remark_views(&report.system_remarks, limits),
        muted: muted_views(&report.muted, limits),
    }
}

#[cfg(test)]
mod tests;
