//! The DaemonSet layer: `daemonset-not-ready`, eligible nodes without a
//! ready daemon pod, and `daemonset-untolerated-taint`, nodes the daemon is
//! kept off by a taint its pod template does not tolerate.
//!
//! Eligibility is the DaemonSet controller's (`pkg/controller/daemon`,
//! `NodeShouldRunDaemonPod` and `predicates`): the pod template's
//! `nodeName`, its required node affinity (`nodeSelector` and
//! `requiredDuringSchedulingIgnoredDuringExecution`) and every `NoSchedule`
//! / `NoExecute` taint tolerated, after the tolerations the controller adds
//! to every daemon pod (`AddOrUpdateDaemonPodTolerations`: `not-ready` and
//! `unreachable` NoExecute; `disk-pressure`, `memory-pressure`,
//! `pid-pressure`, `unschedulable` NoSchedule; `network-unavailable` for
//! host-network pods). A node outside the nodeSelector or affinity is left
//! out on purpose and never a finding.
//!
//! A taint is reported only where the template's node constraints select
//! the node, so the taint alone keeps the daemon away; the control-plane
//! taints and the transient lifecycle taints (node controller, cloud
//! provider, autoscalers, CNI start-up) are normal and skipped. Nodes not
//! Ready are the node layer's: their daemon pods are not judged here.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Taint, Toleration,
};
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::pod::PodExt;
use kpm_semantics::pod_status::pod_status_reason;
use kpm_semantics::time::to_chrono;
use kpm_semantics::{NodeExt, ObjectExt};

use crate::command::Kubectl;
use crate::context::{pod_ref, NamespaceCtx};
use crate::engine::index::controller_owner;
use crate::rules::node::tolerates;
use crate::rules::registry::Rule;
use crate::rules::statefulset::GRACE_SECS;

/// At most this many nodes or pods are named in a cause.
const NAMED: usize = 5;

/// Taint keys that are normal to keep a daemon away from: the control plane
/// (kubeadm), and the taints the node lifecycle controller, cloud providers,
/// autoscalers and CNIs put on nodes that are starting or leaving.
const NORMAL_TAINT_PREFIXES: &[&str] = &[
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
    "ToBeDeletedByClusterAutoscaler",
    "DeletionCandidateOfClusterAutoscaler",
    "karpenter.sh/",
    "node.cilium.io/agent-not-ready",
];

/// Every DaemonSet finding of the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for ds in &ctx.ns.daemonsets {
        let Some(spec) = ds.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
            continue;
        };
        let tolerations = daemon_tolerations(spec);
        out.extend(untolerated(ctx, ds, spec, &tolerations));
        out.extend(not_ready(ctx, ds, spec, &tolerations));
    }
    out
}

/// The template's tolerations plus the ones the DaemonSet controller adds.
pub fn daemon_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let mut added = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        added.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    let mut out = spec.tolerations.clone().unwrap_or_default();
    out.extend(added.into_iter().map(|(key, effect)| Toleration {
        key: Some(key.to_string()),
        operator: Some("Exists".to_string()),
        effect: Some(effect.to_string()),
        ..Toleration::default()
    }));
    out
}

/// Whether the template's `nodeName`, `nodeSelector` and required node
/// affinity select `node` (`fitsNodeName && fitsNodeAffinity`).
pub fn selects_node(spec: &PodSpec, node: &Node) -> bool {
    let name = node.name_any();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != name)
    {
        return false;
    }
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.as_slice());
    let affinity_ok = terms.is_none_or(|terms| terms.iter().any(|t| term_matches(t, node)));
    selector_ok && affinity_ok
}

/// A node selector term: every expression on labels and every field
/// (`metadata.name`) requirement holds; an empty term matches nothing.
fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let name = node.name_any().to_string();
    exprs
        .iter()
        .all(|r| requirement_holds(r, labels.get(&r.key)))
        && fields.iter().all(|r| {
            let value = (r.key == "metadata.name").then_some(&name);
            requirement_holds(r, value)
        })
}

fn requirement_holds(r: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    let number = |v: &str| v.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(|v| number(v)),
                values.first().and_then(|v| number(v)),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

/// The node's `NoSchedule` / `NoExecute` taints the daemon does not tolerate.
fn untolerated_taints<'n>(node: &'n Node, tolerations: &[Toleration]) -> Vec<&'n Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .filter(|t| !tolerates(tolerations, t))
        .collect()
}

fn normal_taint(taint: &Taint) -> bool {
    NORMAL_TAINT_PREFIXES
        .iter()
        .any(|p| taint.key.starts_with(p))
}

/// `key=value:Effect` (or `key:Effect`), as `kubectl taint` writes it.
pub fn taint_text(t: &Taint) -> String {
    match t.value.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => format!("{}={v}:{}", t.key, t.effect),
        None => format!("{}:{}", t.key, t.effect),
    }
}

fn named(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > NAMED {
        text.push_str(&format!(" and {} more", items.len() - NAMED));
    }
    text
}

fn untolerated(
    ctx: &NamespaceCtx<'_>,
    ds: &DaemonSet,
    spec: &PodSpec,
    tolerations: &[Toleration],
) -> Option<Finding> {
    let mut kept_off: Vec<String> = Vec::new();
    let mut first: Option<(String, String)> = None;
    for node in ctx.cluster.nodes.iter().filter(|n| n.is_ready()) {
        if !selects_node(spec, node) {
            continue;
        }
        let taints = untolerated_taints(node, tolerations);
        if taints.is_empty() || taints.iter().all(|t| normal_taint(t)) {
            continue;
        }
        let text: Vec<String> = taints.iter().map(|t| taint_text(t)).collect();
        first.get_or_insert_with(|| (node.name_any().to_string(), text.join(", ")));
        kept_off.push(format!("node {} has {}", node.name_any(), text.join(", ")));
    }
    let (node, taint) = first?;
    let name = ds.name_any();
    let object = ObjectRef::namespaced("DaemonSet", ctx.namespace(), name);
    let count = kept_off.len();
    let nodes = if count == 1 { "1 node" } else { "nodes" };
    Some(
        ctx.finding(Rule::DaemonsetUntoleratedTaint, object.clone())
            .symptom(format!("not scheduled on {count} tainted node(s)"))
            .cause(format!(
                "no pod of it runs on {nodes} its nodeSelector and affinity select, because its pod template does not tolerate their taints: {}",
                named(&kept_off)
            ))
            .field(
                &ObjectRef::cluster("Node", &node),
                "spec.taints",
                taint,
            )
            .field(
                &object,
                "spec.template.spec.tolerations",
                serde_json::to_string(&spec.tolerations.clone().unwrap_or_default())
                    .unwrap_or_default(),
            )
            .next_command(
                "See the node's taints",
                Kubectl::new()
                    .args(["describe", "node"])
                    .name(&node)
                    .build(),
            )
            .next_command(
                "Add a matching toleration to the pod template, or label the node out of its nodeSelector if it must not run there",
                Kubectl::new()
                    .namespace(ctx.namespace())
                    .args(["edit", "daemonset"])
                    .name(name)
                    .build(),
            )
            .build(),
    )
}

/// The node a daemon pod is for: `spec.nodeName`, or before binding the
/// `metadata.name` the controller pins it to through node affinity.
fn pod_node(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first())
        .map(String::as_str)
}

fn older_than_grace(
    ctx: &NamespaceCtx<'_>,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> bool {
    meta.creation_timestamp
        .as_ref()
        .and_then(to_chrono)
        .is_some_and(|t| (ctx.now - t).num_seconds() >= GRACE_SECS)
}

#[allow(clippy::too_many_lines)] // TODO(structure): split
fn not_ready(
    ctx: &NamespaceCtx<'_>,
    ds: &DaemonSet,
    spec: &PodSpec,
    tolerations: &[Toleration],
) -> Option<Finding> {
    let status = ds.status.as_ref()?;
    let desired = status.desired_number_scheduled;
    if status.number_ready >= desired {
        return None;
    }
    let name = ds.name_any();
    let pods: Vec<&Pod> = ctx
        .ns
        .pods
        .iter()
        .filter(|p| controller_owner(&p.metadata) == Some(("DaemonSet", name)))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let mut missing: Vec<String> = Vec::new();
    let mut broken: Vec<&Pod> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for node in ctx.cluster.nodes.iter().filter(|n| n.is_ready()) {
        let node_name = node.name_any();
        if !selects_node(spec, node) || !untolerated_taints(node, tolerations).is_empty() {
            continue;
        }
        match pods.iter().find(|p| pod_node(p) == Some(node_name)) {
            Some(p) if !p.is_ready() && older_than_grace(ctx, &p.metadata) => {
                lines.push(format!(
                    "pod {} on node {node_name} is {}",
                    p.name_any(),
                    pod_status_reason(p)
                ));
                broken.push(p);
            }
            None if older_than_grace(ctx, &node.metadata) => missing.push(node_name.to_string()),
            _ => {}
        }
    }
    // The controller must agree a pod is missing before kpm says so.
    let current = status.current_number_scheduled;
    if current >= desired {
        missing.clear();
    }
    if !missing.is_empty() {
        lines.push(format!(
            "no pod on eligible node {}",
            named(&missing).replace("; ", ", ")
        ));
    }
    if lines.is_empty() {
        return None;
    }
    let object = ObjectRef::namespaced("DaemonSet", ctx.namespace(), name);
    let ready = status.number_ready;
    let mut b = ctx
        .finding(Rule::DaemonsetNotReady, object.clone())
        .symptom(format!("{ready}/{desired} ready"))
        .cause(format!(
            "{}; numberReady {ready} of desiredNumberScheduled {desired}",
            named(&lines)
        ))
        .field(
            &object,
            "status.desiredNumberScheduled",
            desired.to_string(),
        )
        .field(
            &object,
            "status.currentNumberScheduled",
            current.to_string(),
        )
        .field(&object, "status.numberReady", ready.to_string())
        .field(
            &object,
            "status.numberAvailable",
            status.number_available.unwrap_or(0).to_string(),
        );
    if status.number_misscheduled > 0 {
        let m = status.number_misscheduled.to_string();
        b = b.field(&object, "status.numberMisscheduled", m);
    }
    if let Some(p) = broken.first() {
        b = b.next_command(
            "See why the daemon pod is not ready",
            Kubectl::new()
                .namespace(ctx.namespace())
                .args(["describe", "pod"])
                .name(p.name_any())
                .build(),
        );
    }
    b = b.next_command(
        "See the DaemonSet's status and events",
        Kubectl::new()
            .namespace(ctx.namespace())
            .args(["describe", "daemonset"])
            .name(name)
            .build(),
    );
    for p in broken {
        b = b.related(pod_ref(p));
    }
    Some(b.build())
}

#[cfg(test)]
mod tests;
