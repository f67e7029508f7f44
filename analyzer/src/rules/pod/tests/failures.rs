//! Pod-layer tests of the failures real clusters show: start failures,
//! volume failures of every type, evictions, repeated log errors, and the
//! near misses (recovered containers, numeric probe ports) that must stay
//! silent. Messages are the kubelet's and runtimes' own wording.

use super::*;

/// `app` running since `since`, after a non-zero exit at `finished`.
fn recovered(restarts: i32, finished: &str, since: &str) -> Value {
    pod(
        json!({"running": {"startedAt": since}}),
        json!({"terminated": {"exitCode": 2, "reason": "Error",
            "startedAt": "2026-11-20T06:00:00Z", "finishedAt": finished}}),
        restarts,
        "Running",
        true,
    )
}

#[test]
fn restarts_long_ago_with_the_container_ready_since_are_not_reported() {
    // k3d after a node reboot: 96 lifetime restarts, the last 7 hours ago.
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(recovered(
        96,
        "2026-11-20T07:32:00Z",
        "2026-11-20T07:32:05Z",
    ))];
    assert!(findings(&fx).is_empty());
    // The same container waiting to be recreated, its last exit 5 h old:
    // not a crash loop either.
    let mut p = recovered(96, "2026-11-20T09:30:00Z", "2026-11-20T09:30:05Z");
    p["status"]["containerStatuses"][0]["state"] =
        json!({"waiting": {"reason": "ContainerCreating"}});
    fx.ns.pods = vec![obj(p)];
    assert!(!rules(&findings(&fx)).contains(&"pod-crashloop"));
}

#[test]
fn restart_storm_needs_restarts_that_keep_coming() {
    // Last restart 20 min ago, but 6 restarts over a pod life of 30 days:
    // one blip, not a storm.
    let mut p = recovered(6, "2026-11-20T14:12:00Z", "2026-11-20T14:12:02Z");
    p["status"]["startTime"] = json!("2026-10-21T14:00:00Z");
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p.clone())];
    assert!(findings(&fx).is_empty());
    // The kubelet killing it for failing its liveness probe in the window
    // makes it a storm, at error.
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD)
        .says(
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
        )
        .count(31)
        .build())];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-restart-storm"]);
    let f = fs.first().unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.cause.contains("liveness probe fails") && f.cause.contains("statuscode: 500"),
        "{}",
        f.cause
    );
}

#[test]
fn crashloop_quotes_the_node_exception_not_the_version_line() {
    let log = "> checkout@2.3.1 start\n> node server.js\n\n/app/server.js:12\n    throw new Error('DATABASE_URL is not set');\n    ^\n\nError: DATABASE_URL is not set\n    at Object.<anonymous> (/app/server.js:12:11)\n    at Module._compile (node:internal/modules/cjs/loader:1256:14)\n\nNode.js v18.17.1\n";
    let path = format!("logs/{NS}/{POD}/app.previous.log");
    let mut fx = Fixture::with_logs(NS, &[(path.as_str(), log)]);
    fx.ns.pods = vec![obj(crashing())];
    let fs = findings(&fx);
    let f = fs.first().unwrap();
    assert!(
        f.cause
            .ends_with("it logged before exiting: Error: DATABASE_URL is not set"),
        "{}",
        f.cause
    );
    let quoted: Vec<usize> = f
        .evidence
        .iter()
        .find_map(|e| match e {
            Evidence::Log { lines, .. } => Some(lines.iter().map(|l| l.number).collect()),
            _ => None,
        })
        .unwrap();
    // The throw site, the exception and its first frame, then the tail.
    assert_eq!(quoted, vec![5, 6, 8, 9, 10, 12]);
}

#[test]
fn crashloop_quotes_the_termination_message() {
    let mut p = crashing();
    p["status"]["containerStatuses"][0]["lastState"]["terminated"]["message"] =
        json!("panic: open /etc/checkout/config.yaml: no such file or directory");
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    let fs = findings(&fx);
    let f = fs.first().unwrap();
    assert!(
        f.cause
            .contains("exit code 1 (Error): panic: open /etc/checkout/config.yaml"),
        "{}",
        f.cause
    );
}

const RUNC: &str = "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"checkout-server\": executable file not found in $PATH: unknown";

#[test]
fn start_failure_quotes_the_runtime_and_is_not_a_crashloop() {
    // containerd: StartError exit 128, then CrashLoopBackOff.
    let mut p = crashing();
    p["status"]["containerStatuses"][0]["lastState"] = json!({"terminated": {"exitCode": 128,
        "reason": "StartError", "message": format!("failed to create containerd task: {RUNC}"),
        "startedAt": "1970-01-01T00:00:00Z", "finishedAt": "2026-11-20T14:30:00Z"}});
    p["spec"]["containers"][0]["command"] = json!(["checkout-server", "--port=8080"]);
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-start-failed"]);
    let f = fs.first().unwrap();
    assert_eq!(f.severity, Severity::Critical);
    assert!(
        f.cause.contains(
            "container app's process: exec: \"checkout-server\": executable file not found in $PATH (spec command: checkout-server --port=8080)"
        ),
        "{}",
        f.cause
    );
}

#[test]
fn init_container_run_error_is_a_start_failure() {
    let mut p = pod(
        json!({"waiting": {"reason": "PodInitializing"}}),
        json!({}),
        0,
        "Pending",
        false,
    );
    p["status"]["initContainerStatuses"][0] = json!({"name": "migrate", "ready": false, "restartCount": 1,
        "image": "registry.example.com/shop/checkout:2.3.1", "imageID": "registry.example.com/shop/checkout@sha256:aa01",
        "state": {"waiting": {"reason": "RunContainerError",
            "message": format!("failed to start container \"b201927f\": Error response from daemon: {RUNC}")}},
        "lastState": {"terminated": {"exitCode": 127, "reason": "ContainerCannotRun", "message": RUNC,
            "startedAt": "2026-11-20T14:30:00Z", "finishedAt": "2026-11-20T14:30:00Z"}}});
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-start-failed"]);
    assert!(fs
        .first()
        .unwrap()
        .cause
        .contains("init container migrate's process: exec: \"checkout-server\""));
}

#[test]
fn an_old_start_failure_of_a_running_container_is_not_reported() {
    let mut p = recovered(1, "2026-11-20T09:00:00Z", "2026-11-20T09:00:05Z");
    p["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] =
        json!("ContainerCannotRun");
    p["status"]["containerStatuses"][0]["lastState"]["terminated"]["message"] = json!(RUNC);
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    assert!(findings(&fx).is_empty());
}

/// The pod waiting in ContainerCreating with `volumes`, no init containers.
fn creating(volumes: Value) -> Value {
    let mut p = pod(
        json!({"waiting": {"reason": "ContainerCreating"}}),
        json!({}),
        0,
        "Pending",
        false,
    );
    p["status"]["initContainerStatuses"] = json!([]);
    p["spec"]["initContainers"] = json!([]);
    p["spec"]["volumes"] = volumes;
    p
}

#[test]
fn hostpath_type_check_is_quoted_over_the_generic_timeout() {
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(creating(json!([
        {"name": "host", "hostPath": {"path": "/var/lib/collectd", "type": "Directory"}},
        {"name": "kube-api-access-xddvj", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt"}}]}}
    ])))];
    fx.ns.events = vec![
        obj(EventFixture::about(NS, "Pod", POD).says("FailedMount", "MountVolume.SetUp failed for volume \"host\" : hostPath type check failed: /var/lib/collectd is not a directory").count(490).build()),
        obj(EventFixture::about(NS, "Pod", POD).says("FailedMount", "Unable to attach or mount volumes: unmounted volumes=[host], unattached volumes=[host kube-api-access-xddvj]: timed out waiting for the condition").count(324).series().build()),
    ];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-mount-failed"]);
    let f = fs.first().unwrap();
    assert_eq!(
        f.cause,
        "volume \"host\" (hostPath /var/lib/collectd, type Directory) cannot be mounted: hostPath type check failed: /var/lib/collectd is not a directory"
    );
}

#[test]
fn multi_attach_names_the_claim_behind_the_pv() {
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(creating(
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "checkout-data"}}]),
    ))];
    fx.ns.pvcs = vec![obj(
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "checkout-data", "namespace": NS},
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pvc-ec14e20f-64f4-42ea-b29a-57f1bc3fa788",
                 "resources": {"requests": {"storage": "10Gi"}}},
        "status": {"phase": "Bound"}}),
    )];
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD).says("FailedAttachVolume", "Multi-Attach error for volume \"pvc-ec14e20f-64f4-42ea-b29a-57f1bc3fa788\" Volume is already used by pod(s) checkout-7f94d9db-2bs4j").build())];
    let fs = findings(&fx);
    let f = fs.first().unwrap();
    assert_eq!(f.rule, "pod-mount-failed");
    assert!(
        f.cause.starts_with("volume \"pvc-ec14e20f-64f4-42ea-b29a-57f1bc3fa788\" (PVC checkout-data) cannot be attached: Multi-Attach error: Volume is already used by pod(s) checkout-7f94d9db-2bs4j"),
        "{}",
        f.cause
    );
}

#[test]
fn generic_timeout_alone_says_no_specific_error_was_recorded() {
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(creating(
        json!([{"name": "shared", "nfs": {"server": "10.20.0.5", "path": "/exports/shop"}}]),
    ))];
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD).says("FailedMount", "Unable to attach or mount volumes: unmounted volumes=[shared], unattached volumes=[shared]: timed out waiting for the condition").count(7).build())];
    let f = findings(&fx).into_iter().next().unwrap();
    assert!(
        f.cause.starts_with("volume \"shared\" (NFS 10.20.0.5:/exports/shop) cannot be mounted: the kubelet gave up waiting (timed out waiting for the condition)"),
        "{}",
        f.cause
    );
}

#[test]
fn mount_noise_at_kubelet_start_of_a_running_pod_is_history() {
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({}),
        0,
        "Running",
        true,
    ))];
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD).says("FailedMount", "MountVolume.SetUp failed for volume \"config\" : failed to sync configmap cache: timed out waiting for the condition").count(2).build())];
    assert!(findings(&fx).is_empty());
}

#[test]
fn numeric_probe_port_is_valid_even_when_the_probe_fails() {
    let mut p = pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({}),
        0,
        "Running",
        true,
    );
    // CoreDNS probes :8181 (readiness) and :8080 (liveness) without
    // declaring either.
    p["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = json!(8181);
    p["spec"]["containers"][0]["livenessProbe"] =
        json!({"httpGet": {"path": "/health", "port": 8080}});
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    assert!(findings(&fx).is_empty());
}

#[test]
fn unresolvable_named_port_is_an_error_only_with_failures_shown() {
    let mut p = pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({}),
        0,
        "Running",
        false,
    );
    p["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = json!("metrics");
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p)];
    let fs = findings(&fx);
    let f = fs.iter().find(|f| f.rule == "probe-port-mismatch").unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.cause.contains("no failure recorded yet"), "{}", f.cause);
    // The kubelet cannot resolve the name: the probe errors, and readiness
    // keeps its initial failure.
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD).says("Unhealthy", "Readiness probe errored and resulted in unknown state: strconv.Atoi: parsing \"metrics\": invalid syntax").count(40).build())];
    let fs = findings(&fx);
    let f = fs.iter().find(|f| f.rule == "probe-port-mismatch").unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.cause
            .contains("not ready (40 Unhealthy readiness events)"),
        "{}",
        f.cause
    );
    // A liveness probe on an unresolvable name only errors: the kubelet
    // never restarts for that, so restarts are not blamed on it.
    let mut p = pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2026-11-20T12:00:00Z", "finishedAt": "2026-11-20T13:00:00Z"}}),
        1,
        "Running",
        true,
    );
    p["spec"]["containers"][0]["livenessProbe"] = json!({"tcpSocket": {"port": "admin"}});
    fx.ns.pods = vec![obj(p)];
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD).says("Unhealthy", "Liveness probe errored and resulted in unknown state: strconv.Atoi: parsing \"admin\": invalid syntax").count(12).build())];
    let fs = findings(&fx);
    let f = fs.iter().find(|f| f.rule == "probe-port-mismatch").unwrap();
    assert_eq!(f.severity, Severity::Warning);
}

#[test]
fn numeric_probe_port_is_judged_only_when_its_failures_say_nothing_listens() {
    let mut p: Value = pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({}),
        0,
        "Running",
        false,
    );
    p["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = json!(8081);
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![obj(p.clone())];
    // The app answers on 8081, just unhealthily: not a port problem.
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD)
        .says(
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
        )
        .count(40)
        .build())];
    assert!(!rules(&findings(&fx)).contains(&"probe-port-mismatch"));
    fx.ns.events = vec![obj(EventFixture::about(NS, "Pod", POD).says("Unhealthy", "Readiness probe failed: Get \"http://10.244.1.17:8081/ready\": dial tcp 10.244.1.17:8081: connect: connection refused").count(40).build())];
    let fs = findings(&fx);
    let f = fs.iter().find(|f| f.rule == "probe-port-mismatch").unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.cause.contains("targets port 8081, which nothing listens on (connection refused), while the pod's containers declare 8080, 9901, and the container is not ready"),
        "{}",
        f.cause
    );
    // The same refusals from start-up, the container Ready since: history.
    p["status"]["containerStatuses"][0]["ready"] = json!(true);
    p["status"]["conditions"][1]["status"] = json!("True");
    fx.ns.pods = vec![obj(p)];
    assert!(!rules(&findings(&fx)).contains(&"probe-port-mismatch"));
}

/// A pod of ReplicaSet checkout-7c9d8f6b5 evicted from worker-1.
fn evicted(name: &str, at: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": "2026-11-20T12:00:00Z",
            "labels": {"app.kubernetes.io/name": "checkout"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-7c9d8f6b5",
                                 "uid": "rs-uid", "controller": true}]},
        "spec": {"nodeName": "worker-1", "containers": [{"name": "app", "image": "registry.example.com/shop/checkout:2.3.1"}]},
        "status": {"phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91572Ki. Container app was using 1243Mi, request is 128Mi, has larger consumption of memory. ",
            "startTime": "2026-11-20T12:00:02Z",
            "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                "message": "The node was low on resource: memory.", "lastTransitionTime": at}],
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 2, "image": "registry.example.com/shop/checkout:2.3.1",
                "imageID": "", "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
                "startedAt": "2026-11-20T12:00:03Z", "finishedAt": at}}}]}
    })
}

#[test]
fn evicted_replicas_give_one_finding_graded_by_their_replacement() {
    let mut fx = Fixture::new(NS);
    fx.ns.pods = vec![
        obj(evicted("checkout-7c9d8f6b5-a1b2c", "2026-11-20T13:10:00Z")),
        obj(evicted("checkout-7c9d8f6b5-d3e4f", "2026-11-20T13:40:00Z")),
    ];
    fx.ns.replicasets = vec![obj(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "checkout-7c9d8f6b5", "namespace": NS,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout", "uid": "d-uid", "controller": true}]},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "checkout"}}}}))];
    let ctx = fx.ctx();
    let fs: Vec<Finding> = run(&ctx)
        .into_iter()
        .filter(|f| f.rule != "image-tag-mutable")
        .collect();
    assert_eq!(
        rules(&fs),
        vec!["pod-evicted"],
        "no crash finding for evicted pods"
    );
    let f = fs.first().unwrap();
    assert_eq!(f.id, "pod-evicted:Pod/shop/checkout-7c9d8f6b5-d3e4f");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.symptom, "Evicted (2 pods)");
    assert!(
        f.cause.contains("from node worker-1 (The node was low on resource: memory. Threshold quantity: 100Mi, available: 91572Ki. Container app was using 1243Mi"),
        "{}",
        f.cause
    );
    assert!(f
        .related
        .iter()
        .any(|r| r.to_string() == "Deployment/shop/checkout"));
    // A replacement Running and Ready makes it a warning.
    drop(ctx);
    fx.ns.pods.push(obj(pod(
        json!({"running": {"startedAt": "2026-11-20T13:41:00Z"}}),
        json!({}),
        0,
        "Running",
        true,
    )));
    let ctx = fx.ctx();
    let f = run(&ctx)
        .into_iter()
        .find(|f| f.rule == "pod-evicted")
        .unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.cause
            .contains(&format!("pod {POD} of the same owner is Running and Ready")),
        "{}",
        f.cause
    );
}

#[test]
fn a_ready_pod_repeating_an_error_is_reported_once_nothing_else_explains_it() {
    let mut log = String::new();
    for i in 0..12 {
        log.push_str(&format!(
            "[Fri Nov 20 14:{:02}:00 UTC 2026] Attempting to connect to database...\n",
            20 + i
        ));
        log.push_str(&format!("[Fri Nov 20 14:{:02}:00 UTC 2026] ERROR: Connection refused - FATAL: password authentication failed for user 'checkout'\n", 20 + i));
    }
    let path = format!("logs/{NS}/{POD}/app.log");
    let mut fx = Fixture::with_logs(NS, &[(path.as_str(), log.as_str())]);
    fx.ns.pods = vec![obj(pod(
        json!({"running": {"startedAt": "2026-11-20T13:00:10Z"}}),
        json!({}),
        0,
        "Running",
        true,
    ))];
    let fs = findings(&fx);
    assert_eq!(rules(&fs), vec!["pod-log-errors"]);
    let f = fs.first().unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.cause.contains("repeats the same error 12 times")
            && f.cause.ends_with("ERROR: Connection refused - FATAL: password authentication failed for user 'checkout'"),
        "{}",
        f.cause
    );
    // A crash-looping pod is explained by its crash, not its log errors.
    fx.ns.pods = vec![obj(crashing())];
    assert_eq!(rules(&findings(&fx)), vec!["pod-crashloop"]);
}
