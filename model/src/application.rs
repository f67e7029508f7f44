//! Applications and their Ingress → Service → Endpoints → Pods → Nodes chain.

use serde::{Deserialize, Serialize};

use crate::{Layer, ObjectRef, Severity};

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
