//! The whole report, its verdict and summary counts, and the remark and
//! policy tallies shown beside the findings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    Application, BundleInfo, CollectionSummary, CoverageGap, Damage, Finding, Incident,
    NodeSummary, ObjectRef, PodUsage, Severity, TimelineEntry,
};

/// The one-word answer: does anything need an on-call engineer now?
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No finding at `error` or above: remarks and risks at most.
    #[default]
    Healthy,
    /// At least one finding at `error` or `critical`.
    Broken,
}

impl Verdict {
    /// `broken` when any severity at `error` or above is present.
    pub fn from_counts(by_severity: &BTreeMap<Severity, usize>) -> Verdict {
        let broken = by_severity
            .iter()
            .any(|(s, n)| *s >= Severity::Error && *n > 0);
        if broken {
            Verdict::Broken
        } else {
            Verdict::Healthy
        }
    }

    /// Lower-case name as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Broken => "broken",
        }
    }
}

/// Best-practice remarks about system components (CoreDNS, kube-proxy, the
/// CNI, stock add-ons and charts), one group per rule: true, never an
/// incident, so counted here instead of listed as findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemarkGroup {
    /// Rule id, e.g. `resources-no-limits`.
    pub rule: String,
    /// Always `info`: a design choice of a stock component.
    pub severity: Severity,
    /// What the rule remarks (its "fires when" sentence).
    pub summary: String,
    /// How many objects it was made about.
    pub count: usize,
    /// Their namespaces, sorted.
    pub namespaces: Vec<String>,
    /// Why those objects are system components (distinct reasons).
    pub reasons: Vec<String>,
    /// The objects (capped at 100; `count` is exact).
    #[serde(default)]
    pub objects: Vec<ObjectRef>,
}

/// What one entry of a `--config` policy file did: findings muted (kept
/// out of `findings`) or re-graded (kept, with the entry's severity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MutedEntry {
    /// The policy file.
    pub file: String,
    /// 1-based position of the entry in the file.
    pub entry: usize,
    /// The entry as written, e.g. `rule=resources-no-limits namespace=legacy-*`.
    pub description: String,
    /// `mute`, or `severity <level>` for a re-grade.
    pub action: String,
    /// Why, as the file says it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Findings it applied to.
    pub count: usize,
    /// Their ids (capped at 100; `count` is exact).
    #[serde(default)]
    pub findings: Vec<String>,
}

/// Counts for the verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `broken` when a finding is at `error` or above, else `healthy`.
    #[serde(default)]
    pub verdict: Verdict,
    /// Findings per severity (every level present, zero included).
    pub by_severity: BTreeMap<Severity, usize>,
    /// Number of findings.
    pub findings: usize,
    /// Number of incidents (root causes).
    pub incidents: usize,
    /// Applications seen.
    pub applications: usize,
    /// Applications with at least one error or critical finding.
    pub applications_broken: usize,
    /// Pods seen.
    pub pods: usize,
    /// Nodes seen.
    pub nodes: usize,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION).
    pub schema_version: u32,
    /// Version of kpm that analysed.
    pub kpm_version: String,
    /// The bundle.
    pub bundle: BundleInfo,
    /// Counts.
    pub summary: Summary,
    /// Applications with their chains, broken first.
    pub applications: Vec<Application>,
    /// Root causes with their consequences, worst first.
    pub incidents: Vec<Incident>,
    /// Every finding, worst first.
    pub findings: Vec<Finding>,
    /// Merged timeline, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Nodes with allocation.
    pub nodes: Vec<NodeSummary>,
    /// Top pods by memory usage (when metrics were collected).
    pub top_pods: Vec<PodUsage>,
    /// What could not be checked, and why.
    pub coverage: Vec<CoverageGap>,
    /// Manifest summary.
    pub collection: CollectionSummary,
    /// Files that could not be read.
    pub damage: Vec<Damage>,
    /// Best-practice remarks about system components, grouped per rule.
    #[serde(default)]
    pub system_remarks: Vec<RemarkGroup>,
    /// What the `--config` policy muted or re-graded, per entry.
    #[serde(default)]
    pub muted: Vec<MutedEntry>,
}

impl Report {
    /// Looks a finding up by id.
    pub fn finding(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }
}
