//! Test fixture for the rule layers: a real (tiny) bundle directory on disk,
//! so rules run through the same `NamespaceCtx` / `ClusterCtx` as in
//! production, log reading included.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use kpm_bundle::manifest::{Collection, Tool};
use kpm_bundle::{Bundle, BundleWriter, Manifest};
use serde::de::DeserializeOwned;

use crate::context::{ClusterCtx, ClusterData, Infra, NamespaceCtx, NamespaceData};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The collection end every fixture uses as "now".
pub fn now() -> DateTime<Utc> {
    "2026-11-20T14:32:10Z".parse().unwrap()
}

/// Parses a JSON literal into a k8s-openapi type (panics on a bad fixture).
pub fn obj<T: DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// A bundle on disk plus parsed cluster and namespace data.
pub struct Fixture {
    dir: PathBuf,
    /// The bundle (logs only).
    pub bundle: Bundle,
    /// Cluster data; edit freely before calling [`Fixture::ctx`].
    pub cluster: ClusterData,
    /// The namespace; edit freely before calling [`Fixture::ctx`].
    pub ns: NamespaceData,
}

impl Fixture {
    /// A namespace `ns` with no objects and no logs.
    pub fn new(ns: &str) -> Fixture {
        Fixture::with_logs(ns, &[])
    }

    /// A namespace `ns` whose bundle holds the given files (`path`, text).
    pub fn with_logs(ns: &str, files: &[(&str, &str)]) -> Fixture {
        Fixture::build(ns, files, false)
    }

    /// Like [`Fixture::with_logs`], with the manifest saying whether every
    /// namespace was collected.
    pub fn build(ns: &str, files: &[(&str, &str)], all_namespaces: bool) -> Fixture {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("kpm-rules-test-{}-{n}", std::process::id()));
        let mut w = BundleWriter::create_dir(&dir, true).unwrap();
        for (path, text) in files {
            w.write_entry(path, text.as_bytes()).unwrap();
        }
        let manifest = Manifest {
            format_version: 1,
            tool: Tool {
                name: "test".into(),
                version: "0".into(),
            },
            collection: Collection {
                started_at: now(),
                finished_at: now(),
                interrupted: false,
                timed_out: false,
            },
            cluster: Default::default(),
            scope: kpm_bundle::manifest::CollectionScope {
                all_namespaces,
                namespaces: vec![ns.to_string()],
            },
            options: Default::default(),
            steps: Vec::new(),
            redaction: BTreeMap::new(),
            files: BTreeMap::new(),
        };
        w.finish(manifest).unwrap();
        let bundle = Bundle::open(&dir).unwrap();
        let cluster = ClusterData {
            now: now(),
            server_version: Some("v1.33.2".into()),
            nodes: Vec::new(),
            ingress_classes: Vec::new(),
            node_metrics: None,
            node_allocation: None,
            unavailable: BTreeMap::new(),
            infra: Infra::default(),
            pending_pods: Vec::new(),
            node_events: BTreeMap::new(),
            node_index: HashMap::new(),
            node_free: Default::default(),
        };
        let ns = NamespaceData {
            name: ns.to_string(),
            ..NamespaceData::default()
        };
        Fixture {
            dir,
            bundle,
            cluster,
            ns,
        }
    }

    /// The namespace context rules receive.
    pub fn ctx(&self) -> NamespaceCtx<'_> {
        NamespaceCtx::new(&self.bundle, &self.cluster, &self.ns)
    }

    /// The cluster context cluster rules receive (node index rebuilt).
    pub fn cluster_ctx(&mut self) -> ClusterCtx<'_> {
        self.cluster.node_index = self
            .cluster
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.metadata.name.clone().map(|name| (name, i)))
            .collect();
        ClusterCtx::new(&self.bundle, &self.cluster)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Deployment-owned pod as the API server returns it, Running and Ready
/// (or not), with one container `app` declaring `ports`.
pub fn pod(
    ns: &str,
    name: &str,
    labels: serde_json::Value,
    ready: bool,
    ports: serde_json::Value,
) -> serde_json::Value {
    let status = if ready { "True" } else { "False" };
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns, "uid": format!("uid-{name}"),
            "creationTimestamp": "2026-11-20T13:00:00Z",
            "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c9d8f6b5",
                                  "uid": "rs-uid", "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "nodeName": "worker-1",
            "containers": [{"name": "app", "image": "registry.example.com/shop/web:1.4.2", "ports": ports,
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                          "limits": {"cpu": "500m", "memory": "256Mi"}}}]
        },
        "status": {
            "phase": "Running", "podIP": "10.244.1.17", "hostIP": "10.0.0.11",
            "startTime": "2026-11-20T13:00:02Z", "qosClass": "Burstable",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2026-11-20T13:00:04Z"},
                {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-20T13:00:02Z"},
                {"type": "Ready", "status": status, "lastTransitionTime": "2026-11-20T13:00:30Z"},
                {"type": "ContainersReady", "status": status, "lastTransitionTime": "2026-11-20T13:00:30Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-20T13:00:00Z"}
            ],
            "containerStatuses": [{
                "name": "app", "ready": ready, "started": true, "restartCount": 0,
                "image": "registry.example.com/shop/web:1.4.2",
                "imageID": "registry.example.com/shop/web@sha256:4c1b0e5f",
                "containerID": "containerd://0f3e",
                "state": {"running": {"startedAt": "2026-11-20T13:00:04Z"}}
            }]
        }
    })
}

/// A core/v1 Event about `kind/name` in the classic (`count` /
/// `lastTimestamp`) shape.
pub fn event(
    ns: &str,
    kind: &str,
    name: &str,
    type_: &str,
    reason: &str,
    message: &str,
    count: i32,
) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.1800a1b2c3d4e5f6"), "namespace": ns,
                     "creationTimestamp": "2026-11-20T13:01:00Z"},
        "involvedObject": {"kind": kind, "namespace": ns, "name": name, "apiVersion": "v1"},
        "reason": reason, "message": message, "type": type_, "count": count,
        "firstTimestamp": "2026-11-20T13:01:00Z", "lastTimestamp": "2026-11-20T14:31:40Z",
        "source": {"component": "kubelet", "host": "worker-1"},
        "reportingComponent": "kubelet", "reportingInstance": "worker-1"
    })
}

/// The same, in the newer series-only shape (`eventTime` + `series`, no
/// `count` / `lastTimestamp`), as events.k8s.io writers emit it.
pub fn series_event(
    ns: &str,
    kind: &str,
    name: &str,
    reason: &str,
    message: &str,
    count: i32,
) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.18a0ffee"), "namespace": ns,
                     "creationTimestamp": "2026-11-20T13:02:00Z"},
        "involvedObject": {"kind": kind, "namespace": ns, "name": name, "apiVersion": "v1"},
        "reason": reason, "message": message, "type": "Warning",
        "eventTime": "2026-11-20T13:02:00.000000Z",
        "series": {"count": count, "lastObservedTime": "2026-11-20T14:31:55.000000Z"},
        "reportingComponent": "kubelet", "reportingInstance": "worker-1",
        "action": "Probe", "firstTimestamp": null, "lastTimestamp": null
    })
}

/// A ClusterIP Service.
pub fn service(
    ns: &str,
    name: &str,
    selector: serde_json::Value,
    ports: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "uid": format!("svc-{name}"),
                     "creationTimestamp": "2026-11-20T12:00:00Z"},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.14.7", "clusterIPs": ["10.96.14.7"],
                 "selector": selector, "ports": ports, "sessionAffinity": "None",
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {}}
    })
}
