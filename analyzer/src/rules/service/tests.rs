//! Tests of the service rules on realistic objects.

use serde_json::json;

use super::ports::{resolve_target_port, PortResolution};
use super::run;
use crate::testkit::{obj, EventFixture, Fixture, PodFixture, ServiceFixture};

fn web_labels() -> serde_json::Value {
    json!({"app": "payments-api", "pod-template-hash": "7c9d8f6b5"})
}

fn http_port() -> serde_json::Value {
    json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"}])
}

fn rules(f: &[kpm_model::Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn selector_typo_names_closest_pods_and_the_difference() {
    let mut fx = Fixture::new("payments");
    fx.ns.pods = vec![
        obj(PodFixture::new("payments", "payments-api-7c9d8f6b5-x2x7q")
            .labels(web_labels())
            .ports(http_port())
            .build()),
        obj(PodFixture::new("payments", "payments-api-7c9d8f6b5-kq4zn")
            .labels(web_labels())
            .ports(http_port())
            .build()),
        obj(PodFixture::new("payments", "ledger-5d8f9c7b6-abcde")
            .labels(json!({"app": "ledger"}))
            .ports(http_port())
            .build()),
    ];
    fx.ns.services = vec![obj(ServiceFixture::new("payments", "payments-api")
        .selector(json!({"app": "paymnets-api"}))
        .ports(json!([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]))
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-selector-mismatch"]);
    let f = &out[0];
    assert_eq!(
        f.id,
        "service-selector-mismatch:Service/payments/payments-api"
    );
    assert!(
        f.cause.contains(
            "selector app=paymnets-api, closest pods carry app=payments-api (1 character differs)"
        ),
        "{}",
        f.cause
    );
    assert!(f.cause.contains("payments-api-7c9d8f6b5-x2x7q"));
    assert!(!f.cause.contains("ledger"));
    assert_eq!(f.related.len(), 2);
    assert!(f
        .next_steps
        .iter()
        .any(|s| s.command == "kubectl -n payments get pods -l app=paymnets-api --show-labels"));
}

#[test]
fn multi_key_selector_reports_only_the_differing_key() {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = vec![obj(PodFixture::new("shop", "web-7c9d8f6b5-x2x7q")
        .labels(json!({"app": "web", "tier": "frontend"}))
        .ports(http_port())
        .build())];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
        .selector(json!({"app": "web", "tier": "front-end"}))
        .ports(json!([{"port": 80, "targetPort": 8080}]))
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-selector-mismatch"]);
    assert!(
        out[0].cause.contains(
            "closest pods carry tier=frontend (1 character differs) (they match app=web)"
        ),
        "{}",
        out[0].cause
    );
}

#[test]
fn selector_matching_a_scaled_down_deployment_is_not_a_mismatch() {
    let mut fx = Fixture::new("shop");
    fx.ns.deployments = vec![obj(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}
    }))];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
        .selector(json!({"app": "web"}))
        .ports(json!([{"port": 80}]))
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-no-ready-endpoints"]);
    assert!(out[0].cause.contains("Deployment web"), "{}", out[0].cause);
    assert!(out[0].cause.contains("scaled to 0 (spec.replicas 0)"));
    // Scaled to 0 on purpose: a remark, not an incident.
    assert_eq!(out[0].severity, kpm_model::Severity::Info);
}

#[test]
fn workload_wanting_replicas_without_pods_keeps_its_grade() {
    let mut fx = Fixture::new("shop");
    fx.ns.statefulsets = vec![obj(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}
    }))];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "db")
        .selector(json!({"app": "db"}))
        .ports(json!([{"port": 5432}]))
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-no-ready-endpoints"]);
    assert_eq!(out[0].severity, kpm_model::Severity::Critical);
    assert!(
        out[0].cause.contains("has no pods (spec.replicas 2)"),
        "{}",
        out[0].cause
    );
}

#[test]
fn bare_replicaset_scaled_to_zero_is_not_a_mismatch() {
    let mut fx = Fixture::new("shop");
    fx.ns.replicasets = vec![obj(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "worker", "namespace": "shop"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "worker"}},
                 "template": {"metadata": {"labels": {"app": "worker"}},
                              "spec": {"containers": [{"name": "w", "image": "busybox:1.36"}]}}}
    }))];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "worker")
        .selector(json!({"app": "worker"}))
        .ports(json!([{"port": 80}]))
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-no-ready-endpoints"]);
    assert_eq!(out[0].severity, kpm_model::Severity::Info);
    assert!(
        out[0].cause.contains("ReplicaSet worker"),
        "{}",
        out[0].cause
    );
}

/// A second Service one character away from pods that their own Service
/// already selects, with nothing routing to it, is a stale leftover (as
/// kotsadm-nfs-minio next to kotsadm-fs-minio on a real k3s capture).
#[test]
fn stale_service_next_to_the_real_one_is_a_warning() {
    let mut fx = Fixture::new("default");
    fx.ns.pods = vec![obj(PodFixture::new(
        "default",
        "kotsadm-fs-minio-5f7799dff8-tl95g",
    )
    .labels(json!({"app": "kotsadm-fs-minio"}))
    .ports(json!([{"containerPort": 9000}]))
    .build())];
    fx.ns.services = vec![
        obj(ServiceFixture::new("default", "kotsadm-nfs-minio")
            .selector(json!({"app": "kotsadm-nfs-minio"}))
            .ports(json!([{"port": 9000}]))
            .build()),
        obj(ServiceFixture::new("default", "kotsadm-fs-minio")
            .selector(json!({"app": "kotsadm-fs-minio"}))
            .ports(json!([{"port": 9000}]))
            .build()),
    ];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-selector-mismatch"]);
    assert_eq!(out[0].severity, kpm_model::Severity::Warning);
    assert!(
        out[0]
            .cause
            .contains("already selected by Service kotsadm-fs-minio"),
        "{}",
        out[0].cause
    );
    // The same Service behind an Ingress is a real outage.
    fx.ns.ingresses = vec![obj(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "minio", "namespace": "default"},
        "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "kotsadm-nfs-minio", "port": {"number": 9000}}}}]}}]}
    }))];
    let out = run(&fx.ctx());
    assert_eq!(out[0].severity, kpm_model::Severity::Critical);
    assert!(out[0].related.iter().any(|r| r.kind == "Ingress"));
}

#[test]
fn numeric_target_port_not_declared_is_an_info_remark() {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = vec![obj(PodFixture::new("shop", "web-1")
        .labels(json!({"app": "web"}))
        .ports(http_port())
        .build())];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
        .selector(json!({"app": "web"}))
        .ports(json!([{"name": "http", "port": 80, "targetPort": 9080}]))
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-target-port-mismatch"]);
    assert_eq!(out[0].severity, kpm_model::Severity::Info);
    assert!(
        out[0].cause.contains("port 80 targets port 9080"),
        "{}",
        out[0].cause
    );
    assert!(!out[0].cause.contains("fail"), "{}", out[0].cause);
}

#[test]
fn no_ready_endpoints_quotes_the_readiness_failure_with_count() {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = vec![
        obj(PodFixture::new("shop", "web-7c9d8f6b5-x2x7q")
            .labels(json!({"app": "web"}))
            .not_ready()
            .ports(http_port())
            .build()),
        obj(PodFixture::new("shop", "web-7c9d8f6b5-kq4zn")
            .labels(json!({"app": "web"}))
            .not_ready()
            .ports(http_port())
            .build()),
    ];
    let msg = "Readiness probe failed: HTTP probe failed with statuscode: 503";
    fx.ns.events = vec![
        obj(EventFixture::about("shop", "Pod", "web-7c9d8f6b5-x2x7q")
            .says("Unhealthy", msg)
            .count(42)
            .build()),
        // The newer series-only shape counts from series.count.
        obj(EventFixture::about("shop", "Pod", "web-7c9d8f6b5-kq4zn")
            .says("Unhealthy", msg)
            .count(17)
            .series()
            .build()),
    ];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
        .selector(json!({"app": "web"}))
        .ports(json!([{"port": 80, "targetPort": "http"}]))
        .build())];
    fx.ns.endpoints = vec![obj(json!({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "shop"},
        "subsets": [{"notReadyAddresses": [
            {"ip": "10.244.1.17", "targetRef": {"kind": "Pod", "name": "web-7c9d8f6b5-x2x7q", "namespace": "shop"}},
            {"ip": "10.244.2.9", "targetRef": {"kind": "Pod", "name": "web-7c9d8f6b5-kq4zn", "namespace": "shop"}}],
            "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]}]
    }))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-no-ready-endpoints"]);
    let f = &out[0];
    assert_eq!(f.layer, kpm_model::Layer::Endpoints);
    assert!(
        f.cause.contains("matches 2 pods but none is ready"),
        "{}",
        f.cause
    );
    // Same message on both pods: one group, counts summed over the classic
    // event's 42 and the series-only event's 17.
    assert!(f.cause.contains("web-7c9d8f6b5-x2x7q, web-7c9d8f6b5-kq4zn: readiness probe failing: `Readiness probe failed: HTTP probe failed with statuscode: 503` (59 times)"), "{}", f.cause);
    assert_eq!(f.related.len(), 2);
    assert!(f.evidence.iter().any(|e| matches!(e, kpm_model::Evidence::Field { value, .. } if value.starts_with("0 ready, 2 not ready"))));
}

#[test]
fn one_ready_pod_is_enough() {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = vec![
        obj(PodFixture::new("shop", "web-1")
            .labels(json!({"app": "web"}))
            .not_ready()
            .ports(http_port())
            .build()),
        obj(PodFixture::new("shop", "web-2")
            .labels(json!({"app": "web"}))
            .ports(http_port())
            .build()),
    ];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
        .selector(json!({"app": "web"}))
        .ports(json!([{"port": 80, "targetPort": 8080}]))
        .build())];
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn not_running_pods_are_explained_by_status() {
    let mut fx = Fixture::new("shop");
    let mut p = PodFixture::new("shop", "web-7c9d8f6b5-x2x7q")
        .labels(json!({"app": "web"}))
        .not_ready()
        .ports(http_port())
        .build();
    p["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=app pod=web-7c9d8f6b5-x2x7q_shop(uid)"}});
    p["status"]["containerStatuses"][0]["restartCount"] = json!(12);
    p["status"]["containerStatuses"][0]["started"] = json!(false);
    fx.ns.pods = vec![obj(p)];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
        .selector(json!({"app": "web"}))
        .ports(json!([{"port": 80, "targetPort": 8080}]))
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-no-ready-endpoints"]);
    assert!(
        out[0]
            .cause
            .contains("not running: STATUS CrashLoopBackOff"),
        "{}",
        out[0].cause
    );
}

#[test]
fn endpointslice_only_corroboration_is_counted() {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = vec![obj(PodFixture::new("shop", "web-1")
        .labels(json!({"app": "web"}))
        .not_ready()
        .ports(http_port())
        .build())];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
        .selector(json!({"app": "web"}))
        .ports(json!([{"port": 80, "targetPort": 8080}]))
        .build())];
    fx.ns.endpoint_slices = vec![obj(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": "web-x7k2p", "namespace": "shop",
                     "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "endpoints": [{"addresses": ["10.244.1.17"], "conditions": {"ready": false, "serving": false, "terminating": false},
                       "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop"}, "nodeName": "worker-1"}],
        "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]
    }))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-no-ready-endpoints"]);
    assert!(out[0].evidence.iter().any(
        |e| matches!(e, kpm_model::Evidence::Field { value, .. } if value == "0 ready, 1 not ready")
    ));
}

#[test]
fn named_target_port_missing_from_containers() {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = vec![obj(PodFixture::new("shop", "web-1")
        .labels(json!({"app": "web"}))
        .ports(json!([{"name": "web", "containerPort": 8080}]))
        .build())];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
        .selector(json!({"app": "web"}))
        .ports(json!([{"name": "http", "port": 80, "targetPort": "http"}]))
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-target-port-mismatch"]);
    assert_eq!(out[0].severity, kpm_model::Severity::Critical);
    assert!(
        out[0].cause.contains("port 80 targets named port http but the selected pods (web-1) declare 8080/TCP (web) in app"),
        "{}",
        out[0].cause
    );
}

#[test]
fn numeric_target_port_is_valid_whether_declared_or_not() {
    let svc_port: k8s_openapi::api::core::v1::ServicePort =
        obj(json!({"port": 80, "targetPort": 3000}));
    let declared: k8s_openapi::api::core::v1::Pod =
        obj(PodFixture::new("shop", "a").ports(http_port()).build());
    let undeclared: k8s_openapi::api::core::v1::Pod = obj(PodFixture::new("shop", "b").build());
    assert_eq!(
        resolve_target_port(&svc_port, &declared),
        PortResolution::NotDeclared
    );
    assert_eq!(
        resolve_target_port(&svc_port, &undeclared),
        PortResolution::Undeclared
    );
    let ok: k8s_openapi::api::core::v1::ServicePort = obj(json!({"port": 8080}));
    assert_eq!(
        resolve_target_port(&ok, &declared),
        PortResolution::Found("app".into(), 8080)
    );
    // A UDP Service port does not resolve onto a TCP container port.
    let udp: k8s_openapi::api::core::v1::ServicePort =
        obj(json!({"port": 53, "targetPort": "http", "protocol": "UDP"}));
    assert_eq!(
        resolve_target_port(&udp, &declared),
        PortResolution::Missing
    );
}

#[test]
fn external_name_and_selectorless_services_are_left_alone() {
    let mut fx = Fixture::new("shop");
    fx.ns.services = vec![
        obj(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "shop"},
                   "spec": {"type": "ExternalName", "externalName": "db.example.com"}}),
        ),
        obj(ServiceFixture::new("shop", "legacy")
            .ports(json!([{"port": 5432}]))
            .build()),
    ];
    assert!(run(&fx.ctx()).is_empty());
}
