//! The diff model: what changed between two snapshots of one cluster
//! (`kpm-analyze diff BEFORE AFTER`). The JSON output is this model
//! serialized; the HTML and Markdown renderers read exactly this model.
//! Documented in `docs/report-schema.md` ("Diff").
//!
//! Every list is sorted (by object, then field) so a diff is deterministic
//! and two runs over the same bundles are byte-identical.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ObjectRef, Severity};

/// Version of the diff JSON schema.
pub const DIFF_SCHEMA_VERSION: u32 = 1;

/// A diff of two snapshots, or of a series of snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffReport {
    /// [`DIFF_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// kpm version that produced it.
    pub kpm_version: String,
    /// The snapshots compared, in the order given (BEFORE first).
    pub snapshots: Vec<SnapshotInfo>,
    /// What became of the incidents, first thing to read.
    pub verdict: DiffVerdict,
    /// Why the comparison may mislead: another cluster, another scope,
    /// snapshots in reverse order.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Findings new, resolved or persisting, matched by rule and identity.
    #[serde(default)]
    pub findings: Vec<FindingDelta>,
    /// Workloads and their pods.
    #[serde(default)]
    pub workloads: Vec<WorkloadDelta>,
    /// ConfigMaps and Secrets whose content changed, were added or removed.
    #[serde(default)]
    pub config: Vec<ConfigDelta>,
    /// Nodes added, removed, or whose conditions changed.
    #[serde(default)]
    pub nodes: Vec<NodeDelta>,
    /// Requests and usage of nodes present in both, where they moved.
    #[serde(default)]
    pub capacity: Vec<CapacityDelta>,
    /// Events recorded between the two collections, oldest first, without
    /// what BEFORE already held.
    #[serde(default)]
    pub events: Vec<DiffEvent>,
    /// Kinds collected in one snapshot and not the other.
    #[serde(default)]
    pub collection: Vec<CollectionDelta>,
    /// For a series of more than two snapshots: each incident's state in
    /// every snapshot. Empty for a pair.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<IncidentTrack>,
}

impl DiffReport {
    /// True when nothing changed between the snapshots (warnings aside).
    pub fn is_empty(&self) -> bool {
        self.findings.iter().all(|f| f.change == Change::Persisting)
            && self.workloads.is_empty()
            && self.config.is_empty()
            && self.nodes.is_empty()
            && self.capacity.is_empty()
            && self.events.is_empty()
            && self.collection.is_empty()
    }
}

/// One snapshot compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Path of the bundle as given.
    pub path: String,
    /// When collection started.
    pub started_at: DateTime<Utc>,
    /// When collection finished.
    pub collected_at: DateTime<Utc>,
    /// Cluster name from the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// API server version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Findings of its analysis.
    pub findings: usize,
    /// Incidents of its analysis.
    pub incidents: usize,
}

/// What became of the incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffState {
    /// Incidents resolved, none new, none left.
    Fixed,
    /// Some resolved, none new, some left.
    Improved,
    /// New incidents, none resolved.
    Worse,
    /// Some resolved and some new.
    Mixed,
    /// The same incidents in both.
    Unchanged,
    /// No incident in either snapshot.
    Healthy,
}

impl DiffState {
    /// The word the verdict starts with.
    pub fn as_str(self) -> &'static str {
        match self {
            DiffState::Fixed => "fixed",
            DiffState::Improved => "improved",
            DiffState::Worse => "worse",
            DiffState::Mixed => "mixed",
            DiffState::Unchanged => "unchanged",
            DiffState::Healthy => "healthy",
        }
    }

    /// The state for these incident counts.
    pub fn from_counts(resolved: usize, new: usize, persisting: usize) -> DiffState {
        match (resolved > 0, new > 0, persisting > 0) {
            (false, false, false) => DiffState::Healthy,
            (true, false, false) => DiffState::Fixed,
            (true, false, true) => DiffState::Improved,
            (false, true, _) => DiffState::Worse,
            (true, true, _) => DiffState::Mixed,
            (false, false, true) => DiffState::Unchanged,
        }
    }
}

/// The diff's verdict: `fixed: 2 incidents resolved, 1 new, 1 persisting`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffVerdict {
    /// The state.
    pub state: DiffState,
    /// Incidents (root findings, grouped by identity) only in BEFORE.
    pub resolved: usize,
    /// Incidents only in AFTER.
    pub new: usize,
    /// Incidents in both.
    pub persisting: usize,
    /// The sentence.
    pub text: String,
}

impl DiffVerdict {
    /// The verdict for these counts.
    pub fn new(resolved: usize, new: usize, persisting: usize) -> DiffVerdict {
        let state = DiffState::from_counts(resolved, new, persisting);
        let noun = if resolved == 1 {
            "incident"
        } else {
            "incidents"
        };
        DiffVerdict {
            state,
            resolved,
            new,
            persisting,
            text: format!(
                "{}: {resolved} {noun} resolved, {new} new, {persisting} persisting",
                state.as_str()
            ),
        }
    }
}

/// New, resolved or persisting; added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Only in BEFORE (a finding: resolved).
    Resolved,
    /// Only in AFTER (a finding: new).
    New,
    /// In both.
    Persisting,
    /// Only in AFTER.
    Added,
    /// Only in BEFORE, and its kind was collected in AFTER.
    Removed,
    /// In both, different.
    Changed,
}

impl Change {
    /// Lower-case name as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Resolved => "resolved",
            Change::New => "new",
            Change::Persisting => "persisting",
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }

    /// The other side's view of the same change (BEFORE and AFTER swapped).
    pub fn mirror(self) -> Change {
        match self {
            Change::Resolved => Change::New,
            Change::New => Change::Resolved,
            Change::Added => Change::Removed,
            Change::Removed => Change::Added,
            c => c,
        }
    }
}

/// Findings of one rule on one identity (a workload revision for pods,
/// else the object), on one side or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingDelta {
    /// New, resolved or persisting.
    pub change: Change,
    /// Rule id.
    pub rule: String,
    /// Worst severity on either side.
    pub severity: Severity,
    /// What the findings are matched on: `Deployment/shop/web@5d8f7b9c4` for
    /// pods of a workload revision, else the object.
    pub subject: String,
    /// True when the findings are root causes (incidents) on either
    /// side, false for consequences.
    pub root: bool,
    /// Findings on this subject in BEFORE.
    pub before: usize,
    /// Findings on this subject in AFTER.
    pub after: usize,
    /// The symptom of one of them (AFTER's when present).
    pub symptom: String,
    /// The objects of the findings, both sides.
    #[serde(default)]
    pub objects: Vec<ObjectRef>,
}

/// A field of a pod template (or node) before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Which field, e.g. `containers[web].image`.
    pub field: String,
    /// Value before (`None`: absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Value after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// How much a container's restart count grew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartGrowth {
    /// Pod name (the same pod in both).
    pub pod: String,
    /// Container name.
    pub container: String,
    /// Restart count before.
    pub before: i32,
    /// Restart count after.
    pub after: i32,
}

/// One workload (Deployment, StatefulSet, DaemonSet, HPA) that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadDelta {
    /// The workload.
    pub object: ObjectRef,
    /// Added, removed or changed.
    pub change: Change,
    /// Rollout revision before → after, when it moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<FieldChange>,
    /// Desired replicas before → after, when they moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<FieldChange>,
    /// Ready replicas before → after, when they moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<FieldChange>,
    /// Pod template fields changed: images, args, env (names only, never
    /// values), resources, config references.
    #[serde(default)]
    pub template: Vec<FieldChange>,
    /// Pods only in AFTER.
    #[serde(default)]
    pub pods_created: Vec<String>,
    /// Pods only in BEFORE.
    #[serde(default)]
    pub pods_deleted: Vec<String>,
    /// Containers of pods present in both whose restart count grew.
    #[serde(default)]
    pub restarts: Vec<RestartGrowth>,
    /// Containers (by name) crashing in AFTER and not in BEFORE.
    #[serde(default)]
    pub started_crashing: Vec<String>,
    /// Containers crashing in BEFORE and not in AFTER.
    #[serde(default)]
    pub recovered: Vec<String>,
}

/// A ConfigMap or Secret that changed (compared by a hash of its content
/// and its resourceVersion; values are never shown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigDelta {
    /// The object.
    pub object: ObjectRef,
    /// Added, removed or changed.
    pub change: Change,
    /// resourceVersion before → after.
    pub resource_version: FieldChange,
    /// Content hash (first 12 hex digits of a SHA-256 over keys and
    /// values as the bundle holds them) before → after; the same when only
    /// a Secret's values (never collected) changed.
    pub content: FieldChange,
    /// Last write before → after (`managedFields`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<FieldChange>,
    /// Running pods in AFTER that consume it and started before its last
    /// write: they still run with the old content.
    #[serde(default)]
    pub stale_pods: Vec<ObjectRef>,
}

/// A node added, removed or whose status changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDelta {
    /// Node name.
    pub name: String,
    /// Added, removed or changed.
    pub change: Change,
    /// Conditions (and schedulability) that changed, or the node's status
    /// for an added or removed node.
    #[serde(default)]
    pub conditions: Vec<FieldChange>,
}

/// A node in both snapshots whose requests or usage moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityDelta {
    /// Node name.
    pub node: String,
    /// Non-terminated pods before → after, when it moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<FieldChange>,
    /// Per resource: requests (and usage) as `requests% / usage%` before →
    /// after.
    #[serde(default)]
    pub resources: Vec<FieldChange>,
}

/// An event recorded between the two collections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffEvent {
    /// Last occurrence.
    pub time: DateTime<Utc>,
    /// The object the event is about.
    pub object: ObjectRef,
    /// `Normal` or `Warning`.
    pub event_type: String,
    /// Reason, e.g. `BackOff`.
    pub reason: String,
    /// Message as recorded.
    pub message: String,
    /// Occurrences since BEFORE (the count's growth for an event BEFORE
    /// already held).
    pub count: i64,
}

/// A kind collected in one snapshot and not the other (or with another
/// outcome), so a missing object is never read as a removed one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CollectionDelta {
    /// What was collected (plural resource, `metrics/pods`...).
    pub what: String,
    /// Namespace, for namespaced kinds; a namespace itself for `namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Outcome in BEFORE (`ok`, `forbidden`, ..., `not collected`).
    pub before: String,
    /// Outcome in AFTER.
    pub after: String,
}

/// One incident across a series of snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentTrack {
    /// Rule id.
    pub rule: String,
    /// The identity it is matched on (see [`FindingDelta::subject`]).
    pub subject: String,
    /// Worst severity in each snapshot, `None` where absent.
    pub states: Vec<Option<Severity>>,
}
