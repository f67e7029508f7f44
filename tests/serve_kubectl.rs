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

/// Objects of the kinds around the workloads (#18) added to a copy of the
/// `pdb-allows-one` scenario (which holds a PDB), with an Event about the
/// StorageClass and one about the PDB: `(plural, list kind, apiVersion,
/// namespace, items)`.
#[allow(
    clippy::too_many_lines,
    reason = "one object per kind, clearer as a single table than split"
)]
fn platform_objects() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Value,
)> {
    let meta = |name: &str, ns: Option<&str>| {
        let mut m = serde_json::json!({"name": name, "uid": format!("uid-{name}"), "resourceVersion": "48213700",
            "creationTimestamp": "2026-10-01T09:00:00Z"});
        if let Some(ns) = ns {
            m["namespace"] = serde_json::json!(ns);
        }
        m
    };
    let webhook = |name: &str| {
        serde_json::json!({"name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail",
            "clientConfig": {"service": {"name": "policy-webhook", "namespace": "shop", "port": 443, "path": "/validate"}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "scope": "*"}]})
    };
    vec![
        (
            "cronjobs",
            "CronJobList",
            "batch/v1",
            Some("shop"),
            serde_json::json!([{"metadata": meta("nightly-report", Some("shop")),
            "spec": {"schedule": "0 2 * * *", "concurrencyPolicy": "Forbid", "suspend": false, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "report", "image": "ghcr.io/acme-shop/report:2.1.0"}]}}}}},
            "status": {"lastScheduleTime": "2026-11-20T02:00:00Z", "lastSuccessfulTime": "2026-11-20T02:03:11Z"}}]),
        ),
        (
            "networkpolicies",
            "NetworkPolicyList",
            "networking.k8s.io/v1",
            Some("shop"),
            serde_json::json!([{"metadata": meta("allow-ingress-nginx", Some("shop")),
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "checkout"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}], "ports": [{"port": "http", "protocol": "TCP"}]}]}}]),
        ),
        (
            "resourcequotas",
            "ResourceQuotaList",
            "v1",
            Some("shop"),
            serde_json::json!([{"metadata": meta("compute", Some("shop")),
            "spec": {"hard": {"pods": "20", "requests.cpu": "4"}}, "status": {"hard": {"pods": "20", "requests.cpu": "4"}, "used": {"pods": "7", "requests.cpu": "1750m"}}}]),
        ),
        (
            "limitranges",
            "LimitRangeList",
            "v1",
            Some("shop"),
            serde_json::json!([{"metadata": meta("defaults", Some("shop")),
            "spec": {"limits": [{"type": "Container", "default": {"memory": "512Mi"}, "defaultRequest": {"memory": "256Mi"}, "max": {"memory": "2Gi"}}]}}]),
        ),
        (
            "storageclasses",
            "StorageClassList",
            "storage.k8s.io/v1",
            None,
            serde_json::json!([{"metadata": meta("gp3", None),
            "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"}, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true}]),
        ),
        (
            "persistentvolumes",
            "PersistentVolumeList",
            "v1",
            None,
            serde_json::json!([{"metadata": meta("pvc-5d1c9e0a", None),
            "spec": {"capacity": {"storage": "20Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "gp3",
                     "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "shop", "name": "data-redis-0"},
                     "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0a1b2c3d4e5f60718", "fsType": "ext4"}},
            "status": {"phase": "Bound"}}]),
        ),
        (
            "volumeattachments",
            "VolumeAttachmentList",
            "storage.k8s.io/v1",
            None,
            serde_json::json!([{"metadata": meta("csi-3f1e2d", None),
            "spec": {"attacher": "ebs.csi.aws.com", "nodeName": "ip-10-0-1-17.ec2.internal", "source": {"persistentVolumeName": "pvc-5d1c9e0a"}},
            "status": {"attached": true}}]),
        ),
        (
            "priorityclasses",
            "PriorityClassList",
            "scheduling.k8s.io/v1",
            None,
            serde_json::json!([{"metadata": meta("shop-critical", None),
            "value": 100000, "globalDefault": false, "preemptionPolicy": "PreemptLowerPriority", "description": "Checkout and cart."}]),
        ),
        (
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfigurationList",
            "admissionregistration.k8s.io/v1",
            None,
            serde_json::json!([{"metadata": meta("policy-validator", None), "webhooks": [webhook("validate.policy.acme.example")]}]),
        ),
        (
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfigurationList",
            "admissionregistration.k8s.io/v1",
            None,
            serde_json::json!([{"metadata": meta("policy-mutator", None), "webhooks": [webhook("mutate.policy.acme.example")]}]),
        ),
    ]
}

/// A copy of `pdb-allows-one` with [`platform_objects`] and two Events.
fn write_platform_bundle(parent: &std::path::Path) -> std::path::PathBuf {
    use kpm_bundle::{layout, Bundle, BundleWriter};
    let src = Bundle::open(kpm_e2e::testdata().join("pdb-allows-one")).expect("scenario opens");
    let root = parent.join("platform");
    let mut w = BundleWriter::create_dir(&root, false).expect("bundle dir");
    let objects = platform_objects();
    let path_of = |plural: &str, ns: Option<&str>| match ns {
        Some(ns) => layout::namespaced_path(ns, plural),
        None => format!("cluster/{plural}.json"),
    };
    let replaced: Vec<String> = objects
        .iter()
        .map(|(p, _, _, ns, _)| path_of(p, *ns))
        .collect();
    let events_path = layout::namespaced_path("shop", "events");
    for entry in src.entries() {
        if entry == "manifest.json" || replaced.iter().any(|r| r == entry) || entry == events_path {
            continue;
        }
        let bytes = src.read_bytes(entry).expect("entry reads");
        w.write_entry(entry, &bytes).expect("entry written");
    }
    for (plural, kind, api_version, ns, items) in &objects {
        let list = serde_json::json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "48213701"}, "items": items});
        w.write_json(&path_of(plural, *ns), &list)
            .expect("list written");
    }
    // kubectl's describers select Events by the object's uid too.
    let pdbs: Value = serde_json::from_slice(
        &src.read_bytes(&layout::namespaced_path("shop", "poddisruptionbudgets"))
            .expect("PDBs read"),
    )
    .expect("PDB list");
    let pdb_uid = pdbs["items"][0]["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let event = |name: &str, kind: &str, object: &str, ns: &str, reason: &str, message: &str| {
        let uid = if kind == "PodDisruptionBudget" {
            pdb_uid.clone()
        } else {
            format!("uid-{object}")
        };
        serde_json::json!({"metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"), "creationTimestamp": "2026-11-20T14:20:00Z"},
            "involvedObject": {"kind": kind, "name": object, "namespace": ns, "uid": uid},
            "reason": reason, "message": message, "type": "Normal", "count": 1, "source": {"component": "controllermanager"},
            "firstTimestamp": "2026-11-20T14:20:00Z", "lastTimestamp": "2026-11-20T14:20:00Z"})
    };
    let events = serde_json::json!({"kind": "EventList", "apiVersion": "v1", "metadata": {"resourceVersion": "48213702"}, "items": [
        event("checkout.1879a2b3c4d5e6f7", "PodDisruptionBudget", "checkout", "shop", "NoPods", "No matching pods found"),
        event("gp3.1879a2b3c4d5e6f8", "StorageClass", "gp3", "", "ProvisioningSucceeded", "Successfully provisioned volume pvc-5d1c9e0a"),
    ]});
    w.write_json(&events_path, &events).expect("events written");
    let mut manifest = src.manifest().clone();
    manifest.files = Default::default();
    w.finish(manifest).expect("finish")
}

/// `kubectl describe` of every kind around the workloads (#18) against
/// serve: each describer (CronJob, PDB, NetworkPolicy, ResourceQuota,
/// LimitRange, StorageClass, PV, and the generic one of VolumeAttachment,
/// PriorityClass and webhook configurations) prints the object's fields and
/// finds its Events through serve's field selectors, without an error.
#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one table of commands and the texts each must print"
)]
fn describe_the_kinds_around_the_workloads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = write_platform_bundle(dir.path());
    let s = serve(&bundle, None, &[]);
    let cases: [(&[&str], &[&str]); 11] = [
        (
            &["-n", "shop", "describe", "cronjob", "nightly-report"],
            &[
                "Schedule: 0 2 * * *",
                "Concurrency Policy: Forbid",
                "ghcr.io/acme-shop/report:2.1.0",
            ],
        ),
        (
            &["-n", "shop", "describe", "pdb", "checkout"],
            &["Name: checkout", "NoPods", "No matching pods found"],
        ),
        (
            &[
                "-n",
                "shop",
                "describe",
                "networkpolicy",
                "allow-ingress-nginx",
            ],
            &[
                "PodSelector: app.kubernetes.io/name=checkout",
                "NamespaceSelector: kubernetes.io/metadata.name=ingress-nginx",
                "To Port: http/TCP",
            ],
        ),
        (
            &["-n", "shop", "describe", "resourcequota", "compute"],
            &["pods 7 20", "requests.cpu 1750m 4"],
        ),
        (
            &["-n", "shop", "describe", "limitrange", "defaults"],
            &["Container memory - 2Gi 256Mi 512Mi -"],
        ),
        (
            &["describe", "storageclass", "gp3"],
            &[
                "Provisioner: ebs.csi.aws.com",
                "VolumeBindingMode: WaitForFirstConsumer",
                "ProvisioningSucceeded",
            ],
        ),
        (
            &["describe", "pv", "pvc-5d1c9e0a"],
            &[
                "StorageClass: gp3",
                "Claim: shop/data-redis-0",
                "VolumeHandle: vol-0a1b2c3d4e5f60718",
            ],
        ),
        (
            &["describe", "volumeattachment", "csi-3f1e2d"],
            &[
                "Attacher: ebs.csi.aws.com",
                "Persistent Volume Name: pvc-5d1c9e0a",
                "Attached: true",
            ],
        ),
        (
            &["describe", "priorityclass", "shop-critical"],
            &["Value: 100000", "PreemptionPolicy: PreemptLowerPriority"],
        ),
        (
            &[
                "describe",
                "validatingwebhookconfiguration",
                "policy-validator",
            ],
            &["Name: validate.policy.acme.example", "Failure Policy: Fail"],
        ),
        (
            &["describe", "mutatingwebhookconfiguration", "policy-mutator"],
            &["Name: mutate.policy.acme.example", "Path: /validate"],
        ),
    ];
    for (args, wanted) in cases {
        let out = rows(&s.ok(args)).join("\n");
        for w in wanted {
            assert!(out.contains(w), "kubectl {args:?} lacks {w:?}:\n{out}");
        }
    }
    let listed = s.ok(&[
        "get",
        "pdb,networkpolicy,quota,limits,cronjob",
        "-n",
        "shop",
        "-o",
        "name",
    ]);
    assert_eq!(listed.lines().count(), 5, "{listed}");
}
