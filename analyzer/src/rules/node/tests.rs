//! Tests of the node rules on realistic nodes.

use serde_json::json;

use super::{node_eligible, run, run_cluster, tolerates};
use crate::testkit::{now, obj, EventFixture, Fixture};
use k8s_openapi::api::core::v1::{Node, Pod};
use kpm_model::ObjectRef;

fn node(name: &str, cpu: &str, memory: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                              "node.kubernetes.io/instance-type": "m5.xlarge"}},
        "spec": {"podCIDR": "10.244.1.0/24", "providerID": format!("aws:///eu-west-1a/i-0{name}")},
        "status": {
            "capacity": {"cpu": "4", "memory": "16069072Ki", "pods": "110", "ephemeral-storage": "83873772Ki"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "77299011866"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available",
                 "lastHeartbeatTime": "2026-11-20T14:31:00Z", "lastTransitionTime": "2026-11-01T08:00:00Z"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure",
                 "lastHeartbeatTime": "2026-11-20T14:31:00Z", "lastTransitionTime": "2026-11-01T08:00:00Z"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available",
                 "lastHeartbeatTime": "2026-11-20T14:31:00Z", "lastTransitionTime": "2026-11-01T08:00:00Z"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                 "lastHeartbeatTime": "2026-11-20T14:31:00Z", "lastTransitionTime": "2026-11-01T08:00:00Z"}
            ],
            "nodeInfo": {"kubeletVersion": "v1.33.2", "containerRuntimeVersion": "containerd://1.7.27", "osImage": "Ubuntu 24.04.2 LTS",
                         "kernelVersion": "6.8.0-1021-aws", "architecture": "amd64", "operatingSystem": "linux",
                         "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": ""}
        }
    })
}

fn running_pod(ns: &str, name: &str, node: &str, cpu: &str, memory: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-11-20T10:00:00Z"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.example.com/c:1",
                 "resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
        "status": {"phase": "Running"}
    })
}

fn pending_pod(name: &str, cpu: &str, memory: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "creationTimestamp": "2026-11-20T14:20:00Z"},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/shop/batch:2.0.1",
                 "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}}],
                 "tolerations": [
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]},
        "status": {"phase": "Pending", "qosClass": "Guaranteed", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": "2026-11-20T14:20:00Z",
             "message": "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."}]}
    })
}

fn rules(f: &[kpm_model::Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

fn cluster(nodes: Vec<serde_json::Value>, pods: Vec<serde_json::Value>) -> Fixture {
    let mut fx = Fixture::new("shop");
    let nodes: Vec<Node> = nodes.into_iter().map(obj).collect();
    let pods: Vec<Pod> = pods.into_iter().map(obj).collect();
    fx.cluster.node_allocation =
        Some(kpm_semantics::allocation::compute_at(&nodes, &pods, now()).map_pods(Into::into));
    fx.cluster.nodes = nodes;
    fx
}

#[test]
fn healthy_nodes_are_quiet() {
    let mut fx = cluster(vec![node("worker-1", "3920m", "15213008Ki")], vec![]);
    assert!(run_cluster(&fx.cluster_ctx()).is_empty());
}

#[test]
fn not_ready_with_unknown_status_and_unreachable_taint() {
    let mut n = node("worker-3", "3920m", "15213008Ki");
    n["status"]["conditions"][3] = json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": "2026-11-20T14:02:11Z",
        "lastTransitionTime": "2026-11-20T14:03:15Z"});
    n["spec"]["taints"] = json!([
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": "2026-11-20T14:03:15Z"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-11-20T14:03:20Z"}]);
    let mut fx = cluster(
        vec![n],
        vec![running_pod("shop", "web-1", "worker-3", "100m", "128Mi")],
    );
    let out = run_cluster(&fx.cluster_ctx());
    assert_eq!(rules(&out), vec!["node-not-ready"]);
    let f = &out[0];
    assert_eq!(f.id, "node-not-ready:Node/worker-3");
    assert!(
        f.cause.contains("Node worker-3 is NotReady for 28m"),
        "{}",
        f.cause
    );
    assert!(
        f.cause.contains(
            "NodeStatusUnknown: Kubelet stopped posting node status; 1 pod is scheduled on it."
        ),
        "{}",
        f.cause
    );
    assert!(f.evidence.iter().any(|e| matches!(e, kpm_model::Evidence::Field { value, .. } if value == "node.kubernetes.io/unreachable:NoExecute")));
}

#[test]
fn memory_pressure_and_cordon() {
    let mut n = node("worker-2", "3920m", "15213008Ki");
    n["status"]["conditions"][0] = json!({"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory",
        "message": "kubelet has insufficient memory available", "lastHeartbeatTime": "2026-11-20T14:31:00Z",
        "lastTransitionTime": "2026-11-20T14:10:00Z"});
    n["spec"]["unschedulable"] = json!(true);
    let mut fx = cluster(vec![n], vec![]);
    let out = run_cluster(&fx.cluster_ctx());
    assert_eq!(rules(&out), vec!["node-pressure", "node-cordoned"]);
    assert!(out[0].cause.contains("MemoryPressure (KubeletHasInsufficientMemory: kubelet has insufficient memory available)"), "{}", out[0].cause);
    assert_eq!(out[1].symptom, "Node worker-2 Ready,SchedulingDisabled");
    assert!(out[1]
        .next_steps
        .iter()
        .any(|s| s.command == "kubectl uncordon worker-2"));
}

#[test]
fn pending_pod_that_fits_after_freeing_is_not_no_room() {
    // worker-1 is nearly full of application pods: evicting them would make room.
    let mut fx = cluster(
        vec![node("worker-1", "3920m", "15213008Ki")],
        vec![running_pod("shop", "api-1", "worker-1", "3500m", "2Gi")],
    );
    fx.cluster.pending_pods = vec![obj(pending_pod("batch-7f9c-abcde", "2", "4Gi"))];
    assert!(run_cluster(&fx.cluster_ctx()).is_empty());
}

#[test]
fn pending_pod_larger_than_any_node_names_closest_and_shortfall() {
    let mut fx = cluster(
        vec![
            node("worker-1", "3920m", "15213008Ki"),
            node("worker-2", "1930m", "7Gi"),
        ],
        vec![
            running_pod(
                "kube-system",
                "kube-proxy-x7k2p",
                "worker-1",
                "100m",
                "64Mi",
            ),
            running_pod("shop", "api-1", "worker-1", "500m", "1Gi"),
        ],
    );
    fx.cluster.pending_pods = vec![obj(pending_pod("batch-7f9c-abcde", "6", "4Gi"))];
    let out = run_cluster(&fx.cluster_ctx());
    assert_eq!(rules(&out), vec!["node-no-room"]);
    let f = &out[0];
    assert_eq!(
        f.object,
        ObjectRef::namespaced("Pod", "shop", "batch-7f9c-abcde")
    );
    assert!(
        f.cause.contains("fits none of the 2 eligible nodes"),
        "{}",
        f.cause
    );
    assert!(
        f.cause.contains(
            "the closest, worker-1, is short: cpu 6 requested but at most 3820m can be freed"
        ),
        "{}",
        f.cause
    );
    assert_eq!(f.related, vec![ObjectRef::cluster("Node", "worker-1")]);
}

#[test]
fn eligibility_follows_node_selector_and_taints() {
    let mut gpu = node("gpu-1", "7910m", "60Gi");
    gpu["spec"]["taints"] =
        json!([{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]);
    let gpu: Node = obj(gpu);
    let plain: Pod = obj(pending_pod("p", "1", "1Gi"));
    assert!(!node_eligible(&plain, &gpu));
    let mut tolerant = pending_pod("p", "1", "1Gi");
    tolerant["spec"]["tolerations"] = json!([{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}]);
    let tolerant: Pod = obj(tolerant);
    assert!(node_eligible(&tolerant, &gpu));
    let mut picky = pending_pod("p", "1", "1Gi");
    picky["spec"]["nodeSelector"] = json!({"node.kubernetes.io/instance-type": "c5.4xlarge"});
    let worker: Node = obj(node("worker-1", "3920m", "15Gi"));
    assert!(!node_eligible(&obj(picky), &worker));
    // An empty-key Exists toleration tolerates everything.
    let all: Vec<k8s_openapi::api::core::v1::Toleration> = obj(json!([{"operator": "Exists"}]));
    let taint: k8s_openapi::api::core::v1::Taint =
        obj(json!({"key": "dedicated", "value": "db", "effect": "NoSchedule"}));
    assert!(tolerates(&all, &taint));
}

#[test]
fn cluster_autoscaler_event_explains_no_scale_up() {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = vec![obj(pending_pod("batch-7f9c-abcde", "6", "4Gi"))];
    fx.ns.events = vec![obj(EventFixture::about("shop", "Pod", "batch-7f9c-abcde")
        .normal()
        .says(
            "NotTriggerScaleUp",
            "pod didn't trigger scale-up: 1 max node group size reached, 2 Insufficient cpu",
        )
        .count(14)
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["autoscaler-no-scale-up"]);
    assert!(out[0].cause.contains("Cluster Autoscaler did not add a node for pending pod batch-7f9c-abcde: pod didn't trigger scale-up: 1 max node group size reached"), "{}", out[0].cause);
    assert!(out[0].cause.contains("(14 times)"));
}

#[test]
fn autoscaler_log_lines_are_quoted_with_line_numbers() {
    let log = "I1120 14:30:10.100000       1 static_autoscaler.go:445] No unschedulable pods\n\
               I1120 14:31:10.200000       1 orchestrator.go:546] Pod shop/batch-7f9c-abcde can't be scheduled on ng-general, predicate checking error: Insufficient cpu\n\
               I1120 14:31:10.300000       1 event_sink_logging_wrapper.go:48] Event(v1.ObjectReference{Kind:\"Pod\", Namespace:\"shop\", Name:\"batch-7f9c-abcde\"}): type: 'Normal' reason: 'NotTriggerScaleUp' pod didn't trigger scale-up: 1 max node group size reached\n";
    let path = "logs/kube-system/cluster-autoscaler-6f7d9c8b4-xk2lp/cluster-autoscaler.log";
    let mut fx = Fixture::with_logs("shop", &[(path, log)]);
    fx.cluster.infra.autoscalers = vec![(
        crate::context::AutoscalerKind::ClusterAutoscaler,
        crate::context::InfraPod {
            object: ObjectRef::namespaced(
                "Pod",
                "kube-system",
                "cluster-autoscaler-6f7d9c8b4-xk2lp",
            ),
            labels: Default::default(),
            node: None,
            phase: "Running".into(),
            running: true,
            ready: true,
            images: vec!["registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0".into()],
            args: Vec::new(),
            log_files: vec![path.into()],
        },
    )];
    let out = run_cluster(&fx.cluster_ctx());
    assert_eq!(rules(&out), vec!["autoscaler-no-scale-up"]);
    assert!(
        out[0].cause.contains("max node group size reached"),
        "{}",
        out[0].cause
    );
    match &out[0].evidence[0] {
        kpm_model::Evidence::Log { file, lines } => {
            assert_eq!(file, path);
            assert_eq!(lines.iter().map(|l| l.number).collect::<Vec<_>>(), vec![3]);
        }
        other => panic!("{other:?}"),
    }
}
