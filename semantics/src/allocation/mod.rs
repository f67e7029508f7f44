//! Node allocation as `kubectl describe node` prints it, and the bundle file
//! `derived/node-allocation.json` that carries it.
//!
//! Mirrors `describeNodeResource` and `getPodsTotalRequestsAndLimits` of
//! `k8s.io/kubectl/pkg/describe/describe.go`:
//! - the pods counted are those with `spec.nodeName` = the node and a phase
//!   other than `Succeeded`/`Failed` (describe's field selector
//!   `spec.nodeName=X,status.phase!=Succeeded,status.phase!=Failed`), in API
//!   list order (storage key `<namespace>/<name>`);
//! - each pod contributes `PodRequestsAndLimits` ([`crate::resources`]);
//! - percentages are of `status.allocatable`, or of `status.capacity` when
//!   the node reports no allocatable;
//! - "Allocated resources" has rows for cpu, memory and ephemeral-storage
//!   (always), every `hugepages-*` of allocatable (sorted), with
//!   `int64(float64(req)/float64(alloc)*100)` percentages (CPU in milli-units,
//!   the rest in units), then every extended resource of allocatable (sorted,
//!   no percentages);
//! - "Non-terminated Pods" lists each pod's CPU and memory requests/limits
//!   with percentages of allocatable and its age. (kubectl divides by zero
//!   there when allocatable CPU or memory is 0 and prints garbage; kpm
//!   prints 0%.)
//!
//! The collector and the testdata generator write the file (streaming through
//! [`AllocationBuilder`] so they need not hold every pod); the analyzer reads
//! it back with serde as [`SystemAllocationFile`], keeping of the pod lines
//! only the kube-system ones its rules read (on a 150,000-pod cluster the
//! other lines would cost more memory than every node object together).
//! Quantities are strings exactly as kubectl prints them;
//! [`NodeAllocation::requested`] and friends parse them back.
//!
//! ```text
//! {"nodes": [{
//!   "node": "worker-1",
//!   "allocatable": {"cpu": "4", "memory": "7948084Ki", "pods": "110", ...},
//!   "capacity": {...},
//!   "nonTerminatedPods": 5, "allocatablePods": 110,
//!   "requests": {"cpu": "1850m", "memory": "1130Mi", "ephemeral-storage": "0", "nvidia.com/gpu": "1"},
//!   "limits": {"cpu": "2600m", ...},
//!   "requestsPercent": {"cpu": 46, "memory": 14, "ephemeral-storage": 0},
//!   "limitsPercent": {"cpu": 65, ...},
//!   "rows": [{"resource": "cpu", "requests": "1850m", "requestsPercent": 46,
//!             "limits": "2600m", "limitsPercent": 65},
//!            ..., {"resource": "nvidia.com/gpu", "requests": "1", "limits": "1"}],
//!   "pods": [{"namespace": "kube-system", "name": "coredns-7db6d8ff4d-4tq9m",
//!             "cpuRequests": "100m", "cpuRequestsPercent": 2, "cpuLimits": "0", ...,
//!             "requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"},
//!             "created": "2024-04-28T09:00:00Z", "age": "3d3h"}]
//! }]}
//! ```

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use serde::{Deserialize, Serialize};

use crate::duration::age_opt;
use crate::quantity::{resource_percent, Quantity};
use crate::resources::{
    add_resource_list, pod_requests_and_limits_for_pod, resource_list, ResourceList,
};
use crate::time::opt_to_chrono;

/// Path of the file inside a bundle.
pub const FILE_PATH: &str = "derived/node-allocation.json";

/// The resources describe always prints, in its order.
pub const STANDARD_RESOURCES: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// Content of `derived/node-allocation.json`; `Pods` is how each node's
/// "Non-terminated Pods" lines are held (all of them unless a reader picks
/// [`SystemPods`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    bound(deserialize = "Pods: Deserialize<'de> + Default")
)]
pub struct NodeAllocationFile<Pods = Vec<PodAllocation>> {
    /// One entry per node, sorted by node name.
    pub nodes: Vec<NodeAllocation<Pods>>,
}

/// The file as the analyzer holds it: every node's totals, and of its pod
/// lines only the kube-system ones.
pub type SystemAllocationFile = NodeAllocationFile<SystemPods>;

/// One node's "Allocated resources" and "Non-terminated Pods".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAllocation<Pods = Vec<PodAllocation>> {
    /// Node name.
    pub node: String,
    /// `status.allocatable`, canonical quantity strings.
    #[serde(default)]
    pub allocatable: BTreeMap<String, String>,
    /// `status.capacity`, canonical quantity strings.
    #[serde(default)]
    pub capacity: BTreeMap<String, String>,
    /// Pods counted ("Non-terminated Pods: (N in total)").
    pub non_terminated_pods: u32,
    /// `allocatable.pods` (capacity when allocatable is empty), the most pods
    /// the kubelet admits; 0 if unset.
    pub allocatable_pods: i64,
    /// Total requests per printed resource (`1850m`, `1130Mi`, `0`).
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
    /// Total limits per printed resource.
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
    /// Requests as percent of allocatable, for resources describe gives a
    /// percentage (cpu, memory, ephemeral-storage, hugepages-*).
    #[serde(default)]
    pub requests_percent: BTreeMap<String, i64>,
    /// Limits as percent of allocatable (may exceed 100: overcommit).
    #[serde(default)]
    pub limits_percent: BTreeMap<String, i64>,
    /// The "Allocated resources" table rows in describe's order.
    #[serde(default)]
    pub rows: Vec<AllocatedRow>,
    /// The "Non-terminated Pods" lines in API list order.
    #[serde(default)]
    pub pods: Pods,
}

/// One line of "Allocated resources": `cpu  1850m (46%)  3 (75%)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocatedRow {
    /// Resource name.
    pub resource: String,
    /// Total requests.
    pub requests: String,
    /// Percent of allocatable; absent for extended resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_percent: Option<i64>,
    /// Total limits.
    pub limits: String,
    /// Percent of allocatable; absent for extended resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits_percent: Option<i64>,
}

/// One line of "Non-terminated Pods".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAllocation {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// CPU Requests (`0` when unset).
    pub cpu_requests: String,
    /// Percent of allocatable CPU.
    pub cpu_requests_percent: i64,
    /// CPU Limits.
    pub cpu_limits: String,
    /// Percent of allocatable CPU.
    pub cpu_limits_percent: i64,
    /// Memory Requests.
    pub memory_requests: String,
    /// Percent of allocatable memory.
    pub memory_requests_percent: i64,
    /// Memory Limits.
    pub memory_limits: String,
    /// Percent of allocatable memory.
    pub memory_limits_percent: i64,
    /// Every requested resource of the pod.
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
    /// Every limited resource of the pod.
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
    /// `metadata.creationTimestamp`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// Age column, when the computation was given a "now".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
}

fn parse_or_zero(s: Option<&String>) -> Quantity {
    s.and_then(|v| Quantity::parse(v).ok())
        .unwrap_or(Quantity::ZERO)
}

/// The kube-system lines of a node's "Non-terminated Pods", in API list
/// order. Reading skips every other line as it goes, so a reader that needs
/// only the system pods (what a node keeps once movable pods are evicted)
/// never holds the rest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemPods(Vec<PodAllocation>);

impl SystemPods {
    /// The kube-system pods' lines.
    pub fn iter(&self) -> std::slice::Iter<'_, PodAllocation> {
        self.0.iter()
    }
}

impl From<Vec<PodAllocation>> for SystemPods {
    /// Keeps the kube-system lines of a full list.
    fn from(pods: Vec<PodAllocation>) -> Self {
        SystemPods(pods.into_iter().filter(is_system).collect())
    }
}

fn is_system(p: &PodAllocation) -> bool {
    p.namespace == "kube-system"
}

impl<'de> Deserialize<'de> for SystemPods {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Lines;
        impl<'de> serde::de::Visitor<'de> for Lines {
            type Value = SystemPods;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of pod allocation lines")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<SystemPods, A::Error> {
                let mut kept = Vec::new();
                while let Some(line) = seq.next_element::<PodAllocation>()? {
                    if is_system(&line) {
                        kept.push(line);
                    }
                }
                Ok(SystemPods(kept))
            }
        }
        deserializer.deserialize_seq(Lines)
    }
}

impl<Pods> NodeAllocationFile<Pods> {
    /// The same file holding each node's pod lines as `f` makes them.
    pub fn map_pods<Other>(self, f: impl Fn(Pods) -> Other) -> NodeAllocationFile<Other> {
        NodeAllocationFile {
            nodes: self
                .nodes
                .into_iter()
                .map(|n| NodeAllocation {
                    node: n.node,
                    allocatable: n.allocatable,
                    capacity: n.capacity,
                    non_terminated_pods: n.non_terminated_pods,
                    allocatable_pods: n.allocatable_pods,
                    requests: n.requests,
                    limits: n.limits,
                    requests_percent: n.requests_percent,
                    limits_percent: n.limits_percent,
                    rows: n.rows,
                    pods: f(n.pods),
                })
                .collect(),
        }
    }

    /// The entry for node `name`. Files are written sorted by node name, so
    /// this is a binary search (callers look nodes up per node and per
    /// pending pod on 5,000-node clusters); a file that is not sorted still
    /// answers correctly through the linear fallback.
    pub fn node(&self, name: &str) -> Option<&NodeAllocation<Pods>> {
        match self.nodes.binary_search_by(|n| n.node.as_str().cmp(name)) {
            Ok(i) => self.nodes.get(i),
            Err(_) => self.nodes.iter().find(|n| n.node == name),
        }
    }
}

impl<Pods> NodeAllocation<Pods> {
    /// Total requests of `resource` (zero if none).
    pub fn requested(&self, resource: &str) -> Quantity {
        parse_or_zero(self.requests.get(resource))
    }

    /// Total limits of `resource` (zero if none).
    pub fn limited(&self, resource: &str) -> Quantity {
        parse_or_zero(self.limits.get(resource))
    }

    /// Allocatable `resource` (zero if the node does not offer it), from
    /// capacity when the node reports no allocatable, as describe does.
    pub fn allocatable_of(&self, resource: &str) -> Quantity {
        if self.allocatable.is_empty() {
            return self.capacity_of(resource);
        }
        parse_or_zero(self.allocatable.get(resource))
    }

    /// Capacity of `resource` (zero if unknown).
    pub fn capacity_of(&self, resource: &str) -> Quantity {
        parse_or_zero(self.capacity.get(resource))
    }

    /// Allocatable minus requested: what the scheduler still sees free
    /// (negative if a static or pre-bound pod overshoots).
    pub fn free(&self, resource: &str) -> Quantity {
        let mut q = self.allocatable_of(resource);
        q.sub(&self.requested(resource));
        q
    }

    /// Pods the kubelet would still admit.
    pub fn free_pod_slots(&self) -> i64 {
        self.allocatable_pods - i64::from(self.non_terminated_pods)
    }
}

/// Computes the allocation of every node from full pod lists.
/// Ages are left out; see [`compute_at`].
pub fn compute(nodes: &[Node], pods: &[Pod]) -> NodeAllocationFile {
    let mut b = AllocationBuilder::new();
    nodes.iter().for_each(|n| b.add_node(n));
    for p in pods {
        b.add_pod(p);
    }
    b.finish()
}

/// Like [`compute`], with the pods' AGE column as seen at `now` (the
/// collection time).
pub fn compute_at(nodes: &[Node], pods: &[Pod], now: DateTime<Utc>) -> NodeAllocationFile {
    let mut b = AllocationBuilder::with_now(now);
    nodes.iter().for_each(|n| b.add_node(n));
    for p in pods {
        b.add_pod(p);
    }
    b.finish()
}

/// What is kept of a counted pod: a few strings and two small maps.
#[derive(Debug, Clone)]
struct PodEntry {
    namespace: String,
    name: String,
    requests: ResourceList,
    limits: ResourceList,
    created: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
struct NodeEntry {
    allocatable: ResourceList,
    capacity: ResourceList,
}

/// Incremental computation: feed nodes and pods in any order (page by page),
/// then [`finish`](AllocationBuilder::finish). Only each counted pod's
/// requests and limits are kept, never the pod itself.
#[derive(Debug, Clone, Default)]
pub struct AllocationBuilder {
    now: Option<DateTime<Utc>>,
    nodes: BTreeMap<String, NodeEntry>,
    pods: HashMap<String, Vec<PodEntry>>,
}

fn canonical(map: Option<&BTreeMap<String, K8sQuantity>>) -> ResourceList {
    resource_list(map)
}

fn strings(list: &ResourceList) -> BTreeMap<String, String> {
    list.iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

fn is_huge_pages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

impl AllocationBuilder {
    /// A builder that leaves the AGE column out.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder that fills the AGE column as seen at `now`.
    pub fn with_now(now: DateTime<Utc>) -> Self {
        AllocationBuilder {
            now: Some(now),
            ..Self::default()
        }
    }

    /// Adds a node (a node without a name is ignored; a repeated name
    /// replaces the earlier one).
    pub fn add_node(&mut self, node: &Node) {
        let Some(name) = node.metadata.name.clone().filter(|n| !n.is_empty()) else {
            return;
        };
        let status = node.status.as_ref();
        self.nodes.insert(
            name,
            NodeEntry {
                allocatable: canonical(status.and_then(|s| s.allocatable.as_ref())),
                capacity: canonical(status.and_then(|s| s.capacity.as_ref())),
            },
        );
    }

    /// Adds a pod; it counts only if bound to a node and not terminated.
    /// Returns whether it was counted.
    pub fn add_pod(&mut self, pod: &Pod) -> bool {
        let Some(node) = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty())
        else {
            return false;
        };
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded") | Some("Failed")) {
            return false;
        }
        let (requests, limits) = pod_requests_and_limits_for_pod(pod);
        self.pods.entry(node).or_default().push(PodEntry {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            requests,
            limits,
            created: opt_to_chrono(pod.metadata.creation_timestamp.as_ref()),
        });
        true
    }

    /// Computes the file. Pods bound to nodes that were never added are
    /// dropped (describe only shows existing nodes).
    pub fn finish(mut self) -> NodeAllocationFile {
        let now = self.now;
        let nodes = std::mem::take(&mut self.nodes)
            .into_iter()
            .map(|(name, entry)| {
                let mut pods = self.pods.remove(&name).unwrap_or_default();
                // API list order: the storage key `<namespace>/<name>` in
                // byte order (so `shop-2/x` sorts before `shop/y`).
                pods.sort_by(|a, b| storage_key(a).cmp(storage_key(b)));
                node_allocation(name, entry, &pods, now)
            })
            .collect();
        NodeAllocationFile { nodes }
    }
}

/// The key a pod is stored under relative to `/registry/pods/`, which
/// orders the API server's lists.
fn storage_key(p: &PodEntry) -> impl Iterator<Item = u8> + '_ {
    p.namespace
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(p.name.bytes())
}

fn node_allocation(
    name: String,
    node: NodeEntry,
    pods: &[PodEntry],
    now: Option<DateTime<Utc>>,
) -> NodeAllocation {
    // getPodsTotalRequestsAndLimits: sums in list order, first format wins.
    let mut reqs = ResourceList::new();
    let mut limits = ResourceList::new();
    for p in pods {
        add_resource_list(&mut reqs, &p.requests);
        add_resource_list(&mut limits, &p.limits);
    }
    // describeNodeResource falls back to capacity when allocatable is empty
    // (very old kubelets, hand-made node objects).
    let alloc = if node.allocatable.is_empty() {
        &node.capacity
    } else {
        &node.allocatable
    };
    let get = |list: &ResourceList, k: &str| list.get(k).copied().unwrap_or(Quantity::ZERO);

    let mut huge: Vec<&String> = alloc.keys().filter(|k| is_huge_pages(k)).collect();
    huge.sort();
    let mut ext: Vec<&String> = alloc
        .keys()
        .filter(|k| {
            !is_huge_pages(k) && !STANDARD_RESOURCES.contains(&k.as_str()) && k.as_str() != "pods"
        })
        .collect();
    ext.sort();

    let mut out = NodeAllocation {
        node: name,
        allocatable: strings(&node.allocatable),
        capacity: strings(&node.capacity),
        non_terminated_pods: u32::try_from(pods.len()).unwrap_or(u32::MAX),
        allocatable_pods: get(alloc, "pods").value(),
        ..NodeAllocation::default()
    };

    let with_percent = STANDARD_RESOURCES
        .iter()
        .copied()
        .chain(huge.iter().map(|s| s.as_str()));
    for res in with_percent {
        let (r, l, a) = (get(&reqs, res), get(&limits, res), get(alloc, res));
        let (rp, lp) = (resource_percent(res, &r, &a), resource_percent(res, &l, &a));
        out.requests.insert(res.to_owned(), r.to_string());
        out.limits.insert(res.to_owned(), l.to_string());
        out.requests_percent.insert(res.to_owned(), rp);
        out.limits_percent.insert(res.to_owned(), lp);
        out.rows.push(AllocatedRow {
            resource: res.to_owned(),
            requests: r.to_string(),
            requests_percent: Some(rp),
            limits: l.to_string(),
            limits_percent: Some(lp),
        });
    }
    for res in ext {
        let (r, l) = (get(&reqs, res), get(&limits, res));
        out.requests.insert(res.clone(), r.to_string());
        out.limits.insert(res.clone(), l.to_string());
        out.rows.push(AllocatedRow {
            resource: res.clone(),
            requests: r.to_string(),
            requests_percent: None,
            limits: l.to_string(),
            limits_percent: None,
        });
    }

    out.pods = pods.iter().map(|p| pod_allocation(p, alloc, now)).collect();
    out
}

/// One pod's row of the node's pod table (`kubectl describe node`'s
/// "Non-terminated Pods"), with percentages of the node's allocatable.
fn pod_allocation(p: &PodEntry, alloc: &ResourceList, now: Option<DateTime<Utc>>) -> PodAllocation {
    let get = |list: &ResourceList, k: &str| list.get(k).copied().unwrap_or(Quantity::ZERO);
    let (cpu, mem) = (get(alloc, "cpu"), get(alloc, "memory"));
    let (cr, cl) = (get(&p.requests, "cpu"), get(&p.limits, "cpu"));
    let (mr, ml) = (get(&p.requests, "memory"), get(&p.limits, "memory"));
    PodAllocation {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        cpu_requests: cr.to_string(),
        cpu_requests_percent: resource_percent("cpu", &cr, &cpu),
        cpu_limits: cl.to_string(),
        cpu_limits_percent: resource_percent("cpu", &cl, &cpu),
        memory_requests: mr.to_string(),
        memory_requests_percent: resource_percent("memory", &mr, &mem),
        memory_limits: ml.to_string(),
        memory_limits_percent: resource_percent("memory", &ml, &mem),
        requests: strings(&p.requests),
        limits: strings(&p.limits),
        created: p.created,
        age: now.map(|n| age_opt(p.created, n)),
    }
}

#[cfg(test)]
mod tests;
