//! Node layer: are the nodes healthy, schedulable, and big enough?
//!
//! - `node-not-ready`: condition `Ready` False or Unknown.
//!
//! The first three carry the node's own events (`NodeNotReady`,
//! `EvictionThresholdMet`, `NodeNotSchedulable` …), as `kubectl describe
//! node` would show them.
//! - `node-pressure`: `MemoryPressure`, `DiskPressure` or `PIDPressure` True.
//! - `node-cordoned`: `spec.unschedulable`.
//! - `node-no-room`: a pending pod fits no node even after freeing what can
//!   be moved (everything but kube-system pods, which are node plumbing:
//!   kube-proxy, CNI, CSI, DNS); names the closest node and what is short.
//!   Judged from `derived/node-allocation.json` (what `kubectl describe
//!   node` shows), restricted to nodes the pod may land on (nodeSelector,
//!   untolerated NoSchedule/NoExecute taints, cordon).
//! - `autoscaler-no-scale-up`: Cluster Autoscaler `NotTriggerScaleUp`
//!   events, Karpenter scheduling failures, or their logs, say why no node
//!   was added.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use kpm_model::{Evidence, Finding, ObjectRef};
use kpm_semantics::allocation::SystemAllocationFile;
use kpm_semantics::quantity::Quantity;

use kpm_semantics::time::to_chrono;
use kpm_semantics::{NodeExt, ObjectExt, PodExt};

use crate::command::{Kubectl, Name};
use crate::context::{pod_ref, AutoscalerKind, ClusterCtx, NamespaceCtx};
use crate::rules::registry::Rule;

mod room;
use room::{fit, Fit, RoomIndex};

/// Runs the node rules that need one namespace: autoscaler events about its
/// pending pods.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for pod in &ctx.ns.pods {
        if pod.phase() != Some("Pending") {
            continue;
        }
        let name = pod.name_any();
        let events: Vec<_> = ctx
            .events_for("Pod", name)
            .into_iter()
            .filter(|e| {
                e.reason == "NotTriggerScaleUp"
                    || (e.message.contains("incompatible with nodepool")
                        || e.message.contains("no instance type"))
            })
            .collect();
        let Some(last) = events.last() else { continue };
        let ns = ctx.namespace();
        let who = if last.reason == "NotTriggerScaleUp" {
            "Cluster Autoscaler"
        } else {
            "Karpenter"
        };
        out.push(
            ctx.finding(Rule::AutoscalerNoScaleUp, pod_ref(pod))
                .symptom(format!("Pod {name} Pending; {who} added no node"))
                .cause(format!(
                    "{who} did not add a node for pending pod {name}: {} ({} times).",
                    last.message.trim(),
                    last.count
                ))
                .evidence_all(events.iter().map(|e| e.to_evidence()))
                .next_command(
                    "See the scheduling and autoscaler events",
                    Kubectl::new()
                        .namespace(ns)
                        .args(["describe", "pod"])
                        .name(name)
                        .build(),
                )
                .next_command(
                    "See the autoscaler's view of node groups",
                    Kubectl::new()
                        .namespace("kube-system")
                        .args([
                            "get",
                            "configmap",
                            "cluster-autoscaler-status",
                            "-o",
                            "yaml",
                        ])
                        .build(),
                )
                .build(),
        );
    }
    out
}

/// Runs the cluster-scoped node rules (after every namespace was analysed,
/// so `ctx.cluster.pending_pods` is complete).
pub fn run_cluster(ctx: &ClusterCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for node in &ctx.cluster.nodes {
        out.extend(not_ready(ctx, node));
        out.extend(pressure(ctx, node));
        out.extend(cordoned(ctx, node));
    }
    out.extend(no_room(ctx));
    out.extend(autoscaler_logs(ctx));
    out
}

fn taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
}

fn taint_text(t: &Taint) -> String {
    match &t.value {
        Some(v) if !v.is_empty() => format!("{}={v}:{}", t.key, t.effect),
        _ => format!("{}:{}", t.key, t.effect),
    }
}

fn not_ready(ctx: &ClusterCtx<'_>, node: &Node) -> Option<Finding> {
    let name = node.name_any();
    let ready = node.conditions().iter().find(|c| c.type_ == "Ready");
    let (status, reason, message, since) = match ready {
        Some(c) if c.status == "True" => return None,
        Some(c) => (
            c.status.clone(),
            c.reason.clone().unwrap_or_default(),
            c.message
                .clone()
                .unwrap_or_default()
                .trim_end_matches('.')
                .to_string(),
            c.last_transition_time.as_ref().and_then(to_chrono),
        ),
        None => (
            "Unknown".to_string(),
            String::new(),
            "the node never reported a Ready condition".to_string(),
            None,
        ),
    };
    let node_ref = ObjectRef::cluster("Node", name);
    let heartbeat = ready
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .and_then(to_chrono)
        .map(|t| {
            format!(
                "last kubelet heartbeat {} ago",
                kpm_semantics::duration::age(t, ctx.now)
            )
        });
    let cause = not_ready_cause(ctx, name, since, (&status, &reason, &message));
    let mut f = ctx
        .finding(Rule::NodeNotReady, node_ref.clone())
        .symptom(format!("Node {name} NotReady"))
        .cause(cause)
        .field(
            &node_ref,
            "status.conditions[Ready]",
            format!("{status} {reason}: {message}"),
        );
    if let Some(h) = heartbeat {
        f = f.note(h);
    }
    f = f.evidence_all(node_events(ctx, name));
    for t in taints(node) {
        if t.key.starts_with("node.kubernetes.io/") {
            f = f.field(&node_ref, "spec.taints", taint_text(t));
        }
    }
    Some(
        f.next_command(
            "See the node's conditions and events",
            Kubectl::new().args(["describe", "node"]).name(name).build(),
        )
        .next_command(
            "List the pods stranded on it",
            Kubectl::new()
                .args(["get", "pods", "-A", "-o", "wide"])
                .with("--field-selector=spec.nodeName=", Name::Subdomain, name, "")
                .build(),
        )
        .build(),
    )
}

/// Why the node is NotReady, for how long, and how many pods it strands.
fn not_ready_cause(
    ctx: &ClusterCtx<'_>,
    name: &str,
    since: Option<chrono::DateTime<chrono::Utc>>,
    (status, reason, message): (&str, &str, &str),
) -> String {
    let since_text = since
        .map(|t| format!(" for {}", kpm_semantics::duration::age(t, ctx.now)))
        .unwrap_or_default();
    let state = if status == "Unknown" {
        "Unknown (the kubelet stopped reporting)"
    } else {
        "False"
    };
    let mut cause = format!("Node {name} is NotReady{since_text}: Ready={state}");
    if !reason.is_empty() {
        cause.push_str(&format!(", {reason}: {message}"));
    } else if !message.is_empty() {
        cause.push_str(&format!(": {message}"));
    }
    let pods = allocation(ctx).and_then(|a| a.node(name).map(|n| n.non_terminated_pods));
    if let Some(n) = pods {
        let pods_word = if n == 1 { "pod is" } else { "pods are" };
        cause.push_str(&format!("; {n} {pods_word} scheduled on it"));
    }
    cause.push('.');
    cause
}

fn pressure(ctx: &ClusterCtx<'_>, node: &Node) -> Option<Finding> {
    let name = node.name_any();
    let active: Vec<_> = node
        .conditions()
        .iter()
        .filter(|c| {
            matches!(
                c.type_.as_str(),
                "MemoryPressure" | "DiskPressure" | "PIDPressure"
            ) && c.status == "True"
        })
        .collect();
    let first = active.first()?;
    let node_ref = ObjectRef::cluster("Node", name);
    let parts: Vec<String> = active
        .iter()
        .map(|c| {
            format!(
                "{} ({}: {})",
                c.type_,
                c.reason.as_deref().unwrap_or_default(),
                c.message.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let mut f = ctx
        .finding(Rule::NodePressure, node_ref.clone())
        .symptom(format!("Node {name} {}", active.iter().map(|c| c.type_.as_str()).collect::<Vec<_>>().join(", ")))
        .cause(format!(
            "Node {name} reports {}: the kubelet evicts pods and the scheduler avoids the node until it recovers.",
            parts.join(" and ")
        ));
    for c in &active {
        f = f.field(
            &node_ref,
            format!("status.conditions[{}]", c.type_),
            format!(
                "True {}: {}",
                c.reason.as_deref().unwrap_or_default(),
                c.message.as_deref().unwrap_or_default()
            ),
        );
    }
    if let Some(m) = ctx.cluster.node_metrics(name) {
        let alloc = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        for resource in ["memory", "cpu"] {
            if let Some(usage) = m.usage.get(resource) {
                let compared = alloc
                    .and_then(|a| a.get(resource))
                    .map(|a| format!("allocatable {}", a.0));
                f = f.evidence(Evidence::Metric {
                    name: format!("{resource} usage of node {name}"),
                    value: usage.0.clone(),
                    compared_to: compared,
                });
            }
        }
    }
    f = f.evidence_all(node_events(ctx, name));
    let hint = match first.type_.as_str() {
        "DiskPressure" => "Find what fills the disk (images, logs, emptyDir)",
        "PIDPressure" => "Find the pod spawning processes",
        _ => "Find the pods using the most memory on the node",
    };
    Some(
        f.next_command(
            "See the node's conditions and eviction events",
            Kubectl::new().args(["describe", "node"]).name(name).build(),
        )
        .next_command(
            hint,
            Kubectl::new()
                .args(["top", "pods", "-A", "--sort-by=memory"])
                .with("--field-selector=spec.nodeName=", Name::Subdomain, name, "")
                .build(),
        )
        .build(),
    )
}

fn cordoned(ctx: &ClusterCtx<'_>, node: &Node) -> Option<Finding> {
    if !node.is_cordoned() {
        return None;
    }
    let name = node.name_any();
    let node_ref = ObjectRef::cluster("Node", name);
    let status = kpm_semantics::node_status::node_status(node);
    Some(
        ctx.finding(Rule::NodeCordoned, node_ref.clone())
            .symptom(format!("Node {name} {status}"))
            .cause(format!(
                "Node {name} is cordoned (spec.unschedulable=true): no new pod is scheduled on it, which shrinks the cluster's capacity."
            ))
            .field(&node_ref, "spec.unschedulable", "true")
            .evidence_all(node_events(ctx, name))
            .next_command("See who cordoned it and why", Kubectl::new().args(["describe", "node"]).name(name).build())
            .next_command("Uncordon it once maintenance is over", Kubectl::new().args(["uncordon"]).name(name).build())
            .build(),
    )
}

/// The node's most recent events as evidence, oldest first.
fn node_events(ctx: &ClusterCtx<'_>, name: &str) -> Vec<Evidence> {
    /// A node that flapped has dozens of status events; the newest tell
    /// the story and `kubectl describe node` shows the rest.
    const NODE_EVENTS_SHOWN: usize = 8;
    let events = ctx
        .cluster
        .node_events
        .get(name)
        .map(Vec::as_slice)
        .unwrap_or_default();
    events
        .iter()
        .skip(events.len().saturating_sub(NODE_EVENTS_SHOWN))
        .map(|e| e.to_evidence())
        .collect()
}

fn allocation<'a>(ctx: &ClusterCtx<'a>) -> Option<&'a SystemAllocationFile> {
    ctx.cluster.node_allocation.as_ref()
}

/// Whether `tolerations` tolerate `taint` (the scheduler's
/// `ToleratesTaint`: same key, or empty key with `Exists`; `Exists` or equal
/// value; same or empty effect).
pub fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key = t.key.as_deref().unwrap_or_default();
        let exists = t.operator.as_deref() == Some("Exists");
        let key_ok = key == taint.key || (key.is_empty() && exists);
        let value_ok = exists
            || t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default();
        effect_ok && key_ok && value_ok
    })
}

/// Whether the pod may be placed on `node` at all: not cordoned, Ready,
/// nodeSelector satisfied, every NoSchedule/NoExecute taint tolerated.
pub fn node_eligible(pod: &Pod, node: &Node) -> bool {
    let spec = pod.spec.as_ref();
    let tolerations = spec.and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
    let labels = node.metadata.labels.as_ref();
    let selector_ok = spec
        .and_then(|s| s.node_selector.as_ref())
        .is_none_or(|sel| {
            sel.iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        });
    let taints_ok = taints(node)
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| tolerates(tolerations, t));
    !node.is_cordoned() && node.is_ready() && selector_ok && taints_ok
}

fn no_room(ctx: &ClusterCtx<'_>) -> Vec<Finding> {
    let Some(alloc) = allocation(ctx) else {
        return Vec::new();
    };
    let mut index = RoomIndex::new(alloc);
    // Replicas of one workload share requests and placement constraints:
    // judge each distinct scheduling signature once.
    let mut memo: HashMap<String, Fit> = HashMap::new();
    let mut out = Vec::new();
    for pod in &ctx.cluster.pending_pods {
        let Some(spec) = pod.spec.as_ref() else {
            continue;
        };
        let (requests, _) = kpm_semantics::resources::pod_requests_and_limits(spec);
        let requests: BTreeMap<String, Quantity> =
            requests.into_iter().filter(|(_, q)| !q.is_zero()).collect();
        if requests.is_empty() {
            continue;
        }
        let signature = format!(
            "{requests:?}|{:?}|{:?}|{:?}",
            spec.node_selector, spec.tolerations, spec.affinity
        );
        let result = memo
            .entry(signature)
            .or_insert_with(|| fit(ctx, &mut index, pod, &requests))
            .clone();
        let Fit::Nowhere {
            closest,
            short,
            eligible,
        } = result
        else {
            continue;
        };
        let closest = closest.as_str();
        let name = pod.name_any();
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let shortages: Vec<String> = short
            .iter()
            .map(|(r, need, room)| format!("{r} {need} requested but at most {room} can be freed"))
            .collect();
        let wants: Vec<String> = requests.iter().map(|(r, q)| format!("{r} {q}")).collect();
        let mut f = ctx
            .finding(Rule::NodeNoRoom, pod_ref(pod))
            .symptom(format!("Pod {name} Pending: fits no node"))
            .cause(format!(
                "Pod {name} requests {} and fits none of the {eligible} eligible nodes even if every movable pod were evicted; the closest, {closest}, is short: {}.",
                wants.join(", "),
                shortages.join("; ")
            ))
            .related(ObjectRef::cluster("Node", closest));
        for (r, need, room) in &short {
            f = f.evidence(Evidence::Metric {
                name: format!("{r} requested by pod {name}"),
                value: need.to_string(),
                compared_to: Some(format!(
                    "{room} allocatable on {closest} after kube-system pods"
                )),
            });
        }
        out.push(
            f.next_command(
                "See the scheduler's message",
                Kubectl::new()
                    .namespace(ns)
                    .args(["describe", "pod"])
                    .name(name)
                    .build(),
            )
            .next_command(
                "See what the closest node has allocated",
                Kubectl::new()
                    .args(["describe", "node"])
                    .name(closest)
                    .build(),
            )
            .build(),
        );
    }
    out
}

/// Log lines of Cluster Autoscaler / Karpenter explaining a refused scale-up.
fn autoscaler_logs(ctx: &ClusterCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (kind, pod) in &ctx.cluster.infra.autoscalers {
        let needles: &[&str] = match kind {
            AutoscalerKind::ClusterAutoscaler => &[
                "didn't trigger scale-up",
                "max node group size reached",
                "Failed to increase node group size",
                "Scale-up: could not",
            ],
            AutoscalerKind::Karpenter => &[
                "could not schedule pod",
                "incompatible with nodepool",
                "no instance type",
            ],
        };
        let mut evidence = Vec::new();
        let mut first_line = None;
        for file in &pod.log_files {
            let lines = ctx.log_grep(file, 5, |l| needles.iter().any(|n| l.contains(n)));
            if let Some(l) = lines.first() {
                first_line.get_or_insert_with(|| l.text.clone());
            }
            if !lines.is_empty() {
                evidence.push(Evidence::Log {
                    file: file.clone(),
                    lines,
                });
            }
        }
        let Some(line) = first_line else { continue };
        let who = match kind {
            AutoscalerKind::ClusterAutoscaler => "Cluster Autoscaler",
            AutoscalerKind::Karpenter => "Karpenter",
        };
        let pns = pod.object.namespace.clone().unwrap_or_default();
        out.push(
            ctx.finding(Rule::AutoscalerNoScaleUp, pod.object.clone())
                .symptom(format!("{who} refuses to add nodes"))
                .cause(format!(
                    "{who} logs that it will not add a node: {}",
                    line.trim()
                ))
                .evidence_all(evidence)
                .next_command(
                    "Read the autoscaler's log",
                    Kubectl::new()
                        .namespace(&pns)
                        .args(["logs"])
                        .name(&pod.object.name)
                        .args(["--tail=200"])
                        .build(),
                )
                .build(),
        );
    }
    out
}

#[cfg(test)]
mod tests;
