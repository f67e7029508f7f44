//! Where the report came from: the bundle, its collection, coverage gaps and damage.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
