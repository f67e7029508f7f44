//! Scenarios about the platform under the apps: HPAs that cannot do their
//! job, nodes that take no pods and the TLS Secret of an Ingress — each
//! with the near miss a careless rule would flag.

use serde_json::{json, Value};

use super::common::{self, pod_obj};
use super::healthy::{self, ShopOptions};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline, LB_HOSTNAME};
use crate::builders::event::{self, Source};
use crate::builders::network::{self, Route};
use crate::builders::workload::{self, HpaState};
use crate::builders::{config, meta, node};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::ids;
use crate::world::World;

/// The platform scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "hpa-failures", description: "search-api's HPA is at maxReplicas 6 with CPU at 96 % (ScalingLimited TooManyReplicas); order-worker's HPA cannot write the scale (an admission webhook denies 6 replicas: FailedUpdateScale); checkout-worker's HPA targets Deployment checkout-workers, which does not exist (FailedGetScale). Near miss: catalog's HPA sits at minReplicas (TooFewReplicas).", build: hpa_failures },
    Scenario { name: "node-capacity", description: "ip-10-0-3-122 is cordoned for maintenance. ml-batch asks for 20Gi of memory, more than any m5.xlarge node has even empty (14.2Gi allocatable): Pending, and the cluster autoscaler's node group template has no room either (NotTriggerScaleUp).", build: node_capacity },
    Scenario { name: "ingress-tls-missing", description: "The admin Ingress names TLS Secret admin-tls, which cert-manager never issued. Near miss: Service legacy-search selects nothing because its Deployment is scaled to 0 on purpose.", build: ingress_tls_missing },
];

/// Replaces the conditions (and optionally replicas/metrics) of an HPA.
fn set_hpa_status(hpa: &mut Value, current: i64, desired: i64, conditions: Value) {
    hpa["status"]["currentReplicas"] = json!(current);
    hpa["status"]["desiredReplicas"] = json!(desired);
    hpa["status"]["conditions"] = conditions;
}

fn cond(kind: &str, status: &str, reason: &str, message: &str, ago: i64) -> Value {
    json!({"type": kind, "status": status, "lastTransitionTime": ids::ago(ago), "reason": reason, "message": message})
}

const VALID_METRIC: &str = "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)";

fn scaled_app(w: &mut World, ns: &str, name: &str, image: &str, replicas: i64) {
    let mut app = AppSpec::new(ns, name, image, 8080, replicas, 86_400 * 60, 86_400 * 4);
    app::resources(
        app.main_container(),
        Some("100m"),
        Some("128Mi"),
        Some("500m"),
        Some("256Mi"),
    );
    app::deploy_healthy(w, &app);
}

fn hpa_failures() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("search", 86_400 * 90);
    w.cluster.namespace("orders", 86_400 * 90);
    hpa_at_max(&mut w);
    hpa_scale_denied(&mut w);
    hpa_target_typo(&mut w);
    hpa_at_floor(&mut w);
    let hpa = |ns: &str, n: &str| obj("HorizontalPodAutoscaler", ns, n);
    let findings = vec![
        finding("hpa-at-max", &hpa("search", "search-api"), &["6"]),
        finding(
            "hpa-unable-to-scale",
            &hpa("orders", "order-worker"),
            &["validation.gatekeeper.sh"],
        ),
        finding(
            "hpa-target-missing",
            &hpa("orders", "checkout-worker"),
            &["checkout-workers"],
        ),
    ];
    (w.finish(), findings)
}

/// HPA state for a metric at `u` percent utilization.
fn at_utilization(u: i64) -> HpaState {
    HpaState::Healthy {
        utilization: u,
        average_millis: u,
    }
}

/// At its ceiling, still hot.
fn hpa_at_max(w: &mut World) {
    let hpa_src = Source::controller("horizontal-pod-autoscaler");
    scaled_app(
        w,
        "search",
        "search-api",
        "ghcr.io/acme-shop/search-api:2.7.0",
        6,
    );
    let mut h = workload::hpa(
        "search",
        "search-api",
        86_400 * 50,
        "search-api",
        2,
        6,
        70,
        6,
        &at_utilization(96),
    );
    set_hpa_status(
        &mut h,
        6,
        6,
        json!([
            cond(
                "AbleToScale",
                "True",
                "ReadyForNewScale",
                "recommended size matches current size",
                2_400
            ),
            cond(
                "ScalingActive",
                "True",
                "ValidMetricFound",
                VALID_METRIC,
                86_400 * 50
            ),
            cond(
                "ScalingLimited",
                "True",
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
                2_390
            ),
        ]),
    );
    w.cluster.add(event::event(
        "search",
        &h,
        None,
        "Normal",
        "SuccessfulRescale",
        "New size: 6; reason: cpu resource utilization (percentage of request) above target",
        &hpa_src,
        1,
        2_400,
        2_400,
    ));
    w.cluster.add(h);
}

/// The scale write is denied by policy.
fn hpa_scale_denied(w: &mut World) {
    let hpa_src = Source::controller("horizontal-pod-autoscaler");
    scaled_app(
        w,
        "orders",
        "order-worker",
        "ghcr.io/acme-shop/order-worker:5.0.0",
        4,
    );
    let denied = "admission webhook \"validation.gatekeeper.sh\" denied the request: [orders-replica-limit] Deployment order-worker may not run more than 4 replicas";
    let mut h = workload::hpa(
        "orders",
        "order-worker",
        86_400 * 30,
        "order-worker",
        2,
        10,
        70,
        4,
        &at_utilization(118),
    );
    set_hpa_status(
        &mut h,
        4,
        6,
        json!([
            cond(
                "AbleToScale",
                "False",
                "FailedUpdateScale",
                &format!("the HPA controller was unable to update the target scale: {denied}"),
                1_800
            ),
            cond(
                "ScalingActive",
                "True",
                "ValidMetricFound",
                VALID_METRIC,
                86_400 * 30
            ),
            cond(
                "ScalingLimited",
                "False",
                "DesiredWithinRange",
                "the desired count is within the acceptable range",
                86_400 * 30
            ),
        ]),
    );
    w.cluster.add(event::event("orders", &h, None, "Warning", "FailedRescale", &format!("New size: 6; reason: cpu resource utilization (percentage of request) above target; error: {denied}"), &hpa_src, 120, 1_800, 14));
    w.cluster.add(h);
}

/// A typo in scaleTargetRef.
fn hpa_target_typo(w: &mut World) {
    let hpa_src = Source::controller("horizontal-pod-autoscaler");
    scaled_app(
        w,
        "orders",
        "checkout-worker",
        "ghcr.io/acme-shop/checkout-worker:5.0.0",
        2,
    );
    let not_found = "deployments/scale.apps \"checkout-workers\" not found";
    let mut h = workload::hpa(
        "orders",
        "checkout-worker",
        3_000,
        "checkout-workers",
        2,
        8,
        70,
        0,
        &at_utilization(0),
    );
    set_hpa_status(
        &mut h,
        0,
        0,
        json!([cond(
            "AbleToScale",
            "False",
            "FailedGetScale",
            &format!(
                "the HPA controller was unable to get the target's current scale: {not_found}"
            ),
            2_985
        ),]),
    );
    if let Some(m) = h["status"].as_object_mut() {
        m.remove("currentMetrics");
    }
    w.cluster.add(event::event(
        "orders",
        &h,
        None,
        "Warning",
        "FailedGetScale",
        not_found,
        &hpa_src,
        199,
        2_985,
        9,
    ));
    w.cluster.add(h);
}

/// Near miss: quiet, held at its floor.
fn hpa_at_floor(w: &mut World) {
    scaled_app(w, "search", "catalog", "ghcr.io/acme-shop/catalog:5.2.0", 2);
    let mut h = workload::hpa(
        "search",
        "catalog",
        86_400 * 50,
        "catalog",
        2,
        8,
        70,
        2,
        &at_utilization(12),
    );
    set_hpa_status(
        &mut h,
        2,
        2,
        json!([
            cond(
                "AbleToScale",
                "True",
                "ReadyForNewScale",
                "recommended size matches current size",
                86_400 * 2
            ),
            cond(
                "ScalingActive",
                "True",
                "ValidMetricFound",
                VALID_METRIC,
                86_400 * 50
            ),
            cond(
                "ScalingLimited",
                "True",
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
                86_400 * 2
            ),
        ]),
    );
    w.cluster.add(h);
}

/// The cluster autoscaler, as its Helm chart deploys it on EKS.
fn cluster_autoscaler(w: &mut World) {
    let mut app = AppSpec::new(
        "kube-system",
        "cluster-autoscaler",
        "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0",
        8085,
        1,
        86_400 * 150,
        86_400 * 20,
    );
    app.selector_labels = vec![(
        "app.kubernetes.io/name".into(),
        "aws-cluster-autoscaler".into(),
    )];
    let c = app.main_container();
    c["command"] = json!(["./cluster-autoscaler", "--cloud-provider=aws", "--namespace=kube-system", "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod-use1", "--logtostderr=true", "--stderrthreshold=info", "--v=4"]);
    c["ports"] = json!([{"containerPort": 8085, "protocol": "TCP"}]);
    c["livenessProbe"] =
        json!({"httpGet": {"path": "/health-check", "port": 8085, "scheme": "HTTP"}});
    if let Some(m) = c.as_object_mut() {
        m.remove("readinessProbe");
    }
    app::resources(c, Some("100m"), Some("300Mi"), Some("100m"), Some("300Mi"));
    app.pod_spec["priorityClassName"] = json!("system-cluster-critical");
    app.pod_spec["serviceAccountName"] = json!("cluster-autoscaler");
    app::deploy_healthy(w, &app);
}

fn node_capacity() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    cluster_autoscaler(&mut w);
    let cordoned = w.nodes.get(2).cloned().map(|n| n.name).unwrap_or_default();
    if let Some(n) = baseline::node_mut(&mut w, 2) {
        n["spec"]["unschedulable"] = json!(true);
        node::add_taint(n, "node.kubernetes.io/unschedulable", "NoSchedule", 5_400);
    }
    let node_obj = w
        .cluster
        .cluster_list("nodes")
        .get(2)
        .cloned()
        .unwrap_or(Value::Null);
    let mut kubelet_ref = node_obj.clone();
    kubelet_ref["metadata"]["uid"] = json!(cordoned);
    w.cluster.add(event::event(
        "default",
        &kubelet_ref,
        None,
        "Normal",
        "NodeNotSchedulable",
        &format!("Node {cordoned} status is now: NodeNotSchedulable"),
        &Source::kubelet(&cordoned),
        1,
        5_400,
        5_400,
    ));

    w.cluster.namespace("ml", 86_400 * 30);
    let mut app = AppSpec::new(
        "ml",
        "ml-batch",
        "ghcr.io/acme-data/ml-batch:0.14.2",
        8080,
        1,
        1_900,
        1_900,
    );
    app::resources(
        app.main_container(),
        Some("2"),
        Some("20Gi"),
        Some("2"),
        Some("20Gi"),
    );
    let msg = "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.";
    let pending = common::unschedulable(&mut w, &app, msg, 1_898);
    let p = pod_obj(&w, "ml", &pending);
    let ca = Source::controller("cluster-autoscaler");
    w.cluster.add(event::event(
        "ml",
        &p,
        None,
        "Normal",
        "NotTriggerScaleUp",
        "pod didn't trigger scale-up: 1 Insufficient memory",
        &ca,
        95,
        1_890,
        16,
    ));
    let findings = vec![
        finding("node-cordoned", &format!("Node/{cordoned}"), &[]),
        // Pending because the request exceeds what any node has at all.
        finding(
            "pod-unschedulable",
            &pod("ml", &pending),
            &["Insufficient memory"],
        )
        .caused_by("node-no-room", &pod("ml", &pending)),
        finding("node-no-room", &pod("ml", &pending), &["memory"]),
        finding(
            "autoscaler-no-scale-up",
            &pod("ml", &pending),
            &["Insufficient memory"],
        ),
    ];
    (w.finish(), findings)
}

fn ingress_tls_missing() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    let admin = AppSpec::new(
        "shop",
        "admin",
        "ghcr.io/acme-shop/admin:3.0.2",
        8080,
        1,
        86_400 * 5,
        86_400 * 5,
    );
    app::deploy_healthy(&mut w, &admin);
    common::expose(&mut w, &admin, "admin");
    let route = Route {
        host: "admin.acme.example".into(),
        path: "/".into(),
        service: "admin".into(),
        port: json!({"name": "http"}),
    };
    let mut ing = network::ingress(
        "shop",
        "admin",
        86_400 * 5,
        "nginx",
        &[route],
        Some(("admin-tls", &["admin.acme.example"])),
        Some(LB_HOSTNAME),
    );
    meta::add_annotations(
        &mut ing,
        &[("cert-manager.io/cluster-issuer", "letsencrypt-prod")],
    );
    w.cluster.add(ing);
    let pods: Vec<String> = w
        .cluster
        .objects("ingress-nginx", "pods")
        .iter()
        .map(|p| meta::name_of(p).to_string())
        .collect();
    for name in &pods {
        let text = format!("W1120 {}       7 backend_ssl.go:47] Error obtaining X.509 certificate: no object matching key \"shop/admin-tls\" in local store\n", common::iso_ms(400, 120).get(11..23).unwrap_or("14:25:18.120"));
        w.cluster
            .add_log("ingress-nginx", name, "controller", false, &text);
    }
    // Near miss: switched off on purpose, its Service selects nothing.
    let mut legacy = AppSpec::new(
        "shop",
        "legacy-search",
        "ghcr.io/acme-shop/legacy-search:1.9.9",
        8080,
        0,
        86_400 * 300,
        86_400 * 30,
    );
    legacy.replicas = 0;
    app::deploy_healthy(&mut w, &legacy);
    common::expose(&mut w, &legacy, "legacy-search");
    w.cluster.add(config::config_map(
        "shop",
        "legacy-search-config",
        86_400 * 300,
        86_400 * 300,
        "helm",
        &[("INDEX", "products-v1")],
    ));
    let findings = vec![finding(
        "ingress-tls-secret-missing",
        &obj("Ingress", "shop", "admin"),
        &["admin-tls"],
    )];
    (w.finish(), findings)
}
