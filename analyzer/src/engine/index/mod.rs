//! Per-namespace indexes and the lookup helpers of [`NamespaceCtx`].
//!
//! Everything a rule asks "by name" or "by label" is answered from a HashMap
//! built once per namespace, so a namespace of 150,000 pods is analysed in
//! linear time: no rule scans every pod for every Service.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kpm_bundle::Bundle;
use kpm_model::{Damage, Evidence, LogLine, ObjectRef};

use super::logs::{read_log_grep, read_log_tail, LogFile, LogTail};
use kpm_semantics::PodMetrics;

use crate::context::{ClusterData, FindingBuilder, NamespaceCtx, NamespaceData};
use crate::rules::registry::Rule;

/// Name → position maps and label postings of one namespace.
#[derive(Debug, Default)]
pub struct NsIndex {
    pods: HashMap<String, usize>,
    /// label key → label value → pod positions.
    pod_labels: HashMap<String, HashMap<String, Vec<usize>>>,
    /// involvedObject kind → name → event positions.
    events: HashMap<String, HashMap<String, Vec<usize>>>,
    services: HashMap<String, usize>,
    secrets: HashMap<String, usize>,
    config_maps: HashMap<String, usize>,
    pvcs: HashMap<String, usize>,
    deployments: HashMap<String, usize>,
    replicasets: HashMap<String, usize>,
    statefulsets: HashMap<String, usize>,
    daemonsets: HashMap<String, usize>,
    jobs: HashMap<String, usize>,
    endpoints: HashMap<String, usize>,
    /// Service name (label `kubernetes.io/service-name`) → slice positions.
    endpoint_slices: HashMap<String, Vec<usize>>,
    pod_metrics: HashMap<String, usize>,
}

fn by_name<'a, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    meta: impl Fn(&T) -> &ObjectMeta,
) -> HashMap<String, usize> {
    items
        .enumerate()
        .filter_map(|(i, o)| meta(o).name.clone().map(|n| (n, i)))
        .collect()
}

impl NsIndex {
    /// Builds every index of `ns`.
    pub fn build(ns: &NamespaceData) -> NsIndex {
        let mut pod_labels: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        for (i, pod) in ns.pods.iter().enumerate() {
            for (k, v) in pod.metadata.labels.iter().flatten() {
                pod_labels
                    .entry(k.clone())
                    .or_default()
                    .entry(v.clone())
                    .or_default()
                    .push(i);
            }
        }
        let mut events: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        for (i, ev) in ns.events.iter().enumerate() {
            let o = &ev.involved_object;
            if let (Some(kind), Some(name)) = (&o.kind, &o.name) {
                events
                    .entry(kind.clone())
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .push(i);
            }
        }
        let mut endpoint_slices: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, slice) in ns.endpoint_slices.iter().enumerate() {
            let labels = slice.metadata.labels.as_ref();
            if let Some(svc) = labels.and_then(|l| l.get("kubernetes.io/service-name")) {
                endpoint_slices.entry(svc.clone()).or_default().push(i);
            }
        }
        NsIndex {
            pods: by_name(ns.pods.iter(), |o| &o.metadata),
            pod_labels,
            events,
            services: by_name(ns.services.iter(), |o| &o.metadata),
            secrets: by_name(ns.secrets.iter(), |o| &o.metadata),
            config_maps: by_name(ns.config_maps.iter(), |o| &o.metadata),
            pvcs: by_name(ns.pvcs.iter(), |o| &o.metadata),
            deployments: by_name(ns.deployments.iter(), |o| &o.metadata),
            replicasets: by_name(ns.replicasets.iter(), |o| &o.metadata),
            statefulsets: by_name(ns.statefulsets.iter(), |o| &o.metadata),
            daemonsets: by_name(ns.daemonsets.iter(), |o| &o.metadata),
            jobs: by_name(ns.jobs.iter(), |o| &o.metadata),
            endpoints: by_name(ns.endpoints.iter(), |o| &o.metadata),
            endpoint_slices,
            pod_metrics: by_name(ns.pod_metrics.iter().flatten(), |o| &o.metadata),
        }
    }
}

/// One event (or several identical ones merged), as `kubectl describe` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    /// The object the event is about.
    pub object: ObjectRef,
    /// `Normal` or `Warning`.
    pub event_type: String,
    /// e.g. `BackOff`.
    pub reason: String,
    /// Message verbatim.
    pub message: String,
    /// Occurrences: `series.count`, else `count`, else 1, summed over merged events.
    pub count: u64,
    /// First occurrence.
    pub first_seen: Option<DateTime<Utc>>,
    /// Last occurrence (`series.lastObservedTime`, `lastTimestamp`, `eventTime`
    /// or creation time, the first that is set).
    pub last_seen: Option<DateTime<Utc>>,
}

impl EventView {
    /// Reads one core/v1 Event the way kubectl does: a series-only event
    /// (`eventTime` + `series`, no `count`/`lastTimestamp`) counts and dates
    /// from its series.
    pub fn from_event(ev: &Event, namespace: &str) -> EventView {
        // kpm-semantics mirrors kubectl's reading of legacy and series events.
        let count = u64::try_from(kpm_semantics::events::count(ev))
            .ok()
            .filter(|c| *c > 0)
            .unwrap_or(1);
        let first_seen = kpm_semantics::events::first_seen(ev);
        let last_seen = kpm_semantics::events::last_seen(ev);
        let o = &ev.involved_object;
        let kind = o.kind.clone().unwrap_or_default();
        // Events about cluster objects (a Node) live in `default` but the
        // object has no namespace.
        let object_namespace = o
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| (!is_cluster_scoped(&kind)).then(|| namespace.to_string()));
        EventView {
            object: ObjectRef {
                kind,
                namespace: object_namespace,
                name: o.name.clone().unwrap_or_default(),
            },
            event_type: ev.type_.clone().unwrap_or_else(|| "Normal".to_string()),
            reason: ev.reason.clone().unwrap_or_default(),
            message: ev.message.clone().unwrap_or_default(),
            count,
            first_seen,
            last_seen,
        }
    }

    /// The event as report evidence.
    pub fn to_evidence(&self) -> Evidence {
        Evidence::Event {
            object: self.object.clone(),
            event_type: self.event_type.clone(),
            reason: self.reason.clone(),
            message: self.message.clone(),
            count: self.count,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        }
    }
}

/// Identical events (same type, reason, message) merged with counts summed
/// and first/last seen widened, oldest last-seen first, as `kubectl
/// describe` lists them.
pub fn merge_events(events: impl IntoIterator<Item = EventView>) -> Vec<EventView> {
    let mut merged: Vec<EventView> = Vec::new();
    for v in events {
        if let Some(m) = merged.iter_mut().find(|m| {
            m.event_type == v.event_type && m.reason == v.reason && m.message == v.message
        }) {
            m.count += v.count;
            m.first_seen = match (m.first_seen, v.first_seen) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            m.last_seen = m.last_seen.max(v.last_seen);
        } else {
            merged.push(v);
        }
    }
    merged.sort_by_key(|e| e.last_seen);
    merged
}

/// Kinds without a namespace: the bundle's cluster kinds, and the cluster
/// kinds events are about that the bundle does not store.
fn is_cluster_scoped(kind: &str) -> bool {
    kpm_bundle::layout::CLUSTER_KINDS
        .iter()
        .any(|k| k.kind == kind)
        || matches!(kind, "StorageClass" | "ClusterRole")
}

/// Whether `labels` satisfy a full `LabelSelector` (matchLabels and
/// matchExpressions `In`, `NotIn`, `Exists`, `DoesNotExist`). An empty
/// selector matches everything, as the API defines; an unknown operator
/// matches nothing.
pub fn selector_matches(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k));
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| get(k) == Some(v));
    labels_ok
        && selector.match_expressions.iter().flatten().all(|req| {
            let values = req.values.as_deref().unwrap_or(&[]);
            match req.operator.as_str() {
                "In" => get(&req.key).is_some_and(|v| values.contains(v)),
                "NotIn" => get(&req.key).is_none_or(|v| !values.contains(v)),
                "Exists" => get(&req.key).is_some(),
                "DoesNotExist" => get(&req.key).is_none(),
                _ => false,
            }
        })
}

impl<'a> NamespaceCtx<'a> {
    /// A context over one namespace; builds its indexes.
    pub fn new(
        bundle: &'a Bundle,
        cluster: &'a ClusterData,
        ns: &'a NamespaceData,
    ) -> NamespaceCtx<'a> {
        NamespaceCtx {
            bundle,
            cluster,
            ns,
            now: cluster.now,
            index: NsIndex::build(ns),
            damage: RefCell::new(Vec::new()),
        }
    }

    /// Namespace name.
    pub fn namespace(&self) -> &str {
        &self.ns.name
    }

    /// Starts a finding about `object` (see [`FindingBuilder`]); its id is
    /// `<rule>:<Kind/ns/name>`.
    pub fn finding(&self, rule: Rule, object: ObjectRef) -> FindingBuilder {
        FindingBuilder::new(rule, object)
    }

    /// `ObjectRef` of a namespaced object of this namespace.
    pub fn object(&self, kind: &str, name: &str) -> ObjectRef {
        ObjectRef::namespaced(kind, &self.ns.name, name)
    }

    /// A pod by name.
    pub fn pod(&self, name: &str) -> Option<&'a Pod> {
        self.index.pods.get(name).and_then(|i| self.ns.pods.get(*i))
    }

    /// A Service by name.
    pub fn service(&self, name: &str) -> Option<&'a Service> {
        self.index
            .services
            .get(name)
            .and_then(|i| self.ns.services.get(*i))
    }

    /// A Secret by name.
    pub fn secret(&self, name: &str) -> Option<&'a Secret> {
        self.index
            .secrets
            .get(name)
            .and_then(|i| self.ns.secrets.get(*i))
    }

    /// A ConfigMap by name.
    pub fn config_map(&self, name: &str) -> Option<&'a ConfigMap> {
        self.index
            .config_maps
            .get(name)
            .and_then(|i| self.ns.config_maps.get(*i))
    }

    /// A PersistentVolumeClaim by name.
    pub fn pvc(&self, name: &str) -> Option<&'a PersistentVolumeClaim> {
        self.index.pvcs.get(name).and_then(|i| self.ns.pvcs.get(*i))
    }

    /// A Deployment by name.
    pub fn deployment(&self, name: &str) -> Option<&'a Deployment> {
        self.index
            .deployments
            .get(name)
            .and_then(|i| self.ns.deployments.get(*i))
    }

    /// A ReplicaSet by name.
    pub fn replicaset(&self, name: &str) -> Option<&'a ReplicaSet> {
        self.index
            .replicasets
            .get(name)
            .and_then(|i| self.ns.replicasets.get(*i))
    }

    /// A StatefulSet by name.
    pub fn statefulset(&self, name: &str) -> Option<&'a k8s_openapi::api::apps::v1::StatefulSet> {
        self.index
            .statefulsets
            .get(name)
            .and_then(|i| self.ns.statefulsets.get(*i))
    }

    /// A DaemonSet by name.
    pub fn daemonset(&self, name: &str) -> Option<&'a k8s_openapi::api::apps::v1::DaemonSet> {
        self.index
            .daemonsets
            .get(name)
            .and_then(|i| self.ns.daemonsets.get(*i))
    }

    /// A Job by name.
    pub fn job(&self, name: &str) -> Option<&'a k8s_openapi::api::batch::v1::Job> {
        self.index.jobs.get(name).and_then(|i| self.ns.jobs.get(*i))
    }

    /// The Endpoints object of a Service.
    pub fn endpoints(&self, service: &str) -> Option<&'a k8s_openapi::api::core::v1::Endpoints> {
        self.index
            .endpoints
            .get(service)
            .and_then(|i| self.ns.endpoints.get(*i))
    }

    /// The EndpointSlices of a Service (label `kubernetes.io/service-name`).
    pub fn endpoint_slices(
        &self,
        service: &str,
    ) -> Vec<&'a k8s_openapi::api::discovery::v1::EndpointSlice> {
        self.index
            .endpoint_slices
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|i| self.ns.endpoint_slices.get(*i))
            .collect()
    }

    /// Metrics of a pod, when collected.
    pub fn pod_metrics(&self, pod: &str) -> Option<&'a PodMetrics> {
        let i = self.index.pod_metrics.get(pod)?;
        self.ns.pod_metrics.as_ref().and_then(|m| m.get(*i))
    }

    /// Pods whose labels contain every `key=value` of a Service selector,
    /// from the label index. An empty selector selects nothing (a Service
    /// without selector has manually managed endpoints).
    pub fn pods_selected_by(&self, selector: &BTreeMap<String, String>) -> Vec<&'a Pod> {
        let mut postings: Vec<&Vec<usize>> = Vec::with_capacity(selector.len());
        for (k, v) in selector {
            match self.index.pod_labels.get(k).and_then(|m| m.get(v)) {
                Some(p) => postings.push(p),
                None => return Vec::new(),
            }
        }
        // Walk the rarest label's pods and check the others on each.
        postings.sort_by_key(|p| p.len());
        let Some((first, _)) = postings.split_first() else {
            return Vec::new();
        };
        first
            .iter()
            .filter_map(|i| self.ns.pods.get(*i))
            .filter(|pod| {
                let labels = pod.metadata.labels.as_ref();
                selector
                    .iter()
                    .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
            })
            .collect()
    }

    /// Pods matching a full `LabelSelector` (Deployments, HPAs, PDBs). Uses
    /// the label index for `matchLabels` and checks expressions per candidate.
    pub fn pods_matching(&self, selector: &LabelSelector) -> Vec<&'a Pod> {
        let labels = selector.match_labels.clone().unwrap_or_default();
        let candidates: Vec<&'a Pod> = if labels.is_empty() {
            self.ns.pods.iter().collect()
        } else {
            self.pods_selected_by(&labels)
        };
        candidates
            .into_iter()
            .filter(|p| selector_matches(selector, p.metadata.labels.as_ref()))
            .collect()
    }

    /// Pods with label `key` set to any value, grouped by value (for "closest
    /// pods" diagnostics without a full scan).
    pub fn pods_with_label(&self, key: &str) -> Vec<(&'a str, Vec<&'a Pod>)> {
        let Some(values) = self.index.pod_labels.get(key) else {
            return Vec::new();
        };
        let mut out: Vec<(&'a str, Vec<&'a Pod>)> = Vec::new();
        for idx in values.values() {
            // The value lives in the index, whose lifetime is shorter than
            // 'a; read it back from the first pod instead.
            let pods: Vec<&'a Pod> = idx.iter().filter_map(|i| self.ns.pods.get(*i)).collect();
            let v: Option<&'a str> = pods
                .first()
                .and_then(|p| p.metadata.labels.as_ref())
                .and_then(|l| l.get(key))
                .map(String::as_str);
            if let Some(v) = v {
                out.push((v, pods));
            }
        }
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Events about `kind`/`name` in this namespace, identical ones (same
    /// type, reason, message) merged with counts summed, oldest last-seen first
    /// as `kubectl describe` lists them.
    ///
    /// Events about an earlier object of the same name (a pod of a
    /// StatefulSet recreated, a Service deleted and made again) are history:
    /// when both the event and the current object carry a uid and they
    /// differ, the event is left out.
    pub fn events_for(&self, kind: &str, name: &str) -> Vec<EventView> {
        let Some(idx) = self.index.events.get(kind).and_then(|m| m.get(name)) else {
            return Vec::new();
        };
        let current = self.current_uid(kind, name);
        merge_events(
            idx.iter()
                .filter_map(|i| self.ns.events.get(*i))
                .filter(|ev| about_current(ev, current))
                .map(|ev| EventView::from_event(ev, &self.ns.name)),
        )
    }

    /// The uid of the namespace's object `kind`/`name`, when it is in the
    /// bundle and has one.
    fn current_uid(&self, kind: &str, name: &str) -> Option<&'a str> {
        let meta: Option<&'a ObjectMeta> = match kind {
            "Pod" => self.pod(name).map(|o| &o.metadata),
            "Service" => self.service(name).map(|o| &o.metadata),
            "Deployment" => self.deployment(name).map(|o| &o.metadata),
            "ReplicaSet" => self.replicaset(name).map(|o| &o.metadata),
            "StatefulSet" => self.statefulset(name).map(|o| &o.metadata),
            "DaemonSet" => self.daemonset(name).map(|o| &o.metadata),
            "Job" => self.job(name).map(|o| &o.metadata),
            "PersistentVolumeClaim" => self.pvc(name).map(|o| &o.metadata),
            _ => None,
        };
        meta.and_then(|m| m.uid.as_deref())
            .filter(|u| !u.is_empty())
    }

    /// Events about Nodes recorded in this namespace (the kubelet and the
    /// node lifecycle controller record them in `default`), by node name,
    /// unmerged: the cluster rules merge them across namespaces.
    pub fn node_events(&self) -> Vec<(String, EventView)> {
        let Some(by_name) = self.index.events.get("Node") else {
            return Vec::new();
        };
        by_name
            .iter()
            .flat_map(|(name, idx)| {
                idx.iter()
                    .filter_map(|i| self.ns.events.get(*i))
                    .map(move |ev| (name.clone(), EventView::from_event(ev, &self.ns.name)))
            })
            .collect()
    }

    /// Events about a pod whose reason is `reason`.
    pub fn pod_events_with_reason(&self, pod: &str, reason: &str) -> Vec<EventView> {
        self.events_for("Pod", pod)
            .into_iter()
            .filter(|e| e.reason == reason)
            .collect()
    }

    /// The workload owning a pod: its controller owner, resolved through a
    /// ReplicaSet to the Deployment (`Pod → ReplicaSet → Deployment`) when
    /// the ReplicaSet is in the bundle. `None` for bare pods.
    pub fn owner_workload(&self, pod: &Pod) -> Option<ObjectRef> {
        let owner = controller_owner(&pod.metadata)?;
        if owner.0 == "ReplicaSet" {
            if let Some(rs) = self.replicaset(owner.1) {
                if let Some((kind, name)) = controller_owner(&rs.metadata) {
                    return Some(self.object(kind, name));
                }
            }
        }
        if owner.0 == "Job" {
            if let Some(job) = self.job(owner.1) {
                if let Some((kind, name)) = controller_owner(&job.metadata) {
                    return Some(self.object(kind, name));
                }
            }
        }
        Some(self.object(owner.0, owner.1))
    }

    /// Log files of a pod in the bundle.
    pub fn pod_log_files(&self, pod: &str) -> Vec<LogFile> {
        self.bundle
            .pod_logs(&self.ns.name, pod)
            .into_iter()
            .map(|(container, previous, path)| LogFile {
                container,
                previous,
                path,
            })
            .collect()
    }

    /// The last `n` lines of a container's log (`previous` for the log of
    /// the instance before the last restart), numbered; `None` when the
    /// bundle has no such log or it is unreadable (recorded as damage).
    pub fn pod_log_tail(
        &self,
        pod: &str,
        container: &str,
        previous: bool,
        n: usize,
    ) -> Option<LogTail> {
        let path = kpm_bundle::layout::log_path(&self.ns.name, pod, container, previous);
        if !self.bundle.contains(&path) {
            return None;
        }
        read_log_tail(self.bundle, &path, n, &self.damage)
    }

    /// Up to `max` lines of a bundle log file for which `pred` holds.
    pub fn log_grep(&self, file: &str, max: usize, pred: impl Fn(&str) -> bool) -> Vec<LogLine> {
        read_log_grep(self.bundle, file, max, pred, &self.damage)
    }

    /// Damage met by rules (unreadable logs), taken by the engine.
    pub fn take_damage(&self) -> Vec<Damage> {
        self.damage.take()
    }
}

/// Whether an event is about the object that carries `current` uid now
/// (true when either uid is unknown: nothing says otherwise).
pub fn about_current(ev: &Event, current: Option<&str>) -> bool {
    let event_uid = ev.involved_object.uid.as_deref().filter(|u| !u.is_empty());
    match (event_uid, current) {
        (Some(e), Some(c)) => e == c,
        _ => true,
    }
}

/// `(kind, name)` of the controller owner reference, if any.
pub fn controller_owner(meta: &ObjectMeta) -> Option<(&str, &str)> {
    let owners = meta.owner_references.as_ref()?;
    owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first())
        .map(|o| (o.kind.as_str(), o.name.as_str()))
}

#[cfg(test)]
mod tests;
