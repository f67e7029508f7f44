//! What a diff keeps of one bundle besides its report: a compact digest of
//! workloads, pods, ConfigMaps/Secrets, nodes, events and the collection,
//! taken while the analysis streams over each namespace (the bundle is
//! read once), keyed by identity for hash-map matching.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sha2::{Digest as _, Sha256};

use super::event_digest::fnv;
pub use super::event_digest::{series_key, uid_key, EventDigest, KnownEvents};
pub use super::template::ContainerSpec;
use super::template::{config_names, config_ref, template};
use crate::context::{ClusterData, NamespaceData};
use crate::rules::config::{last_write, pod_started, ConfigKind};

/// Label the Deployment controller puts on its pods and ReplicaSets.
const TEMPLATE_HASH: &str = "pod-template-hash";
/// Label StatefulSet and DaemonSet controllers put on their pods.
const REVISION_HASH: &str = "controller-revision-hash";
/// Annotation holding a Deployment's (and its ReplicaSets') revision.
const REVISION: &str = "deployment.kubernetes.io/revision";

/// A workload (Deployment, StatefulSet, DaemonSet) or HPA.
#[derive(Debug, Clone, Default)]
pub struct Workload {
    /// Revision: the Deployment's revision annotation, a StatefulSet's
    /// `updateRevision`, a DaemonSet's `observedGeneration`.
    pub revision: Option<String>,
    /// Desired replicas (an HPA: desired replicas it computed).
    pub replicas: Option<i32>,
    /// Ready replicas (an HPA: current replicas).
    pub ready: Option<i32>,
    /// Containers of the pod template (init containers prefixed `init:`).
    pub containers: Vec<ContainerSpec>,
    /// ConfigMaps and Secrets the template consumes, `Kind/name`, sorted.
    pub config_refs: Vec<String>,
}

/// One container of a running pod.
#[derive(Debug, Clone)]
pub struct ContainerState {
    /// Name (shared by every pod of the workload).
    pub name: Shared,
    /// Restart count.
    pub restarts: i32,
    /// Waiting in a crash or start error (`CrashLoopBackOff`, `Error`,
    /// `CreateContainerConfigError`...), or terminated with a failure.
    pub crashing: bool,
}

/// One pod. Kept for every pod of both snapshots, so it holds hashes and
/// shared strings rather than text of its own.
#[derive(Debug, Clone)]
pub struct PodDigest {
    /// Hash of its uid: the same name with another uid is another pod
    /// (only ever compared for equality).
    pub uid: u64,
    /// The workload key (`Kind/ns/name`) owning it, if any.
    pub workload: Option<Shared>,
    /// Its revision within the workload (pod-template-hash or
    /// controller-revision-hash).
    pub revision: Option<Shared>,
    /// `Running` and every container running.
    pub running: bool,
    /// When its oldest running container started.
    pub started: Option<DateTime<Utc>>,
    /// Containers.
    pub containers: Vec<ContainerState>,
    /// `Kind/name` of each ConfigMap and Secret it consumes.
    pub consumes: Vec<Shared>,
}

/// A ConfigMap or Secret.
#[derive(Debug, Clone)]
pub struct ConfigDigest {
    /// resourceVersion.
    pub resource_version: String,
    /// First 12 hex digits of SHA-256 over sorted keys and values.
    pub content: String,
    /// Last write (`managedFields`).
    pub written: Option<DateTime<Utc>>,
}

/// A node.
#[derive(Debug, Clone)]
pub struct NodeDigest {
    /// uid.
    pub uid: String,
    /// Condition type → status, plus `Unschedulable` when cordoned.
    pub conditions: BTreeMap<String, String>,
}

/// A hash map keyed by strings of the bundle. foldhash is several times
/// faster than the standard SipHash on the diff's 150,000 pod keys per
/// snapshot, and is seeded per process, so a hostile bundle cannot choose
/// names that all collide.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A string many digest entries share (workload keys, revisions, container
/// names, config references), stored once per snapshot.
pub type Shared = Arc<str>;

/// One copy of each [`Shared`] string of a snapshot.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Shared, foldhash::fast::RandomState>);

impl Interner {
    /// The shared copy of `s`.
    pub fn get(&mut self, s: &str) -> Shared {
        if let Some(v) = self.0.get(s) {
            return Arc::clone(v);
        }
        let v: Shared = Arc::from(s);
        self.0.insert(Arc::clone(&v));
        v
    }
}

/// Everything a diff compares, besides the report.
#[derive(Debug, Default)]
pub struct Digest {
    /// kube-system namespace uid: the cluster's identity.
    pub kube_system_uid: Option<String>,
    /// Workloads by `Kind/ns/name`.
    pub workloads: FastMap<String, Workload>,
    /// Pods by `ns/name`.
    pub pods: FastMap<String, PodDigest>,
    /// ConfigMaps and Secrets by `Kind/ns/name`.
    pub configs: FastMap<String, ConfigDigest>,
    /// Nodes by name.
    pub nodes: FastMap<String, NodeDigest>,
    /// The events last seen after [`Digest::events_after`]: those a
    /// timeline from the previous snapshot can show (none when unset).
    pub events: Vec<EventDigest>,
    /// Every event, as the next snapshot deduplicates against it (empty
    /// unless [`Digest::remember_events`]).
    pub known_events: KnownEvents,
    /// Whether a later snapshot follows, so [`Digest::known_events`] is
    /// filled: the last of a series needs none.
    pub remember_events: bool,
    /// When the previous snapshot was collected: events last seen after
    /// it are kept in full in [`Digest::events`].
    pub events_after: Option<DateTime<Utc>>,
    /// Shared strings.
    pub strings: Interner,
}

/// The most entries a digest map is sized for from the manifest's counts:
/// they are a hint, which a hostile manifest must not turn into a huge
/// allocation (past it the maps grow as usual).
pub(crate) const PRESIZE_LIMIT: u64 = 1 << 18;

impl Digest {
    /// An empty digest whose maps are sized from the objects the manifest
    /// says were collected: filled as they grow, the pod map alone would be
    /// rehashed a dozen times, each time reading every key again.
    /// `remember_events` when a later snapshot will deduplicate its events
    /// against this one.
    pub fn sized_for(manifest: &kpm_bundle::Manifest, remember_events: bool) -> Digest {
        let items = |kinds: &[&str]| -> usize {
            let listed = manifest
                .steps
                .iter()
                .filter(|s| s.object.is_none() && kinds.contains(&s.what.as_str()));
            let n = listed.fold(0, |n: u64, s| n.saturating_add(s.items));
            usize::try_from(n.min(PRESIZE_LIMIT)).unwrap_or(0)
        };
        let events = if remember_events {
            items(&["events"])
        } else {
            0
        };
        Digest {
            workloads: sized(items(&[
                "deployments",
                "statefulsets",
                "daemonsets",
                "horizontalpodautoscalers",
            ])),
            pods: sized(items(&["pods"])),
            configs: sized(items(&["configmaps", "secrets"])),
            known_events: KnownEvents {
                by_uid: HashMap::with_capacity_and_hasher(events, Default::default()),
                by_series: HashMap::with_capacity_and_hasher(events, Default::default()),
            },
            remember_events,
            ..Digest::default()
        }
    }
}

/// An empty map with room for `n` entries.
fn sized<V>(n: usize) -> FastMap<String, V> {
    FastMap::with_capacity_and_hasher(n, Default::default())
}

impl crate::engine::Observer for Digest {
    fn cluster(&mut self, cluster: &ClusterData) {
        for node in &cluster.nodes {
            let Some(name) = node.metadata.name.clone() else {
                continue;
            };
            let mut conditions: BTreeMap<String, String> = node
                .status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .map(|c| (c.type_.clone(), c.status.clone()))
                .collect();
            if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
                conditions.insert("Unschedulable".into(), "True".into());
            }
            let uid = node.metadata.uid.clone().unwrap_or_default();
            self.nodes.insert(name, NodeDigest { uid, conditions });
        }
    }

    fn namespace(&mut self, data: &NamespaceData) {
        self.absorb_workloads(data);
        self.absorb_pods(data);
        self.absorb_configs(data);
        self.absorb_events(data);
    }
}

/// `Kind/ns/name`. Joined rather than formatted: there is one per
/// workload, ConfigMap and Secret of the bundle.
pub fn key(kind: &str, ns: &str, name: &str) -> String {
    [kind, ns, name].join("/")
}

fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn label<'a>(meta: &'a ObjectMeta, k: &str) -> Option<&'a str> {
    meta.labels.as_ref()?.get(k).map(String::as_str)
}

fn annotation<'a>(meta: &'a ObjectMeta, k: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(k).map(String::as_str)
}

impl Digest {
    fn absorb_workloads(&mut self, data: &NamespaceData) {
        let ns = data.name.as_str();
        for d in &data.deployments {
            let spec = d.spec.as_ref();
            let (containers, config_refs) = template(spec.map(|s| &s.template));
            let status = d.status.as_ref();
            self.workloads.insert(
                key("Deployment", ns, name_of(&d.metadata)),
                Workload {
                    revision: annotation(&d.metadata, REVISION).map(str::to_string),
                    replicas: Some(spec.and_then(|s| s.replicas).unwrap_or(1)),
                    ready: Some(status.and_then(|s| s.ready_replicas).unwrap_or(0)),
                    containers,
                    config_refs,
                },
            );
        }
        for s in &data.statefulsets {
            let spec = s.spec.as_ref();
            let (containers, config_refs) = template(spec.map(|s| &s.template));
            let status = s.status.as_ref();
            self.workloads.insert(
                key("StatefulSet", ns, name_of(&s.metadata)),
                Workload {
                    revision: status.and_then(|s| s.update_revision.clone()),
                    replicas: Some(spec.and_then(|s| s.replicas).unwrap_or(1)),
                    ready: Some(status.and_then(|s| s.ready_replicas).unwrap_or(0)),
                    containers,
                    config_refs,
                },
            );
        }
        for d in &data.daemonsets {
            let (containers, config_refs) = template(d.spec.as_ref().map(|s| &s.template));
            let status = d.status.as_ref();
            self.workloads.insert(
                key("DaemonSet", ns, name_of(&d.metadata)),
                Workload {
                    revision: d.metadata.generation.map(|g| g.to_string()),
                    replicas: status.map(|s| s.desired_number_scheduled),
                    ready: status.map(|s| s.number_ready),
                    containers,
                    config_refs,
                },
            );
        }
        for h in &data.hpas {
            let status = h.status.as_ref();
            self.workloads.insert(
                key("HorizontalPodAutoscaler", ns, name_of(&h.metadata)),
                Workload {
                    replicas: status.map(|s| s.desired_replicas),
                    ready: status.and_then(|s| s.current_replicas),
                    ..Workload::default()
                },
            );
        }
    }

    fn absorb_pods(&mut self, data: &NamespaceData) {
        let ns = data.name.as_str();
        // ReplicaSet → owning Deployment, so pods are known by workload.
        let rs_owner: FastMap<&str, &str> = data
            .replicasets
            .iter()
            .filter_map(|rs| {
                let owner = rs.metadata.owner_references.iter().flatten();
                let d = owner.into_iter().find(|o| o.kind == "Deployment")?;
                Some((name_of(&rs.metadata), d.name.as_str()))
            })
            .collect();
        // Pods share owners and configuration: each key is spelled once.
        let mut owners: FastMap<(&str, &str), Shared> = FastMap::default();
        let mut refs: FastMap<(ConfigKind, &str), Shared> = FastMap::default();
        self.pods.reserve(data.pods.len());
        for p in &data.pods {
            let strings = &mut self.strings;
            let workload = owner_of(p).map(|o| {
                let shared = owners
                    .entry((o.kind.as_str(), o.name.as_str()))
                    .or_insert_with(|| strings.get(&workload_key(ns, o, &rs_owner)));
                Arc::clone(shared)
            });
            let meta = &p.metadata;
            let revision = workload
                .as_ref()
                .and(label(meta, TEMPLATE_HASH).or_else(|| label(meta, REVISION_HASH)));
            let digest = PodDigest {
                uid: fnv(p.metadata.uid.as_deref().unwrap_or_default()),
                workload,
                revision: revision.map(|r| strings.get(r)),
                running: pod_running(p),
                started: pod_started(p),
                containers: container_states(p, strings),
                consumes: p
                    .spec
                    .as_ref()
                    .map(|spec| pod_refs(spec, &mut refs, strings))
                    .unwrap_or_default(),
            };
            self.pods
                .insert([ns, name_of(&p.metadata)].join("/"), digest);
        }
    }

    fn absorb_configs(&mut self, data: &NamespaceData) {
        let ns = data.name.as_str();
        for cm in &data.config_maps {
            let mut h = Sha256::new();
            for (k, v) in cm.data.iter().flatten() {
                hash_entry(&mut h, k, v.as_bytes());
            }
            for (k, v) in cm.binary_data.iter().flatten() {
                hash_entry(&mut h, k, &v.0);
            }
            self.configs.insert(
                key("ConfigMap", ns, name_of(&cm.metadata)),
                config_digest(&cm.metadata, h),
            );
        }
        for s in &data.secrets {
            let mut h = Sha256::new();
            for (k, v) in s.data.iter().flatten() {
                hash_entry(&mut h, k, &v.0);
            }
            self.configs.insert(
                key("Secret", ns, name_of(&s.metadata)),
                config_digest(&s.metadata, h),
            );
        }
    }
}

fn hash_entry(h: &mut Sha256, k: &str, v: &[u8]) {
    h.update((k.len() as u64).to_le_bytes());
    h.update(k.as_bytes());
    h.update((v.len() as u64).to_le_bytes());
    h.update(v);
}

fn config_digest(meta: &ObjectMeta, h: Sha256) -> ConfigDigest {
    let mut content = String::with_capacity(12);
    for b in h.finalize().iter().take(6) {
        let _ = write!(content, "{b:02x}");
    }
    ConfigDigest {
        resource_version: meta.resource_version.clone().unwrap_or_default(),
        content,
        written: last_write(meta).map(|(t, _)| t),
    }
}

/// The reference to the workload owning a pod: its controller, else its
/// first owner.
fn owner_of(p: &Pod) -> Option<&OwnerReference> {
    let mut owners = p.metadata.owner_references.iter().flatten();
    owners
        .clone()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.next())
}

/// The workload key of a pod's owner: a ReplicaSet's Deployment when it
/// has one.
fn workload_key(ns: &str, owner: &OwnerReference, rs_owner: &FastMap<&str, &str>) -> String {
    match owner.kind.as_str() {
        "ReplicaSet" => match rs_owner.get(owner.name.as_str()) {
            Some(d) => key("Deployment", ns, d),
            None => key("ReplicaSet", ns, &owner.name),
        },
        kind => key(kind, ns, &owner.name),
    }
}

/// [`refs_of`] for a pod, each reference shared: sorted, deduplicated.
/// `seen` spells each reference once per namespace.
fn pod_refs<'a>(
    spec: &'a PodSpec,
    seen: &mut FastMap<(ConfigKind, &'a str), Shared>,
    strings: &mut Interner,
) -> Vec<Shared> {
    let mut refs: Vec<Shared> = config_names(spec)
        .map(|(kind, name)| {
            let shared = seen
                .entry((kind, name))
                .or_insert_with_key(|(kind, name)| strings.get(&config_ref(*kind, name)));
            Arc::clone(shared)
        })
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

fn pod_running(p: &Pod) -> bool {
    let Some(status) = p.status.as_ref() else {
        return false;
    };
    status.phase.as_deref() == Some("Running")
        && status
            .container_statuses
            .iter()
            .flatten()
            .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
}

/// Waiting reasons that mean the container cannot run.
const CRASH_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "RunContainerError",
    "CreateContainerError",
    "CreateContainerConfigError",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "StartError",
];

fn container_states(p: &Pod, strings: &mut Interner) -> Vec<ContainerState> {
    let Some(status) = p.status.as_ref() else {
        return Vec::new();
    };
    let restarting_pod = p.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) != Some("Never");
    status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| {
            let state = c.state.as_ref();
            let waiting = state
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                .is_some_and(|r| CRASH_REASONS.contains(&r));
            let failed = restarting_pod
                && state
                    .and_then(|s| s.terminated.as_ref())
                    .is_some_and(|t| t.exit_code != 0);
            ContainerState {
                name: strings.get(&c.name),
                restarts: c.restart_count,
                crashing: waiting || failed,
            }
        })
        .collect()
}

/// A timestamp as RFC 3339 (second precision), for field changes.
pub fn time_text(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The kube-system namespace's uid from `cluster/namespaces.json`, when
/// collected: two snapshots with different ones are different clusters.
pub fn kube_system_uid(bundle: &kpm_bundle::Bundle) -> Option<String> {
    use k8s_openapi::api::core::v1::Namespace;
    let kind = kpm_bundle::layout::kind_by_plural("namespaces")?;
    let list = bundle.read_kind_lean::<Namespace>(kind, None).ok()??;
    list.items
        .into_iter()
        .find(|n| n.metadata.name.as_deref() == Some("kube-system"))
        .and_then(|n| n.metadata.uid)
}
