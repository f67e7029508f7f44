//! The kpm report model.
//!
//! `kpm-analyze` builds one [`Report`] from a bundle; the JSON output is this
//! model serialized, and the HTML and Markdown renderers read exactly this
//! model. Its JSON shape is a versioned contract documented in
//! `docs/report-schema.md`: add fields freely, but renaming or removing one
//! bumps [`SCHEMA_VERSION`].

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod diff;

/// Version of the report JSON schema.
pub const SCHEMA_VERSION: u32 = 1;

/// How bad a finding is. Ordered: `Info < Warning < Error < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, not breaking anything now.
    Info,
    /// Degraded or risky: will break under load or on the next change.
    Warning,
    /// Broken for some traffic or some replicas.
    Error,
    /// The application is down or cannot start.
    Critical,
}

impl Severity {
    /// Every level, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ];

    /// Lower-case name as used in flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// Parses `info|warning|error|critical`.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The layer of the troubleshooting chain a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Ingress routing and ingress controllers.
    Ingress,
    /// Service definition (selector, ports).
    Service,
    /// Endpoints / EndpointSlices: which pods receive traffic.
    Endpoints,
    /// Pods and containers: image, start, crash, probes.
    Pod,
    /// Nodes: conditions, capacity, scheduling room, autoscalers.
    Node,
    /// HorizontalPodAutoscaler.
    Autoscaling,
    /// ConfigMap / Secret wiring and rollout.
    Config,
    /// Requests, limits and usage.
    Resources,
    /// Cluster DNS.
    Dns,
    /// RBAC permissions of workloads.
    Rbac,
    /// Controllers that own pods: Deployment rollouts, ReplicaSets,
    /// StatefulSets, DaemonSets, Jobs and CronJobs.
    Workload,
}

impl Layer {
    /// Lower-case name as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Ingress => "ingress",
            Layer::Service => "service",
            Layer::Endpoints => "endpoints",
            Layer::Pod => "pod",
            Layer::Node => "node",
            Layer::Autoscaling => "autoscaling",
            Layer::Config => "config",
            Layer::Resources => "resources",
            Layer::Dns => "dns",
            Layer::Rbac => "rbac",
            Layer::Workload => "workload",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to one Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// A namespaced object.
    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            kind: kind.to_string(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }

    /// A cluster-scoped object.
    pub fn cluster(kind: &str, name: &str) -> ObjectRef {
        ObjectRef {
            kind: kind.to_string(),
            namespace: None,
            name: name.to_string(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind/namespace/name`, or `Kind/name` at cluster scope — the form
    /// `expected.json` files use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// One numbered line of a log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// 1-based line number in the bundle file.
    pub number: usize,
    /// The line, without its newline.
    pub text: String,
}

/// A piece of evidence from the bundle supporting a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// A Kubernetes event (aggregated as kubectl shows it).
    Event {
        /// The object the event is about.
        object: ObjectRef,
        /// `Normal` or `Warning`.
        event_type: String,
        /// e.g. `FailedScheduling`.
        reason: String,
        /// The message, verbatim.
        message: String,
        /// How many times it happened (from `count` or `series.count`).
        count: u64,
        /// First occurrence, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_seen: Option<DateTime<Utc>>,
        /// Last occurrence, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seen: Option<DateTime<Utc>>,
    },
    /// Lines from a collected log.
    Log {
        /// Path of the log inside the bundle.
        file: String,
        /// The lines quoted.
        lines: Vec<LogLine>,
    },
    /// A field of an object, e.g. `status.containerStatuses[app].lastState.terminated.reason`.
    Field {
        /// The object holding the field.
        object: ObjectRef,
        /// JSON-path-like location.
        path: String,
        /// The value, rendered as text.
        value: String,
    },
    /// A measured or computed quantity (usage, allocation, limit).
    Metric {
        /// What is measured, e.g. `memory usage of container app`.
        name: String,
        /// Value with unit, e.g. `498Mi`.
        value: String,
        /// What it is compared against, e.g. `limit 512Mi`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        compared_to: Option<String>,
    },
    /// Free text for anything else (e.g. a label diff).
    Note {
        /// The text.
        text: String,
    },
}

/// A concrete command to run next, with names filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStep {
    /// Why to run it.
    pub description: String,
    /// The command line, ready to copy.
    pub command: String,
}

/// One diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Unique within the report: `<rule>:<object>`.
    pub id: String,
    /// Stable rule id from `docs/rules.md`, e.g. `pod-crashloop`.
    pub rule: String,
    /// The broken layer.
    pub layer: Layer,
    /// How bad.
    pub severity: Severity,
    /// The object the finding is about.
    pub object: ObjectRef,
    /// Key of the application this belongs to (see [`Application::key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// The symptom as kubectl would show it, e.g. `CrashLoopBackOff (12 restarts)`.
    pub symptom: String,
    /// The likely cause in one specific sentence.
    pub cause: String,
    /// Evidence from the bundle.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// What to run next.
    #[serde(default)]
    pub next_steps: Vec<NextStep>,
    /// Ids of findings this one is a consequence of. Empty for root causes.
    #[serde(default)]
    pub caused_by: Vec<String>,
    /// Other objects involved (e.g. the pods behind a Service).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<ObjectRef>,
}

impl Finding {
    /// True when nothing else in the report explains this finding.
    pub fn is_root(&self) -> bool {
        self.caused_by.is_empty()
    }
}

/// One incident: a root-cause finding and every finding that follows from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Id of the root-cause finding.
    pub root: String,
    /// Highest severity among the root and its consequences.
    pub severity: Severity,
    /// One-line title, e.g. `shop/web: OOMKilled → Service web has no endpoints → Ingress shop 503`.
    pub title: String,
    /// Ids of consequence findings, nearest first.
    #[serde(default)]
    pub consequences: Vec<String>,
    /// Ids of other root findings merged into this incident: the same rule
    /// on objects of the same application with the same consequences
    /// (replicas failing alike). Empty when the root stands alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same_cause: Vec<String>,
}

/// State of one link of an application's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Healthy.
    Ok,
    /// Degraded (warnings).
    Degraded,
    /// Broken.
    Broken,
    /// Not present in this application (e.g. no Ingress).
    Absent,
    /// Could not be checked (data missing from the bundle).
    Unknown,
}

/// One link of the Ingress → Service → Endpoints → Pods → Nodes chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// The layer of this link.
    pub layer: Layer,
    /// Objects at this link, e.g. `Ingress/shop/web`.
    #[serde(default)]
    pub objects: Vec<ObjectRef>,
    /// Its state.
    pub state: LinkState,
    /// Short text, e.g. `0/3 ready`.
    pub summary: String,
    /// Findings at this link.
    #[serde(default)]
    pub findings: Vec<String>,
}

/// An application: a workload (or bare pods) with the Services and Ingresses
/// in front of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// `<namespace>/<name>`, unique in the report.
    pub key: String,
    /// Namespace.
    pub namespace: String,
    /// Name (workload name, or the Service's when there is no workload).
    pub name: String,
    /// Owning workload, e.g. `Deployment/shop/web`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<ObjectRef>,
    /// The chain from the outside in: Ingress, Service, Endpoints, Pod, Node.
    pub chain: Vec<ChainLink>,
    /// First broken layer walking from the outside in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<Layer>,
    /// Root-cause finding ids for this application.
    #[serde(default)]
    pub root_causes: Vec<String>,
    /// Worst severity among its findings, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// What happened when, merged from events, container state and config updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    pub time: DateTime<Utc>,
    /// `event`, `termination`, `start`, `config_update`, `collection`.
    pub source: String,
    /// The object concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// `Normal`/`Warning` for events; empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_type: String,
    /// Reason or short title.
    pub reason: String,
    /// Details.
    pub message: String,
    /// Repetitions (events).
    #[serde(default = "one")]
    pub count: u64,
    /// The event is about an object that no longer exists (or an earlier
    /// object of the same name): history, never evidence about a current one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub object_deleted: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn one() -> u64 {
    1
}

/// Requests and limits of one resource on one node against allocatable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceAllocation {
    /// `cpu`, `memory`, `ephemeral-storage`, `pods`...
    pub resource: String,
    /// Allocatable, as text (`3920m`, `14Gi`).
    pub allocatable: String,
    /// Sum of requests, as text.
    pub requests: String,
    /// Requests as a percentage of allocatable (kubectl rounds down).
    pub requests_percent: u32,
    /// Sum of limits, as text.
    pub limits: String,
    /// Limits as a percentage of allocatable (may exceed 100).
    pub limits_percent: u32,
    /// Measured usage from metrics, as text, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// Usage as a percentage of allocatable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_percent: Option<u32>,
}

/// A node's health and allocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSummary {
    /// Node name.
    pub name: String,
    /// `Ready`, `NotReady`, `Unknown`, with `,SchedulingDisabled` when cordoned.
    pub status: String,
    /// Conditions that are bad (pressure true, Ready not true).
    #[serde(default)]
    pub problems: Vec<String>,
    /// Non-terminated pods counted.
    pub pods: u32,
    /// Per-resource allocation.
    pub allocation: Vec<ResourceAllocation>,
}

/// A pod's measured usage, for "top pods" tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodUsage {
    /// The pod.
    pub pod: ObjectRef,
    /// CPU usage in millicores.
    pub cpu_millis: u64,
    /// Memory usage in bytes.
    pub memory_bytes: u64,
    /// Sum of container memory limits in bytes, when every container has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<u64>,
}

/// A check that could not run, and why. Never a silent pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageGap {
    /// What was not checked, e.g. `secret rotation`.
    pub check: String,
    /// Namespace, when the gap is per namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Why, e.g. `secrets: forbidden (403) during collection`.
    pub reason: String,
}

/// A collection step that did not end `ok`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedStep {
    /// What (plural resource, `logs`...).
    pub what: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object, for per-object steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// `forbidden`, `not_found`, `timeout`, `error`.
    pub outcome: String,
    /// Message recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What the manifest says about the collection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionSummary {
    /// Number of steps recorded.
    pub steps_total: usize,
    /// Steps that failed.
    #[serde(default)]
    pub failed_steps: Vec<FailedStep>,
    /// Redaction counts per rule.
    #[serde(default)]
    pub redaction: BTreeMap<String, u64>,
    /// Redaction was on.
    pub redaction_enabled: bool,
}

/// A file of the bundle that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Damage {
    /// Path inside the bundle (or the bundle itself).
    pub file: String,
    /// The problem, as the reader reported it.
    pub problem: String,
}

/// Where the report came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// Path of the bundle as given.
    pub path: String,
    /// SHA-256 of the bundle file (zip bundles only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Format version.
    pub format_version: u32,
    /// Tool that collected it and its version, e.g. `kpm-collect 0.1.0`.
    pub collected_by: String,
    /// Cluster name, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// kubeconfig context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// API server version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Collection start.
    pub started_at: DateTime<Utc>,
    /// Collection end: the "now" every age in the report is judged against.
    pub collected_at: DateTime<Utc>,
    /// Every namespace (true) or a list.
    pub all_namespaces: bool,
    /// Namespaces in the bundle.
    pub namespaces: Vec<String>,
    /// The run was interrupted or timed out.
    pub partial: bool,
}

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
    /// [`SCHEMA_VERSION`].
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Critical > Severity::Error && Severity::Warning > Severity::Info);
        assert_eq!(Severity::parse("error"), Some(Severity::Error));
        assert_eq!(Severity::parse("fatal"), None);
        assert_eq!(
            serde_json::to_string(&Layer::Autoscaling).ok().as_deref(),
            Some("\"autoscaling\"")
        );
    }

    #[test]
    fn object_ref_display_matches_expected_json_form() {
        assert_eq!(
            ObjectRef::namespaced("Pod", "shop", "web-1").to_string(),
            "Pod/shop/web-1"
        );
        assert_eq!(ObjectRef::cluster("Node", "n1").to_string(), "Node/n1");
    }

    #[test]
    fn evidence_is_tagged() {
        let e = Evidence::Note { text: "x".into() };
        let v = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(v["type"], "note");
    }
}
