//! The node agents of a generated cluster: the EKS kube-proxy DaemonSet
//! with one pod on every node of the fleet (5,000 pods on the large
//! cluster), and the built-in PriorityClasses they and the other system
//! pods name.
//!
//! Pods are built one node at a time, so neither the namespace list nor the
//! node allocation holds them all.

use serde_json::{json, Value};

use crate::baseline::{kube_proxy_pod, kube_proxy_spec, CLUSTER_AGE};
use crate::builders::pod::Placement;
use crate::builders::{meta, workload};
use crate::scale::Fleet;

/// Where the DaemonSet lives.
pub const NAMESPACE: &str = "kube-system";

/// The kube-proxy DaemonSet, every pod scheduled and ready (the generator
/// leaves pods on a troubled node as they were, for pods of every owner).
pub fn daemon_set(fleet: &Fleet) -> Value {
    let n = fleet.count() as i64;
    workload::daemon_set(
        NAMESPACE,
        "kube-proxy",
        CLUSTER_AGE,
        &[("k8s-app", "kube-proxy")],
        &kube_proxy_spec(),
        n,
        n,
    )
}

/// The kube-proxy pod of node `i`, owned by `ds`.
pub fn pod(fleet: &Fleet, i: u64, ds: &Value, spec: &Value, hash: &str) -> Value {
    let id = fleet.id(i);
    let placement = Placement {
        node: id.name.clone(),
        host_ip: id.ip.clone(),
        pod_ip: id.ip.clone(),
        scheduled_ago: 86_400 * 20,
    };
    kube_proxy_pod(spec, &id, placement, ds, hash)
}

/// Every kube-proxy pod, node by node.
pub fn pods(fleet: &Fleet) -> impl Iterator<Item = Value> + '_ {
    let ds = daemon_set(fleet);
    let spec = kube_proxy_spec();
    let hash = workload::controller_revision_hash(&ds);
    (0..fleet.count()).map(move |i| pod(fleet, i, &ds, &spec, &hash))
}

/// The PriorityClasses every API server creates at start-up
/// (`scheduling.SystemPriorityClasses()`).
pub fn priority_classes() -> Vec<Value> {
    [
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
        (
            "system-node-critical",
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
    ]
    .into_iter()
    .map(|(name, value, description)| {
        let mut pc = meta::object("scheduling.k8s.io/v1", "PriorityClass", None, name, CLUSTER_AGE);
        if let Some(m) = pc.as_object_mut() {
            m.insert("value".into(), json!(value));
            m.insert("globalDefault".into(), json!(false));
            m.insert("description".into(), json!(description));
            m.insert("preemptionPolicy".into(), json!("PreemptLowerPriority"));
        }
        pc
    })
    .collect()
}
