//! Tests of the ingress rules on realistic objects.

use std::collections::BTreeMap;

use serde_json::json;

use super::run;
use crate::context::{InfraPod, IngressController};
use crate::testkit::{obj, Fixture, PodFixture, ServiceFixture};
use kpm_model::ObjectRef;

fn ingress(
    backend_service: &str,
    port: serde_json::Value,
    tls: serde_json::Value,
) -> serde_json::Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "shop", "uid": "ing-1", "generation": 1,
                     "creationTimestamp": "2026-11-20T12:00:00Z"},
        "spec": {
            "ingressClassName": "nginx",
            "tls": tls,
            "rules": [{"host": "shop.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": backend_service, "port": port}}},
                {"path": "/api", "pathType": "Prefix",
                 "backend": {"service": {"name": backend_service, "port": port}}}
            ]}}]
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}
    })
}

fn nginx_class() -> serde_json::Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
           "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
           "spec": {"controller": "k8s.io/ingress-nginx"}})
}

fn controller(running: bool, ready: bool) -> IngressController {
    let labels: BTreeMap<String, String> = [
        ("app.kubernetes.io/name", "ingress-nginx"),
        ("app.kubernetes.io/component", "controller"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    IngressController {
        pod: InfraPod {
            object: ObjectRef::namespaced(
                "Pod",
                "ingress-nginx",
                "ingress-nginx-controller-5c9d7b8f4-q8wzt",
            ),
            labels,
            node: Some("worker-1".into()),
            phase: "Running".into(),
            running,
            ready,
            images: vec!["registry.k8s.io/ingress-nginx/controller:v1.12.1".into()],
            args: vec![
                "/nginx-ingress-controller".into(),
                "--controller-class=k8s.io/ingress-nginx".into(),
            ],
            log_files: Vec::new(),
        },
        implementation: "ingress-nginx".into(),
        controller_class: Some("k8s.io/ingress-nginx".into()),
        ingress_class: None,
    }
}

fn healthy_fixture() -> Fixture {
    let mut fx = Fixture::new("shop");
    fx.cluster.ingress_classes = vec![obj(nginx_class())];
    fx.cluster.infra.ingress_controllers = vec![controller(true, true)];
    fx.ns.pods = vec![obj(PodFixture::new("shop", "web-7c9d8f6b5-x2x7q")
        .labels(json!({"app": "web"}))
        .ports(json!([{"name": "http", "containerPort": 8080}]))
        .build())];
    fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
        .selector(json!({"app": "web"}))
        .ports(json!([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]))
        .build())];
    fx.ns.secrets = vec![obj(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "shop-tls", "namespace": "shop", "annotations": {"kpm.dev/values-removed": "true"}},
        "data": {"tls.crt": "", "tls.key": ""}}),
    )];
    fx
}

fn rules(f: &[kpm_model::Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn healthy_ingress_has_no_findings() {
    let mut fx = healthy_fixture();
    fx.ns.ingresses = vec![obj(ingress(
        "web",
        json!({"name": "http"}),
        json!([{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]),
    ))];
    assert!(run(&fx.ctx()).is_empty(), "{:?}", run(&fx.ctx()));
    // By number too.
    fx.ns.ingresses = vec![obj(ingress("web", json!({"number": 80}), json!(null)))];
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn missing_service_is_named_once_for_all_paths() {
    let mut fx = healthy_fixture();
    fx.ns.ingresses = vec![obj(ingress(
        "web-frontend",
        json!({"number": 80}),
        json!(null),
    ))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["ingress-backend-service-missing"]);
    let f = &out[0];
    assert_eq!(f.id, "ingress-backend-service-missing:Ingress/shop/shop");
    assert!(
        f.cause.contains("routes shop.example.com/, shop.example.com/api to Service web-frontend, which does not exist in namespace shop"),
        "{}",
        f.cause
    );
    assert_eq!(
        f.related,
        vec![ObjectRef::namespaced("Service", "shop", "web-frontend")]
    );
}

#[test]
fn wrong_port_by_number_and_by_name() {
    let mut fx = healthy_fixture();
    fx.ns.ingresses = vec![obj(ingress("web", json!({"number": 8080}), json!(null)))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["ingress-backend-port-missing"]);
    assert!(
        out[0]
            .cause
            .contains("port 8080 of Service web (which exposes 80 (http))"),
        "{}",
        out[0].cause
    );

    fx.ns.ingresses = vec![obj(ingress("web", json!({"name": "https"}), json!(null)))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["ingress-backend-port-missing"]);
    assert!(
        out[0].cause.contains("port https of Service web"),
        "{}",
        out[0].cause
    );
}

#[test]
fn backend_without_ready_pods_is_linked_to_the_service() {
    let mut fx = healthy_fixture();
    fx.ns.pods = vec![obj(PodFixture::new("shop", "web-7c9d8f6b5-x2x7q")
        .labels(json!({"app": "web"}))
        .not_ready()
        .ports(json!([{"name": "http", "containerPort": 8080}]))
        .build())];
    fx.ns.ingresses = vec![obj(ingress("web", json!({"number": 80}), json!(null)))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["ingress-backend-no-endpoints"]);
    assert!(
        out[0]
            .cause
            .contains("routes to Service web, which has no ready endpoints (0 of its 1 selected pods are ready: Running but not Ready (READY 0/1)"),
        "{}",
        out[0].cause
    );
    assert_eq!(
        out[0].related,
        vec![ObjectRef::namespaced("Service", "shop", "web")]
    );
}

#[test]
fn tls_secret_missing_unless_secrets_were_not_collected() {
    let mut fx = healthy_fixture();
    fx.ns.ingresses = vec![obj(ingress(
        "web",
        json!({"number": 80}),
        json!([{"hosts": ["shop.example.com"], "secretName": "shop-example-com-tls"}]),
    ))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["ingress-tls-secret-missing"]);
    assert!(
        out[0]
            .cause
            .contains("Secret shop-example-com-tls (hosts shop.example.com), which does not exist"),
        "{}",
        out[0].cause
    );
    fx.ns.unavailable.insert(
        "secrets".into(),
        crate::context::Unavailable::Failed {
            outcome: kpm_bundle::Outcome::Forbidden,
            http_status: Some(403),
            message: None,
        },
    );
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn controller_down_when_its_pods_are_not_ready() {
    let mut fx = healthy_fixture();
    fx.cluster.infra.ingress_controllers = vec![controller(false, false)];
    fx.ns.ingresses = vec![obj(ingress("web", json!({"number": 80}), json!(null)))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["ingress-controller-down"]);
    assert!(
        out[0].cause.contains("uses IngressClass nginx (k8s.io/ingress-nginx) but none of its 1 controller pods is running and ready"),
        "{}",
        out[0].cause
    );
    assert!(out[0].cause.contains(
        "ingress-nginx-controller-5c9d7b8f4-q8wzt not ready, containers not running (restarting)"
    ));
    // Legacy annotation and default class resolve the same class.
    let mut legacy = ingress("web", json!({"number": 80}), json!(null));
    legacy["spec"]["ingressClassName"] = json!(null);
    fx.ns.ingresses = vec![obj(legacy)];
    assert_eq!(rules(&run(&fx.ctx())), vec!["ingress-controller-down"]);
}

#[test]
fn absent_controller_judged_only_on_a_full_collection() {
    let mut fx = healthy_fixture();
    fx.cluster.infra.ingress_controllers.clear();
    fx.ns.ingresses = vec![obj(ingress("web", json!({"number": 80}), json!(null)))];
    // The fixture's manifest is not all-namespaces: the controller may
    // simply live in a namespace that was not collected.
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn absent_controller_on_a_full_collection_is_down() {
    let empty =
        r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#;
    let mut fx = Fixture::build("shop", &[("namespaces/kube-system/pods.json", empty)], true);
    let base = healthy_fixture();
    fx.cluster.ingress_classes = vec![obj(nginx_class())];
    fx.ns.pods = base.ns.pods.clone();
    fx.ns.services = base.ns.services.clone();
    fx.ns.ingresses = vec![obj(ingress("web", json!({"number": 80}), json!(null)))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["ingress-controller-down"]);
    assert!(
        out[0]
            .cause
            .contains("no controller pod for it runs in any namespace"),
        "{}",
        out[0].cause
    );
    // A cloud-managed class (no in-cluster pods by design) is never judged down.
    fx.cluster.ingress_classes = vec![obj(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": "nginx"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
    )];
    assert!(run(&fx.ctx()).is_empty());
}
