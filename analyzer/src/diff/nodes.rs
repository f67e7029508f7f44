//! Nodes and capacity: nodes added or removed, conditions that changed, and
//! requests and usage of the nodes present in both (from each analysis's
//! node summaries, computed as `kubectl describe node` does).

use std::collections::{BTreeSet, HashMap};

use kpm_model::diff::{CapacityDelta, Change, FieldChange, NodeDelta};
use kpm_model::NodeSummary;

use super::workloads::field;
use super::Snapshot;

/// Nodes added, removed or with changed conditions, by name.
pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<NodeDelta> {
    let (b, a) = (&before.digest.nodes, &after.digest.nodes);
    let names: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    let both_collected =
        super::collected_cluster(before, "nodes") && super::collected_cluster(after, "nodes");
    let mut out = Vec::new();
    for name in names {
        let (nb, na) = (b.get(name), a.get(name));
        let change = match (nb, na) {
            (Some(x), Some(y)) if x.uid == y.uid => Change::Changed,
            // Same name, another uid: the node was replaced.
            (Some(_), Some(_)) => Change::Changed,
            (None, Some(_)) => Change::Added,
            _ => Change::Removed,
        };
        if change != Change::Changed && !both_collected {
            continue;
        }
        let empty = Default::default();
        let cb = nb.map_or(&empty, |n| &n.conditions);
        let ca = na.map_or(&empty, |n| &n.conditions);
        let types: BTreeSet<&String> = cb.keys().chain(ca.keys()).collect();
        let mut conditions: Vec<FieldChange> = types
            .into_iter()
            .filter_map(|t| field(t, cb.get(t).cloned(), ca.get(t).cloned()))
            .collect();
        if let (Some(x), Some(y)) = (nb, na) {
            conditions.extend(field("uid", Some(x.uid.clone()), Some(y.uid.clone())));
        }
        if change == Change::Changed && conditions.is_empty() {
            continue;
        }
        out.push(NodeDelta {
            name: name.clone(),
            change,
            conditions,
        });
    }
    out
}

fn summaries(s: &Snapshot) -> HashMap<&str, &NodeSummary> {
    s.report
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n))
        .collect()
}

fn resource_text(n: &NodeSummary, resource: &str) -> Option<String> {
    let r = n.allocation.iter().find(|r| r.resource == resource)?;
    Some(match (&r.usage, r.usage_percent) {
        (Some(u), Some(p)) => format!(
            "requests {} ({}%), usage {u} ({p}%)",
            r.requests, r.requests_percent
        ),
        _ => format!("requests {} ({}%)", r.requests, r.requests_percent),
    })
}

/// Nodes in both whose pod count, requests or usage moved, by name.
pub fn capacity(before: &Snapshot, after: &Snapshot) -> Vec<CapacityDelta> {
    let (b, a) = (summaries(before), summaries(after));
    let mut names: Vec<&&str> = b.keys().filter(|n| a.contains_key(**n)).collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let (Some(nb), Some(na)) = (b.get(*name), a.get(*name)) else {
            continue;
        };
        let pods = field("pods", Some(nb.pods.to_string()), Some(na.pods.to_string()));
        let resources: Vec<FieldChange> = ["cpu", "memory"]
            .into_iter()
            .filter_map(|r| field(r, resource_text(nb, r), resource_text(na, r)))
            .collect();
        if pods.is_some() || !resources.is_empty() {
            out.push(CapacityDelta {
                node: (*name).to_string(),
                pods,
                resources,
            });
        }
    }
    out
}
