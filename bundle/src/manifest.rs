//! `manifest.json`: what was collected, how, what failed, and a checksum of
//! every other file. Written last by the writer, read first by the reader.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Bundle format version; see [`crate::layout::FORMAT_VERSION`].
    pub format_version: u32,
    /// The program that wrote the bundle.
    pub tool: Tool,
    /// When collection ran and how it ended.
    pub collection: Collection,
    /// The cluster the bundle came from.
    pub cluster: ClusterInfo,
    /// Which namespaces were in scope.
    pub scope: CollectionScope,
    /// Options that shape what a reader can expect (log limits, redaction).
    pub options: CollectionOptions,
    /// One record per collection step, in the order they finished.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// How many values each redaction rule replaced. Counts only, never values.
    #[serde(default)]
    pub redaction: BTreeMap<String, u64>,
    /// Size and SHA-256 of every other file in the bundle, by path.
    #[serde(default)]
    pub files: BTreeMap<String, FileRecord>,
}

/// Name and version of the writing program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// e.g. `kpm-collect`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// Collection window and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    /// Start of collection, UTC. Analysis judges every age against
    /// [`Collection::finished_at`], never the analysing machine's clock.
    pub started_at: DateTime<Utc>,
    /// End of collection, UTC.
    pub finished_at: DateTime<Utc>,
    /// Ctrl-C stopped the run; unfinished steps are marked.
    #[serde(default)]
    pub interrupted: bool,
    /// `--timeout` stopped the run; unfinished steps are marked.
    #[serde(default)]
    pub timed_out: bool,
}

/// Identity of the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// `gitVersion` from `/version`, e.g. `v1.33.2`.
    pub server_version: Option<String>,
    /// kubeconfig context name used for collection.
    pub context: Option<String>,
    /// Cluster name from the kubeconfig, when known.
    #[serde(default)]
    pub name: Option<String>,
}

/// Which namespaces were collected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionScope {
    /// True when every readable namespace was collected.
    pub all_namespaces: bool,
    /// The namespaces asked for (when not all) or found (when all).
    #[serde(default)]
    pub namespaces: Vec<String>,
}

/// Options of the run that a reader needs to interpret the content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionOptions {
    /// `--log-lines`: at most this many lines per log.
    pub log_lines: Option<u64>,
    /// `--log-bytes`: at most this many bytes per log.
    pub log_bytes: Option<u64>,
    /// Pattern-based redaction was on.
    pub redaction: bool,
    /// ConfigMap values were redacted too.
    #[serde(default)]
    pub redact_config_maps: bool,
}

/// How one collection step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Collected.
    Ok,
    /// HTTP 403: the credentials may not read this.
    Forbidden,
    /// HTTP 404: the API or object does not exist (e.g. no metrics-server).
    NotFound,
    /// The request, or the whole run, ran out of time.
    Timeout,
    /// Anything else: 5xx, connection reset, malformed answer.
    Error,
}

impl Outcome {
    /// The spelling used in the manifest and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Forbidden => "forbidden",
            Outcome::NotFound => "not_found",
            Outcome::Timeout => "timeout",
            Outcome::Error => "error",
        }
    }
}

/// One collection step: one list, one log, one metrics call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// What was collected: a plural resource name (`pods`), `version`,
    /// `metrics/nodes`, `metrics/pods`, `logs` or `logs/previous`.
    pub what: String,
    /// Namespace, for namespaced steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object, for per-object steps such as logs: `<pod>/<container>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The bundle file written by this step, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// HTTP status of the failing (or last) response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Server or client message for a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Items (objects, or log lines) written.
    #[serde(default)]
    pub items: u64,
    /// Bytes written.
    #[serde(default)]
    pub bytes: u64,
    /// Wall time of the step in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
}

impl Step {
    /// A step with everything but `what` and `outcome` empty.
    pub fn new(what: impl Into<String>, outcome: Outcome) -> Step {
        Step {
            what: what.into(),
            namespace: None,
            object: None,
            path: None,
            outcome,
            http_status: None,
            message: None,
            items: 0,
            bytes: 0,
            duration_ms: 0,
        }
    }
}

/// Size and digest of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

impl Manifest {
    /// The steps for a kind (plural name) that did not end `ok`, so the
    /// analyzer can say which checks it could not run and why.
    pub fn failed_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.outcome != Outcome::Ok)
    }

    /// The outcome recorded for `what` in `namespace` (or at cluster scope
    /// when `namespace` is `None`). When several steps match, a failure wins.
    pub fn outcome_of(&self, what: &str, namespace: Option<&str>) -> Option<Outcome> {
        self.steps
            .iter()
            .filter(|s| s.what == what && s.namespace.as_deref() == namespace && s.object.is_none())
            .map(|s| s.outcome)
            .max_by_key(|o| *o != Outcome::Ok)
    }
}
