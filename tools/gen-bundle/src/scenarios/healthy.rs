//! The healthy cluster: every layer works, limits are set, tags pinned,
//! config unchanged since the pods started. A correct analyzer reports
//! nothing (above info).

use serde_json::json;

use super::common::{self, healthy_log};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline, LB_HOSTNAME};
use crate::builders::network::{self, Route};
use crate::builders::pod::{self, ContainerState, PodFate, Terminated};
use crate::builders::workload::{self, HpaState};
use crate::builders::{config, meta};
use crate::cluster::Cluster;
use crate::expected::Finding;
use crate::world::World;

/// The healthy scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "healthy",
    description: "A healthy shop: ingress, services, ready pods, an HPA with metrics, config older than its pods, a finished migration Job. No findings.",
    build,
};

/// Variations of the shop other scenarios need.
#[derive(Debug, Clone, Default)]
pub struct ShopOptions {
    /// More Ingress routes on the `shop` Ingress.
    pub extra_routes: Vec<Route>,
    /// When `frontend-config` was last changed, if after the rollout (stale).
    pub config_changed_ago: Option<i64>,
    /// When the `cart-db` Secret was last rotated, if after the rollout.
    pub secret_changed_ago: Option<i64>,
    /// A later rollout of cart (`kubectl rollout restart`): when, and the
    /// revision it made.
    pub cart_restarted: Option<(i64, u32)>,
    /// The frontend scaled by its HPA: replicas and the CPU utilization
    /// (percent of requests) that asked for them.
    pub frontend_scaled: Option<(i64, i64)>,
    /// When the replicas past the first three were added by that scale-out.
    pub frontend_scaled_at: Option<i64>,
}

/// When the shop's frontend last rolled out, seconds before collection.
pub const SHOP_ROLLOUT: i64 = 86_400 * 2 + 7_300;

/// Adds the healthy shop (frontend + cart + ingress + HPA + config) to a
/// world; also used as the base of other scenarios.
#[allow(
    clippy::too_many_lines,
    reason = "one scenario written out as a single script"
)]
pub fn shop(w: &mut World, ns: &str, opts: &ShopOptions) {
    w.cluster.namespace(ns, 86_400 * 150);
    let rollout = SHOP_ROLLOUT;
    let changed = opts.config_changed_ago.unwrap_or(rollout + 600);
    w.cluster.add(config::config_map(
        ns,
        "frontend-config",
        86_400 * 60,
        changed,
        "helm",
        &[
            ("CART_URL", "http://cart"),
            ("FEATURE_RECOMMENDATIONS", "true"),
            ("LOG_LEVEL", "info"),
        ],
    ));
    let rotated = opts.secret_changed_ago.unwrap_or(86_400 * 60);
    w.cluster.add(config::secret(
        ns,
        "cart-db",
        86_400 * 60,
        rotated,
        "helm",
        "Opaque",
        &[("username", "cart"), ("password", "s3cr3t-cart-pw")],
    ));
    let mut tls = config::secret(
        ns,
        "shop-tls",
        86_400 * 40,
        86_400 * 40,
        "cert-manager-certificates-issuing",
        "kubernetes.io/tls",
        &[
            ("tls.crt", "-----BEGIN CERTIFICATE-----"),
            ("tls.key", "-----BEGIN PRIVATE KEY-----"),
        ],
    );
    let tls_host = if ns == "shop" {
        "shop.acme.example".to_string()
    } else {
        format!("{ns}.acme.example")
    };
    config::add_tls_facts(&mut tls, &[tls_host.as_str()], 86_400 * 40);
    w.cluster.add(tls);
    let frontend_replicas = opts.frontend_scaled.map_or(3, |(r, _)| r);
    let mut frontend = AppSpec::new(
        ns,
        "frontend",
        "ghcr.io/acme-shop/frontend:7.3.1",
        8080,
        frontend_replicas,
        86_400 * 120,
        rollout,
    );
    frontend.main_container()["envFrom"] = json!([{"configMapRef": {"name": "frontend-config"}}]);
    if let Some(ago) = opts.frontend_scaled_at {
        frontend.scaled_out = Some((3, ago));
    }
    let d = app::deploy_healthy(w, &frontend);
    for name in &d.pods {
        w.cluster.add_log(
            ns,
            name,
            "frontend",
            false,
            &healthy_log(name, rollout - 12, 12),
        );
    }
    common::expose(w, &frontend, "frontend");
    let mut cart = AppSpec::new(
        ns,
        "cart",
        "ghcr.io/acme-shop/cart:2.8.1",
        8080,
        2,
        86_400 * 120,
        rollout + 900,
    );
    cart.main_container()["env"] = json!([
        {"name": "DB_HOST", "value": "cart-db.cluster-c8x2kq.us-east-1.rds.amazonaws.com"},
        {"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "cart-db", "key": "username"}}},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "cart-db", "key": "password"}}}
    ]);
    if let Some((ago, revision)) = opts.cart_restarted {
        cart.rollout_ago = ago;
        cart.revision = revision;
    }
    app::deploy_healthy(w, &cart);
    common::expose(w, &cart, "cart");
    let host = if ns == "shop" {
        "shop.acme.example".to_string()
    } else {
        format!("{ns}.acme.example")
    };
    let mut routes = vec![
        Route {
            host: host.clone(),
            path: "/".into(),
            service: "frontend".into(),
            port: json!({"name": "http"}),
        },
        Route {
            host: host.clone(),
            path: "/api/cart".into(),
            service: "cart".into(),
            port: json!({"number": 80}),
        },
    ];
    routes.extend(opts.extra_routes.iter().cloned());
    w.cluster.add(network::ingress(
        ns,
        "shop",
        86_400 * 110,
        "nginx",
        &routes,
        Some(("shop-tls", &[host.as_str()])),
        Some(LB_HOSTNAME),
    ));
    let state = match opts.frontend_scaled {
        // 250m requested per frontend pod.
        Some((_, utilization)) => HpaState::Healthy {
            utilization,
            average_millis: utilization * 250 / 100,
        },
        None => HpaState::Healthy {
            utilization: 41,
            average_millis: 103,
        },
    };
    w.cluster.add(workload::hpa(
        ns,
        "frontend",
        86_400 * 100,
        "frontend",
        3,
        12,
        70,
        frontend_replicas,
        &state,
    ));
    migration_job(w, ns);
    let mut redis = AppSpec::new(
        ns,
        "redis",
        "docker.io/library/redis:7.4.2",
        6379,
        1,
        86_400 * 110,
        86_400 * 30,
    );
    let c = redis.main_container();
    c["ports"] = json!([{"name": "redis", "containerPort": 6379, "protocol": "TCP"}]);
    c["readinessProbe"] = json!({"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    c["livenessProbe"] = json!({"tcpSocket": {"port": "redis"}, "initialDelaySeconds": 15, "periodSeconds": 20, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    app::resources(c, Some("100m"), Some("256Mi"), Some("500m"), Some("512Mi"));
    crate::stateful::deploy_stateful(w, &redis, "8Gi");
}

/// A finished schema migration Job and its Succeeded pod.
fn migration_job(w: &mut World, ns: &str) {
    let mut c = app::container("migrate", "ghcr.io/acme-shop/cart:2.8.1", 8080);
    if let Some(m) = c.as_object_mut() {
        m.remove("ports");
        m.remove("readinessProbe");
        m.remove("livenessProbe");
    }
    c["command"] = json!(["/app/cart", "migrate", "--to", "latest"]);
    app::resources(
        &mut c,
        Some("100m"),
        Some("128Mi"),
        Some("500m"),
        Some("256Mi"),
    );
    let spec = json!({"containers": [c]});
    let created = 86_400 * 2 + 8_200;
    let job = workload::job(ns, "cart-db-migrate-41", created, &spec, created - 38);
    let name = format!(
        "cart-db-migrate-41-{}",
        crate::ids::suffix("job/cart-db-migrate-41", 5)
    );
    let placement = w.place(created - 1);
    let mut pspec = job["spec"]["template"]["spec"].clone();
    pspec["restartPolicy"] = json!("Never");
    let done = Terminated::new("Completed", 0, created - 6, created - 38);
    let mut p = pod::pod(
        ns,
        &name,
        created,
        &pspec,
        &PodFate::Placed(placement),
        &[ContainerState::Done(done)],
    );
    meta::set_generate_name(&mut p, "cart-db-migrate-41-");
    p["metadata"]["labels"] = job["spec"]["template"]["metadata"]["labels"].clone();
    meta::set_owner(&mut p, &job);
    w.cluster.add(p);
    w.cluster.add(job);
}

fn build() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    shop(&mut w, "shop", &ShopOptions::default());
    (w.finish(), vec![])
}
