//! Helpers for the `serve` end-to-end tests: start `kpm_serve` in-process on
//! a bundle, run the real kubectl against it, and a small synthetic bundle
//! whose every printed cell is known in advance.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use kpm_bundle::manifest::{ClusterInfo, Collection, CollectionScope, Tool};
use kpm_bundle::{layout, BundleWriter, Manifest, Outcome, Step};
use serde_json::{json, Value};

pub use super::served::Served;
use super::served::{self, Knobs};

/// Serves `bundle` with optional knobs (`page_size`, `fail`).
pub fn serve(bundle: &Path, page_size: Option<usize>, fail: &[&str]) -> Served {
    served::serve(
        bundle,
        Knobs {
            page_size,
            fail: fail.iter().map(|s| s.to_string()).collect(),
            ..Knobs::default()
        },
    )
}

/// Serves `bundle` delaying every request by `latency_ms`.
pub fn serve_with_latency(bundle: &Path, latency_ms: u64, fail: &[&str]) -> Served {
    served::serve(
        bundle,
        Knobs {
            latency_ms: Some(latency_ms),
            fail: fail.iter().map(|s| s.to_string()).collect(),
            ..Knobs::default()
        },
    )
}

/// What one kubectl run printed.
pub struct Run {
    /// Exit code.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Served {
    /// `path` as `kubectl get --raw` must send it: behind the token prefix
    /// (`--raw` drops the server URL's path, which carries the token).
    pub fn raw(&self, path: &str) -> String {
        format!("/{}{path}", self.token)
    }

    /// Runs kubectl with the snapshot's kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        let out = Command::new(kpm_e2e::kubectl())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            // kubectl must not find another cluster or a cache from elsewhere.
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path())
            .output()
            .expect("kubectl runs");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and requires success with nothing on stderr (no
    /// warnings, no errors); returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.kubectl(args);
        assert_eq!(
            run.code,
            Some(0),
            "kubectl {args:?} failed:\n{}",
            run.stderr
        );
        assert_eq!(run.stderr, "", "kubectl {args:?} wrote to stderr");
        run.stdout
    }

    /// Runs kubectl and requires failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let run = self.kubectl(args);
        assert_ne!(
            run.code,
            Some(0),
            "kubectl {args:?} should fail but printed:\n{}",
            run.stdout
        );
        run.stderr
    }
}

/// Lines with runs of spaces collapsed, so column widths do not matter.
pub fn rows(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Collection end of the synthetic bundle: every age is relative to it.
pub const FINISHED: &str = "2025-03-01T12:00:00Z";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(FINISHED)
        .map(|t| t.with_timezone(&Utc))
        .expect("time")
}

fn list(kind: &str, rv: &str, items: Vec<Value>) -> Value {
    json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items})
}

fn node(name: &str, ip: &str, ready: bool) -> Value {
    json!({
        "metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": "2025-01-30T12:00:00Z",
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node-role.kubernetes.io/worker": ""}},
        "spec": {"providerID": format!("aws:///us-east-1a/i-{name}")},
        "status": {
            "capacity": {"cpu": "4", "memory": "16777216Ki", "pods": "110", "ephemeral-storage": "104845292Ki"},
            "allocatable": {"cpu": "4", "memory": "16777216Ki", "pods": "110", "ephemeral-storage": "96625420948"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available",
                 "lastHeartbeatTime": "2025-03-01T11:59:00Z", "lastTransitionTime": "2025-01-30T12:00:00Z"},
                {"type": "Ready", "status": if ready { "True" } else { "Unknown" }, "reason": if ready { "KubeletReady" } else { "NodeStatusUnknown" },
                 "message": if ready { "kubelet is posting ready status" } else { "Kubelet stopped posting node status." },
                 "lastHeartbeatTime": "2025-03-01T11:59:00Z", "lastTransitionTime": "2025-01-30T12:00:00Z"}
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.33.2", "osImage": "Ubuntu 24.04.1 LTS", "kernelVersion": "6.8.0-45-generic",
                         "containerRuntimeVersion": "containerd://1.7.22", "architecture": "amd64", "operatingSystem": "linux",
                         "machineID": "m", "systemUUID": "s", "bootID": "b", "kubeProxyVersion": ""}
        }
    })
}

fn resources(cpu_req: &str, mem_req: &str, cpu_lim: &str, mem_lim: &str) -> Value {
    json!({"requests": {"cpu": cpu_req, "memory": mem_req}, "limits": {"cpu": cpu_lim, "memory": mem_lim}})
}

/// The pods of the synthetic bundle: a healthy web pod, a two-container pod
/// whose main container crash-loops, and an unschedulable one.
pub fn pods() -> Vec<Value> {
    vec![
        json!({
            "metadata": {"name": "api-6f7c9d-xk2lp", "namespace": "shop", "uid": "0c9a7e1e-1111-4a5b-9c1d-2e3f4a5b6c7d",
                         "creationTimestamp": "2025-03-01T09:00:00Z", "labels": {"app": "api", "pod-template-hash": "6f7c9d"}},
            "spec": {"nodeName": "worker-2", "restartPolicy": "Always", "schedulerName": "default-scheduler", "serviceAccountName": "default",
                     "containers": [
                        {"name": "api", "image": "shop/api:1.4.2", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                         "resources": resources("250m", "256Mi", "500m", "512Mi")},
                        {"name": "envoy", "image": "envoyproxy/envoy:v1.31.2", "resources": resources("100m", "64Mi", "200m", "128Mi")}]},
            "status": {"phase": "Running", "podIP": "10.244.2.17", "podIPs": [{"ip": "10.244.2.17"}], "hostIP": "10.0.0.12",
                       "startTime": "2025-03-01T09:00:02Z", "qosClass": "Burstable",
                       "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [api]", "lastTransitionTime": "2025-03-01T09:01:00Z"},
                                      {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-03-01T09:00:00Z"}],
                       "containerStatuses": [
                        {"name": "api", "ready": false, "started": false, "restartCount": 7, "image": "shop/api:1.4.2", "imageID": "docker.io/shop/api@sha256:aa",
                         "containerID": "containerd://a1",
                         "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=api pod=api-6f7c9d-xk2lp_shop(0c9a7e1e-1111-4a5b-9c1d-2e3f4a5b6c7d)"}},
                         "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2025-03-01T11:56:50Z", "finishedAt": "2025-03-01T11:57:00Z", "containerID": "containerd://a0"}}},
                        {"name": "envoy", "ready": true, "started": true, "restartCount": 0, "image": "envoyproxy/envoy:v1.31.2", "imageID": "docker.io/envoyproxy/envoy@sha256:bb",
                         "containerID": "containerd://e1", "state": {"running": {"startedAt": "2025-03-01T09:00:05Z"}}, "lastState": {}}]}
        }),
        json!({
            "metadata": {"name": "web-7c9d8f-abcde", "namespace": "shop", "uid": "7d1e2f3a-2222-4b5c-8d9e-0f1a2b3c4d5e",
                         "creationTimestamp": "2025-02-28T12:00:00Z", "labels": {"app": "web", "pod-template-hash": "7c9d8f"}},
            "spec": {"nodeName": "worker-1", "restartPolicy": "Always", "schedulerName": "default-scheduler", "serviceAccountName": "default",
                     "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                     "resources": resources("250m", "256Mi", "500m", "512Mi")}]},
            "status": {"phase": "Running", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}], "hostIP": "10.0.0.11", "qosClass": "Burstable",
                       "startTime": "2025-02-28T12:00:01Z",
                       "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-02-28T12:00:09Z"}],
                       "containerStatuses": [{"name": "web", "ready": true, "started": true, "restartCount": 0, "image": "nginx:1.27",
                                              "imageID": "docker.io/library/nginx@sha256:cc", "containerID": "containerd://w1",
                                              "state": {"running": {"startedAt": "2025-02-28T12:00:05Z"}}, "lastState": {}}]}
        }),
        json!({
            "metadata": {"name": "worker-5d8b-q7x", "namespace": "shop", "uid": "9f8e7d6c-3333-4c5d-9e0f-1a2b3c4d5e6f",
                         "creationTimestamp": "2025-03-01T11:50:00Z", "labels": {"app": "worker", "pod-template-hash": "5d8b"}},
            "spec": {"restartPolicy": "Always", "schedulerName": "default-scheduler", "serviceAccountName": "default",
                     "containers": [{"name": "worker", "image": "shop/worker:2.0.1", "resources": resources("8", "1Gi", "8", "1Gi")}]},
            "status": {"phase": "Pending", "qosClass": "Guaranteed",
                       "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                       "message": "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
                                       "lastTransitionTime": "2025-03-01T11:50:00Z"}]}
        }),
    ]
}

/// One core/v1 Event as the kubelet or scheduler records it.
struct Ev<'a> {
    name: &'a str,
    object: (&'a str, &'a str, &'a str),
    reason: &'a str,
    ty: &'a str,
    message: &'a str,
    first: &'a str,
    last: &'a str,
    count: i64,
    source: (&'a str, &'a str),
}

fn event(e: Ev<'_>) -> Value {
    let (kind, obj_name, uid) = e.object;
    json!({
        "metadata": {"name": e.name, "namespace": "shop", "creationTimestamp": e.first},
        "involvedObject": {"kind": kind, "namespace": "shop", "name": obj_name, "uid": uid, "apiVersion": "v1"},
        "reason": e.reason, "type": e.ty, "message": e.message,
        "source": {"component": e.source.0, "host": e.source.1},
        "firstTimestamp": e.first, "lastTimestamp": e.last, "count": e.count,
        "reportingComponent": e.source.0, "reportingInstance": e.source.1
    })
}

/// Events, deliberately stored out of time order.
pub fn events() -> Vec<Value> {
    let api = (
        "Pod",
        "api-6f7c9d-xk2lp",
        "0c9a7e1e-1111-4a5b-9c1d-2e3f4a5b6c7d",
    );
    vec![
        event(Ev {
            name: "api-6f7c9d-xk2lp.182a1",
            object: api,
            reason: "BackOff",
            ty: "Warning",
            message: "Back-off restarting failed container api in pod api-6f7c9d-xk2lp_shop(0c9a7e1e-1111-4a5b-9c1d-2e3f4a5b6c7d)",
            first: "2025-03-01T09:05:00Z",
            last: "2025-03-01T11:58:00Z",
            count: 41,
            source: ("kubelet", "worker-2"),
        }),
        event(Ev {
            name: "web-7c9d8f-abcde.182a0",
            object: ("Pod", "web-7c9d8f-abcde", "7d1e2f3a-2222-4b5c-8d9e-0f1a2b3c4d5e"),
            reason: "Scheduled",
            ty: "Normal",
            message: "Successfully assigned shop/web-7c9d8f-abcde to worker-1",
            first: "2025-02-28T12:00:00Z",
            last: "2025-02-28T12:00:00Z",
            count: 1,
            source: ("default-scheduler", ""),
        }),
        event(Ev {
            name: "worker-5d8b-q7x.182a2",
            object: ("Pod", "worker-5d8b-q7x", "9f8e7d6c-3333-4c5d-9e0f-1a2b3c4d5e6f"),
            reason: "FailedScheduling",
            ty: "Warning",
            message: "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
            first: "2025-03-01T11:50:00Z",
            last: "2025-03-01T11:55:00Z",
            count: 3,
            source: ("default-scheduler", ""),
        }),
        event(Ev {
            name: "api-6f7c9d-xk2lp.1829f",
            object: api,
            reason: "Started",
            ty: "Normal",
            message: "Started container api",
            first: "2025-03-01T09:00:06Z",
            last: "2025-03-01T11:56:50Z",
            count: 8,
            source: ("kubelet", "worker-2"),
        }),
    ]
}

fn manifest() -> Manifest {
    let t = now();
    let mut secrets = Step::new("secrets", Outcome::Forbidden);
    secrets.namespace = Some("shop".into());
    secrets.http_status = Some(403);
    secrets.message = Some("secrets is forbidden: User \"system:serviceaccount:ops:kpm\" cannot list resource \"secrets\" in API group \"\" in the namespace \"shop\"".into());
    Manifest {
        format_version: layout::FORMAT_VERSION,
        tool: Tool {
            name: "kpm-collect".into(),
            version: "0.1.0".into(),
        },
        collection: Collection {
            started_at: t - chrono::TimeDelta::seconds(20),
            finished_at: t,
            interrupted: false,
            timed_out: false,
        },
        cluster: ClusterInfo {
            server_version: Some("v1.33.2".into()),
            context: Some("prod-eu".into()),
            name: Some("prod-eu".into()),
        },
        scope: CollectionScope {
            all_namespaces: true,
            namespaces: vec!["default".into(), "shop".into()],
        },
        options: Default::default(),
        steps: vec![secrets],
        redaction: Default::default(),
        files: Default::default(),
    }
}

/// Writes the synthetic bundle as a directory under `parent`.
#[allow(
    clippy::too_many_lines,
    reason = "one fixture cluster, clearer as a single table than split"
)]
pub fn write_fixture(parent: &Path) -> PathBuf {
    let root = parent.join("fixture");
    let mut w = BundleWriter::create_dir(&root, false).expect("bundle dir");
    let put = |w: &mut BundleWriter, path: &str, v: &Value| {
        w.write_json(path, v).expect("write");
    };
    put(
        &mut w,
        layout::CLUSTER_VERSION,
        &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.2", "gitCommit": "4655b0f",
        "gitTreeState": "clean", "buildDate": "2025-06-17T18:30:05Z", "goVersion": "go1.24.4", "compiler": "gc", "platform": "linux/amd64"}),
    );
    let nodes = vec![
        node("worker-1", "10.0.0.11", true),
        node("worker-2", "10.0.0.12", true),
    ];
    put(
        &mut w,
        "cluster/nodes.json",
        &list("NodeList", "48213", nodes.clone()),
    );
    let ns = |n: &str| json!({"metadata": {"name": n, "creationTimestamp": "2024-12-01T12:00:00Z"}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
    put(
        &mut w,
        "cluster/namespaces.json",
        &list("NamespaceList", "48213", vec![ns("default"), ns("shop")]),
    );
    put(
        &mut w,
        &layout::namespaced_path("shop", "pods"),
        &list("PodList", "48220", pods()),
    );
    put(
        &mut w,
        &layout::namespaced_path("default", "pods"),
        &list("PodList", "48210", vec![]),
    );
    put(
        &mut w,
        &layout::namespaced_path("shop", "events"),
        &list("EventList", "48221", events()),
    );
    put(
        &mut w,
        &layout::namespaced_path("shop", "services"),
        &list(
            "ServiceList",
            "48222",
            vec![
                json!({"metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2025-02-01T12:00:00Z"},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.12.7", "clusterIPs": ["10.96.12.7"], "selector": {"app": "web"},
                        "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}]}, "status": {"loadBalancer": {}}}),
            ],
        ),
    );
    put(
        &mut w,
        &layout::namespaced_path("shop", "endpoints"),
        &list(
            "EndpointsList",
            "48223",
            vec![
                json!({"metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2025-02-01T12:00:00Z"},
               "subsets": [{"addresses": [{"ip": "10.244.1.7", "nodeName": "worker-1", "targetRef": {"kind": "Pod", "name": "web-7c9d8f-abcde", "namespace": "shop"}}],
                            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]}),
            ],
        ),
    );
    put(
        &mut w,
        &layout::namespaced_path("shop", "ingresses"),
        &group_list(
            "IngressList",
            "networking.k8s.io/v1",
            vec![
                json!({"metadata": {"name": "shop", "namespace": "shop", "creationTimestamp": "2025-02-01T12:00:00Z"},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}}),
            ],
        ),
    );
    put(
        &mut w,
        &layout::namespaced_path("shop", "horizontalpodautoscalers"),
        &group_list(
            "HorizontalPodAutoscalerList",
            "autoscaling/v2",
            vec![
                json!({"metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2025-02-01T12:00:00Z"},
               "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
               "status": {"currentReplicas": 1, "desiredReplicas": 1,
                          "conditions": [{"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                                          "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"}]}}),
            ],
        ),
    );
    put(
        &mut w,
        layout::NODE_METRICS,
        &json!({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": [
        {"metadata": {"name": "worker-1", "creationTimestamp": FINISHED}, "timestamp": "2025-03-01T11:59:50Z", "window": "20s", "usage": {"cpu": "400m", "memory": "4Gi"}},
        {"metadata": {"name": "worker-2", "creationTimestamp": FINISHED}, "timestamp": "2025-03-01T11:59:50Z", "window": "20s", "usage": {"cpu": "812345678n", "memory": "2097152Ki"}}]}),
    );
    put(
        &mut w,
        &layout::pod_metrics_path("shop"),
        &json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": [
        {"metadata": {"name": "api-6f7c9d-xk2lp", "namespace": "shop", "labels": {"app": "api"}}, "timestamp": "2025-03-01T11:59:45Z", "window": "15s",
         "containers": [{"name": "api", "usage": {"cpu": "100m", "memory": "200Mi"}}, {"name": "envoy", "usage": {"cpu": "20m", "memory": "56Mi"}}]},
        {"metadata": {"name": "web-7c9d8f-abcde", "namespace": "shop", "labels": {"app": "web"}}, "timestamp": "2025-03-01T11:59:45Z", "window": "15s",
         "containers": [{"name": "web", "usage": {"cpu": "3m", "memory": "12Mi"}}]}]}),
    );
    let log = |w: &mut BundleWriter, pod: &str, c: &str, prev: bool, text: &str| {
        w.write_entry(&layout::log_path("shop", pod, c, prev), text.as_bytes())
            .expect("log");
    };
    log(&mut w, "web-7c9d8f-abcde", "web", false, "10.244.2.17 - - [01/Mar/2025:11:59:58 +0000] \"GET /healthz HTTP/1.1\" 200 2\n10.244.2.17 - - [01/Mar/2025:11:59:59 +0000] \"GET / HTTP/1.1\" 200 615\n");
    log(&mut w, "api-6f7c9d-xk2lp", "api", true, "starting api 1.4.2\nconnecting to postgres at db.shop.svc:5432\npanic: dial tcp 10.96.40.2:5432: connect: connection refused\n");
    log(
        &mut w,
        "api-6f7c9d-xk2lp",
        "envoy",
        false,
        "[2025-03-01 09:00:05.120][1][info][main] starting main dispatch loop\n",
    );
    // Every other list a collector writes, empty; shop's secrets stay out
    // (the manifest records them forbidden).
    for ns in ["default", "shop"] {
        for kind in layout::NAMESPACED_KINDS {
            let path = layout::namespaced_path(ns, kind.plural);
            let forbidden = ns == "shop" && kind.plural == "secrets";
            if !forbidden && w.file(&path).is_none() {
                let empty = json!({"kind": kind.list_kind(), "apiVersion": kind.api_version(), "metadata": {"resourceVersion": "48230"}, "items": []});
                put(&mut w, &path, &empty);
            }
        }
    }
    let typed_nodes: Vec<k8s_openapi::api::core::v1::Node> = nodes
        .iter()
        .map(|n| serde_json::from_value(n.clone()).expect("node"))
        .collect();
    let typed_pods: Vec<k8s_openapi::api::core::v1::Pod> = pods()
        .iter()
        .map(|p| serde_json::from_value(p.clone()).expect("pod"))
        .collect();
    let alloc = kpm_semantics::allocation::compute_at(&typed_nodes, &typed_pods, now());
    put(
        &mut w,
        layout::NODE_ALLOCATION,
        &serde_json::to_value(&alloc).expect("alloc json"),
    );
    w.finish(manifest()).expect("finish")
}

/// A list of a named-group kind.
fn group_list(kind: &str, api_version: &str, items: Vec<Value>) -> Value {
    json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "48230"}, "items": items})
}
