//! Tests of the pod layer on whole pods as the API server returns them,
//! through the same `NamespaceCtx` (and bundle logs) as production.

use kpm_model::{Evidence, Finding, Severity};
use serde_json::{json, Value};

use super::{run, run_pod, PodFacts};
use crate::testkit::{obj, EventFixture, Fixture};

const NS: &str = "shop";
const POD: &str = "checkout-7c9d8f6b5-x2x7q";

/// A Deployment-owned pod: an init container that completed, a native
/// sidecar (restartable init container) running, and container `app` in the
/// given state.
fn pod(app_state: Value, last_state: Value, restarts: i32, phase: &str, ready: bool) -> Value {
    let r = if ready { "True" } else { "False" };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD, "namespace": NS, "uid": "0d9f8c1e-pod",
            "creationTimestamp": "2026-11-20T13:00:00Z",
            "labels": {"app.kubernetes.io/name": "checkout", "pod-template-hash": "7c9d8f6b5"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-7c9d8f6b5",
                                 "uid": "rs-uid", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {
            "nodeName": "worker-1",
            "initContainers": [
                {"name": "migrate", "image": "registry.example.com/shop/checkout:2.3.1", "command": ["./migrate"]},
                {"name": "envoy", "image": "envoyproxy/envoy:v1.31.2", "restartPolicy": "Always",
                 "ports": [{"name": "admin", "containerPort": 9901}]}
            ],
            "containers": [{"name": "app", "image": "registry.example.com/shop/checkout:2.3.1",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"},
                                   "periodSeconds": 10, "failureThreshold": 3},
                "resources": {"requests": {"cpu": "250m", "memory": "128Mi"},
                              "limits": {"cpu": "1", "memory": "256Mi"}}}]
        },
        "status": {
            "phase": phase, "podIP": "10.244.1.17", "hostIP": "10.0.0.11", "qosClass": "Burstable",
            "startTime": "2026-11-20T13:00:02Z",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-20T13:00:09Z"},
                {"type": "Ready", "status": r, "lastTransitionTime": "2026-11-20T13:05:00Z"},
                {"type": "ContainersReady", "status": r, "lastTransitionTime": "2026-11-20T13:05:00Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-20T13:00:00Z"}
            ],
            "initContainerStatuses": [
                {"name": "migrate", "ready": true, "restartCount": 0, "image": "registry.example.com/shop/checkout:2.3.1",
                 "imageID": "registry.example.com/shop/checkout@sha256:aa01",
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                     "startedAt": "2026-11-20T13:00:03Z", "finishedAt": "2026-11-20T13:00:08Z"}}},
                {"name": "envoy", "ready": true, "started": true, "restartCount": 0, "image": "envoyproxy/envoy:v1.31.2",
                 "imageID": "docker.io/envoyproxy/envoy@sha256:bb02",
                 "state": {"running": {"startedAt": "2026-11-20T13:00:09Z"}}}
            ],
            "containerStatuses": [{"name": "app", "ready": ready, "started": ready, "restartCount": restarts,
                "image": "registry.example.com/shop/checkout:2.3.1",
                "imageID": "registry.example.com/shop/checkout@sha256:aa01",
                "state": app_state, "lastState": last_state}]
        }
    })
}

fn crashing() -> Value {
    pod(
        json!({"waiting": {"reason": "CrashLoopBackOff",
            "message": format!("back-off 5m0s restarting failed container=app pod={POD}_shop(0d9f8c1e-pod)")}}),
        json!({"terminated": {"exitCode": 1, "reason": "Error",
            "startedAt": "2026-11-20T14:26:50Z", "finishedAt": "2026-11-20T14:26:52Z"}}),
        14,
        "Running",
        false,
    )
}

fn findings(fx: &Fixture) -> Vec<Finding> {
    let ctx = fx.ctx();
    let Some(p) = ctx.ns.pods.first() else {
        return Vec::new();
    };
    let facts = PodFacts::new(&ctx, p);
    run_pod(&ctx, &facts)
}

fn rules(fs: &[Finding]) -> Vec<&str> {
    fs.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn crashloop_quotes_exit_code_and_previous_log_with_line_numbers() {
    let log = "2026-11-20T14:26:51Z INFO starting checkout v2.3.1\n2026-11-20T14:26:52Z ERROR missing required environment variable PAYMENT_URL\n\n";
    let path = format!("logs/{NS}/{POD}/app.previous.log");
    let mut fx = Fixture::with_logs(NS, &[(path.as_str(), log)]);
    fx.ns.pods = vec![obj(crashing())];
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD).says("BackOff", "Back-off restarting failed container app in pod checkout-7c9d8f6b5-x2x7q_shop(0d9f8c1e-pod)").count(61).build())];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-crashloop"]);
    let f = fs.first().unwrap();
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.symptom, "CrashLoopBackOff (14 restarts)");
    assert!(f.cause.contains("exit code 1 (Error)"), "{}", f.cause);
    assert!(f.cause.contains("PAYMENT_URL"), "{}", f.cause);
    let lines = f
        .evidence
        .iter()
        .find_map(|e| match e {
            Evidence::Log { file, lines } if *file == path => Some(lines.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(lines.last().map(|l| l.number), Some(2));
    assert!(f
        .next_steps
        .iter()
        .any(|s| s.command == format!("kubectl -n shop logs {POD} -c app --previous")));
}

#[test]
fn liveness_kills_are_named_as_the_cause() {
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(crashing())];
    fx.ns.events = vec![
        obj(EventFixture::about(NS, "Pod", POD).says("Unhealthy", "Liveness probe failed: Get \"http://10.244.1.17:8080/live\": dial tcp 10.244.1.17:8080: connect: connection refused").count(42).build()),
        obj(EventFixture::about(NS, "Pod", POD).normal().says("Killing", "Container app failed liveness probe, will be restarted").count(14).build()),
    ];
    let fs = findings(&fx);
    let f = fs.iter().find(|f| f.rule == "pod-crashloop").unwrap();
    assert!(f.cause.contains("liveness probe fails"), "{}", f.cause);
    assert!(f.cause.contains("connection refused"), "{}", f.cause);
}

#[test]
fn oom_wins_over_crashloop_and_reports_limit_and_usage() {
    let mut p = crashing();
    p["status"]["containerStatuses"][0]["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
        "startedAt": "2026-11-20T14:20:00Z", "finishedAt": "2026-11-20T14:26:52Z"}});
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    fx.ns.pod_metrics = Some(vec![obj(json!({
        "metadata": {"name": POD, "namespace": NS}, "timestamp": "2026-11-20T14:32:00Z", "window": "20.05s",
        "containers": [{"name": "app", "usage": {"cpu": "412m", "memory": "247808Ki"}},
                       {"name": "envoy", "usage": {"cpu": "3m", "memory": "24Mi"}}]
    }))]);
    fx.ns.pods = fx.ns.pods.clone();
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-oom-killed"]);
    let f = fs.first().unwrap();
    assert!(
        f.cause.contains("256Mi") && f.cause.contains("242Mi"),
        "{}",
        f.cause
    );
    assert!(f
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::Metric { compared_to: Some(c), .. } if c == "limit 256Mi")));
}

#[test]
fn init_container_crash_is_init_failing_not_crashloop() {
    let mut p = pod(
        json!({"waiting": {"reason": "PodInitializing"}}),
        json!({}),
        0,
        "Pending",
        false,
    );
    p["status"]["initContainerStatuses"][0] = json!({"name": "migrate", "ready": false, "restartCount": 5,
        "image": "registry.example.com/shop/checkout:2.3.1", "imageID": "registry.example.com/shop/checkout@sha256:aa01",
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container=migrate"}},
        "lastState": {"terminated": {"exitCode": 2, "reason": "Error",
            "startedAt": "2026-11-20T14:29:00Z", "finishedAt": "2026-11-20T14:29:01Z"}}});
    p["status"]["conditions"][0] = json!({"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
        "message": "containers with incomplete status: [migrate envoy]", "lastTransitionTime": "2026-11-20T13:00:02Z"});
    p["status"]["initContainerStatuses"][1]["state"] =
        json!({"waiting": {"reason": "PodInitializing"}});
    p["status"]["initContainerStatuses"][1]["ready"] = json!(false);
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-init-failing"]);
    let f = fs.first().unwrap();
    assert!(
        f.symptom.starts_with("Init:CrashLoopBackOff"),
        "{}",
        f.symptom
    );
    assert!(
        f.cause.contains("init container migrate") && f.cause.contains("exit code 2"),
        "{}",
        f.cause
    );
}

#[test]
fn not_ready_reads_series_only_unhealthy_events() {
    let p = pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({}),
        0,
        "Running",
        false,
    );
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD)
        .says(
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
        )
        .count(87)
        .series()
        .build())];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-not-ready"]);
    let f = fs.first().unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.cause.contains("87 times") && f.cause.contains("statuscode: 503"),
        "{}",
        f.cause
    );
    assert!(f.cause.contains("GET :http/ready"), "{}", f.cause);
}

#[test]
fn healthy_pod_and_unready_pod_without_failures_have_no_findings() {
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({}),
        0,
        "Running",
        true,
    ))];
    assert!(findings(&fx).is_empty());
    // Not ready yet, but no probe failure recorded: still in its initial delay.
    fx.ns.pods = vec![obj(pod(
        json!({"running": {"startedAt": "2026-11-20T14:32:00Z"}}),
        json!({}),
        0,
        "Running",
        false,
    ))];
    assert!(findings(&fx).is_empty());
}

#[test]
fn restart_storm_on_running_container_with_recent_restarts() {
    let p = pod(
        json!({"running": {"startedAt": "2026-11-20T14:25:00Z"}}),
        json!({"terminated": {"exitCode": 2, "reason": "Error", "startedAt": "2026-11-20T14:10:00Z", "finishedAt": "2026-11-20T14:24:58Z"}}),
        9,
        "Running",
        true,
    );
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-restart-storm"]);
    assert_eq!(fs.first().map(|f| f.severity), Some(Severity::Warning));
}

#[test]
fn unschedulable_parses_reasons_and_compares_node_room() {
    let mut p = pod(json!({}), json!({}), 0, "Pending", false);
    p["spec"].as_object_mut().unwrap().remove("nodeName");
    p["status"] = json!({"phase": "Pending", "qosClass": "Burstable", "conditions": [{"type": "PodScheduled", "status": "False",
        "reason": "Unschedulable", "lastTransitionTime": "2026-11-20T14:00:00Z",
        "message": "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."}]});
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    fx.cluster.node_allocation = Some(serde_json::from_value(json!({"nodes": [
        {"node": "worker-1", "allocatable": {"cpu": "1930m", "memory": "7134Mi"}, "capacity": {"cpu": "2", "memory": "7950Mi"},
         "nonTerminatedPods": 12, "allocatablePods": 110, "requests": {"cpu": "1800m", "memory": "2Gi"}, "limits": {},
         "requestsPercent": {}, "limitsPercent": {}, "rows": [], "pods": []},
        {"node": "worker-2", "allocatable": {"cpu": "1930m", "memory": "7134Mi"}, "capacity": {"cpu": "2", "memory": "7950Mi"},
         "nonTerminatedPods": 9, "allocatablePods": 110, "requests": {"cpu": "1750m", "memory": "3Gi"}, "limits": {},
         "requestsPercent": {}, "limitsPercent": {}, "rows": [], "pods": []}
    ]})).unwrap());
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-unschedulable"]);
    let f = fs.first().unwrap();
    assert!(
        f.cause.contains("0/3") && f.cause.contains("2 node(s): Insufficient cpu"),
        "{}",
        f.cause
    );
    // worker-2 has 180m free, closer to the 250m asked than worker-1's 130m.
    let rooms: Vec<&str> = f
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Metric { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        rooms,
        vec!["room on node worker-2", "room on node worker-1"]
    );
}

#[test]
fn mount_failure_names_the_missing_secret() {
    let mut p = pod(
        json!({"waiting": {"reason": "ContainerCreating"}}),
        json!({}),
        0,
        "Pending",
        false,
    );
    p["status"]["initContainerStatuses"] = json!([]);
    p["spec"]["initContainers"] = json!([]);
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD).says("FailedMount", "MountVolume.SetUp failed for volume \"signing-key\" : secret \"invoice-signing-key\" not found").count(12).build())];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-mount-failed"]);
    let f = fs.first().unwrap();
    assert_eq!(f.symptom, "ContainerCreating");
    assert!(
        f.cause
            .contains("Secret invoice-signing-key does not exist in namespace shop"),
        "{}",
        f.cause
    );
    assert!(f
        .related
        .iter()
        .any(|r| r.to_string() == "Secret/shop/invoice-signing-key"));
}

#[test]
fn config_error_names_missing_key() {
    let p = pod(
        json!({"waiting": {"reason": "CreateContainerConfigError", "message": "couldn't find key SMTP_HOST in ConfigMap shop/notifications-config"}}),
        json!({}),
        0,
        "Pending",
        false,
    );
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    fx.ns.config_maps = vec![obj(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "notifications-config", "namespace": NS}, "data": {"SMTP_PORT": "587"}}))];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-config-error"]);
    assert!(fs
        .first()
        .unwrap()
        .cause
        .contains("ConfigMap notifications-config has no key SMTP_HOST"));
}

#[test]
fn probe_on_undeclared_named_port_is_reported_numeric_only_when_ports_declared() {
    let mut p = pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({}),
        0,
        "Running",
        true,
    );
    p["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = json!("web");
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p.clone())];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["probe-port-mismatch"]);
    assert!(fs
        .first()
        .unwrap()
        .cause
        .contains("named port \"web\", but container app only names http"));
    // The sidecar's declared port does not make a named port of app valid,
    // but numbers are judged against every container's ports.
    p["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = json!(9901);
    fx.ns.pods = vec![obj(p.clone())];
    assert!(findings(&fx).is_empty());
    p["spec"]["containers"][0]["ports"] = json!([]);
    p["spec"]["initContainers"][1]["ports"] = json!([]);
    p["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = json!(8081);
    fx.ns.pods = vec![obj(p)];
    assert!(
        findings(&fx).is_empty(),
        "no declared ports: a number cannot be judged"
    );
}

#[test]
fn mutable_tag_is_one_info_finding_per_workload() {
    let mut a = pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({}),
        0,
        "Running",
        true,
    );
    a["spec"]["containers"][0]["image"] = json!("registry.example.com/shop/checkout:latest");
    let mut b = a.clone();
    b["metadata"]["name"] = json!("checkout-7c9d8f6b5-q8w2e");
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(a), obj(b)];
    fx.ns.replicasets = vec![obj(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "checkout-7c9d8f6b5", "namespace": NS,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout", "uid": "d-uid", "controller": true}]},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "checkout"}}}}))];
    let ctx = fx.ctx();
    let fs = run(&ctx);
    let mutable: Vec<&Finding> = fs
        .iter()
        .filter(|f| f.rule == "image-tag-mutable")
        .collect();
    assert_eq!(mutable.len(), 1);
    assert_eq!(
        mutable.first().unwrap().id,
        "image-tag-mutable:Deployment/shop/checkout"
    );
    assert_eq!(mutable.first().unwrap().severity, Severity::Info);
}

mod failures;
