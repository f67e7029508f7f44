//! The `kubectl get nodes -o wide` row, computed as the API server's table
//! printer does (`printNode` in `pkg/printers/internalversion/printers.go`).
//!
//! STATUS is built from the `Ready` condition only (`Ready`, `NotReady` for
//! both False and Unknown, `Unknown` when the condition is missing), plus
//! `SchedulingDisabled` for a cordoned node; pressure conditions never show
//! there. ROLES come from `node-role.kubernetes.io/<role>` label keys and the
//! legacy `kubernetes.io/role` label value.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Node;
use serde::{Deserialize, Serialize};

use crate::duration::age_opt;
use crate::time::opt_to_chrono;

const NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
const LEGACY_ROLE_LABEL: &str = "kubernetes.io/role";

/// One row of `kubectl get nodes -o wide`, all cells as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRow {
    /// NAME
    pub name: String,
    /// STATUS, e.g. `Ready`, `NotReady,SchedulingDisabled`, `Unknown`.
    pub status: String,
    /// ROLES, comma-separated and sorted, or `<none>`.
    pub roles: String,
    /// AGE
    pub age: String,
    /// VERSION (the kubelet's).
    pub version: String,
    /// INTERNAL-IP (wide) or `<none>`.
    pub internal_ip: String,
    /// EXTERNAL-IP (wide) or `<none>`.
    pub external_ip: String,
    /// OS-IMAGE (wide) or `<unknown>`.
    pub os_image: String,
    /// KERNEL-VERSION (wide) or `<unknown>`.
    pub kernel_version: String,
    /// CONTAINER-RUNTIME (wide) or `<unknown>`.
    pub container_runtime: String,
}

/// Computes the `kubectl get nodes -o wide` row of `node` as seen at `now`.
pub fn node_row(node: &Node, now: DateTime<Utc>) -> NodeRow {
    let status = node.status.as_ref();
    let info = status.and_then(|s| s.node_info.as_ref());
    let address = |kind: &str| {
        status
            .and_then(|s| s.addresses.as_deref())
            .unwrap_or_default()
            .iter()
            .find(|a| a.type_ == kind)
            .map(|a| a.address.clone())
            .unwrap_or_else(|| "<none>".to_owned())
    };
    let or_unknown = |s: Option<&String>| match s {
        Some(v) if !v.is_empty() => v.clone(),
        _ => "<unknown>".to_owned(),
    };
    let roles = node_roles(node);
    NodeRow {
        name: node.metadata.name.clone().unwrap_or_default(),
        status: node_status(node),
        roles: if roles.is_empty() {
            "<none>".to_owned()
        } else {
            roles.join(",")
        },
        age: age_opt(
            opt_to_chrono(node.metadata.creation_timestamp.as_ref()),
            now,
        ),
        version: info.map(|i| i.kubelet_version.clone()).unwrap_or_default(),
        internal_ip: address("InternalIP"),
        external_ip: address("ExternalIP"),
        os_image: or_unknown(info.map(|i| &i.os_image)),
        kernel_version: or_unknown(info.map(|i| &i.kernel_version)),
        container_runtime: or_unknown(info.map(|i| &i.container_runtime_version)),
    }
}

/// The STATUS column alone.
pub fn node_status(node: &Node) -> String {
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    // printNode keys conditions by type in a map, so the last one wins.
    let ready = conditions.iter().rev().find(|c| c.type_ == "Ready");
    let mut parts = vec![match ready {
        Some(c) if c.status == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        parts.push("SchedulingDisabled");
    }
    parts.join(",")
}

/// True when the node's `Ready` condition is `True`.
pub fn is_ready(node: &Node) -> bool {
    node_status(node).starts_with("Ready")
}

/// The node's roles (`findNodeRoles`), sorted and deduplicated.
pub fn node_roles(node: &Node) -> Vec<String> {
    let mut roles = BTreeSet::new();
    for (k, v) in node.metadata.labels.iter().flatten() {
        if let Some(role) = k.strip_prefix(NODE_ROLE_PREFIX) {
            if !role.is_empty() {
                roles.insert(role.to_owned());
            }
        } else if k == LEGACY_ROLE_LABEL && !v.is_empty() {
            roles.insert(v.clone());
        }
    }
    roles.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn node(labels: Value, unschedulable: bool, conditions: Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "ip-10-0-1-23.eu-west-1.compute.internal", "labels": labels,
                         "creationTimestamp": "2024-03-01T08:00:00Z"},
            "spec": {"unschedulable": unschedulable, "providerID": "aws:///eu-west-1a/i-0abc"},
            "status": {
                "conditions": conditions,
                "addresses": [
                    {"type": "InternalIP", "address": "10.0.1.23"},
                    {"type": "InternalDNS", "address": "ip-10-0-1-23.eu-west-1.compute.internal"},
                    {"type": "Hostname", "address": "ip-10-0-1-23.eu-west-1.compute.internal"}
                ],
                "nodeInfo": {
                    "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "containerd://1.7.11",
                    "kernelVersion": "6.1.79-99.164.amzn2023.x86_64", "kubeProxyVersion": "v1.29.3-eks-ae9a62a",
                    "kubeletVersion": "v1.29.3-eks-ae9a62a", "machineID": "", "operatingSystem": "linux",
                    "osImage": "Amazon Linux 2023.4.20240401", "systemUUID": ""
                }
            }
        }))
        .unwrap()
    }

    fn conditions(ready: &str) -> Value {
        json!([
            {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory",
             "message": "kubelet has insufficient memory available"},
            {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
            {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID"},
            {"type": "Ready", "status": ready, "reason": "KubeletReady",
             "message": "kubelet is posting ready status"}
        ])
    }

    #[test]
    fn ready_worker_row() {
        let n = node(
            json!({"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/ingress": "",
                   "kubernetes.io/hostname": "ip-10-0-1-23"}),
            false,
            conditions("True"),
        );
        let row = node_row(&n, now());
        // Memory pressure does not show in STATUS.
        assert_eq!(row.status, "Ready");
        assert_eq!(row.roles, "ingress,worker");
        assert_eq!(row.age, "61d");
        assert_eq!(row.version, "v1.29.3-eks-ae9a62a");
        assert_eq!(row.internal_ip, "10.0.1.23");
        assert_eq!(row.external_ip, "<none>");
        assert_eq!(row.container_runtime, "containerd://1.7.11");
        assert!(is_ready(&n));
    }

    #[test]
    fn not_ready_cordoned_and_unknown() {
        let lost = node(
            json!({"kubernetes.io/role": "master"}),
            true,
            conditions("Unknown"),
        );
        assert_eq!(node_status(&lost), "NotReady,SchedulingDisabled");
        assert_eq!(node_row(&lost, now()).roles, "master");
        assert!(!is_ready(&lost));
        let bare = node(json!({}), false, json!([]));
        assert_eq!(node_status(&bare), "Unknown");
        assert_eq!(node_row(&bare, now()).roles, "<none>");
        let cordoned = node(json!({}), true, conditions("True"));
        assert_eq!(node_status(&cordoned), "Ready,SchedulingDisabled");
    }
}
