//! `pod-evicted`: pods the kubelet evicted under node pressure.
//!
//! An evicted pod stays in the API as `status.phase: Failed`, `reason:
//! Evicted` with the kubelet's explanation in `status.message` (eviction
//! manager, `pkg/kubelet/eviction/helpers.go`): `The node was low on
//! resource: memory. Threshold quantity: 100Mi, available: 91572Ki.
//! Container app was using 1200Mi, request is 512Mi, has larger
//! consumption of memory.` (older kubelets: `…, which exceeds its request
//! of …`), or `The node had condition: [DiskPressure].`. Evicted pods pile
//! up until garbage-collected, so the replicas of one workload give one
//! finding with their count, about the most recently evicted pod (the
//! workload and the other pods are related objects): its node links it to
//! that node's `node-pressure` finding through the registry. It is a
//! warning when a pod of the same owner runs and is ready again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use kpm_model::{Finding, ObjectRef, Severity};
use kpm_semantics::ObjectExt;

use super::pod_death::clip;
use kpm_semantics::time::to_chrono;
use kpm_semantics::PodExt;

use crate::command::Kubectl;
use crate::context::{pod_ref, NamespaceCtx};
use crate::rules::registry::Rule;

/// Whether the kubelet evicted the pod.
pub fn is_evicted(pod: &Pod) -> bool {
    let s = pod.status.as_ref();
    s.and_then(|s| s.phase.as_deref()) == Some("Failed")
        && s.and_then(|s| s.reason.as_deref()) == Some("Evicted")
}

fn is_serving(pod: &Pod) -> bool {
    pod.phase() == Some("Running") && pod.is_ready()
}

/// When the pod was evicted, as well as the objects say: the latest
/// condition transition (`DisruptionTarget`, `Ready`), else its start.
fn evicted_at(pod: &Pod) -> Option<DateTime<Utc>> {
    let s = pod.status.as_ref()?;
    s.conditions
        .iter()
        .flatten()
        .filter_map(|c| c.last_transition_time.as_ref())
        .filter_map(to_chrono)
        .max()
        .or_else(|| s.start_time.as_ref().and_then(to_chrono))
}

/// The owner the evictions are grouped by: the workload, else the pod.
fn owner(ctx: &NamespaceCtx<'_>, pod: &Pod) -> ObjectRef {
    ctx.owner_workload(pod).unwrap_or_else(|| pod_ref(pod))
}

/// `pod-evicted`: one finding per owner of evicted pods in the namespace.
pub fn evicted(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut groups: BTreeMap<String, (ObjectRef, Vec<&Pod>)> = BTreeMap::new();
    for pod in ctx.ns.pods.iter().filter(|p| is_evicted(p)) {
        let o = owner(ctx, pod);
        groups
            .entry(o.to_string())
            .or_insert_with(|| (o, Vec::new()))
            .1
            .push(pod);
    }
    groups
        .into_values()
        .filter_map(|(object, pods)| group_finding(ctx, object, &pods))
        .collect()
}

fn group_finding(ctx: &NamespaceCtx<'_>, object: ObjectRef, pods: &[&Pod]) -> Option<Finding> {
    let latest = pods
        .iter()
        .max_by_key(|p| (evicted_at(p), p.metadata.name.clone()))?;
    let latest_name = latest.metadata.name.clone().unwrap_or_default();
    let message = latest
        .status
        .as_ref()
        .and_then(|s| s.message.as_deref())
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .unwrap_or("the kubelet left no message");
    let mut nodes: Vec<&str> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()))
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    let replacement = ctx
        .ns
        .pods
        .iter()
        .filter(|p| !is_evicted(p) && is_serving(p))
        .find(|p| object.kind != "Pod" && owner(ctx, p) == object);
    let cause = eviction_cause(&object, pods, &latest_name, &nodes, message, replacement);
    let latest_ref = pod_ref(latest);
    let mut b = ctx
        .finding(Rule::PodEvicted, latest_ref.clone())
        .symptom(if pods.len() == 1 {
            "Evicted".to_string()
        } else {
            format!("Evicted ({} pods)", pods.len())
        })
        .cause(cause)
        .field(&latest_ref, "status.reason", "Evicted")
        .field(&latest_ref, "status.message", message)
        .next_command(
            "List the evicted pods and their messages",
            Kubectl::new()
                .namespace(ctx.namespace())
                .args([
                    "get",
                    "pods",
                    "--field-selector=status.phase=Failed",
                    "-o",
                    "custom-columns=NAME:.metadata.name,REASON:.status.reason,MESSAGE:.status.message",
                ])
                .build(),
        );
    if replacement.is_some() {
        b = b.severity(Severity::Warning);
    }
    if object.kind != "Pod" {
        b = b.related(object);
    }
    for p in pods
        .iter()
        .filter(|p| p.metadata.name != latest.metadata.name)
    {
        b = b.related(pod_ref(p));
    }
    for n in &nodes {
        b = b.next_command(
            format!("See the pressure conditions of node {n}"),
            Kubectl::new().args(["describe", "node"]).name(n).build(),
        );
    }
    Some(b.build())
}

/// Who was evicted, from which nodes, why, and whether a pod of the same
/// owner serves again.
fn eviction_cause(
    object: &ObjectRef,
    pods: &[&Pod],
    latest_name: &str,
    nodes: &[&str],
    message: &str,
    replacement: Option<&Pod>,
) -> String {
    let whom = if pods.len() == 1 {
        format!("pod {latest_name} was")
    } else {
        format!("{} pods were (latest {latest_name})", pods.len())
    };
    let on = match nodes {
        [] => String::new(),
        [n] => format!(" from node {n}"),
        many => format!(" from nodes {}", many.join(", ")),
    };
    let now = match replacement {
        Some(p) => format!(
            "; pod {} of the same owner is Running and Ready",
            p.name_any()
        ),
        None if object.kind == "Pod" => "; it is not replaced (bare pod)".to_string(),
        None => "; no pod of the same owner is Running and Ready".to_string(),
    };
    format!(
        "{whom} evicted by the kubelet{on} ({}){now}",
        clip(message).trim_end_matches('.')
    )
}
