//! Scenarios where pods do not get going: image references that cannot be
//! parsed or pulled, init containers that crash, containers that keep
//! restarting — each next to a near miss a careless rule would flag.

use serde_json::{json, Value};

use super::common::{self, pod_obj, pod_ref};
use super::pods::{namespace_with_neighbour, pull_failure_events};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::pod::{self as podb, ContainerState, PodFate, Terminated};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::world::World;

/// The start-up scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "image-pull-failures", description: "pricing-api's Helm values left the image tag empty (\"pricing:\"): InvalidImageName. audit-shipper's registry name does not resolve (dial tcp: lookup … no such host); its tag 2.401.0 contains 401 but this is no auth failure. debug-toolbox runs busybox:latest (info). ingress-nginx pins tag and digest.", build: image_pull_failures },
    Scenario { name: "init-and-restarts", description: "order-api's db-migrate init container exits 1 (Init:CrashLoopBackOff), so the order-api Service has no ready endpoints. queue-consumer is Running but restarted 9 times in the last 50 minutes. Near miss: ledger-reconciler restarted 4 times three days ago and has been Ready since.", build: init_and_restarts },
];

fn image_pull_failures() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    let mut findings = pricing_invalid_image(&mut w);
    findings.extend(audit_shipper_unresolvable(&mut w));
    findings.extend(debug_toolbox(&mut w));
    (w.finish(), findings)
}

/// An empty Helm value renders "repo:" — the kubelet cannot parse it.
fn pricing_invalid_image(w: &mut World) -> Vec<Finding> {
    let mut findings = vec![];
    w.cluster.namespace("pricing", 86_400 * 61);
    let image = "ghcr.io/acme-shop/pricing:";
    let age = 1_260;
    let msg = format!("Failed to apply default image tag \"{image}\": couldn't parse image name \"{image}\": invalid reference format");
    let app = AppSpec::new("pricing", "pricing-api", image, 8080, 1, age, age);
    let mut nodes = vec![];
    let d = app::deploy(w, &app, |_, _, pl| {
        nodes.push(pl.node.clone());
        let st = ContainerState::waiting("InvalidImageName", Some(msg.clone()));
        (PodFate::Placed(pl), vec![st])
    });
    common::expose(w, &app, "pricing-api");
    for (name, node) in d.pods.iter().zip(&nodes) {
        let p = pod_obj(w, "pricing", name);
        let k = Source::kubelet(node);
        let fp = Some("spec.containers{pricing-api}");
        w.cluster.add_all([
            event::series_event(
                "pricing",
                &p,
                "Normal",
                "Scheduled",
                "Binding",
                &format!("Successfully assigned pricing/{name} to {node}"),
                "default-scheduler",
                "default-scheduler-ip-10-0-0-12",
                age - 1,
                None,
            ),
            event::event(
                "pricing",
                &p,
                fp,
                "Warning",
                "InspectFailed",
                &msg,
                &k,
                126,
                age - 3,
                8,
            ),
            event::event(
                "pricing",
                &p,
                fp,
                "Warning",
                "Failed",
                "Error: InvalidImageName",
                &k,
                126,
                age - 3,
                8,
            ),
        ]);
        findings.push(finding(
            "pod-image-invalid",
            &pod("pricing", name),
            &[image],
        ));
    }
    let first = pod("pricing", d.pods.first().map_or("", String::as_str));
    findings.push(
        finding(
            "service-no-ready-endpoints",
            &obj("Service", "pricing", "pricing-api"),
            &[],
        )
        .caused_by("pod-image-invalid", &first),
    );
    findings
}

/// The registry's name does not resolve from the node (VPC resolver); its
/// tag contains `401`, which is no auth failure.
fn audit_shipper_unresolvable(w: &mut World) -> Vec<Finding> {
    let mut findings = vec![];
    namespace_with_neighbour(w, "payments");
    w.cluster.namespace("ops", 86_400 * 180);
    let image = "registry.internal.acme.io/ops/audit-shipper:2.401.0";
    let age = 905;
    let error = format!("rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to do request: Head \"https://registry.internal.acme.io/v2/ops/audit-shipper/manifests/2.401.0\": dial tcp: lookup registry.internal.acme.io on 10.0.0.2:53: no such host");
    let app = AppSpec::new("ops", "audit-shipper", image, 8080, 1, age, age);
    let mut nodes = vec![];
    let d = app::deploy(w, &app, |_, _, pl| {
        nodes.push(pl.node.clone());
        let m = format!("Back-off pulling image \"{image}\": ErrImagePull: {error}");
        (
            PodFate::Placed(pl),
            vec![ContainerState::waiting("ImagePullBackOff", Some(m))],
        )
    });
    for (name, node) in d.pods.iter().zip(&nodes) {
        let p = pod_obj(w, "ops", name);
        w.cluster.add_all(pull_failure_events(
            &p,
            "audit-shipper",
            image,
            node,
            &error,
            age - 2,
        ));
        findings.push(finding(
            "pod-image-pull-failed",
            &pod("ops", name),
            &["no such host"],
        ));
    }
    findings
}

/// A debugging pod on :latest: a remark, not a failure.
fn debug_toolbox(w: &mut World) -> Vec<Finding> {
    let mut findings = vec![];
    let mut toolbox = AppSpec::new(
        "ops",
        "debug-toolbox",
        "docker.io/library/busybox:latest",
        8080,
        1,
        86_400 * 12,
        86_400 * 12,
    );
    let c = toolbox.main_container();
    c["command"] = json!(["sleep", "infinity"]);
    if let Some(m) = c.as_object_mut() {
        m.remove("ports");
        m.remove("readinessProbe");
        m.remove("livenessProbe");
    }
    app::resources(c, Some("10m"), Some("16Mi"), Some("100m"), Some("64Mi"));
    app::deploy_healthy(w, &toolbox);
    // Reported once per owning workload, like missing limits.
    findings.push(finding(
        "image-tag-mutable",
        &obj("Deployment", "ops", "debug-toolbox"),
        &["latest"],
    ));
    findings
}

/// A db-migrate init container that fails validation on every start.
fn migrate_log(started_ago: i64) -> String {
    format!(
        "{} INFO  Flyway Community Edition 10.20.1 by Redgate\n\
{} INFO  Database: jdbc:postgresql://orders-db.cluster-c8x2kq.us-east-1.rds.amazonaws.com:5432/orders (PostgreSQL 16.4)\n\
{} ERROR Validate failed: Migrations have failed validation\n\
Detected applied migration not resolved locally: 42.\n\
If you removed this migration intentionally, run repair to mark the migration as deleted.\n",
        common::iso_ms(started_ago, 112),
        common::iso_ms(started_ago - 1, 540),
        common::iso_ms(started_ago - 2, 71)
    )
}

fn order_api(w: &mut World, findings: &mut Vec<Finding>) {
    let image = "ghcr.io/acme-shop/order-api:5.0.0";
    let age = 1_740;
    let mut app = AppSpec::new("orders", "order-api", image, 8080, 2, 86_400 * 80, age);
    let mut init = app::container(
        "db-migrate",
        "ghcr.io/acme-shop/order-api-migrations:5.0.0",
        8080,
    );
    if let Some(m) = init.as_object_mut() {
        m.remove("ports");
        m.remove("readinessProbe");
        m.remove("livenessProbe");
    }
    init["command"] = json!(["flyway", "migrate"]);
    app.pod_spec["initContainers"] = json!([init]);
    let d = app::deploy(w, &app, |_, _, pl| {
        (
            PodFate::Placed(pl),
            vec![ContainerState::waiting("PodInitializing", None)],
        )
    });
    common::expose(w, &app, "order-api");
    for (i, name) in d.pods.iter().enumerate() {
        let last_start = 190 + i as i64 * 11;
        let state = ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some(common::crashloop_message(
                &pod_ref("orders", name),
                "db-migrate",
                "5m0s",
            )),
            restarts: 8,
            last: Some(Terminated::new("Error", 1, last_start, last_start - 3)),
        };
        let Some(p) = w.cluster.find_mut("orders", "pods", name) else {
            continue;
        };
        podb::set_init_statuses(p, &[state], age - 2);
        let p = p.clone();
        let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        let k = Source::kubelet(&node);
        let fp = Some("spec.initContainers{db-migrate}");
        w.cluster.add_all([
            event::series_event("orders", &p, "Normal", "Scheduled", "Binding", &format!("Successfully assigned orders/{name} to {node}"), "default-scheduler", "default-scheduler-ip-10-0-0-12", age, None),
            event::event("orders", &p, fp, "Normal", "Pulled", "Container image \"ghcr.io/acme-shop/order-api-migrations:5.0.0\" already present on machine", &k, 9, age - 2, last_start + 1),
            event::event("orders", &p, fp, "Normal", "Created", "Created container: db-migrate", &k, 9, age - 2, last_start + 1),
            event::event("orders", &p, fp, "Normal", "Started", "Started container db-migrate", &k, 9, age - 2, last_start),
            event::event("orders", &p, fp, "Warning", "BackOff", &format!("Back-off restarting failed container db-migrate in pod {}", common::kubelet_pod_ref(&p)), &k, 41, age - 30, 12 + i as i64 * 5),
        ]);
        w.cluster
            .add_log("orders", name, "db-migrate", true, &migrate_log(last_start));
        findings.push(finding(
            "pod-init-failing",
            &pod("orders", name),
            &["db-migrate"],
        ));
    }
    let first = pod("orders", d.pods.first().map_or("", String::as_str));
    findings.push(
        finding(
            "service-no-ready-endpoints",
            &obj("Service", "orders", "order-api"),
            &[],
        )
        .caused_by("pod-init-failing", &first),
    );
}

fn init_and_restarts() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("orders", 86_400 * 80);
    let mut findings = vec![];
    order_api(&mut w, &mut findings);
    queue_consumer(&mut w, &mut findings);
    ledger_reconciler(&mut w);
    (w.finish(), findings)
}

/// Flapping: the broker drops the consumer's connection every few minutes
/// and it exits 2; it is running right now.
fn queue_consumer(w: &mut World, findings: &mut Vec<Finding>) {
    let image = "ghcr.io/acme-shop/queue-consumer:1.9.3";
    let app = AppSpec::new(
        "orders",
        "queue-consumer",
        image,
        8080,
        1,
        86_400 * 40,
        86_400 * 2,
    );
    let d = app::deploy(w, &app, |_, _, pl| {
        let st = ContainerState::Running {
            started_ago: 212,
            ready: true,
            restarts: 9,
            last: Some(Terminated::new("Error", 2, 540, 213)),
        };
        (PodFate::Placed(pl), vec![st])
    });
    for name in &d.pods {
        let p = pod_obj(w, "orders", name);
        w.cluster.add_all(restart_events(&p, image));
        let log = format!(
            "{} INFO  consumer connected to amqp://orders-mq.orders.svc:5672 queue=orders.created\n{} ERROR connection closed by broker: CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'\n{} FATAL consumer lost its channel, exiting with status 2\n",
            common::iso_ms(538, 20),
            common::iso_ms(214, 903),
            common::iso_ms(213, 910)
        );
        w.cluster
            .add_log("orders", name, "queue-consumer", true, &log);
        findings.push(finding("pod-restart-storm", &pod("orders", name), &["9"]));
    }
}

/// The kubelet's events of queue-consumer's nine restarts in the last
/// 50 minutes.
fn restart_events(p: &Value, image: &str) -> Vec<Value> {
    let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    let k = Source::kubelet(&node);
    let fp = Some("spec.containers{queue-consumer}");
    vec![
        event::event(
            "orders",
            p,
            fp,
            "Normal",
            "Pulled",
            &format!("Container image \"{image}\" already present on machine"),
            &k,
            9,
            3_010,
            213,
        ),
        event::event(
            "orders",
            p,
            fp,
            "Normal",
            "Created",
            "Created container: queue-consumer",
            &k,
            9,
            3_010,
            213,
        ),
        event::event(
            "orders",
            p,
            fp,
            "Normal",
            "Started",
            "Started container queue-consumer",
            &k,
            9,
            3_009,
            212,
        ),
        event::event(
            "orders",
            p,
            fp,
            "Warning",
            "BackOff",
            &format!(
                "Back-off restarting failed container queue-consumer in pod {}",
                common::kubelet_pod_ref(p)
            ),
            &k,
            14,
            2_990,
            230,
        ),
    ]
}

/// Near miss: restarted during a node upgrade three days ago, Ready since.
fn ledger_reconciler(w: &mut World) {
    let app = AppSpec::new(
        "orders",
        "ledger-reconciler",
        "ghcr.io/acme-shop/ledger-reconciler:3.3.0",
        8080,
        1,
        86_400 * 40,
        86_400 * 9,
    );
    app::deploy(w, &app, |_, _, pl| {
        let st = ContainerState::Running {
            started_ago: 86_400 * 3,
            ready: true,
            restarts: 4,
            last: Some(Terminated::new(
                "Error",
                137,
                86_400 * 3 + 700,
                86_400 * 3 + 5,
            )),
        };
        (PodFate::Placed(pl), vec![st])
    });
}
