//! Workloads and pods: template changes per workload, rollouts, replicas,
//! pods created and deleted, restart counts that grew, containers that
//! started crashing or recovered. Pods are grouped by workload in one pass
//! over each snapshot's pod map (hash maps, linear in pods).

use std::collections::{BTreeMap, BTreeSet};

use kpm_model::diff::{Change, FieldChange, RestartGrowth, WorkloadDelta};
use kpm_model::ObjectRef;

use super::snapshot::{ContainerSpec, FastMap, PodDigest, Workload};
use super::Snapshot;

/// Pods of one workload in one snapshot, by pod name.
type PodsOf<'a> = BTreeMap<&'a str, &'a PodDigest>;

fn pods_by_workload(s: &Snapshot) -> FastMap<&str, PodsOf<'_>> {
    let mut out: FastMap<&str, PodsOf<'_>> = FastMap::default();
    for (key, p) in &s.digest.pods {
        if let Some(w) = &p.workload {
            let name = key.split_once('/').map_or(key.as_str(), |(_, n)| n);
            out.entry(w).or_default().insert(name, p);
        }
    }
    out
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
pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<WorkloadDelta> {
    let pb = pods_by_workload(before);
    let pa = pods_by_workload(after);
    let empty = PodsOf::new();
    let mut keys: BTreeSet<&str> = before.digest.workloads.keys().map(String::as_str).collect();
    keys.extend(after.digest.workloads.keys().map(String::as_str));
    keys.extend(pb.keys().copied());
    keys.extend(pa.keys().copied());
    let mut out = Vec::new();
    for k in keys {
        let obj = object_of(k);
        let wb = before.digest.workloads.get(k);
        let wa = after.digest.workloads.get(k);
        let change = match (wb, wa) {
            (Some(_), Some(_)) | (None, None) => Change::Changed,
            (None, Some(_)) if super::collected(before, &obj) => Change::Added,
            (Some(_), None) if super::collected(after, &obj) => Change::Removed,
            // The kind was not collected on one side: nothing to say.
            _ => continue,
        };
        let mut d = WorkloadDelta {
            object: obj,
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
        match b.get(name) {
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
        if a.get(name).is_none_or(|pa| pa.uid != pb.uid) {
            d.pods_deleted.push((*name).to_string());
        }
    }
    let crashing = |pods: &PodsOf<'_>| -> BTreeSet<String> {
        pods.values()
            .flat_map(|p| p.containers.iter())
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
