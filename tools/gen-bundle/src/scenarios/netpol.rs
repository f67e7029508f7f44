//! NetworkPolicies between the ingress controller and the shop: a
//! default-deny with allow policies that miss the controller, and the same
//! policies written right.
//!
//! Objects as the API server returns them after defaulting
//! (`pkg/apis/networking/v1/defaults.go`: `policyTypes` set from the
//! sections present, every port's `protocol` defaulted to `TCP`). The
//! ingress-nginx namespace carries only the label the API server sets on
//! every namespace, `kubernetes.io/metadata.name`. The controller's logs
//! use nginx's error-log line for a connect timeout (`upstream timed out
//! (110: Operation timed out) while connecting to upstream`, musl's text of
//! ETIMEDOUT on the Alpine-based controller image) and ingress-nginx's
//! default access-log format, whose `[$proxy_upstream_name]` is
//! `<namespace>-<service>-<backend port>` and which lists each upstream
//! tried (default `proxy_connect_timeout` 5s, `proxy_next_upstream_tries`
//! 3).

use serde_json::{json, Value};

use super::healthy::{self, ShopOptions};
use super::network::controller_log;
use super::Scenario;
use crate::baseline::{self, Baseline};
use crate::builders::meta;
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::ids;
use crate::world::World;

/// The NetworkPolicy scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "netpol-isolated", description: "In shop, default-deny-ingress isolates every pod; allow-ingress-nginx admits the controller to the frontend pods only from namespaces labelled name=ingress-nginx (the namespace carries only kubernetes.io/metadata.name), and allow-cart admits it to cart on port 80, the Service port, while the pods listen on 8080. Endpoints are ready; the ingress-nginx controller logs upstream timed out and 504 for both Services.", build: isolated },
    Scenario { name: "netpol-allowed", description: "Near miss: the same default-deny-ingress, with allow-ingress-nginx selecting frontend and cart from namespaceSelector kubernetes.io/metadata.name=ingress-nginx on the named port http, cart admitting the frontend on 8080 and redis admitting cart on 6379: every Ingress route is admitted, so nothing is reported.", build: allowed },
];

/// A NetworkPolicy in `shop` as the API server stores it.
fn policy(name: &str, created_ago: i64, spec: Value) -> Value {
    let mut p = meta::object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        Some("shop"),
        name,
        created_ago,
    );
    meta::meta_mut(&mut p).insert("generation".into(), json!(1));
    meta::add_labels(&mut p, &[("app.kubernetes.io/managed-by", "Helm")]);
    p["spec"] = spec;
    p
}

fn default_deny() -> Value {
    policy(
        "default-deny-ingress",
        86_400 * 30,
        json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
    )
}

/// redis admits cart only: correct in both scenarios, and not routed by
/// any Ingress.
fn redis_from_cart() -> Value {
    policy(
        "allow-redis-from-cart",
        86_400 * 30,
        json!({
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
            "ingress": [{
                "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "cart"}}}],
                "ports": [{"protocol": "TCP", "port": 6379}]
            }],
            "policyTypes": ["Ingress"]
        }),
    )
}

fn shop_world() -> World {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    w
}

/// `ip:8080` of the ready pods of app `name` in shop.
fn upstreams(w: &World, name: &str) -> Vec<String> {
    w.cluster
        .objects("shop", "pods")
        .iter()
        .filter(|p| p["metadata"]["labels"]["app.kubernetes.io/name"] == json!(name))
        .filter_map(|p| p["status"]["podIP"].as_str())
        .map(|ip| format!("{ip}:8080"))
        .collect()
}

/// Requests through the controller timing out on every upstream tried:
/// nginx's error line per attempt, then the access line with 504.
fn timeout_lines(w: &World, service: &str, port: &str, path: &str, start_ago: i64) -> Vec<String> {
    let addrs = upstreams(w, service);
    let mut out = Vec::new();
    for (i, client) in ["203.0.113.24", "198.51.100.7", "203.0.113.91"]
        .iter()
        .enumerate()
    {
        let ago = start_ago - 95 * i as i64;
        let tried: Vec<&String> = addrs.iter().cycle().skip(i).take(3).collect();
        for (j, a) in tried.iter().enumerate() {
            let t = ids::anchor() - chrono::Duration::seconds(ago - 5 * (j as i64 + 1));
            out.push(format!(
                "{} [error] 38#38: *{} upstream timed out (110: Operation timed out) while connecting to upstream, client: {client}, server: shop.acme.example, request: \"GET {path} HTTP/2.0\", upstream: \"http://{a}{path}\", host: \"shop.acme.example\"",
                t.format("%Y/%m/%d %H:%M:%S"),
                48_211 + 17 * i,
            ));
        }
        let t = ids::anchor() - chrono::Duration::seconds(ago - 15);
        let list = |v: &str| vec![v; tried.len()].join(", ");
        out.push(format!(
            "{client} - - [{}] \"GET {path} HTTP/2.0\" 504 160 \"-\" \"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15\" 58 15.002 [shop-{service}-{port}] [] {} {} {} {} {}",
            t.format("%d/%b/%Y:%H:%M:%S +0000"),
            tried.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "),
            list("0"),
            list("5.001"),
            list("504"),
            ids::hex64(&format!("netpol/{service}/{i}")).get(..32).unwrap_or_default(),
        ));
    }
    out
}

fn isolated() -> (Cluster, Vec<Finding>) {
    let mut w = shop_world();
    w.cluster.add(default_deny());
    // The namespace label many guides use; Kubernetes sets only
    // kubernetes.io/metadata.name.
    w.cluster.add(policy(
        "allow-ingress-nginx",
        1_740,
        json!({
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "frontend"}},
            "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}],
                "ports": [{"protocol": "TCP", "port": 8080}]
            }],
            "policyTypes": ["Ingress"]
        }),
    ));
    // The Service port (80) where the pod port (8080) belongs.
    w.cluster.add(policy(
        "allow-cart",
        1_740,
        json!({
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "cart"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "frontend"}}}],
                    "ports": [{"protocol": "TCP", "port": 8080}]
                },
                {
                    "from": [{
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}
                    }],
                    "ports": [{"protocol": "TCP", "port": 80}]
                }
            ],
            "policyTypes": ["Ingress"]
        }),
    ));
    w.cluster.add(redis_from_cart());
    let mut lines = timeout_lines(&w, "frontend", "http", "/", 1_500);
    lines.extend(timeout_lines(&w, "cart", "80", "/api/cart", 1_420));
    controller_log(&mut w, &lines);
    let mut findings = vec![
        finding(
            "netpol-blocks-ingress",
            &obj("Service", "shop", "frontend"),
            &[
                "default-deny-ingress",
                "allow-ingress-nginx",
                "3 of 3 ready pods",
                "namespaceSelector name=ingress-nginx does not match namespace ingress-nginx (kubernetes.io/metadata.name=ingress-nginx)",
                "TCP/8080",
                "logs show",
            ],
        ),
        finding(
            "netpol-blocks-ingress",
            &obj("Service", "shop", "cart"),
            &[
                "default-deny-ingress",
                "allow-cart",
                "2 of 2 ready pods",
                "it admits only TCP/80, the traffic is TCP/8080 (named http)",
                "logs show",
            ],
        ),
    ];
    // Each controller replica's log repeats the timeouts: a symptom of
    // the policies (linked to either Service's finding; cart's is checked).
    let controllers: Vec<String> = w
        .cluster
        .objects("ingress-nginx", "pods")
        .iter()
        .map(|p| meta::name_of(p).to_string())
        .collect();
    for c in controllers {
        findings.push(
            finding(
                "pod-log-errors",
                &pod("ingress-nginx", &c),
                &["upstream timed out"],
            )
            .caused_by("netpol-blocks-ingress", &obj("Service", "shop", "cart")),
        );
    }
    (w.finish(), findings)
}

fn allowed() -> (Cluster, Vec<Finding>) {
    let mut w = shop_world();
    w.cluster.add(default_deny());
    w.cluster.add(policy(
        "allow-ingress-nginx",
        1_740,
        json!({
            "podSelector": {"matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "In", "values": ["frontend", "cart"]}
            ]},
            "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
                "ports": [{"protocol": "TCP", "port": "http"}]
            }],
            "policyTypes": ["Ingress"]
        }),
    ));
    w.cluster.add(policy(
        "allow-cart",
        1_740,
        json!({
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "cart"}},
            "ingress": [{
                "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "frontend"}}}],
                "ports": [{"protocol": "TCP", "port": 8080}]
            }],
            "policyTypes": ["Ingress"]
        }),
    ));
    w.cluster.add(redis_from_cart());
    (w.finish(), vec![])
}
