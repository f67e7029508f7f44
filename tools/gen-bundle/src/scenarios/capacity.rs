//! Scenarios about capacity and autoscaling: CPU exhausted, HPAs without
//! metrics or requests, node pressure and lost nodes, missing limits.

use serde_json::{json, Value};

use super::common::{self, neighbour};
use super::healthy::{self, ShopOptions};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::meta;
use crate::builders::node::{self, NodeId, M5_XLARGE};
use crate::builders::pod::{self, ContainerState, PodFate};
use crate::builders::workload::{self, HpaState};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::ids;

/// The capacity scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "pending-insufficient-cpu", description: "report-builder stays Pending: every node is almost fully allocated (settlement-batch requests 2.8 CPU on each node) and the scheduler reports Insufficient cpu on all 3 nodes.", build: pending_insufficient_cpu },
    Scenario { name: "hpa-no-metrics", description: "metrics-server is not installed: the frontend HPA shows <unknown> targets with FailedGetResourceMetric, and the bundle has no metrics (manifest not_found steps).", build: hpa_no_metrics },
    Scenario { name: "hpa-no-requests", description: "image-resizer's HPA targets CPU utilization but its container requests no CPU: missing request for cpu.", build: hpa_no_requests },
    Scenario { name: "node-pressure", description: "One node reports MemoryPressure and evicted a pod; a node added by the autoscaler stopped posting status (NotReady, unreachable taints).", build: node_pressure },
    Scenario { name: "no-limits", description: "reporting's containers set requests but no CPU or memory limits.", build: no_limits },
];

fn pending_insufficient_cpu() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("payments", 86_400 * 140);
    neighbour(
        &mut w,
        "payments",
        "payments-api",
        "ghcr.io/acme-pay/payments-api:4.7.3",
    );
    let mut batch = AppSpec::new(
        "payments",
        "settlement-batch",
        "ghcr.io/acme-pay/settlement-batch:2.2.0",
        8080,
        3,
        86_400 * 20,
        86_400 * 4,
    );
    app::resources(
        batch.main_container(),
        Some("2800m"),
        Some("3Gi"),
        Some("2800m"),
        Some("3Gi"),
    );
    app::deploy_healthy(&mut w, &batch);
    let mut rb = AppSpec::new(
        "payments",
        "report-builder",
        "ghcr.io/acme-pay/report-builder:1.0.3",
        8080,
        1,
        1_320,
        1_320,
    );
    let request = common::cpu_request_that_does_not_fit(&w).unwrap_or(1_500);
    let req = format!("{request}m");
    app::resources(
        rb.main_container(),
        Some(&req),
        Some("1Gi"),
        Some(&req),
        Some("1Gi"),
    );
    let n = w.nodes.len();
    let pending =
        common::unschedulable(&mut w, &rb, &common::insufficient_message(n, "cpu"), 1_318);
    let findings = vec![finding(
        "pod-unschedulable",
        &pod("payments", &pending),
        &["Insufficient cpu"],
    )];
    (w.finish(), findings)
}

const METRICS_ERROR: &str = "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)";

fn hpa_events(hpa: &Value, error: &str, since_ago: i64) -> Vec<Value> {
    let ns = meta::namespace_of(hpa);
    let src = Source::controller("horizontal-pod-autoscaler");
    let count = (since_ago / 15).max(1) as u32;
    vec![
        event::event(ns, hpa, None, "Warning", "FailedGetResourceMetric", error, &src, count, since_ago, 11),
        event::event(ns, hpa, None, "Warning", "FailedComputeMetricsReplicas", &format!("invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {error}"), &src, count, since_ago, 11),
    ]
}

fn hpa_no_metrics() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline {
        metrics_server: false,
        ..Baseline::default()
    });
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    let state = HpaState::NoMetrics {
        reason: "FailedGetResourceMetric".into(),
        message: format!("the HPA was unable to compute the replica count: {METRICS_ERROR}"),
    };
    let hpa = workload::hpa(
        "shop",
        "frontend",
        86_400 * 100,
        "frontend",
        3,
        12,
        70,
        3,
        &state,
    );
    w.cluster
        .objects_mut("shop", "horizontalpodautoscalers")
        .retain(|h| meta::name_of(h) != "frontend");
    w.cluster.add_all(hpa_events(&hpa, METRICS_ERROR, 3_540));
    w.cluster.add(hpa);
    let findings = vec![finding(
        "hpa-metrics-unavailable",
        &obj("HorizontalPodAutoscaler", "shop", "frontend"),
        &["metrics"],
    )];
    (w.finish(), findings)
}

fn hpa_no_requests() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    let mut app = AppSpec::new(
        "shop",
        "image-resizer",
        "ghcr.io/acme-shop/image-resizer:3.0.1",
        8080,
        2,
        86_400 * 3,
        86_400 * 3,
    );
    app::resources(
        app.main_container(),
        None,
        Some("384Mi"),
        None,
        Some("768Mi"),
    );
    let d = app::deploy_healthy(&mut w, &app);
    common::expose(&mut w, &app, "image-resizer");
    let first = d.pods.first().cloned().unwrap_or_default();
    let error = format!("failed to get cpu utilization: missing request for cpu in container image-resizer of Pod {first}");
    let state = HpaState::NoMetrics {
        reason: "FailedGetResourceMetric".into(),
        message: format!("the HPA was unable to compute the replica count: {error}"),
    };
    let hpa = workload::hpa(
        "shop",
        "image-resizer",
        86_400 * 3 - 60,
        "image-resizer",
        2,
        8,
        75,
        2,
        &state,
    );
    w.cluster.add_all(hpa_events(&hpa, &error, 86_400 * 3 - 90));
    w.cluster.add(hpa);
    let mut findings = vec![finding(
        "hpa-missing-requests",
        &obj("HorizontalPodAutoscaler", "shop", "image-resizer"),
        &["cpu"],
    )];
    // Missing limits are reported once per owning workload.
    findings.push(finding(
        "resources-no-limits",
        &obj("Deployment", "shop", "image-resizer"),
        &["image-resizer"],
    ));
    (w.finish(), findings)
}

#[allow(
    clippy::too_many_lines,
    reason = "one scenario written out as a single script"
)]
fn node_pressure() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    // A memory-hungry batch pod was evicted from the second node and
    // replaced on another one.
    w.cluster.namespace("analytics", 86_400 * 90);
    let mut app = AppSpec::new(
        "analytics",
        "report-worker",
        "ghcr.io/acme-data/report-worker:5.4.0",
        8080,
        1,
        86_400 * 15,
        86_400 * 15,
    );
    app::resources(
        app.main_container(),
        Some("500m"),
        Some("512Mi"),
        Some("1"),
        Some("6Gi"),
    );
    let on_first = w.place_on(0, 1_257);
    let d = app::deploy(&mut w, &app, |_, _, _| {
        (
            PodFate::Placed(on_first.clone()),
            vec![ContainerState::ready(1_240)],
        )
    });
    let replacement_name = d.pods.first().cloned().unwrap_or_default();
    // The replacement is recent even though its ReplicaSet is not.
    if let Some(p) = w.cluster.find_mut("analytics", "pods", &replacement_name) {
        p["metadata"]["creationTimestamp"] = json!(ids::ago(1_258));
        p["metadata"]["managedFields"][0]["time"] = json!(ids::ago(1_258));
    }
    let rs = w
        .cluster
        .objects("analytics", "replicasets")
        .iter()
        .find(|r| meta::name_of(r) == d.replica_set)
        .cloned()
        .unwrap_or(Value::Null);
    let rs_name = d.replica_set.clone();
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let pressured = w
        .nodes
        .get(1)
        .cloned()
        .unwrap_or_else(|| NodeId::from_ip("10.0.2.41"));
    let evicted_name = format!("{rs_name}-{}", ids::suffix("evicted/report-worker", 5));
    let evict_msg = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 87344Ki. Container report-worker was using 5301844Ki, request is 512Mi, has larger consumption of memory. ";
    let mut evicted = pod::pod(
        "analytics",
        &evicted_name,
        86_400 * 15,
        &app.pod_spec,
        &PodFate::Evicted {
            placement: w.place_on(1, 86_400 * 15),
            message: evict_msg.into(),
            at_ago: 1_260,
        },
        &[],
    );
    meta::set_generate_name(&mut evicted, &format!("{rs_name}-"));
    meta::add_labels(
        &mut evicted,
        &[
            ("app.kubernetes.io/name", "report-worker"),
            ("pod-template-hash", &hash),
        ],
    );
    meta::set_owner(&mut evicted, &rs);
    let k = Source::kubelet(&pressured.name);
    w.cluster.add(event::event(
        "analytics",
        &evicted,
        None,
        "Warning",
        "Evicted",
        evict_msg,
        &k,
        1,
        1_260,
        1_260,
    ));
    w.cluster.add(event::event(
        "analytics",
        &evicted,
        Some("spec.containers{report-worker}"),
        "Normal",
        "Killing",
        "Stopping container report-worker",
        &k,
        1,
        1_260,
        1_260,
    ));
    w.cluster.add(evicted);
    w.set_usage(
        "analytics",
        &replacement_name,
        "report-worker",
        (610, 2_950),
    );

    if let Some(n) = baseline::node_mut(&mut w, 1) {
        node::set_condition(
            n,
            "MemoryPressure",
            "True",
            "KubeletHasInsufficientMemory",
            "kubelet has insufficient memory available",
            1_275,
            20,
        );
        node::add_taint(n, "node.kubernetes.io/memory-pressure", "NoSchedule", 1_275);
    }
    let pressured_obj = w
        .cluster
        .cluster_list("nodes")
        .get(1)
        .cloned()
        .unwrap_or(Value::Null);
    w.cluster.add(event::event(
        "default",
        &pressured_obj,
        None,
        "Warning",
        "EvictionThresholdMet",
        "Attempting to reclaim memory",
        &k,
        4,
        1_275,
        310,
    ));
    w.cluster.add(event::event(
        "default",
        &pressured_obj,
        None,
        "Normal",
        "NodeHasInsufficientMemory",
        &format!(
            "Node {} status is now: NodeHasInsufficientMemory",
            pressured.name
        ),
        &k,
        1,
        1_275,
        1_275,
    ));

    // A node the autoscaler added 25 minutes ago, gone silent for 18.
    let (lost, lost_node) = lost_node(&mut w);
    w.cluster.add(lost_node);
    add_lost_kube_proxy(&mut w, &lost);

    let pressured_node = format!("Node/{}", pressured.name);
    let findings = vec![
        finding("node-pressure", &pressured_node, &["MemoryPressure"]),
        // The kubelet's eviction message, and its replacement runs (so the
        // eviction is history, graded below error), caused by the pressure.
        finding(
            "pod-evicted",
            &crate::expected::pod("analytics", &evicted_name),
            &["The node was low on resource: memory", "Running and Ready"],
        )
        .caused_by("node-pressure", &pressured_node),
        finding("node-not-ready", &format!("Node/{}", lost.name), &[]),
    ];
    (w.finish(), findings)
}

/// The kube-proxy DaemonSet pod on a node that stopped reporting: the node
/// lifecycle controller marked it not ready.
/// Node 10.0.1.208, added by the autoscaler 25 minutes ago and unreachable
/// for the last 18: its join and NodeNotReady events are added to `w`, the
/// node itself is returned so callers can add more events before it.
pub(super) fn lost_node(w: &mut crate::world::World) -> (NodeId, Value) {
    let lost = NodeId::from_ip("10.0.1.208");
    let mut lost_node = node::node(&lost, &M5_XLARGE, "general-20250410", 1_520);
    node::make_unreachable(&mut lost_node, 1_080);
    w.cluster.add(event::event(
        "default",
        &lost_node,
        None,
        "Normal",
        "NodeNotReady",
        &format!("Node {} status is now: NodeNotReady", lost.name),
        &Source::controller("node-controller"),
        1,
        1_080,
        1_080,
    ));
    crate::background::node_joined(w, &lost_node, 1_480);
    (lost, lost_node)
}

fn add_lost_kube_proxy(w: &mut crate::world::World, lost: &NodeId) {
    let Some(template) = w
        .cluster
        .objects("kube-system", "pods")
        .iter()
        .find(|p| p["metadata"]["labels"]["k8s-app"] == "kube-proxy")
        .cloned()
    else {
        return;
    };
    let name = format!(
        "kube-proxy-{}",
        ids::suffix(&format!("kube-proxy/{}", lost.name), 5)
    );
    let placement = pod::Placement {
        node: lost.name.clone(),
        host_ip: lost.ip.clone(),
        pod_ip: lost.ip.clone(),
        scheduled_ago: 1_500,
    };
    let mut spec = template["spec"].clone();
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchFields"][0]["values"] = json!([lost.name]);
    let mut p = pod::pod(
        "kube-system",
        &name,
        1_500,
        &spec,
        &PodFate::Placed(placement),
        &[ContainerState::ready(1_490)],
    );
    p["metadata"]["labels"] = template["metadata"]["labels"].clone();
    p["metadata"]["ownerReferences"] = template["metadata"]["ownerReferences"].clone();
    meta::set_generate_name(&mut p, "kube-proxy-");
    if let Some(conds) = p["status"]["conditions"].as_array_mut() {
        for c in conds.iter_mut().filter(|c| c["type"] == "Ready") {
            *c = json!({"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": ids::ago(1_075)});
        }
    }
    meta::add_managed(
        &mut p,
        "kube-controller-manager",
        "Update",
        1_075,
        json!({"f:status": {"f:conditions": {}}}),
        Some("status"),
    );
    w.cluster.add(p);
    if let Some(ds) = w
        .cluster
        .find_mut("kube-system", "daemonsets", "kube-proxy")
    {
        ds["status"]["currentNumberScheduled"] = json!(4);
        ds["status"]["desiredNumberScheduled"] = json!(4);
        ds["status"]["updatedNumberScheduled"] = json!(4);
        ds["status"]["numberUnavailable"] = json!(1);
    }
}

fn no_limits() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    let mut app = AppSpec::new(
        "shop",
        "reporting",
        "ghcr.io/acme-shop/reporting:2.1.4",
        8080,
        2,
        86_400 * 21,
        86_400 * 5,
    );
    app::resources(
        app.main_container(),
        Some("200m"),
        Some("256Mi"),
        None,
        None,
    );
    app::deploy_healthy(&mut w, &app);
    common::expose(&mut w, &app, "reporting");
    // Missing limits are reported once per owning workload.
    let findings = vec![finding(
        "resources-no-limits",
        &obj("Deployment", "shop", "reporting"),
        &["reporting"],
    )];
    (w.finish(), findings)
}
