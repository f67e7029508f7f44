use super::*;
use kpm_semantics::allocation::{compute_at, NodeAllocationFile};
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T05:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A node as the kubelet reports it on EKS (images and conditions included,
/// which the feed must drop).
fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
    "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
    "status": {
        "capacity": {"cpu": "4", "memory": "16093584Ki", "pods": "58", "ephemeral-storage": "83873772Ki", "hugepages-2Mi": "0"},
        "allocatable": {"cpu": "3920m", "memory": "15076752Ki", "pods": "58", "ephemeral-storage": "76224326324", "hugepages-2Mi": "0"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
        "images": [{"names": ["602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.3"], "sizeBytes": 52_000_000}]
    }})
}

fn pod(ns: &str, name: &str, node: &str, phase: &str, cpu: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-11-26T04:00:00Z",
            "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-25T10:00:00Z"}},
        "spec": {"nodeName": node,
            "containers": [{"name": "app", "image": "nginx:1.27", "env": [{"name": "PORT", "value": "8080"}],
                "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}, "limits": {"memory": "512Mi"}}}]},
        "status": {"phase": phase, "podIP": "10.0.1.17"}})
}

/// Sidecar init container, RuntimeClass overhead and an in-progress
/// in-place resize: everything `PodRequestsAndLimits` looks at.
fn tricky_pod(node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "api-7d9c6b8f5-x2x9k", "namespace": "shop", "creationTimestamp": "2026-11-20T04:00:00Z"},
        "spec": {"nodeName": node, "runtimeClassName": "kata",
            "overhead": {"cpu": "250m", "memory": "120Mi"},
            "initContainers": [
                {"name": "migrate", "image": "ghcr.io/acme/migrate:1.4.2", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
                {"name": "istio-proxy", "image": "istio/proxyv2:1.24.0", "restartPolicy": "Always",
                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}}}
            ],
            "containers": [{"name": "api", "image": "ghcr.io/acme/api:1.4.2",
                "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]},
        "status": {"phase": "Running", "resize": "InProgress",
            "containerStatuses": [{"name": "api", "image": "ghcr.io/acme/api:1.4.2", "imageID": "ghcr.io/acme/api@sha256:0d1c", "ready": true,
                "restartCount": 0, "started": true, "state": {"running": {"startedAt": "2026-11-20T04:01:00Z"}},
                "resources": {"requests": {"cpu": "750m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}})
}

fn write(feed: &mut AllocFeed) -> (NodeAllocationFile, Written) {
    let mut out = Vec::new();
    let written = feed.write(&mut out).unwrap();
    (serde_json::from_slice(&out).unwrap(), written)
}

#[test]
fn counts_non_terminated_pods_on_nodes() {
    let mut feed = AllocFeed::new(now());
    let n = "ip-10-0-1-23.eu-west-1.compute.internal";
    feed.node(&node(n));
    let read = feed.start_read();
    feed.pod(read, &pod("shop", "web-1", n, "Running", "500m"));
    feed.pod(read, &pod("shop", "web-2", n, "Pending", "250m"));
    feed.pod(read, &pod("shop", "job-1", n, "Succeeded", "1"));
    let (file, written) = write(&mut feed);
    assert_eq!((written.nodes, written.pods), (1, 2));
    assert_eq!(written.message, "1 nodes, 2 non-terminated pods counted");
    let a = &file.nodes[0];
    assert_eq!(a.node, n);
    assert_eq!(a.requests["cpu"], "750m");
    assert_eq!(a.non_terminated_pods, 2);
    assert_eq!(a.pods[0].name, "web-1");
    assert_eq!(a.pods[0].age.as_deref(), Some("60m"));
}

#[test]
fn same_file_as_computing_over_whole_objects() {
    let names = [
        "ip-10-0-1-23.eu-west-1.compute.internal",
        "ip-10-0-2-7.eu-west-1.compute.internal",
    ];
    let nodes: Vec<Value> = names.iter().map(|n| node(n)).collect();
    let pods = [
        tricky_pod(names[0]),
        pod("shop-2", "cart-0", names[0], "Running", "1"),
        pod("shop", "web-1", names[0], "Running", "0.5"),
        pod(
            "kube-system",
            "coredns-7db6d8ff4d-4tq9m",
            names[1],
            "Running",
            "100m",
        ),
        pod("shop", "done", names[1], "Failed", "1"),
        // Bound to a node that is not in the nodes list: not shown.
        pod(
            "shop",
            "ghost",
            "ip-10-0-9-9.eu-west-1.compute.internal",
            "Running",
            "1",
        ),
    ];
    let mut feed = AllocFeed::new(now());
    let read = feed.start_read();
    // Pods may arrive before the nodes list is done, in any order.
    for p in pods.iter().rev() {
        feed.pod(read, p);
    }
    for n in &nodes {
        feed.node(n);
    }
    let (got, _) = write(&mut feed);
    let typed_nodes: Vec<Node> = nodes
        .iter()
        .map(|n| Node::deserialize(n).unwrap())
        .collect();
    let typed_pods: Vec<Pod> = pods.iter().map(|p| Pod::deserialize(p).unwrap()).collect();
    let want = compute_at(&typed_nodes, &typed_pods, now());
    assert_eq!(got, want);
    // The sidecar, overhead and resize were all seen.
    let tricky = got.nodes[0]
        .pods
        .iter()
        .find(|p| p.name == "api-7d9c6b8f5-x2x9k")
        .unwrap();
    // max(init 2, containers 750m (resized) + sidecar 100m) + overhead 250m.
    assert_eq!(tricky.cpu_requests, "2250m");
}

#[test]
fn a_restarted_read_does_not_count_twice() {
    let n = "ip-10-0-1-23.eu-west-1.compute.internal";
    let mut feed = AllocFeed::new(now());
    feed.node(&node(n));
    let first = feed.start_read();
    feed.pod(first, &pod("shop", "web-1", n, "Running", "500m"));
    feed.abandon(first);
    let second = feed.start_read();
    feed.pod(second, &pod("shop", "web-1", n, "Running", "500m"));
    feed.pod(second, &pod("shop", "web-2", n, "Running", "500m"));
    let (file, written) = write(&mut feed);
    assert_eq!(written.pods, 2);
    assert_eq!(file.nodes[0].requests["cpu"], "1");
}

#[test]
fn failures_and_gaps_are_reported() {
    let mut feed = AllocFeed::new(now());
    feed.node(&node("worker-1"));
    feed.missing_namespace("payments");
    let (_, written) = write(&mut feed);
    assert!(written
        .message
        .contains("pods of payments could not be read"));
    // Written once only.
    assert!(feed.write(&mut Vec::new()).is_err());

    let mut feed = AllocFeed::new(now());
    feed.nodes_failed(&Failure {
        outcome: Outcome::Forbidden,
        http_status: Some(403),
        message: "nodes is forbidden".into(),
        class: FailureClass::Step,
    });
    let err = feed.check().unwrap_err();
    assert_eq!(err.outcome, Outcome::Forbidden);
    assert!(err.message.starts_with("nodes could not be listed"));
}
