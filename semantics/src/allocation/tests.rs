//! Unit tests for `allocation` on a realistic two-node cluster.

use super::*;
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn node(name: &str, extra_alloc: Value) -> Node {
    let mut alloc = json!({
        "cpu": "4", "memory": "7948084Ki", "ephemeral-storage": "94580335255",
        "hugepages-1Gi": "0", "hugepages-2Mi": "0", "pods": "110"
    });
    if let (Some(a), Some(e)) = (alloc.as_object_mut(), extra_alloc.as_object()) {
        for (k, v) in e {
            a.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"podCIDR": "10.244.1.0/24"},
        "status": {
            "capacity": {"cpu": "4", "memory": "8050484Ki", "ephemeral-storage": "102626232Ki",
                         "hugepages-1Gi": "0", "hugepages-2Mi": "0", "pods": "110"},
            "allocatable": alloc
        }
    }))
    .unwrap()
}

fn pod(ns: &str, name: &str, node: Option<&str>, phase: &str, spec: Value) -> Pod {
    let mut spec = spec;
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2024-04-28T09:00:00Z"},
        "spec": spec,
        "status": {"phase": phase}
    }))
    .unwrap()
}

fn res(req: Value, lim: Value) -> Value {
    json!({"requests": req, "limits": lim})
}

#[allow(
    clippy::too_many_lines,
    reason = "one fixture cluster, clearer as a single table than split"
)]
fn cluster() -> (Vec<Node>, Vec<Pod>) {
    let nodes = vec![
        node("worker-2", json!({})),
        node("worker-1", json!({"nvidia.com/gpu": "1"})),
    ];
    let w1 = Some("worker-1");
    let pods = vec![
        pod(
            "shop",
            "checkout-7d4b9c8f6d-x2x9z",
            w1,
            "Running",
            json!({
                "initContainers": [{"name": "istio-proxy", "restartPolicy": "Always",
                    "resources": res(json!({"cpu": "100m", "memory": "128Mi"}), json!({"cpu": "500m", "memory": "256Mi"}))}],
                "containers": [{"name": "app",
                    "resources": res(json!({"cpu": "1", "memory": "512Mi"}), json!({"cpu": "2", "memory": "1Gi"}))}]
            }),
        ),
        pod(
            "kube-system",
            "kube-proxy-8xk2p",
            w1,
            "Running",
            json!({"containers": [{"name": "kube-proxy"}]}),
        ),
        pod(
            "kube-system",
            "coredns-7db6d8ff4d-4tq9m",
            w1,
            "Running",
            json!({"containers": [{"name": "coredns",
            "resources": res(json!({"cpu": "100m", "memory": "70Mi"}), json!({"memory": "170Mi"}))}]}),
        ),
        pod(
            "shop",
            "train-0",
            w1,
            "Pending",
            json!({"containers": [{"name": "train",
            "resources": res(json!({"cpu": "550m", "memory": "370Mi", "nvidia.com/gpu": "1"}),
                             json!({"memory": "370Mi", "nvidia.com/gpu": "1"}))}]}),
        ),
        pod(
            "kube-system",
            "kindnet-9qf7d",
            w1,
            "Running",
            json!({"containers": [{"name": "kindnet-cni",
            "resources": res(json!({"cpu": "100m", "memory": "50Mi"}), json!({"cpu": "100m", "memory": "50Mi"}))}]}),
        ),
        // Terminated pods and unscheduled pods do not count.
        pod(
            "shop",
            "report-28561920-abcde",
            w1,
            "Succeeded",
            json!({"containers": [{"name": "r",
            "resources": res(json!({"cpu": "2"}), json!({}))}]}),
        ),
        pod(
            "shop",
            "report-28561921-fghij",
            w1,
            "Failed",
            json!({"containers": [{"name": "r",
            "resources": res(json!({"cpu": "2"}), json!({}))}]}),
        ),
        pod(
            "shop",
            "web-pending",
            None,
            "Pending",
            json!({"containers": [{"name": "w",
            "resources": res(json!({"cpu": "8"}), json!({}))}]}),
        ),
        pod(
            "shop",
            "api-0",
            Some("worker-2"),
            "Running",
            json!({"containers": [{"name": "api",
            "resources": res(json!({"cpu": "2", "memory": "1Gi"}), json!({"memory": "1Gi"}))}]}),
        ),
        // Bound to a node that is not in the node list.
        pod(
            "shop",
            "ghost",
            Some("worker-9"),
            "Running",
            json!({"containers": [{"name": "g"}]}),
        ),
    ];
    (nodes, pods)
}

#[test]
fn allocated_resources_match_kubectl_describe() {
    let (nodes, pods) = cluster();
    let file = compute_at(&nodes, &pods, now());
    let names: Vec<_> = file.nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["worker-1", "worker-2"]);

    let w1 = file.node("worker-1").unwrap();
    assert_eq!(w1.non_terminated_pods, 5);
    assert_eq!(w1.allocatable_pods, 110);
    assert_eq!(w1.free_pod_slots(), 105);
    let rows: Vec<String> = w1
        .rows
        .iter()
        .map(|r| match (r.requests_percent, r.limits_percent) {
            (Some(rp), Some(lp)) => {
                format!("{} {} ({rp}%) {} ({lp}%)", r.resource, r.requests, r.limits)
            }
            _ => format!("{} {} {}", r.resource, r.requests, r.limits),
        })
        .collect();
    assert_eq!(
        rows,
        [
            "cpu 1850m (46%) 2600m (65%)",
            "memory 1130Mi (14%) 1870Mi (24%)",
            "ephemeral-storage 0 (0%) 0 (0%)",
            "hugepages-1Gi 0 (0%) 0 (0%)",
            "hugepages-2Mi 0 (0%) 0 (0%)",
            "nvidia.com/gpu 1 1",
        ]
    );
    assert_eq!(w1.requests["cpu"], "1850m");
    assert_eq!(w1.requests_percent["memory"], 14);
    assert!(!w1.requests_percent.contains_key("nvidia.com/gpu"));
    assert_eq!(w1.allocatable["memory"], "7948084Ki");
    assert_eq!(w1.capacity["ephemeral-storage"], "102626232Ki");
}

#[test]
fn non_terminated_pod_lines_in_list_order() {
    let (nodes, pods) = cluster();
    let file = compute_at(&nodes, &pods, now());
    let w1 = file.node("worker-1").unwrap();
    let lines: Vec<String> = w1
        .pods
        .iter()
        .map(|p| {
            format!(
                "{}/{} {} ({}%) {} ({}%) {} ({}%) {} ({}%) {}",
                p.namespace,
                p.name,
                p.cpu_requests,
                p.cpu_requests_percent,
                p.cpu_limits,
                p.cpu_limits_percent,
                p.memory_requests,
                p.memory_requests_percent,
                p.memory_limits,
                p.memory_limits_percent,
                p.age.as_deref().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "kube-system/coredns-7db6d8ff4d-4tq9m 100m (2%) 0 (0%) 70Mi (0%) 170Mi (2%) 3d3h",
            "kube-system/kindnet-9qf7d 100m (2%) 100m (2%) 50Mi (0%) 50Mi (0%) 3d3h",
            "kube-system/kube-proxy-8xk2p 0 (0%) 0 (0%) 0 (0%) 0 (0%) 3d3h",
            "shop/checkout-7d4b9c8f6d-x2x9z 1100m (27%) 2500m (62%) 640Mi (8%) 1280Mi (16%) 3d3h",
            "shop/train-0 550m (13%) 0 (0%) 370Mi (4%) 370Mi (4%) 3d3h",
        ]
    );
    assert_eq!(w1.pods[4].requests["nvidia.com/gpu"], "1");
}

#[test]
fn second_node_and_raw_numbers() {
    let (nodes, pods) = cluster();
    let file = compute(&nodes, &pods);
    let w2 = file.node("worker-2").unwrap();
    assert_eq!(w2.non_terminated_pods, 1);
    assert_eq!(w2.requests["cpu"], "2");
    assert_eq!(w2.requests_percent["cpu"], 50);
    assert_eq!(w2.limits["cpu"], "0");
    assert_eq!(w2.requested("cpu").millis(), 2000);
    assert_eq!(w2.requested("memory").value(), 1 << 30);
    assert_eq!(w2.free("cpu").millis(), 2000);
    assert_eq!(w2.allocatable_of("memory").value(), 7_948_084 * 1024);
    assert_eq!(w2.capacity_of("cpu").millis(), 4000);
    assert!(w2.pods[0].age.is_none());
    // No extended resource row on a node that does not offer it.
    assert!(w2.rows.iter().all(|r| r.resource != "nvidia.com/gpu"));
    assert!(file.node("worker-9").is_none());
}

#[test]
fn builder_accepts_pods_before_nodes() {
    let (nodes, pods) = cluster();
    let mut b = AllocationBuilder::with_now(now());
    let counted = pods.iter().rev().filter(|p| b.add_pod(p)).count();
    assert_eq!(counted, 7);
    nodes.iter().for_each(|n| b.add_node(n));
    assert_eq!(b.finish(), compute_at(&nodes, &pods, now()));
}

#[test]
fn file_round_trips_with_camel_case_keys() {
    let (nodes, pods) = cluster();
    let file = compute_at(&nodes, &pods, now());
    let v = serde_json::to_value(&file).unwrap();
    let w1 = &v["nodes"][0];
    assert_eq!(w1["node"], "worker-1");
    assert_eq!(w1["nonTerminatedPods"], 5);
    assert_eq!(w1["requestsPercent"]["cpu"], 46);
    assert_eq!(w1["pods"][0]["cpuRequests"], "100m");
    assert_eq!(w1["pods"][0]["created"], "2024-04-28T09:00:00Z");
    assert!(w1["rows"][5].get("requestsPercent").is_none());
    let back: NodeAllocationFile = serde_json::from_value(v).unwrap();
    assert_eq!(back, file);
}

#[test]
fn system_reading_keeps_totals_and_only_kube_system_lines() {
    let (nodes, pods) = cluster();
    let file = compute_at(&nodes, &pods, now());
    let text = serde_json::to_string(&file).unwrap();
    let system: SystemAllocationFile = serde_json::from_str(&text).unwrap();
    let w1 = system.node("worker-1").unwrap();
    // Totals still count every pod (shop's checkout and train-0 included).
    assert_eq!(w1.non_terminated_pods, 5);
    assert_eq!(w1.requests, file.node("worker-1").unwrap().requests);
    let kept: Vec<&str> = w1.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        kept,
        [
            "coredns-7db6d8ff4d-4tq9m",
            "kindnet-9qf7d",
            "kube-proxy-8xk2p"
        ]
    );
    assert_eq!(system.node("worker-2").unwrap().pods.iter().count(), 0);
    // Reading and filtering a full file in memory agree.
    assert_eq!(system, file.map_pods(SystemPods::from));
}

#[test]
fn system_reading_rejects_a_line_of_the_wrong_shape() {
    let bad = r#"{"nodes":[{"node":"n","nonTerminatedPods":1,"allocatablePods":110,
        "pods":[{"namespace":"shop","name":7}]}]}"#;
    let err = serde_json::from_str::<SystemAllocationFile>(bad).unwrap_err();
    assert!(err.to_string().contains("invalid type"), "{err}");
}

#[test]
fn empty_node_prints_zeros() {
    let file = compute(&[node("idle", json!({}))], &[]);
    let idle = &file.nodes[0];
    assert_eq!(idle.non_terminated_pods, 0);
    assert_eq!(idle.requests["cpu"], "0");
    assert_eq!(idle.requests_percent["cpu"], 0);
    assert!(idle.pods.is_empty());
}

#[test]
fn falls_back_to_capacity_without_allocatable() {
    let bare: Node = serde_json::from_value(json!({
        "metadata": {"name": "old-node"},
        "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "30"}}
    }))
    .unwrap();
    let p = pod(
        "default",
        "web",
        Some("old-node"),
        "Running",
        json!({"containers": [{"name": "w",
        "resources": res(json!({"cpu": "500m", "memory": "1Gi"}), json!({}))}]}),
    );
    let file = compute(&[bare], &[p]);
    let n = &file.nodes[0];
    assert!(n.allocatable.is_empty());
    assert_eq!(n.allocatable_pods, 30);
    assert_eq!(n.requests_percent["cpu"], 25);
    assert_eq!(n.requests_percent["memory"], 25);
    assert_eq!(n.pods[0].cpu_requests_percent, 25);
    assert_eq!(n.allocatable_of("memory").value(), 4 << 30);
    assert_eq!(n.free("cpu").millis(), 1500);
}

#[test]
fn pods_sort_by_storage_key() {
    let n = node("w", json!({}));
    let mk = |ns: &str, name: &str, mem: &str| {
        pod(
            ns,
            name,
            Some("w"),
            "Running",
            json!({"containers": [{"name": "c",
            "resources": res(json!({"memory": mem}), json!({}))}]}),
        )
    };
    // "shop-2/…" < "shop/…" byte-wise ('-' < '/'), unlike (namespace, name).
    let pods = [mk("shop", "a", "512Mi"), mk("shop-2", "b", "1048576")];
    let file = compute(&[n], &pods);
    let order: Vec<_> = file.nodes[0]
        .pods
        .iter()
        .map(|p| p.namespace.as_str())
        .collect();
    assert_eq!(order, ["shop-2", "shop"]);
    // The first pod in list order fixes the sum's format: decimal bytes
    // first gives 537919488, where binary first would give 513Mi.
    assert_eq!(file.nodes[0].requests["memory"], "537919488");
}

#[test]
fn overhead_zero_limits_and_decimal_bytes_match_kubectl() {
    // Expected strings are what kubectl v1.32 `describe node` printed for
    // these objects (served by a stub API server).
    let n = node("worker-2", json!({}));
    let pods = [
        pod(
            "default",
            "kata",
            Some("worker-2"),
            "Running",
            json!({
                "overhead": {"cpu": "250m", "memory": "120Mi"},
                "containers": [{"name": "k",
                    "resources": res(json!({"cpu": "1.5", "memory": "100M"}), json!({"cpu": "2", "memory": "0"}))}]
            }),
        ),
        pod(
            "shop",
            "api-0",
            Some("worker-2"),
            "Running",
            json!({"containers": [{"name": "api",
            "resources": res(json!({"cpu": "2", "memory": "1Gi"}), json!({"memory": "1Gi"}))}]}),
        ),
    ];
    let file = compute(&[n], &pods);
    let w2 = &file.nodes[0];
    let kata = &w2.pods[0];
    assert_eq!(
        (
            kata.cpu_requests.as_str(),
            kata.cpu_requests_percent,
            kata.cpu_limits.as_str(),
            kata.cpu_limits_percent
        ),
        ("1750m", 43, "2250m", 56)
    );
    // Overhead is not added to a zero limit; 100M + 120Mi stays decimal.
    assert_eq!(
        (
            kata.memory_requests.as_str(),
            kata.memory_requests_percent,
            kata.memory_limits.as_str()
        ),
        ("225829120", 2, "0")
    );
    let rows: Vec<String> = w2
        .rows
        .iter()
        .take(2)
        .map(|r| {
            format!(
                "{} {} ({}%) {} ({}%)",
                r.resource,
                r.requests,
                r.requests_percent.unwrap_or(-1),
                r.limits,
                r.limits_percent.unwrap_or(-1)
            )
        })
        .collect();
    // The zero memory limit of the first pod takes the second pod's binary
    // format when added to (Go's Quantity.Add on a zero receiver).
    assert_eq!(
        rows,
        [
            "cpu 3750m (93%) 2250m (56%)",
            "memory 1299570944 (15%) 1Gi (13%)"
        ]
    );
}
