//! Node allocation and pod usage tables.

use serde::{Deserialize, Serialize};

use crate::ObjectRef;

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
