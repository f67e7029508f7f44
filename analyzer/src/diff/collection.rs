//! Collection differences (kinds collected in one snapshot and not the
//! other, namespaces in one scope only) and the warnings a diff starts with
//! when the snapshots may not be comparable.

use std::collections::BTreeSet;

use kpm_model::diff::CollectionDelta;

use super::Snapshot;

/// What was not collected alike, sorted.
pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<CollectionDelta> {
    let keys: BTreeSet<&(String, Option<String>)> = before
        .collection
        .keys()
        .chain(after.collection.keys())
        .collect();
    let missing = || "not collected".to_string();
    let has_ns = |s: &Snapshot, ns: &Option<String>| {
        s.collection
            .contains_key(&("namespace".to_string(), ns.clone()))
    };
    keys.into_iter()
        // A namespace in one bundle only is one row, not one per kind.
        .filter(|k| {
            k.0 == "namespace" || k.1.is_none() || (has_ns(before, &k.1) && has_ns(after, &k.1))
        })
        .filter_map(|k| {
            let b = before.collection.get(k).cloned().unwrap_or_else(missing);
            let a = after.collection.get(k).cloned().unwrap_or_else(missing);
            (b != a).then(|| CollectionDelta {
                what: k.0.clone(),
                namespace: k.1.clone(),
                before: b,
                after: a,
            })
        })
        .collect()
}

/// Why the two snapshots may not be comparable.
pub fn warnings(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let (bi, ai) = (&before.report.bundle, &after.report.bundle);
    match (
        &before.digest.kube_system_uid,
        &after.digest.kube_system_uid,
    ) {
        (Some(b), Some(a)) if b != a => out.push(format!(
            "different clusters: the kube-system namespace has uid {b} in BEFORE and {a} in AFTER"
        )),
        _ => {}
    }
    if bi.cluster != ai.cluster {
        out.push(format!(
            "different cluster names: {} in BEFORE, {} in AFTER",
            bi.cluster.as_deref().unwrap_or("(none)"),
            ai.cluster.as_deref().unwrap_or("(none)")
        ));
    }
    if bi.server_version != ai.server_version {
        out.push(format!(
            "API server version changed: {} → {}",
            bi.server_version.as_deref().unwrap_or("(unknown)"),
            ai.server_version.as_deref().unwrap_or("(unknown)")
        ));
    }
    let (nb, na) = (&before.digest.nodes, &after.digest.nodes);
    if !nb.is_empty() && !na.is_empty() && !nb.keys().any(|n| na.contains_key(n)) {
        out.push("no node in common: these may be snapshots of different clusters".to_string());
    }
    if bi.all_namespaces != ai.all_namespaces || bi.namespaces != ai.namespaces {
        out.push(format!(
            "collection scope differs: BEFORE has {} namespace(s){}, AFTER {}{}; objects outside the common scope are not compared",
            bi.namespaces.len(),
            if bi.all_namespaces { " (all)" } else { "" },
            ai.namespaces.len(),
            if ai.all_namespaces { " (all)" } else { "" },
        ));
    }
    if after.collected_at < before.collected_at {
        out.push("AFTER was collected before BEFORE: the snapshots are in reverse order, and no event falls between them".to_string());
    }
    out
}
