//! Tests of the default-backend and unrouted-request rules.

use std::collections::BTreeMap;

use kpm_model::ObjectRef;
use serde_json::json;

use super::{default_backend, routing, run_cluster, IngressRouting};
use crate::context::{InfraPod, IngressController};
use crate::testkit::{obj, Fixture, ServiceFixture};

const POD: &str = "ingress-nginx-controller-5c9d7b8f4-q8wzt";

fn log_file() -> String {
    kpm_bundle::layout::log_path("ingress-nginx", POD, "controller", false)
}

fn controller(args: &[&str]) -> IngressController {
    IngressController {
        pod: InfraPod {
            object: ObjectRef::namespaced("Pod", "ingress-nginx", POD),
            labels: BTreeMap::new(),
            node: Some("worker-1".into()),
            phase: "Running".into(),
            running: true,
            ready: true,
            images: vec!["registry.k8s.io/ingress-nginx/controller:v1.12.1".into()],
            args: args.iter().map(|a| (*a).to_string()).collect(),
            log_files: vec![log_file()],
        },
        implementation: "ingress-nginx".into(),
        controller_class: Some("k8s.io/ingress-nginx".into()),
        ingress_class: Some("nginx".into()),
    }
}

/// A default-format access-log line.
fn line(request: &str, status: u16, upstream: &str) -> String {
    format!(
        r#"198.51.100.23 - - [20/Nov/2026:14:20:11 +0000] "{request}" {status} 548 "-" "Mozilla/5.0" 412 0.004 [{upstream}] [] 10.244.1.7:8080 548 0.004 {status} 7f3c1a2b9d8e4f60a1b2c3d4e5f60718"#
    )
}

fn log(routed: usize, unrouted: &[(&str, usize)]) -> String {
    let mut out = Vec::new();
    for i in 0..routed {
        out.push(line(
            &format!("GET /products/{i} HTTP/1.1"),
            200,
            "shop-frontend-http",
        ));
    }
    for (target, n) in unrouted {
        for _ in 0..*n {
            out.push(line(
                &format!("GET {target} HTTP/1.1"),
                404,
                "upstream-default-backend",
            ));
        }
    }
    out.join("\n") + "\n"
}

fn shop_ingress() -> serde_json::Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {"ingressClassName": "nginx", "rules": [
            {"host": "shop.example.com", "http": {"paths": [
                {"path": "/api/cart", "pathType": "Prefix", "backend": {"service": {"name": "cart", "port": {"number": 80}}}},
                {"path": "/checkout", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
            ]}}
        ]}
    })
}

/// A cluster whose controller logged `text`, with the shop Ingress's rules.
fn fixture(text: &str) -> Fixture {
    let file = log_file();
    let mut fx = Fixture::with_logs("shop", &[(file.as_str(), text)]);
    fx.cluster.infra.ingress_controllers = vec![controller(&["/nginx-ingress-controller"])];
    fx.ns.ingresses = vec![obj(shop_ingress())];
    let routes: Vec<IngressRouting> = routing(&fx.ctx());
    fx.cluster.ingress_routing = routes;
    fx
}

#[test]
fn a_host_without_rule_is_named() {
    let text = log(60, &[("http://api.example.com/v2/orders", 40)]);
    let mut fx = fixture(&text);
    let found = run_cluster(&fx.cluster_ctx());
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f.rule, "ingress-request-unrouted");
    assert_eq!(f.object.to_string(), "IngressClass/nginx");
    assert!(
        f.cause.contains("Host api.example.com has no rule"),
        "{}",
        f.cause
    );
    assert!(
        f.cause.contains("rules exist for shop.example.com"),
        "{}",
        f.cause
    );
    assert!(f.symptom.contains("40 of 100 requests"), "{}", f.symptom);
}

#[test]
fn a_path_without_rule_is_named_with_the_path_types() {
    let text = log(50, &[("http://shop.example.com/api/orders", 30)]);
    let mut fx = fixture(&text);
    let found = run_cluster(&fx.cluster_ctx());
    let cause = &found[0].cause;
    assert!(
        cause.contains("Path /api of host shop.example.com matches none"),
        "{cause}"
    );
    assert!(
        cause.contains("Prefix /api/cart") && cause.contains("Exact /checkout"),
        "{cause}"
    );
}

#[test]
fn without_a_host_only_the_path_is_claimed() {
    // /api/cart/items is routed for shop.example.com: the requests named
    // another host, which the default format does not show.
    let text = log(40, &[("/api/cart/items", 25)]);
    let mut fx = fixture(&text);
    let cause = run_cluster(&fx.cluster_ctx())[0].cause.clone();
    assert!(cause.contains("/api/cart/items (25)"), "{cause}");
    assert!(cause.contains("named a host no rule has"), "{cause}");
    assert!(!cause.contains("has no rule;"), "{cause}");
    let text = log(40, &[("/v1/orders", 25)]);
    let mut fx = fixture(&text);
    let cause = run_cluster(&fx.cluster_ctx())[0].cause.clone();
    assert!(
        cause.contains("Path /v1 matches no path of any rule"),
        "{cause}"
    );
}

#[test]
fn scanner_probes_stay_silent() {
    let probes = [
        ("/wp-login.php", 2),
        ("/.env", 2),
        ("/.git/config", 1),
        ("/phpmyadmin/index.php", 1),
        ("/cgi-bin/luci", 1),
    ];
    let mut fx = fixture(&log(400, &probes));
    assert!(run_cluster(&fx.cluster_ctx()).is_empty());
    // Many probes of one path, but a small share of the traffic.
    let mut fx = fixture(&log(400, &[("/wp-login.php", 30)]));
    assert!(run_cluster(&fx.cluster_ctx()).is_empty());
    // A large share, but too few requests to judge.
    let mut fx = fixture(&log(5, &[("/v1/orders", 6)]));
    assert!(run_cluster(&fx.cluster_ctx()).is_empty());
}

#[test]
fn hostile_log_text_is_neutralised() {
    let text = log(10, &[("/<img src=x onerror=alert(1)>`$(reboot)`", 20)]);
    let mut fx = fixture(&text);
    let f = &run_cluster(&fx.cluster_ctx())[0];
    assert!(
        !f.cause.contains('<') && !f.cause.contains('`'),
        "{}",
        f.cause
    );
}

#[test]
fn default_backend_flag_names_a_missing_service() {
    let mut fx = Fixture::new("ingress-nginx");
    fx.cluster.infra.ingress_controllers = vec![controller(&[
        "/nginx-ingress-controller",
        "--default-backend-service=$(POD_NAMESPACE)/ingress-nginx-defaultbackend",
    ])];
    let found = default_backend(&fx.ctx());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "ingress-default-backend-missing");
    assert_eq!(
        found[0].object.to_string(),
        format!("Pod/ingress-nginx/{POD}")
    );
    assert!(
        found[0].cause.contains(
            "Service ingress-nginx-defaultbackend does not exist in namespace ingress-nginx"
        ),
        "{}",
        found[0].cause
    );
    // Another namespace's pass says nothing about it.
    let mut other = Fixture::new("shop");
    other.cluster.infra = fx.cluster.infra.clone();
    assert!(default_backend(&other.ctx()).is_empty());
    // A Service with a ready endpoint is fine; without one it is a finding.
    fx.ns.services = vec![obj(ServiceFixture::new(
        "ingress-nginx",
        "ingress-nginx-defaultbackend",
    )
    .selector(json!({"app": "default-backend"}))
    .ports(json!([{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]))
    .build())];
    let found = default_backend(&fx.ctx());
    assert!(
        found[0].cause.contains("has no ready endpoints"),
        "{found:?}"
    );
}
