//! How bad a finding is and which layer of the troubleshooting chain it is at.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// NetworkPolicies: traffic the policies drop between pods.
    Network,
    /// What the API server refuses to create: ResourceQuotas, LimitRanges,
    /// Pod Security admission, admission webhooks, ServiceAccounts.
    Admission,
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
            Layer::Network => "network",
            Layer::Admission => "admission",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
}
