//! Workloads and pods: template changes per workload, rollouts, replicas,
//! pods created and deleted, restart counts that grew, containers that
//! started crashing or recovered. Pods are grouped by workload in one pass
//! over each snapshot's pod map (a hash map, then a sort within each
//! workload), never compared pairwise.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use kpm_model::diff::{Change, FieldChange, RestartGrowth, WorkloadDelta};
use kpm_model::ObjectRef;

use super::snapshot::{ContainerSpec, FastMap, PodDigest, Shared, Workload};
use super::Side;

/// Pods of one workload in one snapshot, sorted by pod name (names are
/// unique: a workload lives in one namespace).
type PodsOf<'a> = Vec<(&'a str, &'a PodDigest)>;

/// A pod's workload key, hashed and compared by address: every pod of a
/// workload shares the snapshot's one interned copy, so grouping 150,000
/// pods hashes a pointer instead of a string each.
struct ByAddress<'a>(&'a Shared);

impl Hash for ByAddress<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(self.0).cast::<u8>(), state);
    }
}

impl PartialEq for ByAddress<'_> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(self.0, other.0)
    }
}

impl Eq for ByAddress<'_> {}

/// Each workload's pods, sorted by name.
fn pods_by_workload(s: Side<'_>) -> FastMap<&str, PodsOf<'_>> {
    let mut by_address: FastMap<ByAddress<'_>, PodsOf<'_>> = FastMap::default();
    for (key, p) in &s.digest.pods {
        if let Some(w) = &p.workload {
            let name = key.split_once('/').map_or(key.as_str(), |(_, n)| n);
            by_address.entry(ByAddress(w)).or_default().push((name, p));
        }
    }
    // Two copies of one key (a digest not built by one interner) merge here.
    let mut out: FastMap<&str, PodsOf<'_>> = FastMap::default();
    for (w, pods) in by_address {
        out.entry(&**w.0).or_default().extend(pods);
    }
    for pods in out.values_mut() {
        pods.sort_unstable_by_key(|(name, _)| *name);
    }
    out
}

/// The pod named `name` in `pods`.
fn find<'a>(pods: &PodsOf<'a>, name: &str) -> Option<&'a PodDigest> {
    let i = pods.binary_search_by_key(&name, |(n, _)| *n).ok()?;
    pods.get(i).map(|(_, p)| *p)
}

fn object_of(key: &str) -> ObjectRef {
    let mut parts = key.splitn(3, '/');
    let kind = parts.next().unwrap_or_default();
    let ns = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    ObjectRef::namespaced(kind, ns, name)
}

/// A field change when the two differ.
pub fn field(name: &str, before: Option<String>, after: Option<String>) -> Option<FieldChange> {
    (before != after).then(|| FieldChange {
        field: name.to_string(),
        before,
        after,
    })
}

/// Every workload that changed, sorted by object.
pub fn compare(before: Side<'_>, after: Side<'_>) -> Vec<WorkloadDelta> {
    let pb = pods_by_workload(before);
    let pa = pods_by_workload(after);
    let empty = PodsOf::new();
    // Sorted and deduplicated in place: a tree set of the 150,000 keys
    // cost more than the comparisons.
    let mut keys: Vec<&str> = (before.digest.workloads.keys())
        .chain(after.digest.workloads.keys())
        .map(String::as_str)
        .chain(pb.keys().copied())
        .chain(pa.keys().copied())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let wb = before.digest.workloads.get(k);
        let wa = after.digest.workloads.get(k);
        let change = match (wb, wa) {
            (Some(_), Some(_)) | (None, None) => Change::Changed,
            (None, Some(_)) if super::collected(before, &object_of(k)) => Change::Added,
            (Some(_), None) if super::collected(after, &object_of(k)) => Change::Removed,
            // The kind was not collected on one side: nothing to say.
            _ => continue,
        };
        let mut d = WorkloadDelta {
            // Named below, once the workload is known to have changed:
            // most have not (empty strings do not allocate).
            object: ObjectRef {
                kind: String::new(),
                namespace: None,
                name: String::new(),
            },
            change,
            revision: None,
            replicas: None,
            ready: None,
            template: Vec::new(),
            pods_created: Vec::new(),
            pods_deleted: Vec::new(),
            restarts: Vec::new(),
            started_crashing: Vec::new(),
            recovered: Vec::new(),
        };
        if let (Some(b), Some(a)) = (wb, wa) {
            compare_specs(&mut d, b, a);
        }
        compare_pods(
            &mut d,
            pb.get(k).unwrap_or(&empty),
            pa.get(k).unwrap_or(&empty),
        );
        if change != Change::Changed || changed(&d) {
            d.object = object_of(k);
            out.push(d);
        }
    }
    out
}

fn changed(d: &WorkloadDelta) -> bool {
    d.revision.is_some()
        || d.replicas.is_some()
        || d.ready.is_some()
        || !d.template.is_empty()
        || !d.pods_created.is_empty()
        || !d.pods_deleted.is_empty()
        || !d.restarts.is_empty()
        || !d.started_crashing.is_empty()
        || !d.recovered.is_empty()
}

fn compare_specs(d: &mut WorkloadDelta, b: &Workload, a: &Workload) {
    let num = |n: Option<i32>| n.map(|n| n.to_string());
    d.revision = field("revision", b.revision.clone(), a.revision.clone());
    d.replicas = field("replicas", num(b.replicas), num(a.replicas));
    d.ready = field("ready", num(b.ready), num(a.ready));
    // Most templates did not change: compare in place, build text only
    // for what differs.
    if b.containers != a.containers {
        let cb = by_name(&b.containers);
        let ca = by_name(&a.containers);
        let names: BTreeSet<&str> = cb.keys().chain(ca.keys()).copied().collect();
        for name in names {
            d.template.extend(container_changes(
                name,
                cb.get(name).copied(),
                ca.get(name).copied(),
            ));
        }
    }
    if b.config_refs != a.config_refs {
        let refs = |v: &[String]| (!v.is_empty()).then(|| v.join(", "));
        d.template.extend(field(
            "config references",
            refs(&b.config_refs),
            refs(&a.config_refs),
        ));
    }
}

/// A template's containers by name.
fn by_name(v: &[ContainerSpec]) -> BTreeMap<&str, &ContainerSpec> {
    v.iter().map(|c| (c.name.as_str(), c)).collect()
}

fn container_changes(
    name: &str,
    b: Option<&ContainerSpec>,
    a: Option<&ContainerSpec>,
) -> Vec<FieldChange> {
    let f = |what: &str, get: &dyn Fn(&ContainerSpec) -> &str| {
        let (vb, va) = (
            b.map(get).filter(|s| !s.is_empty()),
            a.map(get).filter(|s| !s.is_empty()),
        );
        (vb != va).then(|| FieldChange {
            field: format!("containers[{name}].{what}"),
            before: vb.map(str::to_string),
            after: va.map(str::to_string),
        })
    };
    let (Some(cb), Some(ca)) = (b, a) else {
        return f("image", &|c| &c.image).into_iter().collect();
    };
    let mut out: Vec<FieldChange> = [
        f("image", &|c| &c.image),
        f("args", &|c| &c.args),
        f("resources", &|c| &c.resources),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Env: names only. A literal value that changed is named, not shown.
    let eb: BTreeSet<&String> = cb.env.iter().collect();
    let ea: BTreeSet<&String> = ca.env.iter().collect();
    let added: Vec<&str> = ea.difference(&eb).map(|s| s.as_str()).collect();
    let removed: Vec<&str> = eb.difference(&ea).map(|s| s.as_str()).collect();
    let edited: Vec<&str> = cb
        .env_values
        .iter()
        .filter(|(k, v)| ca.env_values.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k.as_str())
        .collect();
    if !added.is_empty() || !removed.is_empty() || !edited.is_empty() {
        let list = |v: &[&str]| (!v.is_empty()).then(|| v.join(", "));
        let mut after = list(&added).map(|s| format!("added {s}"));
        if let Some(e) = list(&edited) {
            let e = format!("value changed {e}");
            after = Some(after.map_or(e.clone(), |a| format!("{a}; {e}")));
        }
        out.push(FieldChange {
            field: format!("containers[{name}].env"),
            before: list(&removed).map(|s| format!("removed {s}")),
            after,
        });
    }
    out
}

fn compare_pods(d: &mut WorkloadDelta, b: &PodsOf<'_>, a: &PodsOf<'_>) {
    for (name, pa) in a {
        match find(b, name) {
            Some(pb) if pb.uid == pa.uid => {
                for ca in &pa.containers {
                    let before = pb.containers.iter().find(|c| c.name == ca.name);
                    if let Some(cb) = before.filter(|cb| ca.restarts > cb.restarts) {
                        d.restarts.push(RestartGrowth {
                            pod: (*name).to_string(),
                            container: ca.name.to_string(),
                            before: cb.restarts,
                            after: ca.restarts,
                        });
                    }
                }
            }
            _ => d.pods_created.push((*name).to_string()),
        }
    }
    for (name, pb) in b {
        if find(a, name).is_none_or(|pa| pa.uid != pb.uid) {
            d.pods_deleted.push((*name).to_string());
        }
    }
    let crashing = |pods: &PodsOf<'_>| -> BTreeSet<String> {
        pods.iter()
            .flat_map(|(_, p)| p.containers.iter())
            .filter(|c| c.crashing)
            .map(|c| c.name.to_string())
            .collect()
    };
    // A workload with no pod on one side neither started crashing nor
    // recovered: its pods came or went, which the lists above say.
    if a.is_empty() || b.is_empty() {
        return;
    }
    let cb = crashing(b);
    let ca = crashing(a);
    d.started_crashing = ca.difference(&cb).cloned().collect();
    d.recovered = cb.difference(&ca).cloned().collect();
}
