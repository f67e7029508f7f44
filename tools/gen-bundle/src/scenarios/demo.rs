//! The demo: two namespaces, several failures at once, including a chain
//! Ingress → Service without ready endpoints → pods in CrashLoopBackOff
//! because they are OOMKilled; plus a stale ConfigMap and a pending pod.

use serde_json::json;

use super::common::{self, crashloop_events, pod_obj, pod_ref};
use super::healthy::{self, ShopOptions};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::network::Route;
use crate::builders::pod::{ContainerState, PodFate, Terminated};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};

/// The demo scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "demo",
    description: "shop: /api/recommendations on the shop Ingress has no ready endpoints because every recommendations pod is OOMKilled and in CrashLoopBackOff; frontend-config changed after the frontend pods started. payments: fraud-scorer is Pending, no node has enough CPU.",
    build,
};

#[allow(
    clippy::too_many_lines,
    reason = "one scenario written out as a single script"
)]
fn build() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    let route = Route {
        host: "shop.acme.example".into(),
        path: "/api/recommendations".into(),
        service: "recommendations".into(),
        port: json!({"number": 80}),
    };
    let opts = ShopOptions {
        extra_routes: vec![route],
        config_changed_ago: Some(2_700),
        secret_changed_ago: None,
        ..ShopOptions::default()
    };
    healthy::shop(&mut w, "shop", &opts);
    let mut findings = vec![];

    // The chain: recommendations pods are OOMKilled over and over.
    let image = "ghcr.io/acme-shop/recommendations:1.9.0";
    let age = 86_400 * 30;
    let rollout = 3_400;
    let mut app = AppSpec::new("shop", "recommendations", image, 8080, 2, age, rollout);
    app::resources(
        app.main_container(),
        Some("250m"),
        Some("512Mi"),
        Some("1"),
        Some("512Mi"),
    );
    app.main_container()["env"] =
        json!([{"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=90.0"}]);
    let mut nodes = vec![];
    let d = app::deploy(&mut w, &app, |i, name, pl| {
        nodes.push(pl.node.clone());
        let off = i as i64 * 13;
        let st = ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some(common::crashloop_message(
                &pod_ref("shop", name),
                "recommendations",
                "5m0s",
            )),
            restarts: 9,
            last: Some(Terminated::new("OOMKilled", 137, 262 + off, 171 + off)),
        };
        (PodFate::Placed(pl), vec![st])
    });
    common::expose(&mut w, &app, "recommendations");
    for (i, (name, node)) in d.pods.iter().zip(&nodes).enumerate() {
        let p = pod_obj(&w, "shop", name);
        w.cluster.add_all(crashloop_events(
            &p,
            "recommendations",
            image,
            node,
            9,
            rollout - 40,
            30 + i as i64 * 13,
        ));
        let log = format!(
            "{} INFO  [main] c.a.r.RecommendationsApplication : Started RecommendationsApplication in 6.981 seconds (process running for 7.84)\n\
{} INFO  [scheduler-1] c.a.r.model.ModelRefresher : refreshing similarity model: 2411087 items\n",
            common::iso_ms(255, 302),
            common::iso_ms(190, 44)
        );
        w.cluster
            .add_log("shop", name, "recommendations", true, &log);
        findings.push(finding("pod-oom-killed", &pod("shop", name), &["512Mi"]));
    }
    let first = pod("shop", d.pods.first().map_or("", String::as_str));
    let svc = obj("Service", "shop", "recommendations");
    findings
        .push(finding("service-no-ready-endpoints", &svc, &[]).caused_by("pod-oom-killed", &first));
    findings.push(
        finding(
            "ingress-backend-no-endpoints",
            &obj("Ingress", "shop", "shop"),
            &["recommendations"],
        )
        .caused_by("service-no-ready-endpoints", &svc),
    );

    // The stale ConfigMap: changed 45 minutes ago, frontend pods are days old.
    findings.push(finding(
        "config-stale-configmap",
        &obj("ConfigMap", "shop", "frontend-config"),
        &["frontend"],
    ));

    // payments: a healthy API and a scorer that does not fit anywhere.
    w.cluster.namespace("payments", 86_400 * 140);
    common::neighbour(
        &mut w,
        "payments",
        "payments-api",
        "ghcr.io/acme-pay/payments-api:4.7.3",
    );
    let mut scorer = AppSpec::new(
        "payments",
        "fraud-scorer",
        "ghcr.io/acme-pay/fraud-scorer:0.4.2",
        8080,
        1,
        1_860,
        1_860,
    );
    let request = common::cpu_request_that_does_not_fit(&w).unwrap_or(3_000);
    let req = format!("{request}m");
    app::resources(
        scorer.main_container(),
        Some(&req),
        Some("2Gi"),
        Some(&req),
        Some("2Gi"),
    );
    let n = w.nodes.len();
    let pending = common::unschedulable(
        &mut w,
        &scorer,
        &common::insufficient_message(n, "cpu"),
        1_858,
    );
    findings.push(finding(
        "pod-unschedulable",
        &pod("payments", &pending),
        &["Insufficient cpu"],
    ));
    (w.finish(), findings)
}
