//! Scenarios where pods cannot start or keep dying: image pulls, crashes,
//! OOM kills, missing Secrets and ConfigMap keys.

use serde_json::{json, Value};

use super::common::{self, crashloop_events, neighbour, pod_obj, pod_ref};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::config;
use crate::builders::event::{self, Source};
use crate::builders::pod::{ContainerState, PodFate, Terminated};
use crate::cluster::Cluster;
use crate::expected::{finding, pod, Finding};
use crate::world::World;

/// The pod scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "crashloop", description: "A newly deployed checkout service exits with code 1 at startup (missing environment variable) and is in CrashLoopBackOff; its Service has no ready endpoints.", build: crashloop },
    Scenario { name: "image-tag-not-found", description: "A worker references an image tag that does not exist in the registry: ErrImagePull then ImagePullBackOff.", build: image_tag_not_found },
    Scenario { name: "image-pull-auth", description: "A private image is pulled without imagePullSecrets: the registry answers 401 Unauthorized.", build: image_pull_auth },
    Scenario { name: "oom-killed", description: "One replica was OOMKilled (exit 137) at its 256Mi memory limit and is again using over 90 % of it.", build: oom_killed },
    Scenario { name: "missing-secret-volume", description: "A pod stays in ContainerCreating because the Secret its volume mounts does not exist (FailedMount).", build: missing_secret_volume },
    Scenario { name: "missing-configmap-key", description: "A container env var references a key the ConfigMap does not have: CreateContainerConfigError.", build: missing_configmap_key },
];

/// Kubelet events of a failing image pull.
#[allow(
    clippy::too_many_lines,
    reason = "the kubelet's event sequence written out in order"
)]
fn pull_failure_events(
    p: &Value,
    container: &str,
    image: &str,
    node: &str,
    error: &str,
    first_ago: i64,
) -> Vec<Value> {
    let ns = crate::builders::meta::namespace_of(p);
    let fp = format!("spec.containers{{{container}}}");
    let k = Source::kubelet(node);
    let attempts = 2 + (first_ago / 300) as u32;
    let backoffs = (first_ago / 20) as u32;
    vec![
        event::series_event(
            ns,
            p,
            "Normal",
            "Scheduled",
            "Binding",
            &format!(
                "Successfully assigned {ns}/{} to {node}",
                crate::builders::meta::name_of(p)
            ),
            "default-scheduler",
            "default-scheduler-ip-10-0-0-12",
            first_ago + 2,
            None,
        ),
        event::event(
            ns,
            p,
            Some(&fp),
            "Normal",
            "Pulling",
            &format!("Pulling image \"{image}\""),
            &k,
            attempts,
            first_ago,
            61,
        ),
        event::event(
            ns,
            p,
            Some(&fp),
            "Warning",
            "Failed",
            &format!("Failed to pull image \"{image}\": {error}"),
            &k,
            attempts,
            first_ago - 1,
            60,
        ),
        event::event(
            ns,
            p,
            Some(&fp),
            "Warning",
            "Failed",
            "Error: ErrImagePull",
            &k,
            attempts,
            first_ago - 1,
            60,
        ),
        event::event(
            ns,
            p,
            Some(&fp),
            "Normal",
            "BackOff",
            &format!("Back-off pulling image \"{image}\""),
            &k,
            backoffs,
            first_ago - 3,
            9,
        ),
        event::event(
            ns,
            p,
            Some(&fp),
            "Warning",
            "Failed",
            "Error: ImagePullBackOff",
            &k,
            backoffs,
            first_ago - 3,
            9,
        ),
    ]
}

fn namespace_with_neighbour(w: &mut World, ns: &str) {
    w.cluster.namespace(ns, 86_400 * 150);
    let (name, image) = if ns == "payments" {
        ("payments-api", "ghcr.io/acme-pay/payments-api:4.7.3")
    } else {
        ("catalog", "ghcr.io/acme-shop/catalog:5.2.0")
    };
    neighbour(w, ns, name, image);
}

fn crashloop() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    namespace_with_neighbour(&mut w, "shop");
    let image = "ghcr.io/acme-shop/checkout:3.14.2";
    let age = 1_150;
    let mut app = AppSpec::new("shop", "checkout", image, 8080, 2, age, age);
    app.main_container()["env"] = json!([
        {"name": "NODE_ENV", "value": "production"},
        {"name": "CART_API_URL", "value": "http://cart.shop.svc.cluster.local"}
    ]);
    let restarts = [7u32, 7];
    let mut placed = vec![];
    let d = app::deploy(&mut w, &app, |i, name, pl| {
        placed.push(pl.node.clone());
        let r = restarts.get(i).copied().unwrap_or(7);
        let last = Terminated::new("Error", 1, 202 + i as i64 * 9, 201 + i as i64 * 9);
        let st = ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some(common::crashloop_message(
                &pod_ref("shop", name),
                "checkout",
                "5m0s",
            )),
            restarts: r,
            last: Some(last),
        };
        (PodFate::Placed(pl), vec![st])
    });
    common::expose(&mut w, &app, "checkout");
    let mut findings = vec![];
    for (i, name) in d.pods.iter().enumerate() {
        let p = pod_obj(&w, "shop", name);
        let node = placed.get(i).cloned().unwrap_or_default();
        w.cluster.add_all(crashloop_events(
            &p,
            "checkout",
            image,
            &node,
            7,
            age - 8,
            21 + i as i64 * 9,
        ));
        let log = checkout_crash_log(name, 202 + i as i64 * 9);
        w.cluster.add_log("shop", name, "checkout", true, &log);
        w.cluster.add_log("shop", name, "checkout", false, &log);
        findings.push(finding(
            "pod-crashloop",
            &pod("shop", name),
            &["exit code 1"],
        ));
    }
    let first = pod("shop", d.pods.first().map_or("", String::as_str));
    findings.push(
        finding("service-no-ready-endpoints", "Service/shop/checkout", &[])
            .caused_by("pod-crashloop", &first),
    );
    (w.finish(), findings)
}

/// What a Node.js service prints when a required setting is missing.
pub fn checkout_crash_log(pod_name: &str, started_ago: i64) -> String {
    format!(
        "\n> checkout@3.14.2 start\n> node dist/server.js\n\n\
{{\"level\":30,\"time\":{},\"pid\":1,\"hostname\":\"{pod_name}\",\"service\":\"checkout\",\"msg\":\"loading configuration\"}}\n\
/app/dist/config.js:27\n        throw new Error(`Missing required environment variable ${{name}}`);\n        ^\n\n\
Error: Missing required environment variable PAYMENTS_API_URL\n\
    at required (/app/dist/config.js:27:15)\n\
    at Object.<anonymous> (/app/dist/config.js:41:22)\n\
    at Module._compile (node:internal/modules/cjs/loader:1554:14)\n\
    at Object..js (node:internal/modules/cjs/loader:1706:10)\n\
    at Module.load (node:internal/modules/cjs/loader:1289:32)\n\
    at Function._load (node:internal/modules/cjs/loader:1108:12)\n\
    at TracingChannel.traceSync (node:diagnostics_channel:322:14)\n\
    at wrapModuleLoad (node:internal/modules/cjs/loader:220:24)\n\
    at Module.require (node:internal/modules/cjs/loader:1311:12)\n\
    at require (node:internal/modules/helpers:136:16)\n\nNode.js v22.14.0\n",
        common::epoch_ms(started_ago - 1)
    )
}

fn image_tag_not_found() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    namespace_with_neighbour(&mut w, "shop");
    let image = "ghcr.io/acme-shop/email-worker:2.9.14";
    let age = 840;
    let error = format!("rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found");
    let app = AppSpec::new("shop", "email-worker", image, 8080, 1, age, age);
    let mut nodes = vec![];
    let d = app::deploy(&mut w, &app, |_, _, pl| {
        nodes.push(pl.node.clone());
        let msg = format!("Back-off pulling image \"{image}\": ErrImagePull: {error}");
        (
            PodFate::Placed(pl),
            vec![ContainerState::waiting("ImagePullBackOff", Some(msg))],
        )
    });
    let mut findings = vec![];
    for (name, node) in d.pods.iter().zip(&nodes) {
        let p = pod_obj(&w, "shop", name);
        w.cluster.add_all(pull_failure_events(
            &p,
            "email-worker",
            image,
            node,
            &error,
            age - 2,
        ));
        findings.push(finding("pod-image-not-found", &pod("shop", name), &[image]));
    }
    (w.finish(), findings)
}

fn image_pull_auth() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    namespace_with_neighbour(&mut w, "payments");
    let image = "registry.acme-corp.io/payments/ledger-sync:1.22.0";
    let age = 95;
    let error = format!(
        "rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://registry.acme-corp.io/service/token?scope=repository%3Apayments%2Fledger-sync%3Apull&service=harbor-registry: 401 Unauthorized"
    );
    let app = AppSpec::new("payments", "ledger-sync", image, 8080, 1, age, age);
    let mut nodes = vec![];
    let err2 = error.clone();
    let d = app::deploy(&mut w, &app, |_, _, pl| {
        nodes.push(pl.node.clone());
        (
            PodFate::Placed(pl),
            vec![ContainerState::waiting("ErrImagePull", Some(err2.clone()))],
        )
    });
    let mut findings = vec![];
    for (name, node) in d.pods.iter().zip(&nodes) {
        let p = pod_obj(&w, "payments", name);
        w.cluster.add_all(
            pull_failure_events(&p, "ledger-sync", image, node, &error, age - 2)
                .into_iter()
                .take(4),
        );
        findings.push(finding(
            "pod-image-pull-auth",
            &pod("payments", name),
            &["imagePullSecrets"],
        ));
    }
    (w.finish(), findings)
}

fn oom_killed() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    namespace_with_neighbour(&mut w, "shop");
    let image = "ghcr.io/acme-shop/recommendations:1.8.0";
    let mut app = AppSpec::new(
        "shop",
        "recommendations",
        image,
        8080,
        2,
        86_400 * 30,
        86_400 + 5_000,
    );
    app::resources(
        app.main_container(),
        Some("250m"),
        Some("256Mi"),
        Some("1"),
        Some("256Mi"),
    );
    app.main_container()["env"] =
        json!([{"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=90.0"}]);
    let mut nodes = vec![];
    let d = app::deploy(&mut w, &app, |i, _, pl| {
        nodes.push(pl.node.clone());
        let st = if i == 0 {
            ContainerState::Running {
                started_ago: 2_410,
                ready: true,
                restarts: 2,
                last: Some(Terminated::new("OOMKilled", 137, 9_870, 2_412)),
            }
        } else {
            ContainerState::ready(86_400 + 4_980)
        };
        (PodFate::Placed(pl), vec![st])
    });
    common::expose(&mut w, &app, "recommendations");
    let mut findings = vec![];
    if let (Some(victim), Some(node)) = (d.pods.first(), nodes.first()) {
        w.set_usage("shop", victim, "recommendations", (412, 236));
        if let Some(other) = d.pods.get(1) {
            w.set_usage("shop", other, "recommendations", (198, 171));
        }
        let node_obj = w
            .cluster
            .cluster_list("nodes")
            .iter()
            .find(|n| crate::builders::meta::name_of(n) == node)
            .cloned()
            .unwrap_or(Value::Null);
        w.cluster.add(event::event(
            "default",
            &node_obj,
            None,
            "Warning",
            "SystemOOM",
            "System OOM encountered, victim process: java, pid: 28391",
            &Source::kubelet(node),
            1,
            2_413,
            2_413,
        ));
        let log = format!(
            "{} INFO  [main] c.a.r.RecommendationsApplication : Started RecommendationsApplication in 7.214 seconds (process running for 8.02)\n\
{} INFO  [scheduler-1] c.a.r.model.ModelRefresher : refreshing similarity model: 1843211 items\n\
{} WARN  [scheduler-1] c.a.r.model.ModelRefresher : model refresh slow: loaded 1210000/1843211 items in 38211 ms\n",
            common::iso_ms(9_860, 402),
            common::iso_ms(2_470, 17),
            common::iso_ms(2_430, 880)
        );
        w.cluster
            .add_log("shop", victim, "recommendations", true, &log);
        findings.push(finding("pod-oom-killed", &pod("shop", victim), &["256Mi"]));
        findings.push(finding(
            "resources-near-memory-limit",
            &pod("shop", victim),
            &["256Mi"],
        ));
    }
    (w.finish(), findings)
}

fn missing_secret_volume() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    namespace_with_neighbour(&mut w, "payments");
    let image = "ghcr.io/acme-pay/invoice-renderer:2.3.1";
    let age = 1_420;
    let mut app = AppSpec::new("payments", "invoice-renderer", image, 8080, 1, age, age);
    app.main_container()["volumeMounts"] =
        json!([{"name": "signing-key", "mountPath": "/etc/invoice/keys", "readOnly": true}]);
    app.pod_spec["volumes"] = json!([{"name": "signing-key", "secret": {"secretName": "invoice-signing-key", "defaultMode": 420}}]);
    let mut nodes = vec![];
    let d = app::deploy(&mut w, &app, |_, _, pl| {
        nodes.push(pl.node.clone());
        (
            PodFate::Placed(pl),
            vec![ContainerState::waiting("ContainerCreating", None)],
        )
    });
    let mut findings = vec![];
    for (name, node) in d.pods.iter().zip(&nodes) {
        let p = pod_obj(&w, "payments", name);
        let k = Source::kubelet(node);
        w.cluster.add_all([
            event::series_event("payments", &p, "Normal", "Scheduled", "Binding", &format!("Successfully assigned payments/{name} to {node}"), "default-scheduler", "default-scheduler-ip-10-0-0-12", age - 1, None),
            event::event("payments", &p, None, "Warning", "FailedMount", "MountVolume.SetUp failed for volume \"signing-key\" : secret \"invoice-signing-key\" not found", &k, 15, age - 2, 44),
        ]);
        findings.push(finding(
            "pod-mount-failed",
            &pod("payments", name),
            &["invoice-signing-key"],
        ));
    }
    (w.finish(), findings)
}

fn missing_configmap_key() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    namespace_with_neighbour(&mut w, "shop");
    let image = "ghcr.io/acme-shop/notifications:0.19.4";
    let age = 610;
    w.cluster.add(config::config_map(
        "shop",
        "notifications-config",
        86_400 * 3,
        86_400 * 3,
        "helm",
        &[
            ("SMTP_HOSTNAME", "email-smtp.us-east-1.amazonaws.com"),
            ("SMTP_PORT", "587"),
            ("FROM_ADDRESS", "no-reply@acme-shop.example"),
        ],
    ));
    let mut app = AppSpec::new("shop", "notifications", image, 8080, 1, age, age);
    app.main_container()["env"] = json!([
        {"name": "SMTP_HOST", "valueFrom": {"configMapKeyRef": {"name": "notifications-config", "key": "SMTP_HOST"}}},
        {"name": "SMTP_PORT", "valueFrom": {"configMapKeyRef": {"name": "notifications-config", "key": "SMTP_PORT"}}}
    ]);
    let msg = "couldn't find key SMTP_HOST in ConfigMap shop/notifications-config";
    let mut nodes = vec![];
    let d = app::deploy(&mut w, &app, |_, _, pl| {
        nodes.push(pl.node.clone());
        (
            PodFate::Placed(pl),
            vec![ContainerState::waiting(
                "CreateContainerConfigError",
                Some(msg.to_string()),
            )],
        )
    });
    let mut findings = vec![];
    for (name, node) in d.pods.iter().zip(&nodes) {
        let p = pod_obj(&w, "shop", name);
        let k = Source::kubelet(node);
        let fp = "spec.containers{notifications}";
        w.cluster.add_all([
            event::series_event("shop", &p, "Normal", "Scheduled", "Binding", &format!("Successfully assigned shop/{name} to {node}"), "default-scheduler", "default-scheduler-ip-10-0-0-12", age - 1, None),
            event::event("shop", &p, Some(fp), "Normal", "Pulling", &format!("Pulling image \"{image}\""), &k, 1, age - 2, age - 2),
            event::event("shop", &p, Some(fp), "Normal", "Pulled", &format!("Successfully pulled image \"{image}\" in 3.118s (3.118s including waiting). Image size: 61239871 bytes."), &k, 1, age - 5, age - 5),
            event::event("shop", &p, Some(fp), "Normal", "Pulled", &format!("Container image \"{image}\" already present on machine"), &k, 28, age - 20, 12),
            event::event("shop", &p, Some(fp), "Warning", "Failed", &format!("Error: {msg}"), &k, 30, age - 5, 12),
        ]);
        findings.push(finding(
            "pod-config-error",
            &pod("shop", name),
            &["SMTP_HOST"],
        ));
    }
    (w.finish(), findings)
}
