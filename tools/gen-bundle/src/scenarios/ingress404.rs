//! Requests that match no Ingress rule, and a default backend that was
//! deleted; near miss: a few internet scanners' probes.
//!
//! Access-log lines use ingress-nginx's default `log-format-upstream`
//! (docs, "Log format"): a request no rule matches is proxied to
//! `upstream-default-backend`. When `--default-backend-service` names a
//! Service that does not exist, `getDefaultUpstream` logs `Error getting
//! default backend` and falls back to the built-in 404 server at
//! 127.0.0.1:8181 (ingress-nginx `internal/ingress/controller/controller.go`).

use serde_json::json;

use super::healthy::{self, ShopOptions};
use super::Scenario;
use crate::baseline::{self, Baseline};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, Finding};
use crate::world::World;

/// The Ingress 404 scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "ingress-404", description: "Mobile clients call api.acme.example, whose DNS points at the shop's load balancer but no Ingress has a rule for it: 120 of 300 requests in the ingress-nginx access logs went to upstream-default-backend with 404 (the shop Ingress routes every path of shop.acme.example, so the requests named another host). The controller's --default-backend-service names ingress-nginx/ingress-nginx-defaultbackend, which was deleted: unmatched requests get the built-in 404 page.", build: ingress_404 },
    Scenario { name: "ingress-404-scanners", description: "Near miss: 6 probes from internet scanners (/wp-login.php, /.env, /.git/config...) hit the load balancer's address and got 404 from the default backend, among 300 requests routed to the shop: far below the share that means a missing rule.", build: ingress_404_scanners },
];

/// The flag the scenario adds to the controller (Helm's
/// `defaultBackend.enabled: true` writes it).
const DEFAULT_BACKEND_FLAG: &str =
    "--default-backend-service=$(POD_NAMESPACE)/ingress-nginx-defaultbackend";

fn shop_world() -> World {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    w
}

/// The controller pods' names.
fn controller_pods(w: &World) -> Vec<String> {
    w.cluster
        .objects("ingress-nginx", "pods")
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .filter(|n| n.starts_with("ingress-nginx-controller-"))
        .map(str::to_string)
        .collect()
}

/// Adds `flag` to the controller container of every ingress-nginx
/// Deployment, ReplicaSet and pod (template and pods agree).
fn add_controller_flag(w: &mut World, flag: &str) {
    for plural in ["deployments", "replicasets", "pods"] {
        for o in w.cluster.objects_mut("ingress-nginx", plural) {
            let spec = if plural == "pods" {
                &mut o["spec"]
            } else {
                &mut o["spec"]["template"]["spec"]
            };
            for c in spec["containers"].as_array_mut().into_iter().flatten() {
                if let Some(args) = c["args"].as_array_mut() {
                    if args.iter().any(|a| a == "--ingress-class=nginx") {
                        args.push(json!(flag));
                    }
                }
            }
        }
    }
}

/// `[20/Nov/2026:14:20:11 +0000]` of `secs` before collection.
fn time_local(secs: i64) -> String {
    let t = crate::ids::anchor() - chrono::Duration::seconds(secs);
    t.format("%d/%b/%Y:%H:%M:%S +0000").to_string()
}

/// One default-format access-log line.
fn access(
    i: usize,
    client: &str,
    request: &str,
    status: u16,
    upstream: &str,
    upstream_addr: &str,
) -> String {
    let secs = 1_800 - (i as i64) * 5;
    let bytes = if status == 404 {
        548
    } else {
        1_532 + (i % 7) * 113
    };
    format!(
        "{client} - - [{}] \"{request}\" {status} {bytes} \"-\" \"Mozilla/5.0 (Linux; Android 14) AcmeShop/5.2.0\" 389 0.0{:02} [{upstream}] [] {upstream_addr} {bytes} 0.0{:02} {status} {:032x}",
        time_local(secs),
        i % 40,
        i % 40,
        (i as u128 + 1) * 0x9e37_79b9_7f4a_7c15
    )
}

/// 300 requests; `unrouted(i)` gives the request line of the ones that
/// went to the default backend.
fn access_log(unrouted: impl Fn(usize) -> Option<&'static str>) -> String {
    let routed = [
        (
            "GET /products/espresso-grinder HTTP/2.0",
            "shop-frontend-http",
            "10.244.1.12:8080",
        ),
        (
            "GET /static/app.3f9c2b.js HTTP/2.0",
            "shop-frontend-http",
            "10.244.2.9:8080",
        ),
        (
            "POST /api/cart/items HTTP/2.0",
            "shop-cart-80",
            "10.244.1.15:8080",
        ),
        ("GET /api/cart HTTP/2.0", "shop-cart-80", "10.244.2.11:8080"),
    ];
    let mut lines = vec![
        "-------------------------------------------------------------------------------"
            .to_string(),
        "NGINX Ingress controller".to_string(),
        "  Release:       v1.12.1".to_string(),
        "-------------------------------------------------------------------------------"
            .to_string(),
    ];
    for i in 0..300 {
        let client = format!("198.51.100.{}", 10 + i % 90);
        let line = match unrouted(i) {
            Some(request) => access(
                i,
                &client,
                request,
                404,
                "upstream-default-backend",
                "127.0.0.1:8181",
            ),
            None => {
                let (request, upstream, addr) = routed[i % routed.len()];
                access(i, &client, request, 200, upstream, addr)
            }
        };
        lines.push(line);
    }
    lines.join("\n") + "\n"
}

fn ingress_404() -> (Cluster, Vec<Finding>) {
    let mut w = shop_world();
    add_controller_flag(&mut w, DEFAULT_BACKEND_FLAG);
    let api = [
        "GET /v2/orders?since=2026-11-20 HTTP/2.0",
        "GET /v2/account HTTP/2.0",
        "POST /v2/orders HTTP/2.0",
    ];
    let text = access_log(|i| (i % 5 < 2).then(|| api[i % api.len()]));
    let warning = "W1120 13:58:04.512381       7 controller.go:1266] Error getting default backend \"ingress-nginx/ingress-nginx-defaultbackend\": no object matching key \"ingress-nginx/ingress-nginx-defaultbackend\" in local store\n";
    let pods = controller_pods(&w);
    for (k, pod) in pods.iter().enumerate() {
        let log = if k == 0 {
            format!("{warning}{text}")
        } else {
            warning.to_string()
        };
        w.cluster
            .add_log("ingress-nginx", pod, "controller", false, &log);
    }
    // The finding is on the controller pod first by name.
    let first = pods.iter().min().cloned().unwrap_or_default();
    let findings = vec![
        finding(
            "ingress-request-unrouted",
            "IngressClass/nginx",
            &[
                "/v2/orders",
                "shop.acme.example Prefix /",
                "named a host no rule has",
            ],
        ),
        finding(
            "ingress-default-backend-missing",
            &obj("Pod", "ingress-nginx", &first),
            &[
                "--default-backend-service=ingress-nginx/ingress-nginx-defaultbackend",
                "does not exist",
            ],
        ),
    ];
    (w.finish(), findings)
}

fn ingress_404_scanners() -> (Cluster, Vec<Finding>) {
    let mut w = shop_world();
    let probes: [(usize, &'static str); 6] = [
        (37, "GET /wp-login.php HTTP/1.1"),
        (81, "GET /.env HTTP/1.1"),
        (122, "GET /.git/config HTTP/1.1"),
        (170, "GET /phpmyadmin/index.php HTTP/1.1"),
        (214, "POST /cgi-bin/luci/;stok=/locale HTTP/1.1"),
        (265, "GET /wp-login.php HTTP/1.1"),
    ];
    let text = access_log(|i| probes.iter().find(|(at, _)| *at == i).map(|(_, r)| *r));
    if let Some(pod) = controller_pods(&w).first() {
        w.cluster
            .add_log("ingress-nginx", pod, "controller", false, &text);
    }
    (w.finish(), Vec::new())
}
