//! `metrics.k8s.io/v1beta1` objects as metrics-server serves them (what
//! `kubectl top` reads). k8s-openapi does not model the metrics API, so the
//! few fields kpm uses are declared here; unknown fields are ignored.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::Deserialize;

/// `metrics.k8s.io/v1beta1` `NodeMetrics`: what `kubectl top node` reads.
/// k8s-openapi does not model the metrics API, so the few fields used are
/// declared here.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeMetrics {
    /// The node's metadata (its name is the node name).
    #[serde(default)]
    pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    /// Measurement time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Window of the measurement, e.g. `20.028s`.
    #[serde(default)]
    pub window: Option<String>,
    /// `cpu` and `memory` usage.
    #[serde(default)]
    pub usage: BTreeMap<String, Quantity>,
}

/// `metrics.k8s.io/v1beta1` `PodMetrics`: what `kubectl top pod` reads.
#[derive(Debug, Clone, Deserialize)]
pub struct PodMetrics {
    /// The pod's metadata (name and namespace of the pod).
    #[serde(default)]
    pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    /// Measurement time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Window of the measurement.
    #[serde(default)]
    pub window: Option<String>,
    /// Per-container usage.
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

/// Usage of one container in a [`PodMetrics`].
#[derive(Debug, Clone, Deserialize)]
pub struct ContainerMetrics {
    /// Container name.
    #[serde(default)]
    pub name: String,
    /// `cpu` and `memory` usage.
    #[serde(default)]
    pub usage: BTreeMap<String, Quantity>,
}
