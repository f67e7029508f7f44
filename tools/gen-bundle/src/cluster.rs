//! An in-memory cluster snapshot and how it is written as a bundle.
//!
//! Scenarios are small, so they are assembled in memory (objects can be
//! tweaked after creation, endpoints derived from final pods) and written in
//! one go with the manifest steps a real collection would record. The scale
//! generator streams instead; both share [`manifest`] and [`version_info`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kpm_bundle::layout::{self, ResourceKind, CLUSTER_KINDS, NAMESPACED_KINDS};
use kpm_bundle::manifest::{ClusterInfo, Collection, CollectionOptions, CollectionScope, Tool};
use kpm_bundle::{BundleWriter, Manifest, Outcome, Step};
use serde_json::{json, Value};

use crate::builders::meta;
use crate::{allocation, ids};

/// `gitVersion` of every generated cluster.
pub const SERVER_VERSION: &str = "v1.33.4-eks-e386d34";

/// One namespace's objects, by plural resource name.
#[derive(Debug, Clone, Default)]
pub struct Namespace {
    /// Namespace age in seconds before collection.
    pub created_ago: i64,
    /// Objects by plural (`pods`, `services`).
    pub objects: BTreeMap<&'static str, Vec<Value>>,
    /// `PodMetrics` items.
    pub pod_metrics: Vec<Value>,
    /// Labels of the Namespace object beyond `kubernetes.io/metadata.name`
    /// (e.g. Pod Security admission's `pod-security.kubernetes.io/enforce`).
    pub labels: Vec<(String, String)>,
}

/// A container log to write.
#[derive(Debug, Clone)]
pub struct Log {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
    /// `kubectl logs --previous`.
    pub previous: bool,
    /// Text, newline-terminated lines.
    pub text: String,
}

/// A whole cluster as a scenario wants it collected.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// Cluster-scoped objects by plural.
    pub cluster_objects: BTreeMap<&'static str, Vec<Value>>,
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, Namespace>,
    /// `NodeMetrics` items.
    pub node_metrics: Vec<Value>,
    /// False when metrics-server is absent: metrics steps become `not_found`.
    pub metrics_available: bool,
    /// Logs.
    pub logs: Vec<Log>,
}

/// Kinds added to the bundle format after the first scenarios were
/// written (issue #18): their lists are written after all the others.
fn is_later(kind: &ResourceKind) -> bool {
    matches!(
        kind.plural,
        "storageclasses"
            | "volumeattachments"
            | "priorityclasses"
            | "validatingwebhookconfigurations"
            | "mutatingwebhookconfigurations"
            | "cronjobs"
            | "resourcequotas"
            | "limitranges"
            | "poddisruptionbudgets"
            | "networkpolicies"
    )
}

fn kind_of(obj: &Value) -> Option<&'static ResourceKind> {
    let kind = obj["kind"].as_str()?;
    layout::all_kinds().find(|k| k.kind == kind)
}

impl Cluster {
    /// An empty cluster with metrics-server available.
    pub fn new() -> Cluster {
        Cluster {
            metrics_available: true,
            ..Cluster::default()
        }
    }

    /// The namespace `name`, created (as `created_ago` old) if missing.
    pub fn namespace(&mut self, name: &str, created_ago: i64) -> &mut Namespace {
        self.namespaces
            .entry(name.to_string())
            .or_insert_with(|| Namespace {
                created_ago,
                ..Namespace::default()
            })
    }

    /// Adds any object; its kind and namespace say where it goes. Objects of
    /// kinds a bundle does not hold are ignored (returns false).
    pub fn add(&mut self, obj: Value) -> bool {
        let Some(kind) = kind_of(&obj) else {
            return false;
        };
        match kind.scope {
            layout::Scope::Cluster => self
                .cluster_objects
                .entry(kind.plural)
                .or_default()
                .push(obj),
            layout::Scope::Namespaced => {
                let ns = meta::namespace_of(&obj).to_string();
                self.namespace(&ns, 86_400 * 90)
                    .objects
                    .entry(kind.plural)
                    .or_default()
                    .push(obj);
            }
        }
        true
    }

    /// Adds several objects.
    pub fn add_all(&mut self, objs: impl IntoIterator<Item = Value>) {
        for o in objs {
            self.add(o);
        }
    }

    /// Objects of a namespaced kind (empty when none).
    pub fn objects(&self, namespace: &str, plural: &str) -> &[Value] {
        self.namespaces
            .get(namespace)
            .and_then(|n| n.objects.get(plural))
            .map_or(&[], Vec::as_slice)
    }

    /// Mutable objects of a namespaced kind.
    pub fn objects_mut(&mut self, namespace: &str, plural: &'static str) -> &mut Vec<Value> {
        self.namespace(namespace, 86_400 * 90)
            .objects
            .entry(plural)
            .or_default()
    }

    /// Finds an object by kind plural, namespace and name.
    pub fn find_mut(
        &mut self,
        namespace: &str,
        plural: &'static str,
        name: &str,
    ) -> Option<&mut Value> {
        self.objects_mut(namespace, plural)
            .iter_mut()
            .find(|o| meta::name_of(o) == name)
    }

    /// Cluster-scoped objects of a kind.
    pub fn cluster_list(&self, plural: &str) -> &[Value] {
        self.cluster_objects.get(plural).map_or(&[], Vec::as_slice)
    }

    /// Every pod of every namespace.
    pub fn all_pods(&self) -> impl Iterator<Item = &Value> {
        self.namespaces
            .values()
            .flat_map(|n| n.objects.get("pods").into_iter().flatten())
    }

    /// Adds a container log.
    pub fn add_log(
        &mut self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        text: &str,
    ) {
        self.logs.push(Log {
            namespace: namespace.into(),
            pod: pod.into(),
            container: container.into(),
            previous,
            text: text.into(),
        });
    }

    /// Writes the snapshot as an unpacked bundle directory at `root`
    /// (replacing it).
    pub fn write_dir(&self, root: &Path) -> kpm_bundle::Result<PathBuf> {
        let writer = BundleWriter::create_dir(root, true)?;
        self.write(writer)
    }

    /// Writes the snapshot as a zip bundle.
    pub fn write_zip(&self, dest: &Path) -> kpm_bundle::Result<PathBuf> {
        let writer = BundleWriter::create_zip(dest, true)?;
        self.write(writer)
    }

    fn namespace_objects(&self) -> Vec<Value> {
        self.namespaces
            .iter()
            .map(|(name, ns)| {
                let mut o = namespace_object(name, ns.created_ago);
                for (k, v) in &ns.labels {
                    o["metadata"]["labels"][k] = Value::String(v.clone());
                }
                o
            })
            .collect()
    }

    fn write(&self, mut w: BundleWriter) -> kpm_bundle::Result<PathBuf> {
        let mut steps = Vec::new();
        // Each list is read at a revision after every item it holds, and
        // later lists at later revisions.
        let mut list_rv = crate::revisions::highest(self);
        let rec = w.write_json(layout::CLUSTER_VERSION, &version_info())?;
        steps.push(ok_step(
            "version",
            None,
            layout::CLUSTER_VERSION,
            1,
            rec.size,
        ));
        let mut stripped = 0;
        // Kinds the format gained later are listed last, so adding them
        // left the revisions (and bytes) of every earlier list unchanged.
        for later in [false, true] {
            for kind in CLUSTER_KINDS.iter().filter(|k| is_later(k) == later) {
                let items = if kind.plural == "namespaces" {
                    self.namespace_objects()
                } else {
                    self.cluster_list(kind.plural).to_vec()
                };
                let path = format!("cluster/{}.json", kind.plural);
                list_rv += 3;
                let (n, size) = write_list(&mut w, &path, kind, &items, list_rv)?;
                steps.push(ok_step(kind.plural, None, &path, n, size));
            }
            for (ns, data) in &self.namespaces {
                for kind in NAMESPACED_KINDS.iter().filter(|k| is_later(k) == later) {
                    let mut items = data.objects.get(kind.plural).cloned().unwrap_or_default();
                    if kind.plural == "secrets" {
                        for s in &mut items {
                            stripped += kpm_bundle::secret::strip_secret(s);
                        }
                    }
                    let path = layout::namespaced_path(ns, kind.plural);
                    list_rv += 3;
                    let (n, size) = write_list(&mut w, &path, kind, &items, list_rv)?;
                    steps.push(ok_step(kind.plural, Some(ns), &path, n, size));
                }
            }
        }
        self.write_metrics(&mut w, &mut steps)?;
        for log in &self.logs {
            let path = layout::log_path(&log.namespace, &log.pod, &log.container, log.previous);
            let rec = w.write_entry(&path, log.text.as_bytes())?;
            let mut step = ok_step(
                if log.previous {
                    "logs/previous"
                } else {
                    "logs"
                },
                Some(&log.namespace),
                &path,
                log.text.lines().count() as u64,
                rec.size,
            );
            step.object = Some(format!("{}/{}", log.pod, log.container));
            steps.push(step);
        }
        let nodes = self.cluster_list("nodes").to_vec();
        let pods: Vec<Value> = self.all_pods().cloned().collect();
        let alloc = allocation::derive(&nodes, &pods);
        w.write_json(layout::NODE_ALLOCATION, &alloc)?;
        let namespaces: Vec<String> = self.namespaces.keys().cloned().collect();
        let mut redaction = BTreeMap::new();
        redaction.insert("secret-values".to_string(), stripped);
        let mut m = manifest(namespaces, steps);
        m.redaction = redaction;
        w.finish(m)
    }

    fn write_metrics(&self, w: &mut BundleWriter, steps: &mut Vec<Step>) -> kpm_bundle::Result<()> {
        if !self.metrics_available {
            let mut s = Step::new("metrics/nodes", Outcome::NotFound);
            s.http_status = Some(404);
            s.message = Some(
                "the server could not find the requested resource (get nodes.metrics.k8s.io)"
                    .into(),
            );
            steps.push(s);
            for ns in self.namespaces.keys() {
                let mut s = Step::new("metrics/pods", Outcome::NotFound);
                s.namespace = Some(ns.clone());
                s.http_status = Some(404);
                s.message = Some(
                    "the server could not find the requested resource (get pods.metrics.k8s.io)"
                        .into(),
                );
                steps.push(s);
            }
            return Ok(());
        }
        let list = crate::builders::metrics::list("NodeMetricsList", self.node_metrics.clone());
        let rec = w.write_json(layout::NODE_METRICS, &list)?;
        steps.push(ok_step(
            "metrics/nodes",
            None,
            layout::NODE_METRICS,
            self.node_metrics.len() as u64,
            rec.size,
        ));
        for (ns, data) in &self.namespaces {
            let path = layout::pod_metrics_path(ns);
            let list = crate::builders::metrics::list("PodMetricsList", data.pod_metrics.clone());
            let rec = w.write_json(&path, &list)?;
            steps.push(ok_step(
                "metrics/pods",
                Some(ns),
                &path,
                data.pod_metrics.len() as u64,
                rec.size,
            ));
        }
        Ok(())
    }
}

/// A `Namespace` object as the API server returns it.
pub fn namespace_object(name: &str, created_ago: i64) -> Value {
    let mut ns = meta::object("v1", "Namespace", None, name, created_ago);
    meta::add_labels(&mut ns, &[("kubernetes.io/metadata.name", name)]);
    ns["spec"] = json!({"finalizers": ["kubernetes"]});
    ns["status"] = json!({"phase": "Active"});
    ns["metadata"]["resourceVersion"] =
        json!(crate::revisions::revision_at(created_ago).to_string());
    ns
}

fn write_list(
    w: &mut BundleWriter,
    path: &str,
    kind: &ResourceKind,
    items: &[Value],
    revision: u64,
) -> kpm_bundle::Result<(u64, u64)> {
    let rv = revision.to_string();
    let mut list = w.start_list(path, &kind.list_kind(), &kind.api_version(), Some(&rv))?;
    for item in items {
        list.push(item)?;
    }
    let n = list.count();
    let rec = list.finish()?;
    Ok((n, rec.size))
}

/// An `ok` step for one written file; the duration is a deterministic
/// plausible value so regenerated bundles stay identical.
pub fn ok_step(what: &str, namespace: Option<&str>, path: &str, items: u64, bytes: u64) -> Step {
    let mut s = Step::new(what, Outcome::Ok);
    s.namespace = namespace.map(str::to_string);
    s.path = Some(path.to_string());
    s.items = items;
    s.bytes = bytes;
    s.duration_ms = 8 + ids::hash(path) % 90 + bytes / 20_000;
    s
}

/// The manifest of a generated bundle (files are filled in by the writer).
pub fn manifest(namespaces: Vec<String>, steps: Vec<Step>) -> Manifest {
    Manifest {
        format_version: layout::FORMAT_VERSION,
        tool: Tool {
            name: "kpm-gen-bundle".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        collection: Collection {
            started_at: ids::collection_started(),
            finished_at: ids::collection_finished(),
            interrupted: false,
            timed_out: false,
        },
        cluster: ClusterInfo {
            server_version: Some(SERVER_VERSION.into()),
            context: Some("arn:aws:eks:us-east-1:314159265358:cluster/prod-use1".into()),
            name: Some("prod-use1".into()),
        },
        scope: CollectionScope {
            all_namespaces: true,
            namespaces,
        },
        options: CollectionOptions {
            log_lines: Some(500),
            log_bytes: Some(1_048_576),
            redaction: true,
            redact_config_maps: false,
        },
        steps,
        redaction: BTreeMap::new(),
        files: BTreeMap::new(),
    }
}

/// `/version` of an EKS 1.33 API server.
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": SERVER_VERSION,
        "gitCommit": "9d6c3ec8b44be5a7c9d3bd0e1bb6ef5bb36d3c64",
        "gitTreeState": "clean",
        "buildDate": "2025-08-13T16:49:54Z",
        "goVersion": "go1.24.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}
