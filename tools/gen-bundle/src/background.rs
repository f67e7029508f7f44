//! The `Normal` events a healthy cluster records anyway: control-plane
//! leader changes and the node registrations that follow them, and a node
//! joining. A real capture is never silent, so neither is a generated one.

use serde_json::{json, Value};

use crate::builders::event::{self, Source};
use crate::builders::meta;
use crate::ids;
use crate::world::World;

/// The `Lease` a control-plane component leads through (events only: the
/// bundle holds no leases).
fn lease(name: &str) -> Value {
    meta::object(
        "coordination.k8s.io/v1",
        "Lease",
        Some("kube-system"),
        name,
        crate::baseline::CLUSTER_AGE,
    )
}

/// A managed control plane replaced an instance `ago` seconds before
/// collection: kube-controller-manager and kube-scheduler re-acquire their
/// leases (client-go `LeaseLock.RecordEvent`: `<identity> became leader`),
/// and the node lifecycle controller of the new leader registers every node
/// it finds (`Node <n> event: Registered Node <n> in Controller`).
pub fn control_plane_failover(w: &mut World, ago: i64) {
    let host = "ip-172-16-84-27.ec2.internal";
    for (component, offset) in [("kube-controller-manager", 0), ("kube-scheduler", 3)] {
        let identity = format!("{host}_{}", ids::uid(&format!("leader/{component}/{ago}")));
        w.cluster.add(event::event(
            "kube-system",
            &lease(component),
            None,
            "Normal",
            "LeaderElection",
            &format!("{identity} became leader"),
            &Source::controller(component),
            1,
            ago - offset,
            ago - offset,
        ));
    }
    let nodes: Vec<Value> = w.cluster.cluster_list("nodes").to_vec();
    for n in &nodes {
        let name = meta::name_of(n);
        w.cluster.add(event::event(
            "default",
            n,
            None,
            "Normal",
            "RegisteredNode",
            &format!("Node {name} event: Registered Node {name} in Controller"),
            &Source::controller("node-controller"),
            1,
            ago - 9,
            ago - 9,
        ));
    }
}

/// The events of a node whose kubelet registered `ago` seconds before
/// collection. The kubelet refers to its node with the node name as uid.
pub fn node_joined(w: &mut World, node: &Value, ago: i64) {
    let name = meta::name_of(node).to_string();
    let mut as_kubelet_sees_it = node.clone();
    as_kubelet_sees_it["metadata"]["uid"] = json!(name);
    let k = Source::kubelet(&name);
    let kubelet_events = [
        ("Starting", "Starting kubelet.".to_string(), 0),
        (
            "NodeHasSufficientMemory",
            format!("Node {name} status is now: NodeHasSufficientMemory"),
            1,
        ),
        (
            "NodeHasNoDiskPressure",
            format!("Node {name} status is now: NodeHasNoDiskPressure"),
            1,
        ),
        (
            "NodeHasSufficientPID",
            format!("Node {name} status is now: NodeHasSufficientPID"),
            1,
        ),
        (
            "NodeAllocatableEnforced",
            "Updated Node Allocatable limit across pods".to_string(),
            1,
        ),
        (
            "NodeReady",
            format!("Node {name} status is now: NodeReady"),
            15,
        ),
    ];
    for (reason, message, after) in kubelet_events {
        w.cluster.add(event::event(
            "default",
            &as_kubelet_sees_it,
            None,
            "Normal",
            reason,
            &message,
            &k,
            1,
            ago - after,
            ago - after,
        ));
    }
    w.cluster.add(event::event(
        "default",
        node,
        None,
        "Normal",
        "RegisteredNode",
        &format!("Node {name} event: Registered Node {name} in Controller"),
        &Source::controller("node-controller"),
        1,
        ago - 4,
        ago - 4,
    ));
}
