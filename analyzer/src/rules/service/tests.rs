//! Tests of the service rules on realistic objects.

use serde_json::json;

use super::testkit::{event, obj, pod, series_event, service, Fixture};
use super::{resolve_target_port, run, PortResolution};

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
        obj(pod(
            "payments",
            "payments-api-7c9d8f6b5-x2x7q",
            web_labels(),
            true,
            http_port(),
        )),
        obj(pod(
            "payments",
            "payments-api-7c9d8f6b5-kq4zn",
            web_labels(),
            true,
            http_port(),
        )),
        obj(pod(
            "payments",
            "ledger-5d8f9c7b6-abcde",
            json!({"app": "ledger"}),
            true,
            http_port(),
        )),
    ];
    fx.ns.services = vec![obj(service(
        "payments",
        "payments-api",
        json!({"app": "paymnets-api"}),
        json!([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]),
    ))];
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
    fx.ns.pods = vec![obj(pod(
        "shop",
        "web-7c9d8f6b5-x2x7q",
        json!({"app": "web", "tier": "frontend"}),
        true,
        http_port(),
    ))];
    fx.ns.services = vec![obj(service(
        "shop",
        "web",
        json!({"app": "web", "tier": "front-end"}),
        json!([{"port": 80, "targetPort": 8080}]),
    ))];
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
    fx.ns.services = vec![obj(service(
        "shop",
        "web",
        json!({"app": "web"}),
        json!([{"port": 80}]),
    ))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-no-ready-endpoints"]);
    assert!(out[0].cause.contains("Deployment web"), "{}", out[0].cause);
    assert!(out[0].cause.contains("spec.replicas 0"));
}

#[test]
fn no_ready_endpoints_quotes_the_readiness_failure_with_count() {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = vec![
        obj(pod(
            "shop",
            "web-7c9d8f6b5-x2x7q",
            json!({"app": "web"}),
            false,
            http_port(),
        )),
        obj(pod(
            "shop",
            "web-7c9d8f6b5-kq4zn",
            json!({"app": "web"}),
            false,
            http_port(),
        )),
    ];
    let msg = "Readiness probe failed: HTTP probe failed with statuscode: 503";
    fx.ns.events = vec![
        obj(event(
            "shop",
            "Pod",
            "web-7c9d8f6b5-x2x7q",
            "Warning",
            "Unhealthy",
            msg,
            42,
        )),
        // The newer series-only shape counts from series.count.
        obj(series_event(
            "shop",
            "Pod",
            "web-7c9d8f6b5-kq4zn",
            "Unhealthy",
            msg,
            17,
        )),
    ];
    fx.ns.services = vec![obj(service(
        "shop",
        "web",
        json!({"app": "web"}),
        json!([{"port": 80, "targetPort": "http"}]),
    ))];
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
        obj(pod(
            "shop",
            "web-1",
            json!({"app": "web"}),
            false,
            http_port(),
        )),
        obj(pod(
            "shop",
            "web-2",
            json!({"app": "web"}),
            true,
            http_port(),
        )),
    ];
    fx.ns.services = vec![obj(service(
        "shop",
        "web",
        json!({"app": "web"}),
        json!([{"port": 80, "targetPort": 8080}]),
    ))];
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn not_running_pods_are_explained_by_status() {
    let mut fx = Fixture::new("shop");
    let mut p = pod(
        "shop",
        "web-7c9d8f6b5-x2x7q",
        json!({"app": "web"}),
        false,
        http_port(),
    );
    p["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=app pod=web-7c9d8f6b5-x2x7q_shop(uid)"}});
    p["status"]["containerStatuses"][0]["restartCount"] = json!(12);
    p["status"]["containerStatuses"][0]["started"] = json!(false);
    fx.ns.pods = vec![obj(p)];
    fx.ns.services = vec![obj(service(
        "shop",
        "web",
        json!({"app": "web"}),
        json!([{"port": 80, "targetPort": 8080}]),
    ))];
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
    fx.ns.pods = vec![obj(pod(
        "shop",
        "web-1",
        json!({"app": "web"}),
        false,
        http_port(),
    ))];
    fx.ns.services = vec![obj(service(
        "shop",
        "web",
        json!({"app": "web"}),
        json!([{"port": 80, "targetPort": 8080}]),
    ))];
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
    fx.ns.pods = vec![obj(pod(
        "shop",
        "web-1",
        json!({"app": "web"}),
        true,
        json!([{"name": "web", "containerPort": 8080}]),
    ))];
    fx.ns.services = vec![obj(service(
        "shop",
        "web",
        json!({"app": "web"}),
        json!([{"name": "http", "port": 80, "targetPort": "http"}]),
    ))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["service-target-port-mismatch"]);
    assert!(
        out[0].cause.contains("port 80 targets named port http but the selected pods (web-1) declare 8080/TCP (web) in app"),
        "{}",
        out[0].cause
    );
}

#[test]
fn numeric_target_port_checks_declared_ports_only_when_declared() {
    let svc_port: k8s_openapi::api::core::v1::ServicePort =
        obj(json!({"port": 80, "targetPort": 3000}));
    let declared: k8s_openapi::api::core::v1::Pod =
        obj(pod("shop", "a", json!({}), true, http_port()));
    let undeclared: k8s_openapi::api::core::v1::Pod =
        obj(pod("shop", "b", json!({}), true, json!(null)));
    assert_eq!(
        resolve_target_port(&svc_port, &declared),
        PortResolution::Missing
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
        obj(service(
            "shop",
            "legacy",
            json!(null),
            json!([{"port": 5432}]),
        )),
    ];
    assert!(run(&fx.ctx()).is_empty());
}
