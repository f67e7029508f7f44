//! The analyzer's shared test kit: a real (tiny) bundle directory on disk,
//! so rules run through the same `NamespaceCtx` / `ClusterCtx` as in
//! production, log reading included, and builders for the objects the tests
//! put in it (`PodFixture`, `EventFixture`, `ServiceFixture`), each reading
//! at the call site as what it differs in from a healthy default.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
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
            scope: kpm_bundle::manifest::CollectionScope {
                all_namespaces,
                namespaces: vec![ns.to_string()],
            },
            ..Manifest::new(("test", "0"), now(), now())
        };
        w.finish(manifest).unwrap();
        let bundle = Bundle::open(&dir).unwrap();
        let cluster = ClusterData {
            now: now(),
            server_version: Some("v1.33.2".into()),
            nodes: Vec::new(),
            ingress_classes: Vec::new(),
            namespaces: Vec::new(),
            platform: Default::default(),
            node_metrics: None,
            node_allocation: None,
            unavailable: BTreeMap::new(),
            infra: Infra::default(),
            pending_pods: Vec::new(),
            node_events: BTreeMap::new(),
            ingress_routing: Vec::new(),
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

/// A Deployment-owned pod as the API server returns it: Running, Ready, one
/// container `app` on `worker-1`. Change what the test is about, then
/// [`PodFixture::build`] the JSON (edit it further if needed).
pub struct PodFixture {
    ns: String,
    name: String,
    labels: serde_json::Value,
    ready: bool,
    ports: serde_json::Value,
}

impl PodFixture {
    /// Pod `name` in namespace `ns`, no labels, ready, no ports declared.
    pub fn new(ns: &str, name: &str) -> PodFixture {
        PodFixture {
            ns: ns.to_string(),
            name: name.to_string(),
            labels: serde_json::json!({}),
            ready: true,
            ports: serde_json::Value::Null,
        }
    }

    /// The pod's labels (a JSON object).
    pub fn labels(mut self, labels: serde_json::Value) -> PodFixture {
        self.labels = labels;
        self
    }

    /// Running but not Ready (pod and container conditions `False`).
    pub fn not_ready(self) -> PodFixture {
        self.ready(false)
    }

    /// Ready or not, for tests that loop over both.
    pub fn ready(mut self, ready: bool) -> PodFixture {
        self.ready = ready;
        self
    }

    /// `ports` of container `app` (a JSON array of `ContainerPort`).
    pub fn ports(mut self, ports: serde_json::Value) -> PodFixture {
        self.ports = ports;
        self
    }

    /// The pod as JSON.
    pub fn build(self) -> serde_json::Value {
        let PodFixture {
            ns,
            name,
            labels,
            ready,
            ports,
        } = self;
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
}

/// A core/v1 Event about one object, by default a `Warning` seen once, in the
/// classic (`count` / `lastTimestamp`) shape; [`EventFixture::series`]
/// switches to the newer series-only shape.
pub struct EventFixture {
    ns: String,
    kind: String,
    name: String,
    type_: String,
    reason: String,
    message: String,
    count: i32,
    series: bool,
}

impl EventFixture {
    /// An event about `kind` `name` in namespace `ns`.
    pub fn about(ns: &str, kind: &str, name: &str) -> EventFixture {
        EventFixture {
            ns: ns.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            type_: "Warning".to_string(),
            reason: String::new(),
            message: String::new(),
            count: 1,
            series: false,
        }
    }

    /// The event's `type` (`Normal` or `Warning`, the default).
    pub fn type_(mut self, type_: &str) -> EventFixture {
        self.type_ = type_.to_string();
        self
    }

    /// A `Normal` event.
    pub fn normal(self) -> EventFixture {
        self.type_("Normal")
    }

    /// The reason and message, verbatim from the component that emits them.
    pub fn says(mut self, reason: &str, message: &str) -> EventFixture {
        self.reason = reason.to_string();
        self.message = message.to_string();
        self
    }

    /// How many times it was seen.
    pub fn count(mut self, count: i32) -> EventFixture {
        self.count = count;
        self
    }

    /// The newer series-only shape (`eventTime` + `series`, no `count` /
    /// `lastTimestamp`), as events.k8s.io writers emit it.
    pub fn series(mut self) -> EventFixture {
        self.series = true;
        self
    }

    /// The event as JSON.
    pub fn build(self) -> serde_json::Value {
        let EventFixture {
            ns,
            kind,
            name,
            type_,
            reason,
            message,
            count,
            series,
        } = self;
        if series {
            return serde_json::json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{name}.18a0ffee"), "namespace": ns,
                             "creationTimestamp": "2026-11-20T13:02:00Z"},
                "involvedObject": {"kind": kind, "namespace": ns, "name": name, "apiVersion": "v1"},
                "reason": reason, "message": message, "type": type_,
                "eventTime": "2026-11-20T13:02:00.000000Z",
                "series": {"count": count, "lastObservedTime": "2026-11-20T14:31:55.000000Z"},
                "reportingComponent": "kubelet", "reportingInstance": "worker-1",
                "action": "Probe", "firstTimestamp": null, "lastTimestamp": null
            });
        }
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
}

/// A ClusterIP Service with no selector and no ports until given.
pub struct ServiceFixture {
    ns: String,
    name: String,
    selector: serde_json::Value,
    ports: serde_json::Value,
}

impl ServiceFixture {
    /// Service `name` in namespace `ns`.
    pub fn new(ns: &str, name: &str) -> ServiceFixture {
        ServiceFixture {
            ns: ns.to_string(),
            name: name.to_string(),
            selector: serde_json::Value::Null,
            ports: serde_json::Value::Null,
        }
    }

    /// `spec.selector` (a JSON object of labels).
    pub fn selector(mut self, selector: serde_json::Value) -> ServiceFixture {
        self.selector = selector;
        self
    }

    /// `spec.ports` (a JSON array of `ServicePort`).
    pub fn ports(mut self, ports: serde_json::Value) -> ServiceFixture {
        self.ports = ports;
        self
    }

    /// The Service as JSON.
    pub fn build(self) -> serde_json::Value {
        let ServiceFixture {
            ns,
            name,
            selector,
            ports,
        } = self;
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
}
