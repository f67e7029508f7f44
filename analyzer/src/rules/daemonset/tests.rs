use super::*;
use crate::testkit::{obj, Fixture};
use serde_json::{json, Value};

fn node(name: &str, labels: Value, taints: Value) -> Node {
    obj(json!({
        "metadata": {"name": name, "labels": labels, "creationTimestamp": "2026-10-01T00:00:00Z"},
        "spec": {"taints": taints},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}
    }))
}

fn ds(template: Value, desired: i32, current: i32, ready: i32) -> DaemonSet {
    obj(json!({
        "metadata": {"name": "log-shipper", "namespace": "logging", "uid": "d1"},
        "spec": {"selector": {"matchLabels": {"app": "log-shipper"}},
            "template": {"metadata": {"labels": {"app": "log-shipper"}}, "spec": template}},
        "status": {"desiredNumberScheduled": desired, "currentNumberScheduled": current,
            "numberReady": ready, "numberMisscheduled": 0}
    }))
}

fn pod(name: &str, node: &str, ready: bool) -> Pod {
    let waiting = json!({"waiting": {"reason": "CrashLoopBackOff"}});
    let state = if ready {
        json!({"running": {}})
    } else {
        waiting
    };
    obj(json!({
        "metadata": {"name": name, "namespace": "logging", "creationTimestamp": "2026-11-20T10:00:00Z",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "log-shipper", "uid": "d1", "controller": true}]},
        "spec": {"nodeName": node, "containers": [{"name": "shipper"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
            "containerStatuses": [{"name": "shipper", "image": "x", "imageID": "", "ready": ready, "restartCount": 4, "state": state}]}
    }))
}

fn run_with(nodes: Vec<Node>, set: DaemonSet, pods: Vec<Pod>) -> Vec<Finding> {
    let mut f = Fixture::new("logging");
    f.cluster.nodes = nodes;
    f.ns.daemonsets = vec![set];
    f.ns.pods = pods;
    run(&f.ctx())
}

fn gpu_taint() -> Value {
    json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
}

#[test]
fn a_taint_without_toleration_is_named_with_its_node() {
    let out = run_with(
        vec![
            node("worker-1", json!({}), json!([])),
            node("gpu-1", json!({}), gpu_taint()),
        ],
        ds(json!({"containers": []}), 1, 1, 1),
        vec![pod("log-shipper-a", "worker-1", true)],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].rule, Rule::DaemonsetUntoleratedTaint.id());
    assert!(
        out[0]
            .cause
            .contains("node gpu-1 has dedicated=gpu:NoSchedule"),
        "{}",
        out[0].cause
    );
}

#[test]
fn control_plane_nodes_and_nodes_outside_the_selector_are_normal() {
    let cp = json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
    let out = run_with(
        vec![
            node("worker-1", json!({"pool": "general"}), json!([])),
            node("cp-1", json!({"pool": "general"}), cp),
            node("gpu-1", json!({"pool": "gpu"}), gpu_taint()),
        ],
        ds(
            json!({"nodeSelector": {"pool": "general"}, "containers": []}),
            1,
            1,
            1,
        ),
        vec![pod("log-shipper-a", "worker-1", true)],
    );
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn a_matching_toleration_or_the_controllers_own_ones_keep_it_silent() {
    let tolerated = json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}], "containers": []});
    let out = run_with(
        vec![
            node("gpu-1", json!({}), gpu_taint()),
            node(
                "cordoned",
                json!({}),
                json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
            ),
        ],
        ds(tolerated, 2, 2, 2),
        vec![
            pod("log-shipper-a", "gpu-1", true),
            pod("log-shipper-b", "cordoned", true),
        ],
    );
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn a_broken_daemon_pod_on_an_eligible_node_is_named_and_related() {
    let out = run_with(
        vec![
            node("worker-1", json!({}), json!([])),
            node("worker-2", json!({}), json!([])),
        ],
        ds(json!({"containers": []}), 2, 2, 1),
        vec![
            pod("log-shipper-a", "worker-1", true),
            pod("log-shipper-b", "worker-2", false),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].rule, Rule::DaemonsetNotReady.id());
    assert!(out[0]
        .cause
        .contains("pod log-shipper-b on node worker-2 is CrashLoopBackOff"));
    assert_eq!(
        out[0].related,
        vec![ObjectRef::namespaced("Pod", "logging", "log-shipper-b")]
    );
}

#[test]
fn a_missing_pod_counts_only_when_the_controller_agrees() {
    let nodes = || {
        vec![
            node("worker-1", json!({}), json!([])),
            node("worker-2", json!({}), json!([])),
        ]
    };
    let pods = || vec![pod("log-shipper-a", "worker-1", true)];
    let agreed = run_with(nodes(), ds(json!({"containers": []}), 2, 1, 1), pods());
    assert_eq!(agreed.len(), 1);
    assert!(agreed[0].cause.contains("no pod on eligible node worker-2"));
    // The controller counts both scheduled: kpm's view of eligibility is
    // not enough to claim a missing pod.
    let disagreed = run_with(nodes(), ds(json!({"containers": []}), 2, 2, 1), pods());
    assert!(disagreed.is_empty(), "{disagreed:#?}");
}

#[test]
fn node_affinity_expressions_follow_the_scheduler_operators() {
    let spec: PodSpec = obj(
        json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                                  {"key": "gpu-count", "operator": "Gt", "values": ["1"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]}
        ]}}}}),
    );
    let linux = |n: &str, count: &str| {
        node(
            n,
            json!({"kubernetes.io/os": "linux", "gpu-count": count}),
            json!([]),
        )
    };
    assert!(selects_node(&spec, &linux("a", "2")));
    assert!(!selects_node(&spec, &linux("b", "1")));
    assert!(selects_node(&spec, &node("special", json!({}), json!([]))));
    assert!(!selects_node(
        &spec,
        &node("windows", json!({"kubernetes.io/os": "windows"}), json!([]))
    ));
}

#[test]
fn daemon_tolerations_add_network_unavailable_for_host_network_only() {
    let host: PodSpec = obj(json!({"hostNetwork": true, "containers": []}));
    let plain: PodSpec = obj(json!({"containers": []}));
    let key = |t: &Toleration| t.key.clone().unwrap_or_default();
    let has = |s: &PodSpec| {
        daemon_tolerations(s)
            .iter()
            .any(|t| key(t) == "node.kubernetes.io/network-unavailable")
    };
    assert!(has(&host));
    assert!(!has(&plain));
    assert_eq!(daemon_tolerations(&plain).len(), 6);
}
