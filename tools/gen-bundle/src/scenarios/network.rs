//! Scenarios where traffic does not reach pods: Service selectors and
//! ports, readiness, Ingress backends and the ingress controller.

use serde_json::{json, Value};

use super::common::{self, crashloop_events, pod_obj};
use super::healthy::{self, ShopOptions};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::meta;
use crate::builders::network::{self, Route, ServicePort};
use crate::builders::pod::{ContainerState, PodFate};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::world::World;

/// The network scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "selector-mismatch", description: "The inventory Service selects app.kubernetes.io/name=inventry; the pods are labelled inventory (one character differs), so the Service has no endpoints.", build: selector_mismatch },
    Scenario { name: "readiness-failing", description: "search pods run but their readiness probe answers 503 (backend unavailable): 0/1 ready, Unhealthy events, the Service has only notReadyAddresses.", build: readiness_failing },
    Scenario { name: "ingress-missing-service", description: "The shop Ingress routes /api/reviews to Service reviews, which does not exist (the Service is called review).", build: ingress_missing_service },
    Scenario { name: "ingress-wrong-port", description: "The shop Ingress sends /api/cart to port 8080 of Service cart, which only exposes port 80.", build: ingress_wrong_port },
    Scenario { name: "ingress-controller-down", description: "Both ingress-nginx controller pods crash at startup (port 80 already in use, exit code 255): no controller serves class nginx.", build: ingress_controller_down },
    Scenario { name: "port-mismatch", description: "reviews declares only the port named http: its liveness probe names port metrics (the kubelet reports \"Liveness probe errored\" and can never restart it) and its Service's targetPort names grpc, so the Service has no endpoints. Near miss: wishlist probes and exposes numeric port 9901 without declaring it, which is valid.", build: port_mismatch },
];

fn shop_world() -> World {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    w
}

fn selector_mismatch() -> (Cluster, Vec<Finding>) {
    let mut w = shop_world();
    let app = AppSpec::new(
        "shop",
        "inventory",
        "ghcr.io/acme-shop/inventory:4.0.2",
        8080,
        2,
        2_900,
        2_900,
    );
    app::deploy_healthy(&mut w, &app);
    let mut svc = network::service(
        "shop",
        "inventory",
        2_900,
        &World::cluster_ip("shop/inventory"),
        &[("app.kubernetes.io/name", "inventry")],
        &[ServicePort::tcp("http", 80, json!("http"))],
    );
    meta::add_labels(
        &mut svc,
        &[
            ("app.kubernetes.io/name", "inventory"),
            ("app.kubernetes.io/managed-by", "Helm"),
        ],
    );
    w.cluster.add(svc);
    let findings = vec![finding(
        "service-selector-mismatch",
        &obj("Service", "shop", "inventory"),
        &["inventry"],
    )];
    (w.finish(), findings)
}

fn readiness_failing() -> (Cluster, Vec<Finding>) {
    let mut w = shop_world();
    let age = 1_980;
    let app = AppSpec::new(
        "shop",
        "search",
        "ghcr.io/acme-shop/search:6.1.0",
        8080,
        2,
        86_400 * 50,
        age,
    );
    let mut nodes = vec![];
    let d = app::deploy(&mut w, &app, |_, _, pl| {
        nodes.push(pl.node.clone());
        (
            PodFate::Placed(pl),
            vec![ContainerState::Running {
                started_ago: age - 6,
                ready: false,
                restarts: 0,
                last: None,
            }],
        )
    });
    common::expose(&mut w, &app, "search");
    let mut findings = vec![];
    for (i, (name, node)) in d.pods.iter().zip(&nodes).enumerate() {
        let p = pod_obj(&w, "shop", name);
        let k = Source::kubelet(node);
        w.cluster.add_all(event::normal_start(
            &p,
            "search",
            "ghcr.io/acme-shop/search:6.1.0",
            node,
            age - 6,
        ));
        w.cluster.add(event::event(
            "shop",
            &p,
            Some("spec.containers{search}"),
            "Warning",
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            &k,
            (age / 10) as u32 - 2,
            age - 15,
            4 + i as i64,
        ));
        let mut log = String::new();
        for j in 0..8 {
            let ago = age - 20 - j * 240;
            log.push_str(&format!(
                "{} WARN  opensearch health check failed: cluster_block_exception [FORBIDDEN/12/index read-only / allow delete (api)] status=503\n",
                common::iso_ms(ago, (j * 37) as u32)
            ));
            log.push_str(&format!(
                "{} INFO  request method=GET path=/healthz/ready status=503 duration_ms=3\n",
                common::iso_ms(ago - 1, 5)
            ));
        }
        w.cluster.add_log("shop", name, "search", false, &log);
        findings.push(finding("pod-not-ready", &pod("shop", name), &["503"]));
    }
    let first = pod("shop", d.pods.first().map_or("", String::as_str));
    findings.push(
        finding(
            "service-no-ready-endpoints",
            &obj("Service", "shop", "search"),
            &[],
        )
        .caused_by("pod-not-ready", &first),
    );
    (w.finish(), findings)
}

/// Appends a controller log line complaining about a backend.
pub(super) fn controller_log(w: &mut World, lines: &[String]) {
    let pods: Vec<String> = w
        .cluster
        .objects("ingress-nginx", "pods")
        .iter()
        .map(|p| meta::name_of(p).to_string())
        .collect();
    for (i, name) in pods.iter().enumerate() {
        let mut text = format!(
            "-------------------------------------------------------------------------------\nNGINX Ingress controller\n  Release:       v1.12.1\n  Build:         51c2b819690bbf1709b844dbf321a9acf6eda5a7\n  Repository:    https://github.com/kubernetes/ingress-nginx\n  nginx version: nginx/1.25.5\n\n-------------------------------------------------------------------------------\n\nI1118 10:12:0{i}.31{i}912       7 main.go:205] \"Creating API client\" host=\"https://172.20.0.1:443\"\n"
        );
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        w.cluster
            .add_log("ingress-nginx", name, "controller", false, &text);
    }
}

fn ingress_missing_service() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    let route = Route {
        host: "shop.acme.example".into(),
        path: "/api/reviews".into(),
        service: "reviews".into(),
        port: json!({"name": "http"}),
    };
    healthy::shop(
        &mut w,
        "shop",
        &ShopOptions {
            extra_routes: vec![route],
            ..ShopOptions::default()
        },
    );
    let app = AppSpec::new(
        "shop",
        "reviews",
        "ghcr.io/acme-shop/reviews:1.3.7",
        8080,
        2,
        86_400 * 9,
        86_400 * 9,
    );
    app::deploy_healthy(&mut w, &app);
    common::expose(&mut w, &app, "review");
    let line = "W1120 14:20:41.117302       7 controller.go:1216] Error obtaining Endpoints for Service \"shop/reviews\": no object matching key \"shop/reviews\" in local store";
    controller_log(&mut w, &[line.to_string()]);
    let findings = vec![finding(
        "ingress-backend-service-missing",
        &obj("Ingress", "shop", "shop"),
        &["reviews"],
    )];
    (w.finish(), findings)
}

fn ingress_wrong_port() -> (Cluster, Vec<Finding>) {
    let mut w = shop_world();
    if let Some(ing) = w.cluster.find_mut("shop", "ingresses", "shop") {
        for path in ing["spec"]["rules"][0]["http"]["paths"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if path["backend"]["service"]["name"] == "cart" {
                path["backend"]["service"]["port"] = json!({"number": 8080});
            }
        }
    }
    let line = "W1120 14:25:03.560114       7 controller.go:1302] Service \"shop/cart\" does not have any active Endpoint for TCP port 8080";
    controller_log(&mut w, &[line.to_string()]);
    let findings = vec![finding(
        "ingress-backend-port-missing",
        &obj("Ingress", "shop", "shop"),
        &["8080"],
    )];
    (w.finish(), findings)
}

fn ingress_controller_down() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline {
        ingress_crashing: true,
        ..Baseline::default()
    });
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    let pods: Vec<Value> = w.cluster.objects("ingress-nginx", "pods").to_vec();
    let mut findings = vec![];
    for (i, p) in pods.iter().enumerate() {
        let name = meta::name_of(p).to_string();
        let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        let image = p["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or("")
            .to_string();
        w.cluster.add_all(crashloop_events(
            p,
            "controller",
            &image,
            &node,
            12,
            2_390,
            25 + i as i64 * 17,
        ));
        let log = format!(
            "-------------------------------------------------------------------------------\nNGINX Ingress controller\n  Release:       v1.12.1\n  Build:         51c2b819690bbf1709b844dbf321a9acf6eda5a7\n  Repository:    https://github.com/kubernetes/ingress-nginx\n  nginx version: nginx/1.25.5\n\n-------------------------------------------------------------------------------\n\nF1120 14:{}.204417       7 main.go:64] port 80 is already in use. Please check the flag --http-port\n",
            common::iso_ms(140 + i as i64 * 17, 0).get(14..19).unwrap_or("29:38")
        );
        w.cluster
            .add_log("ingress-nginx", &name, "controller", true, &log);
        w.cluster
            .add_log("ingress-nginx", &name, "controller", false, &log);
        findings.push(finding(
            "pod-crashloop",
            &pod("ingress-nginx", &name),
            &["exit code 255"],
        ));
    }
    let first = pod(
        "ingress-nginx",
        pods.first().map_or("", |p| meta::name_of(p)),
    );
    findings.push(
        finding(
            "service-no-ready-endpoints",
            &obj("Service", "ingress-nginx", "ingress-nginx-controller"),
            &[],
        )
        .caused_by("pod-crashloop", &first),
    );
    findings.push(finding(
        "ingress-controller-down",
        &obj("Ingress", "shop", "shop"),
        &["nginx"],
    ));
    (w.finish(), findings)
}

fn port_mismatch() -> (Cluster, Vec<Finding>) {
    let mut w = shop_world();
    let mut app = AppSpec::new(
        "shop",
        "reviews",
        "ghcr.io/acme-shop/reviews:1.3.7",
        8080,
        2,
        86_400 * 9,
        86_400 * 9,
    );
    // The chart renamed the metrics port; the liveness probe still names it.
    app.main_container()["livenessProbe"]["httpGet"] =
        json!({"path": "/healthz/live", "port": "metrics", "scheme": "HTTP"});
    let d = app::deploy_healthy(&mut w, &app);
    let sel = app.selector();
    let mut svc = network::service(
        "shop",
        "reviews",
        86_400 * 9,
        &World::cluster_ip("shop/reviews"),
        &sel,
        &[ServicePort::tcp("grpc", 9090, json!("grpc"))],
    );
    meta::add_labels(&mut svc, &sel);
    w.cluster.add(svc);
    for name in &d.pods {
        let p = pod_obj(&w, "shop", name);
        let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        w.cluster.add(event::event(
            "shop",
            &p,
            Some("spec.containers{reviews}"),
            "Warning",
            "Unhealthy",
            "Liveness probe errored: strconv.Atoi: parsing \"metrics\": invalid syntax",
            &Source::kubelet(&node),
            178,
            3_560,
            17,
        ));
    }
    // Near miss: numeric ports nobody declares are valid Kubernetes; the
    // kubelet and kube-proxy use the number as it is.
    let mut wishlist = AppSpec::new(
        "shop",
        "wishlist",
        "ghcr.io/acme-shop/wishlist:0.9.3",
        8080,
        2,
        86_400 * 75,
        86_400 * 6 + 4_211,
    );
    wishlist.main_container()["livenessProbe"]["httpGet"] =
        json!({"path": "/admin/health", "port": 9901, "scheme": "HTTP"});
    app::deploy_healthy(&mut w, &wishlist);
    common::expose(&mut w, &wishlist, "wishlist");
    let wsel = wishlist.selector();
    let admin = network::service(
        "shop",
        "wishlist-admin",
        86_400 * 75,
        &World::cluster_ip("shop/wishlist-admin"),
        &wsel,
        &[ServicePort::tcp("admin", 9901, json!(9901))],
    );
    w.cluster.add(admin);
    let mut findings: Vec<Finding> = d
        .pods
        .iter()
        .map(|n| finding("probe-port-mismatch", &pod("shop", n), &["metrics"]))
        .collect();
    findings.push(finding(
        "service-target-port-mismatch",
        &obj("Service", "shop", "reviews"),
        &["grpc"],
    ));
    (w.finish(), findings)
}
