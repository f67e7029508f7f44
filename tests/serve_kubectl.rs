//! Real kubectl against `kpm_serve` on a synthetic bundle whose every cell
//! is known: exact output lines, errors worded as the API server words them,
//! and nothing on kubectl's stderr when a command succeeds.

use crate::support::serve::{pods, rows, serve, serve_with_latency, write_fixture, Served};
use serde_json::Value;

fn fixture() -> (tempfile::TempDir, Served) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = write_fixture(dir.path());
    let served = serve(&bundle, None, &[]);
    (dir, served)
}

#[test]
fn get_pods_prints_the_api_server_columns() {
    let (_d, s) = fixture();
    assert_eq!(
        rows(&s.ok(&["get", "pods", "-A"])),
        [
            "NAMESPACE NAME READY STATUS RESTARTS AGE",
            "shop api-6f7c9d-xk2lp 1/2 CrashLoopBackOff 7 (3m ago) 3h",
            "shop web-7c9d8f-abcde 1/1 Running 0 24h",
            "shop worker-5d8b-q7x 0/1 Pending 0 10m",
        ]
    );
    assert_eq!(
        rows(&s.ok(&["get", "pods", "-n", "shop", "-o", "wide"])),
        [
            "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES",
            "api-6f7c9d-xk2lp 1/2 CrashLoopBackOff 7 (3m ago) 3h 10.244.2.17 worker-2 <none> <none>",
            "web-7c9d8f-abcde 1/1 Running 0 24h 10.244.1.7 worker-1 <none> <none>",
            "worker-5d8b-q7x 0/1 Pending 0 10m <none> <none> <none> <none>",
        ]
    );
    assert_eq!(
        rows(&s.ok(&[
            "get",
            "pods",
            "-n",
            "shop",
            "-l",
            "app in (web,worker)",
            "--no-headers"
        ])),
        [
            "web-7c9d8f-abcde 1/1 Running 0 24h",
            "worker-5d8b-q7x 0/1 Pending 0 10m"
        ]
    );
    assert_eq!(
        rows(&s.ok(&[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "spec.nodeName=worker-1",
            "--no-headers"
        ])),
        ["shop web-7c9d8f-abcde 1/1 Running 0 24h"]
    );
    let empty = s.kubectl(&["get", "pods", "-n", "default"]);
    assert_eq!(
        (empty.code, empty.stdout.as_str(), empty.stderr.as_str()),
        (Some(0), "", "No resources found in default namespace.\n")
    );
    assert_eq!(
        rows(&s.ok(&["get", "pod", "web-7c9d8f-abcde", "-n", "shop", "-o", "name"])),
        ["pod/web-7c9d8f-abcde"]
    );
}

#[test]
fn json_output_is_the_bundle_objects() {
    let (_d, s) = fixture();
    let out: Value =
        serde_json::from_str(&s.ok(&["get", "pods", "-n", "shop", "-o", "json"])).expect("json");
    let items = out["items"].as_array().expect("items");
    let want = pods();
    assert_eq!(items.len(), want.len());
    for (got, want) in items.iter().zip(&want) {
        let mut got = got.clone();
        assert_eq!(got["kind"], "Pod");
        if let Some(o) = got.as_object_mut() {
            o.remove("kind");
            o.remove("apiVersion");
        }
        assert_eq!(&got, want);
    }
    let one: Value = serde_json::from_str(&s.ok(&[
        "get",
        "pod",
        "api-6f7c9d-xk2lp",
        "-n",
        "shop",
        "-o",
        "json",
    ]))
    .expect("json");
    assert_eq!(one["status"]["containerStatuses"][0]["restartCount"], 7);
}

#[test]
fn describe_pod_shows_its_events_and_describe_node_its_allocation() {
    let (d, s) = fixture();
    let out = s.ok(&["describe", "pod", "api-6f7c9d-xk2lp", "-n", "shop"]);
    let lines = rows(&out);
    assert!(
        lines.contains(&"Name: api-6f7c9d-xk2lp".to_string()),
        "{out}"
    );
    assert!(
        lines.contains(&"Node: worker-2/10.0.0.12".to_string()),
        "{out}"
    );
    assert!(
        lines.contains(&"Reason: CrashLoopBackOff".to_string()),
        "{out}"
    );
    let events = out.split("Events:").nth(1).expect("events section");
    assert!(
        events.contains("Back-off restarting failed container api in pod api-6f7c9d-xk2lp_shop"),
        "{events}"
    );
    assert!(events.contains("(x41 over"), "{events}");
    assert!(events.contains("Started container api"), "{events}");
    // Only this pod's events.
    assert!(!events.contains("FailedScheduling"), "{events}");

    let alloc: Value = serde_json::from_slice(
        &std::fs::read(d.path().join("fixture/derived/node-allocation.json")).expect("alloc"),
    )
    .expect("json");
    for node in alloc["nodes"].as_array().expect("nodes") {
        let name = node["node"].as_str().expect("name");
        let out = s.ok(&["describe", "node", name]);
        let allocated = rows(
            out.split("Allocated resources:")
                .nth(1)
                .expect("allocated section"),
        );
        for row in node["rows"].as_array().expect("rows") {
            let cell = |q: &str, p: &str| match row[p].as_i64() {
                Some(pct) => format!("{} ({pct}%)", row[q].as_str().unwrap_or("")),
                None => row[q].as_str().unwrap_or("").to_string(),
            };
            let want = format!(
                "{} {} {}",
                row["resource"].as_str().unwrap_or(""),
                cell("requests", "requestsPercent"),
                cell("limits", "limitsPercent")
            );
            assert!(
                allocated.contains(&want),
                "{name}: missing {want:?} in {allocated:?}"
            );
        }
        let pods = node["nonTerminatedPods"].as_u64().expect("count");
        assert!(
            out.contains(&format!("Non-terminated Pods:          ({pods} in total)")),
            "{out}"
        );
    }
}

#[test]
fn services_endpoints_ingresses_and_hpas() {
    let (_d, s) = fixture();
    assert_eq!(
        rows(&s.ok(&["get", "svc,endpoints,ingress,hpa", "-n", "shop"])),
        [
            "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE",
            "service/web ClusterIP 10.96.12.7 <none> 80/TCP 28d",
            "NAME ENDPOINTS AGE",
            "endpoints/web 10.244.1.7:80 28d",
            "NAME CLASS HOSTS ADDRESS PORTS AGE",
            "ingress.networking.k8s.io/shop nginx shop.example.com 203.0.113.10 80 28d",
            "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE",
            "horizontalpodautoscaler.autoscaling/web Deployment/web cpu: <unknown>/80% 1 5 1 28d",
        ]
    );
}

#[test]
fn events_sort_by_last_timestamp() {
    let (_d, s) = fixture();
    assert_eq!(
        rows(&s.ok(&["get", "events", "-n", "shop", "--sort-by=.lastTimestamp"])),
        [
            "LAST SEEN TYPE REASON OBJECT MESSAGE",
            "24h Normal Scheduled pod/web-7c9d8f-abcde Successfully assigned shop/web-7c9d8f-abcde to worker-1",
            "5m Warning FailedScheduling pod/worker-5d8b-q7x 0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
            "3m10s Normal Started pod/api-6f7c9d-xk2lp Started container api",
            "2m Warning BackOff pod/api-6f7c9d-xk2lp Back-off restarting failed container api in pod api-6f7c9d-xk2lp_shop(0c9a7e1e-1111-4a5b-9c1d-2e3f4a5b6c7d)",
        ]
    );
}

#[test]
fn logs_current_previous_and_their_errors() {
    let (_d, s) = fixture();
    assert_eq!(
        s.ok(&["logs", "web-7c9d8f-abcde", "-n", "shop", "--tail=1"]),
        "10.244.2.17 - - [01/Mar/2025:11:59:59 +0000] \"GET / HTTP/1.1\" 200 615\n"
    );
    let previous = "starting api 1.4.2\nconnecting to postgres at db.shop.svc:5432\npanic: dial tcp 10.96.40.2:5432: connect: connection refused\n";
    assert_eq!(
        s.ok(&[
            "logs",
            "api-6f7c9d-xk2lp",
            "-n",
            "shop",
            "-c",
            "api",
            "--previous"
        ]),
        previous
    );
    // Waiting to restart: the kubelet serves the last terminated instance.
    assert_eq!(
        s.ok(&["logs", "api-6f7c9d-xk2lp", "-n", "shop", "-c", "api"]),
        previous
    );
    assert_eq!(
        s.fails(&["logs", "api-6f7c9d-xk2lp", "-n", "shop", "-c", "envoy", "--previous"]).trim(),
        "Error from server (BadRequest): previous terminated container \"envoy\" in pod \"api-6f7c9d-xk2lp\" not found"
    );
    assert_eq!(
        s.fails(&["get", "--raw", &s.raw("/api/v1/namespaces/shop/pods/api-6f7c9d-xk2lp/log")]).trim(),
        "Error from server (BadRequest): a container name must be specified for pod api-6f7c9d-xk2lp, choose one of: [api envoy]"
    );
    assert_eq!(
        s.fails(&["logs", "worker-5d8b-q7x", "-n", "shop"]).trim(),
        "Error from server (BadRequest): pod worker-5d8b-q7x does not have a host assigned"
    );
    assert_eq!(
        s.ok(&["get", "--raw", &s.raw("/api/v1/namespaces/shop/pods/api-6f7c9d-xk2lp/log?container=api&previous=true&limitBytes=18")]),
        "starting api 1.4.2"
    );
}

#[test]
fn top_pods_and_nodes() {
    let (_d, s) = fixture();
    assert_eq!(
        rows(&s.ok(&["top", "pods", "-n", "shop"])),
        [
            "NAME CPU(cores) MEMORY(bytes)",
            "api-6f7c9d-xk2lp 120m 256Mi",
            "web-7c9d8f-abcde 3m 12Mi"
        ]
    );
    assert_eq!(
        rows(&s.ok(&["top", "nodes"])),
        [
            "NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)",
            "worker-1 400m 10% 4096Mi 25%",
            "worker-2 813m 20% 2048Mi 12%",
        ]
    );
}

#[test]
fn cluster_info_dump_completes() {
    let (_d, s) = fixture();
    let out = s.ok(&["cluster-info", "dump", "--all-namespaces"]);
    assert!(
        out.contains("\"name\": \"web-7c9d8f-abcde\""),
        "pods missing from the dump"
    );
    assert!(
        out.contains("panic: dial tcp 10.96.40.2:5432"),
        "logs missing from the dump"
    );
}

#[test]
fn writes_and_forbidden_kinds_are_refused() {
    let (_d, s) = fixture();
    let err = s.fails(&["delete", "pod", "web-7c9d8f-abcde", "-n", "shop"]);
    assert!(err.starts_with("Error from server (MethodNotAllowed): DELETE is not allowed: this API server is a read-only snapshot"), "{err}");
    let err = s.fails(&["label", "pod", "web-7c9d8f-abcde", "-n", "shop", "x=y"]);
    assert!(err.contains("(MethodNotAllowed)"), "{err}");
    assert_eq!(
        s.fails(&["get", "secrets", "-n", "shop"]).trim(),
        "Error from server (Forbidden): secrets is forbidden: User \"kpm-snapshot\" cannot list resource \"secrets\" in API group \"\" in the namespace \"shop\""
    );
    assert_eq!(
        s.fails(&["get", "pod", "nope", "-n", "shop"]).trim(),
        "Error from server (NotFound): pods \"nope\" not found"
    );
}

#[test]
fn knobs_page_and_fail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = write_fixture(dir.path());
    let paged = serve(&bundle, Some(1), &[]);
    assert_eq!(
        rows(&paged.ok(&["get", "pods", "-A", "--no-headers"])).len(),
        3
    );
    assert_eq!(
        rows(&paged.ok(&["get", "events", "-A", "--no-headers"])).len(),
        4
    );
    let failing = serve(&bundle, None, &["shop/pods=500", "nodes=404"]);
    assert_eq!(
        failing.fails(&["get", "pods", "-n", "shop"]).trim(),
        "Error from server (InternalError): Internal error occurred: injected failure (--fail shop/pods=500)"
    );
    assert!(failing.fails(&["get", "nodes"]).contains("(NotFound)"));
    assert!(failing
        .kubectl(&["get", "pods", "-n", "default"])
        .stderr
        .starts_with("No resources found"));
    let logs = serve(&bundle, None, &["pods/log=403"]);
    let err = logs.fails(&["logs", "web-7c9d8f-abcde", "-n", "shop"]);
    assert!(
        err.contains("(Forbidden)") && err.contains("cannot get resource \"pods/log\""),
        "{err}"
    );
    assert_eq!(
        rows(&logs.ok(&["get", "pods", "-n", "shop", "--no-headers"])).len(),
        3
    );
}

#[test]
fn knobs_latency_and_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = write_fixture(dir.path());
    let slow = serve_with_latency(&bundle, 400, &["events=timeout"]);
    let t = std::time::Instant::now();
    assert_eq!(slow.ok(&["get", "--raw", "/healthz"]), "ok");
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(400),
        "latency knob not applied"
    );
    // The held request outlives the client's timeout: kubectl gives up.
    let t = std::time::Instant::now();
    let err = slow.fails(&["get", "events", "-n", "shop", "--request-timeout=2s"]);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(30),
        "timeout knob held past the client timeout"
    );
    assert!(
        err.to_lowercase().contains("timeout") || err.contains("deadline"),
        "{err}"
    );
}

#[test]
fn describe_other_kinds_without_errors() {
    let (_d, s) = fixture();
    for args in [
        vec!["describe", "namespace", "shop"],
        vec!["describe", "service", "web", "-n", "shop"],
        vec!["describe", "ingress", "shop", "-n", "shop"],
        vec!["describe", "hpa", "web", "-n", "shop"],
        vec!["describe", "node", "worker-1"],
    ] {
        let out = s.ok(&args);
        assert!(out.contains("Name:"), "kubectl {args:?}:\n{out}");
    }
    let svc = rows(&s.ok(&["describe", "service", "web", "-n", "shop"]));
    assert!(svc.contains(&"Selector: app=web".to_string()), "{svc:?}");
    let hpa = s.ok(&["describe", "hpa", "web", "-n", "shop"]);
    assert!(hpa.contains("FailedGetResourceMetric"), "{hpa}");
}
