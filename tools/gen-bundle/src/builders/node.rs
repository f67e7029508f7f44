//! Nodes as an EKS-managed kubelet v1.33 registers them.

use serde_json::{json, Value};

use super::meta;
use crate::ids;

/// The machine shape of a node.
#[derive(Debug, Clone)]
pub struct NodeShape {
    /// EC2 instance type label.
    pub instance_type: &'static str,
    /// Cores (`capacity.cpu`).
    pub cpus: u32,
    /// `capacity.memory` in KiB.
    pub memory_kib: u64,
    /// `allocatable.memory` in KiB (capacity minus kube and system reserved).
    pub allocatable_memory_kib: u64,
    /// `allocatable.cpu` in millicores.
    pub allocatable_millis: u32,
    /// `capacity.pods` (ENI limit on EKS).
    pub pods: u32,
}

/// m5.xlarge: 4 vCPU, 16 GiB, 58 pods.
pub const M5_XLARGE: NodeShape = NodeShape {
    instance_type: "m5.xlarge",
    cpus: 4,
    memory_kib: 15_896_988,
    allocatable_memory_kib: 14_880_156,
    allocatable_millis: 3920,
    pods: 58,
};

/// m5.2xlarge: 8 vCPU, 32 GiB, 58 pods.
pub const M5_2XLARGE: NodeShape = NodeShape {
    instance_type: "m5.2xlarge",
    cpus: 8,
    memory_kib: 32_408_468,
    allocatable_memory_kib: 31_391_636,
    allocatable_millis: 7910,
    pods: 58,
};

/// Name and address of a node; the rest follows from them.
#[derive(Debug, Clone)]
pub struct NodeId {
    /// `ip-10-0-1-17.ec2.internal`.
    pub name: String,
    /// `10.0.1.17`.
    pub ip: String,
    /// `us-east-1a`.
    pub zone: String,
}

impl NodeId {
    /// Node name and zone from its private IP, the way EKS names nodes.
    pub fn from_ip(ip: &str) -> NodeId {
        let zone = match ip
            .split('.')
            .nth(2)
            .and_then(|o| o.parse::<u32>().ok())
            .unwrap_or(0)
            % 3
        {
            0 => "us-east-1c",
            1 => "us-east-1a",
            _ => "us-east-1b",
        };
        NodeId {
            name: format!("ip-{}.ec2.internal", ip.replace('.', "-")),
            ip: ip.to_string(),
            zone: zone.to_string(),
        }
    }
}

/// A pressure condition that is currently False (healthy).
fn healthy(kind: &str, reason: &str, message: &str, since: i64) -> Value {
    json!({
        "type": kind,
        "status": "False",
        "lastHeartbeatTime": ids::ago(20),
        "lastTransitionTime": ids::ago(since),
        "reason": reason,
        "message": message,
    })
}

/// A Ready, pressure-free node created `created_ago` seconds before
/// collection.
#[allow(
    clippy::too_many_lines,
    reason = "one Kubernetes object written out field by field"
)]
pub fn node(id: &NodeId, shape: &NodeShape, nodegroup: &str, created_ago: i64) -> Value {
    let mut n = meta::object("v1", "Node", None, &id.name, created_ago);
    let region = "us-east-1";
    meta::add_labels(
        &mut n,
        &[
            ("beta.kubernetes.io/arch", "amd64"),
            ("beta.kubernetes.io/instance-type", shape.instance_type),
            ("beta.kubernetes.io/os", "linux"),
            ("eks.amazonaws.com/capacityType", "ON_DEMAND"),
            ("eks.amazonaws.com/nodegroup", nodegroup),
            ("failure-domain.beta.kubernetes.io/region", region),
            ("failure-domain.beta.kubernetes.io/zone", &id.zone),
            ("kubernetes.io/arch", "amd64"),
            ("kubernetes.io/hostname", &id.name),
            ("kubernetes.io/os", "linux"),
            ("node.kubernetes.io/instance-type", shape.instance_type),
            ("topology.kubernetes.io/region", region),
            ("topology.kubernetes.io/zone", &id.zone),
        ],
    );
    meta::add_annotations(
        &mut n,
        &[
            ("alpha.kubernetes.io/provided-node-ip", &id.ip),
            ("node.alpha.kubernetes.io/ttl", "0"),
            (
                "volumes.kubernetes.io/controller-managed-attach-detach",
                "true",
            ),
        ],
    );
    meta::add_managed(
        &mut n,
        "kubelet",
        "Update",
        created_ago,
        json!({"f:metadata": {"f:labels": {}}}),
        None,
    );
    meta::add_managed(
        &mut n,
        "kubelet",
        "Update",
        20,
        json!({"f:status": {"f:conditions": {}}}),
        Some("status"),
    );
    let instance = format!("i-0{}", &ids::hex64(&id.name)[..16]);
    let since = created_ago - 30;
    n["spec"] = json!({ "providerID": format!("aws:///{}/{}", id.zone, instance) });
    n["status"] = json!({
        "capacity": {
            "cpu": shape.cpus.to_string(),
            "ephemeral-storage": "104845292Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": format!("{}Ki", shape.memory_kib),
            "pods": shape.pods.to_string(),
        },
        "allocatable": {
            "cpu": format!("{}m", shape.allocatable_millis),
            "ephemeral-storage": "95551679124",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": format!("{}Ki", shape.allocatable_memory_kib),
            "pods": shape.pods.to_string(),
        },
        "conditions": [
            healthy("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", since),
            healthy("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", since),
            healthy("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available", since),
            {
                "type": "Ready",
                "status": "True",
                "lastHeartbeatTime": ids::ago(20),
                "lastTransitionTime": ids::ago(since - 15),
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
            }
        ],
        "addresses": [
            {"type": "InternalIP", "address": id.ip},
            {"type": "InternalDNS", "address": id.name},
            {"type": "Hostname", "address": id.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": &ids::hex64(&format!("machine/{}", id.name))[..32],
            "systemUUID": ids::uid(&format!("system/{}", id.name)).to_uppercase(),
            "bootID": ids::uid(&format!("boot/{}", id.name)),
            "kernelVersion": "6.1.141-155.222.amzn2023.x86_64",
            "osImage": "Amazon Linux 2023.8.20250818",
            "containerRuntimeVersion": "containerd://1.7.27",
            "kubeletVersion": "v1.33.4-eks-e386d34",
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    });
    n
}

/// Replaces one condition of a node (matched by `type`).
pub fn set_condition(
    node: &mut Value,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    since_ago: i64,
    heartbeat_ago: i64,
) {
    if let Some(conds) = node["status"]["conditions"].as_array_mut() {
        for c in conds.iter_mut() {
            if c["type"] == kind {
                *c = json!({
                    "type": kind,
                    "status": status,
                    "lastHeartbeatTime": ids::ago(heartbeat_ago),
                    "lastTransitionTime": ids::ago(since_ago),
                    "reason": reason,
                    "message": message,
                });
            }
        }
    }
}

/// Adds a taint (`timeAdded` is set for NoExecute taints, as the node
/// lifecycle controller does).
pub fn add_taint(node: &mut Value, key: &str, effect: &str, added_ago: i64) {
    let mut taint = json!({"key": key, "effect": effect});
    if effect == "NoExecute" {
        taint["timeAdded"] = json!(ids::ago(added_ago));
    }
    if !node["spec"]["taints"].is_array() {
        node["spec"]["taints"] = json!([]);
    }
    if let Some(list) = node["spec"]["taints"].as_array_mut() {
        list.push(taint);
    }
}

/// Marks a node as lost: kubelet stopped posting status, every condition
/// `Unknown`, and the `unreachable` taints the node lifecycle controller adds.
pub fn make_unreachable(node: &mut Value, since_ago: i64) {
    let msg = "Kubelet stopped posting node status.";
    for kind in ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"] {
        set_condition(
            node,
            kind,
            "Unknown",
            "NodeStatusUnknown",
            msg,
            since_ago,
            since_ago + 40,
        );
    }
    add_taint(
        node,
        "node.kubernetes.io/unreachable",
        "NoSchedule",
        since_ago,
    );
    add_taint(
        node,
        "node.kubernetes.io/unreachable",
        "NoExecute",
        since_ago - 5,
    );
}

/// Node name.
pub fn name(node: &Value) -> &str {
    meta::name_of(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_parses_and_conditions_change() {
        let id = NodeId::from_ip("10.0.2.41");
        assert_eq!(id.name, "ip-10-0-2-41.ec2.internal");
        let mut n = node(&id, &M5_XLARGE, "general-2025", 86_400 * 30);
        make_unreachable(&mut n, 900);
        let typed: k8s_openapi::api::core::v1::Node = serde_json::from_value(n.clone()).unwrap();
        let status = typed.status.unwrap();
        let ready = status
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "Unknown");
        assert_eq!(status.allocatable.unwrap()["cpu"].0, "3920m");
        let taints = typed.spec.unwrap().taints.unwrap();
        assert_eq!(taints.len(), 2);
        assert!(taints
            .iter()
            .any(|t| t.effect == "NoExecute" && t.time_added.is_some()));
    }
}
