//! Room on nodes for pending pods: what each node could offer once every
//! movable pod were evicted, indexed so that `node-no-room` stays linear in
//! pending pods × nodes on 5,000-node clusters.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::Pod;
use kpm_semantics::allocation::{NodeAllocation, SystemAllocationFile, SystemPods};
use kpm_semantics::quantity::Quantity;
use kpm_semantics::ObjectExt;

use super::node_eligible;
use crate::context::ClusterCtx;

/// What a node could offer a pod once every movable pod is gone:
/// allocatable minus the requests of kube-system pods.
pub(super) fn room_after_freeing(n: &NodeAllocation<SystemPods>, resource: &str) -> Quantity {
    let mut room = n.allocatable_of(resource);
    for p in n.pods.iter() {
        if let Some(q) = p
            .requests
            .get(resource)
            .and_then(|s| Quantity::parse(s).ok())
        {
            room.sub(&q);
        }
    }
    room
}

pub(super) fn amount(resource: &str, q: &Quantity) -> i128 {
    if resource == "cpu" {
        i128::from(q.millis())
    } else {
        i128::from(q.value())
    }
}

/// A resource a node lacks for a pod: (resource, requested, room after freeing).
pub(super) type Shortfall = (String, Quantity, Quantity);

/// Where a pending pod could run once every movable pod were evicted.
#[derive(Clone)]
pub(super) enum Fit {
    /// Some eligible node has room, or no node is eligible at all (another
    /// rule explains taints and selectors).
    NotThisRule,
    /// No eligible node has room; the closest and what it lacks.
    Nowhere {
        closest: String,
        short: Vec<Shortfall>,
        eligible: usize,
    },
}

/// Node allocations indexed by name, with each node's room per resource
/// computed once: pending pods × nodes would otherwise re-scan every node's
/// pods and re-parse quantities for every pod.
pub(super) struct RoomIndex<'a> {
    by_name: HashMap<&'a str, &'a NodeAllocation<SystemPods>>,
    room: HashMap<(&'a str, String), Quantity>,
}

impl<'a> RoomIndex<'a> {
    pub(super) fn new(alloc: &'a SystemAllocationFile) -> Self {
        RoomIndex {
            by_name: alloc.nodes.iter().map(|n| (n.node.as_str(), n)).collect(),
            room: HashMap::new(),
        }
    }

    fn room(&mut self, node: &'a str, n: &NodeAllocation<SystemPods>, resource: &str) -> Quantity {
        *self
            .room
            .entry((node, resource.to_string()))
            .or_insert_with(|| room_after_freeing(n, resource))
    }
}

pub(super) fn fit<'a>(
    ctx: &ClusterCtx<'a>,
    index: &mut RoomIndex<'a>,
    pod: &Pod,
    requests: &BTreeMap<String, Quantity>,
) -> Fit {
    // (node, shortfalls as (resource, needed, room)), per eligible node.
    let mut best: Option<(&str, Vec<Shortfall>, i128)> = None;
    let mut eligible = 0;
    for node in &ctx.cluster.nodes {
        if !node_eligible(pod, node) {
            continue;
        }
        let name = node.name_any();
        let Some(n) = index.by_name.get(name).copied() else {
            continue;
        };
        eligible += 1;
        let mut short = Vec::new();
        let mut score: i128 = 0;
        for (resource, need) in requests {
            let room = index.room(n.node.as_str(), n, resource);
            let (need_v, room_v) = (amount(resource, need), amount(resource, &room));
            if need_v > room_v {
                // Relative shortfall in per-mille, so cpu and memory compare.
                score += (need_v - room_v) * 1000 / need_v.max(1);
                short.push((resource.clone(), *need, room));
            }
        }
        if short.is_empty() {
            return Fit::NotThisRule;
        }
        if best.as_ref().is_none_or(|(_, _, s)| score < *s) {
            best = Some((name, short, score));
        }
    }
    match best {
        Some((closest, short, _)) if eligible > 0 => Fit::Nowhere {
            closest: closest.to_string(),
            short,
            eligible,
        },
        _ => Fit::NotThisRule,
    }
}
