//! `volume-node-affinity-conflict`: a pending pod whose bound volume can
//! only be used on nodes the scheduler cannot use.
//!
//! The scheduler's VolumeBinding plugin checks a bound claim's
//! PersistentVolume `spec.nodeAffinity` against each node and excludes the
//! others with `node(s) had volume node affinity conflict`
//! (`ErrReasonNodeConflict` in `volumebinding/binder.go`; newer releases
//! word it `node(s) didn't match PersistentVolume's node affinity`). A
//! zonal disk (`topology.kubernetes.io/zone In [us-east-1a]`) or a local
//! volume (`kubernetes.io/hostname In [node-3]`) then pins the pod to
//! nodes that are gone, full or cordoned. The finding names the volume's
//! requirement and the nodes' values of that label.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, PersistentVolume, Pod};
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::ObjectExt;

use super::pvc::scheduler_message;
use super::{claim_ref, claims_of, describe_claim, node_of};
use crate::command::Kubectl;
use crate::context::{pod_ref, NamespaceCtx};
use crate::rules::pod_death::clip;
use crate::rules::registry::Rule;

/// The scheduler's wordings of a volume node-affinity conflict.
const CONFLICT: &[&str] = &[
    "had volume node affinity conflict",
    "didn't match PersistentVolume's node affinity",
];

/// Topology labels offered to `kubectl get nodes -L` (a fixed vocabulary:
/// a key from the bundle never becomes a command word).
const TOPOLOGY_KEYS: &[&str] = &[
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "kubernetes.io/hostname",
    "failure-domain.beta.kubernetes.io/zone",
];

/// Every `volume-node-affinity-conflict` of the namespace, one per claim.
pub fn conflicts(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut by_claim: BTreeMap<String, (Vec<&Pod>, String, &PersistentVolume)> = BTreeMap::new();
    for pod in &ctx.ns.pods {
        let pending = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
        if !pending || node_of(pod).is_some() {
            continue;
        }
        let Some(message) = scheduler_message(ctx, pod) else {
            continue;
        };
        if !CONFLICT.iter().any(|c| message.contains(c)) {
            continue;
        }
        for claim in claims_of(pod) {
            let Some(pv) = bound_volume(ctx, &claim).filter(|pv| !requirements(pv).is_empty())
            else {
                continue;
            };
            by_claim
                .entry(claim)
                .or_insert_with(|| (Vec::new(), message.clone(), pv))
                .0
                .push(pod);
        }
    }
    by_claim
        .into_iter()
        .map(|(claim, (pods, message, pv))| finding(ctx, &claim, &pods, &message, pv))
        .collect()
}

/// The PersistentVolume claim `name` is bound to.
fn bound_volume<'c>(ctx: &NamespaceCtx<'c>, name: &str) -> Option<&'c PersistentVolume> {
    let pv = ctx.pvc(name)?.spec.as_ref()?.volume_name.as_deref()?;
    super::volume(ctx, pv)
}

/// The `matchExpressions` of the volume's required node affinity (every
/// term's, in order).
fn requirements(pv: &PersistentVolume) -> Vec<&NodeSelectorRequirement> {
    pv.spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .map(|r| {
            r.node_selector_terms
                .iter()
                .flat_map(|t| t.match_expressions.iter().flatten())
                .collect()
        })
        .unwrap_or_default()
}

/// `key In [a, b]`.
fn requirement_text(r: &NodeSelectorRequirement) -> String {
    format!(
        "{} {} [{}]",
        r.key,
        r.operator,
        r.values.as_deref().unwrap_or_default().join(", ")
    )
}

/// Why a node the volume allows is still not used: cordoned, not ready.
fn node_state(node: &Node) -> &'static str {
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        return " (cordoned)";
    }
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    if ready {
        ""
    } else {
        " (NotReady)"
    }
}

/// The nodes' values of `key`: `us-east-1b: ip-a, ip-b; us-east-1c: ip-c`.
fn nodes_by_value(ctx: &NamespaceCtx<'_>, key: &str) -> String {
    let mut by_value: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in &ctx.cluster.nodes {
        let value = node
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .cloned()
            .unwrap_or_else(|| "<no label>".to_string());
        by_value
            .entry(value)
            .or_default()
            .push(format!("{}{}", node.name_any(), node_state(node)));
    }
    by_value
        .into_iter()
        .map(|(v, nodes)| format!("{v}: {}", nodes.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn finding(
    ctx: &NamespaceCtx<'_>,
    claim: &str,
    pods: &[&Pod],
    message: &str,
    pv: &PersistentVolume,
) -> Finding {
    let object = claim_ref(ctx, claim);
    let reqs = requirements(pv);
    let wants: Vec<String> = reqs.iter().map(|r| requirement_text(r)).collect();
    let key = reqs.first().map(|r| r.key.as_str()).unwrap_or_default();
    let pv_name = pv.name_any();
    let names: Vec<&str> = pods.iter().map(|p| p.name_any()).collect();
    let cause = format!(
        "claim {claim} is bound to PersistentVolume {pv_name}, which only nodes with {} can use; the nodes' {key}: {}; so the scheduler places {} nowhere: {}",
        wants.join(" and "),
        nodes_by_value(ctx, key),
        names.join(", "),
        clip(message)
    );
    let pv_ref = ObjectRef::cluster("PersistentVolume", pv_name);
    let mut b = ctx
        .finding(Rule::VolumeNodeAffinityConflict, object)
        .symptom("volume node affinity conflict")
        .cause(cause)
        .field(&pv_ref, "spec.nodeAffinity.required", wants.join(" and "))
        .related(pv_ref);
    for p in pods {
        b = b.related(pod_ref(p));
    }
    b.next_command("See the claim and its volume", describe_claim(ctx, claim))
        .next_command(
            "Compare the nodes' topology labels",
            match TOPOLOGY_KEYS.iter().find(|k| **k == key) {
                Some(k) => Kubectl::new().args(["get", "nodes", "-L", k]).build(),
                None => Kubectl::new()
                    .args(["get", "nodes", "--show-labels"])
                    .build(),
            },
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requirements_read_every_term() {
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": "pvc-1"},
            "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1a"]}]}
            ]}}}
        }))
        .unwrap();
        let reqs = requirements(&pv);
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs.first().map(|r| requirement_text(r)).as_deref(),
            Some("topology.kubernetes.io/zone In [us-east-1a]")
        );
    }
}
