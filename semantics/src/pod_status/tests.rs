//! Unit tests for `pod_status` on pod objects shaped as the API server
//! returns them (kubelet reasons and messages included).

use super::*;
use serde_json::{json, Value};

const NOW: &str = "2024-05-01T12:00:00Z";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc)
}

fn pod(v: Value) -> Pod {
    serde_json::from_value(v).unwrap()
}

fn meta(name: &str) -> Value {
    json!({
        "name": name,
        "namespace": "shop",
        "uid": "5b1e0c1c-8f1e-4a51-9d0e-3c3b1f6f2a10",
        "creationTimestamp": "2024-04-28T09:00:00Z",
        "labels": {"app": "checkout", "pod-template-hash": "7d4b9c8f6d"}
    })
}

fn ready_conditions(ready: bool) -> Value {
    let r = if ready { "True" } else { "False" };
    json!([
        {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2024-04-28T09:00:03Z"},
        {"type": "Initialized", "status": "True", "lastTransitionTime": "2024-04-28T09:00:05Z"},
        {"type": "Ready", "status": r, "lastTransitionTime": "2024-05-01T11:40:00Z"},
        {"type": "ContainersReady", "status": r, "lastTransitionTime": "2024-05-01T11:40:00Z"},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2024-04-28T09:00:00Z"}
    ])
}

fn running(name: &str, restarts: i32) -> Value {
    json!({
        "name": name, "image": "ghcr.io/acme/checkout:1.4.2", "imageID": "", "ready": true,
        "started": true, "restartCount": restarts,
        "state": {"running": {"startedAt": "2024-04-28T09:00:10Z"}}
    })
}

fn crashloop(name: &str, restarts: i32, finished: &str) -> Value {
    json!({
        "name": name, "image": "ghcr.io/acme/checkout:1.4.2", "imageID": "", "ready": false,
        "started": false, "restartCount": restarts,
        "state": {"waiting": {
            "reason": "CrashLoopBackOff",
            "message": format!("back-off 5m0s restarting failed container={name} pod=checkout-7d4b9c8f6d-x2x9z_shop(5b1e0c1c-8f1e-4a51-9d0e-3c3b1f6f2a10)")
        }},
        "lastState": {"terminated": {
            "exitCode": 1, "reason": "Error",
            "startedAt": "2024-05-01T11:57:50Z", "finishedAt": finished,
            "containerID": "containerd://3f2a"
        }}
    })
}

#[test]
fn crash_loop_with_restart_age() {
    let p = pod(json!({
        "metadata": meta("checkout-7d4b9c8f6d-x2x9z"),
        "spec": {"nodeName": "worker-2", "containers": [{"name": "app"}, {"name": "envoy"}]},
        "status": {
            "phase": "Running", "conditions": ready_conditions(false),
            "podIP": "10.244.2.17", "podIPs": [{"ip": "10.244.2.17"}],
            "containerStatuses": [crashloop("app", 5, "2024-05-01T11:58:00Z"), running("envoy", 0)]
        }
    }));
    let row = pod_row(&p, now());
    assert_eq!(row.ready, "1/2");
    assert_eq!(row.status, "CrashLoopBackOff");
    assert_eq!(row.restarts, "5 (2m ago)");
    assert_eq!(row.restart_count, 5);
    assert_eq!(row.age, "3d3h");
    assert_eq!(row.ip, "10.244.2.17");
    assert_eq!(row.node, "worker-2");
    assert_eq!(row.nominated_node, "<none>");
    assert_eq!(row.readiness_gates, "<none>");
    assert_eq!(container_restarts(&p), 5);
}

#[test]
fn latest_finished_at_wins_across_containers() {
    let p = pod(json!({
        "metadata": meta("checkout-1"),
        "spec": {"containers": [{"name": "app"}, {"name": "worker"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                crashloop("app", 2, "2024-05-01T10:00:00Z"),
                crashloop("worker", 3, "2024-05-01T11:59:15Z")
            ]
        }
    }));
    let row = pod_row(&p, now());
    assert_eq!(row.restarts, "5 (45s ago)");
}

#[test]
fn init_containers_in_progress() {
    let p = pod(json!({
        "metadata": meta("migrate-0"),
        "spec": {"initContainers": [{"name": "wait-db"}, {"name": "migrate"}], "containers": [{"name": "app"}]},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
                            "message": "containers with incomplete status: [wait-db migrate]"}],
            "initContainerStatuses": [
                {"name": "wait-db", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                 "started": true, "state": {"running": {"startedAt": "2024-05-01T11:59:00Z"}}},
                {"name": "migrate", "image": "migrate", "imageID": "", "ready": false, "restartCount": 0,
                 "started": false, "state": {"waiting": {"reason": "PodInitializing"}}}
            ],
            "containerStatuses": [
                {"name": "app", "image": "app", "imageID": "", "ready": false, "restartCount": 0,
                 "started": false, "state": {"waiting": {"reason": "PodInitializing"}}}
            ]
        }
    }));
    let row = pod_row(&p, now());
    assert_eq!(row.status, "Init:0/2");
    assert_eq!(row.ready, "0/1");
    assert_eq!(row.restarts, "0");
}

#[test]
fn init_crash_loop_counts_init_restarts() {
    let p = pod(json!({
        "metadata": meta("migrate-1"),
        "spec": {"initContainers": [{"name": "wait-db"}, {"name": "migrate"}], "containers": [{"name": "app"}]},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized"}],
            "initContainerStatuses": [
                {"name": "wait-db", "image": "busybox", "imageID": "", "ready": true, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": "2024-05-01T11:50:00Z", "finishedAt": "2024-05-01T11:50:05Z"}}},
                crashloop("migrate", 3, "2024-05-01T11:59:20Z")
            ],
            "containerStatuses": [
                {"name": "app", "image": "app", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}
            ]
        }
    }));
    let row = pod_row(&p, now());
    assert_eq!(row.status, "Init:CrashLoopBackOff");
    assert_eq!(row.restarts, "3 (40s ago)");
}

fn failed_init(terminated: Value) -> Pod {
    pod(json!({
        "metadata": meta("setup"),
        "spec": {"initContainers": [{"name": "setup"}], "containers": [{"name": "app"}], "restartPolicy": "Never"},
        "status": {
            "phase": "Failed",
            "initContainerStatuses": [
                {"name": "setup", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": terminated}}
            ]
        }
    }))
}

#[test]
fn failed_init_container_reasons() {
    let sig =
        failed_init(json!({"exitCode": 137, "signal": 9, "finishedAt": "2024-05-01T11:00:00Z"}));
    assert_eq!(pod_status_reason(&sig), "Init:Signal:9");
    let code = failed_init(json!({"exitCode": 1, "finishedAt": "2024-05-01T11:00:00Z"}));
    assert_eq!(pod_status_reason(&code), "Init:ExitCode:1");
    let err = failed_init(json!({"exitCode": 1, "reason": "Error"}));
    assert_eq!(pod_status_reason(&err), "Init:Error");
    let oom = failed_init(json!({"exitCode": 137, "reason": "OOMKilled"}));
    assert_eq!(pod_status_reason(&oom), "Init:OOMKilled");
}

#[test]
fn init_image_pull_backoff() {
    let p = pod(json!({
        "metadata": meta("web"),
        "spec": {"initContainers": [{"name": "fetch"}], "containers": [{"name": "app"}]},
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "fetch", "image": "registry.local/fetch:missing", "imageID": "", "ready": false,
                 "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff",
                  "message": "Back-off pulling image \"registry.local/fetch:missing\""}}}
            ]
        }
    }));
    assert_eq!(pod_status_reason(&p), "Init:ImagePullBackOff");
}

#[test]
fn sidecar_init_containers_count_in_ready_and_restarts() {
    let p = pod(json!({
        "metadata": meta("api-0"),
        "spec": {
            "initContainers": [
                {"name": "istio-init"},
                {"name": "istio-proxy", "restartPolicy": "Always"}
            ],
            "containers": [{"name": "api"}]
        },
        "status": {
            "phase": "Running", "conditions": ready_conditions(true),
            "initContainerStatuses": [
                {"name": "istio-init", "image": "proxyv2", "imageID": "", "ready": true, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "istio-proxy", "image": "proxyv2", "imageID": "", "ready": true, "restartCount": 1,
                 "started": true, "state": {"running": {"startedAt": "2024-05-01T11:00:00Z"}},
                 "lastState": {"terminated": {"exitCode": 137, "reason": "Error",
                     "finishedAt": "2024-05-01T11:00:00Z"}}}
            ],
            "containerStatuses": [running("api", 0)]
        }
    }));
    let row = pod_row(&p, now());
    assert_eq!(row.ready, "2/2");
    assert_eq!(row.status, "Running");
    assert_eq!(row.restarts, "1 (60m ago)");
}

#[test]
fn completed_main_with_running_sidecar() {
    let status = |ready: bool| {
        json!({
            "phase": "Running", "conditions": ready_conditions(ready),
            "containerStatuses": [
                {"name": "job", "image": "job", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                running("log-shipper", 0)
            ]
        })
    };
    let spec = json!({"containers": [{"name": "job"}, {"name": "log-shipper"}]});
    let ready = pod(json!({"metadata": meta("batch"), "spec": spec, "status": status(true)}));
    assert_eq!(pod_status_reason(&ready), "Running");
    let not_ready = pod(json!({"metadata": meta("batch"), "spec": spec, "status": status(false)}));
    assert_eq!(pod_status_reason(&not_ready), "NotReady");
    assert_eq!(pod_row(&not_ready, now()).ready, "1/2");
}

#[test]
fn terminated_without_reason_shows_signal_or_exit_code() {
    let p = |t: Value| {
        pod(json!({
            "metadata": meta("x"),
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "app", "image": "app", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": t}}]}
        }))
    };
    assert_eq!(
        pod_status_reason(&p(json!({"exitCode": 143, "signal": 15}))),
        "Signal:15"
    );
    assert_eq!(pod_status_reason(&p(json!({"exitCode": 2}))), "ExitCode:2");
    assert_eq!(
        pod_status_reason(&p(json!({"exitCode": 137, "reason": "OOMKilled"}))),
        "OOMKilled"
    );
}

#[test]
fn succeeded_job_pod_is_completed() {
    let p = pod(json!({
        "metadata": meta("report-28561920-abcde"),
        "spec": {"containers": [{"name": "report"}], "restartPolicy": "OnFailure"},
        "status": {"phase": "Succeeded", "containerStatuses": [
            {"name": "report", "image": "report", "imageID": "", "ready": false, "restartCount": 0,
             "started": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    }));
    let row = pod_row(&p, now());
    assert_eq!(row.status, "Completed");
    assert_eq!(row.ready, "0/1");
}

#[test]
fn evicted_pod_shows_pod_reason() {
    let p = pod(json!({
        "metadata": meta("web-evicted"),
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Failed", "reason": "Evicted",
                   "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91208Ki. "}
    }));
    assert_eq!(pod_status_reason(&p), "Evicted");
}

#[test]
fn terminating_and_node_lost() {
    let mut m = meta("web-1");
    m["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
    m["deletionGracePeriodSeconds"] = json!(30);
    let running_pod = pod(json!({
        "metadata": m.clone(),
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Running", "containerStatuses": [running("app", 0)]}
    }));
    assert_eq!(pod_status_reason(&running_pod), "Terminating");
    let lost = pod(json!({
        "metadata": m.clone(),
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Running", "reason": "NodeLost",
                   "message": "Node worker-3 which was running pod web-1 is unresponsive"}
    }));
    assert_eq!(pod_status_reason(&lost), "Unknown");
    let done = pod(json!({
        "metadata": m,
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Succeeded"}
    }));
    assert_eq!(pod_status_reason(&done), "Succeeded");
}

#[test]
fn scheduling_gated_and_unschedulable() {
    let gated = pod(json!({
        "metadata": meta("gated"),
        "spec": {"containers": [{"name": "app"}], "schedulingGates": [{"name": "example.com/quota"}]},
        "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
             "message": "Scheduling is blocked due to non-empty scheduling gates"}]}
    }));
    let row = pod_row(&gated, now());
    assert_eq!(row.status, "SchedulingGated");
    assert_eq!(row.ip, "<none>");
    assert_eq!(row.node, "<none>");
    let pending = pod(json!({
        "metadata": meta("pending"),
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Pending", "nominatedNodeName": "worker-1", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."}]}
    }));
    let row = pod_row(&pending, now());
    assert_eq!(row.status, "Pending");
    assert_eq!(row.nominated_node, "worker-1");
}

#[test]
fn readiness_gates_and_ip_fallback() {
    let p = pod(json!({
        "metadata": meta("lb-target"),
        "spec": {"containers": [{"name": "app"}], "readinessGates": [
            {"conditionType": "target-health.elbv2.k8s.aws/k8s-shop-web"},
            {"conditionType": "example.com/feature"}]},
        "status": {"phase": "Running", "podIP": "10.0.3.4", "conditions": [
            {"type": "target-health.elbv2.k8s.aws/k8s-shop-web", "status": "True"},
            {"type": "example.com/feature", "status": "False"}],
            "containerStatuses": [running("app", 0)]}
    }));
    let row = pod_row(&p, now());
    assert_eq!(row.readiness_gates, "1/2");
    assert_eq!(row.ip, "10.0.3.4");
    assert_eq!(row.status, "Running");
}

#[test]
fn missing_creation_timestamp_is_unknown_age() {
    let p = pod(json!({"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "a"}]}}));
    let row = pod_row(&p, now());
    assert_eq!(row.age, "<unknown>");
    assert_eq!(row.status, "");
    assert_eq!(row.ready, "0/1");
}
