//! Service and Endpoints layer: does the Service reach ready pods on the
//! port they listen on?
//!
//! - `service-selector-mismatch`: the selector matches no pod; names the
//!   closest pods and the exact label difference.
//! - `service-no-ready-endpoints`: the selector matches pods but none is
//!   ready; says why (probe failures quoted from events, or pod STATUS).
//! - `service-target-port-mismatch`: a `targetPort` (number or name) matches
//!   no `containerPort` of the selected pods.
//!
//! Every judgement evaluates the selector against the pods (via the label
//! index); Endpoints / EndpointSlices are only corroboration, because a
//! bundle may lack them (RBAC) or catch them mid-update.

pub mod backends;
pub mod closest;
pub mod ports;
#[cfg(test)]
mod tests;

use k8s_openapi::api::core::v1::{Pod, Service};
use kpm_model::{Evidence, Finding, ObjectRef, Severity};
use kpm_semantics::ObjectExt;

use crate::command::{Kubectl, Name};
use crate::context::{object_ref, pod_ref, FindingBuilder, NamespaceCtx};
use crate::rules::registry::Rule;
use backends::{
    backends, describe_groups, explain_not_ready, is_external_name, name_list, selector_text,
    Backends,
};
use closest::{closest_pods, Closest};

/// Runs the service rules over one namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for svc in &ctx.ns.services {
        if is_external_name(svc) {
            continue;
        }
        let b = backends(ctx, svc);
        if let Some(selector) = b.selector {
            if b.selected.is_empty() {
                out.push(no_pods(ctx, svc, selector));
                continue;
            }
            if let Some(f) = ports::target_port_mismatch(ctx, svc, &b) {
                out.push(f);
            }
        }
        if !b.has_ready() {
            if let Some(f) = no_ready_endpoints(ctx, svc, &b) {
                out.push(f);
            }
        }
    }
    out
}

/// The selector matches no pod. When a workload's pod template matches it,
/// the selector is right and the workload simply has no pods: that is a
/// "no ready endpoints" finding naming the workload, not a mismatch.
fn no_pods(
    ctx: &NamespaceCtx<'_>,
    svc: &Service,
    selector: &std::collections::BTreeMap<String, String>,
) -> Finding {
    let name = svc.name_any();
    let ns = ctx.namespace();
    let sel = selector_text(selector);
    let svc_ref = ctx.object("Service", name);
    if let Some((workload, replicas)) = workload_with_matching_template(ctx, selector) {
        return workload_without_pods(ctx, svc, &sel, &workload, replicas);
    }
    let mut b = ctx
        .finding(Rule::ServiceSelectorMismatch, svc_ref.clone())
        .symptom(format!(
            "Service {name} has no endpoints (selector {sel} matches no pod)"
        ))
        .field(&svc_ref, "spec.selector", sel.clone())
        .next_command(
            "Compare the selector with the pods' labels",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "pods", "-l"])
                .value(Name::Selector, &sel)
                .args(["--show-labels"])
                .build(),
        )
        .next_command(
            "Confirm the Service has no endpoints",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "endpoints"])
                .value(Name::Label, name)
                .build(),
        );
    let routed = routed_by_ingress(ctx, name);
    let cause = match closest_pods(ctx, selector) {
        Some(closest) => {
            let (with_closest, cause) = closest_cause(ctx, b, name, &sel, &closest, &routed);
            b = with_closest;
            cause
        }
        None => {
            let orphan = if routed.is_empty() {
                b = b.severity(Severity::Warning);
                " No workload's pod template matches it and no Ingress routes to it: it looks like a leftover nothing depends on."
            } else {
                ""
            };
            format!(
                "Service {name} selects no pod: selector {sel} matches none of the {} pods in namespace {ns}, and no pod carries any of its labels.{orphan}",
                ctx.ns.pods.len()
            )
        }
    };
    for ing in &routed {
        b = b.related(ctx.object("Ingress", ing));
    }
    b.cause(cause).build()
}

/// The selector-mismatch cause naming the closest pods and the labels they
/// lack; a leftover Service (its pods fronted by another Service, no Ingress
/// routing to it) is graded a warning.
fn closest_cause(
    ctx: &NamespaceCtx<'_>,
    mut b: FindingBuilder,
    name: &str,
    sel: &str,
    closest: &Closest<'_>,
    routed: &[String],
) -> (FindingBuilder, String) {
    let fronted = fronted_elsewhere(ctx, name, &closest.pods);
    let diffs: Vec<String> = closest
        .diffs
        .iter()
        .map(closest::LabelDiff::describe)
        .collect();
    let pods: Vec<String> = closest
        .pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    for pod in closest.pods.iter().take(10) {
        b = b.related(pod_ref(pod));
    }
    if let Some(first) = closest.pods.first() {
        let labels = first
            .metadata
            .labels
            .as_ref()
            .map(selector_text)
            .unwrap_or_default();
        b = b.field(&pod_ref(first), "metadata.labels", labels);
    }
    let also = if closest.matching.is_empty() {
        String::new()
    } else {
        format!(" (they match {})", closest.matching.join(","))
    };
    b = b.note(format!("closest pods: {}", name_list(&pods, 5)));
    let leftover = match (&fronted, routed.is_empty()) {
        (Some(other), true) => {
            b = b.severity(Severity::Warning);
            format!(" Those pods are already selected by Service {other} and no Ingress routes to {name}: it looks like a leftover nothing depends on.")
        }
        _ => String::new(),
    };
    let cause = format!(
        "Service {name} selects no pod: selector {sel}, closest pods carry {}{also}: {}.{leftover}",
        diffs.join(", "),
        name_list(&pods, 3)
    );
    (b, cause)
}

/// The selector is right but its workload has no pods. Scaled to 0 on
/// purpose, that is no incident (`info`); with replicas wanted and none
/// created it is the Service's real "no endpoints" (at its default grade).
fn workload_without_pods(
    ctx: &NamespaceCtx<'_>,
    svc: &Service,
    sel: &str,
    workload: &ObjectRef,
    replicas: Option<i32>,
) -> Finding {
    let name = svc.name_any();
    let ns = ctx.namespace();
    let svc_ref = ctx.object("Service", name);
    let count = replicas.map_or_else(String::new, |r| format!(" (spec.replicas {r})"));
    let scaled_to_zero = replicas == Some(0);
    let cause = if scaled_to_zero {
        format!(
            "Service {name} has no endpoints because {} {} (whose pod template matches selector {sel}) is scaled to 0{count}: no pods, by intent, not a selector mismatch.",
            workload.kind, workload.name
        )
    } else {
        format!(
            "Service {name} has no endpoints because {} {} (whose pod template matches selector {sel}) has no pods{count}.",
            workload.kind, workload.name
        )
    };
    let mut f = ctx
        .finding(Rule::ServiceNoReadyEndpoints, svc_ref.clone())
        .symptom(format!("Service {name} has no endpoints"))
        .cause(cause)
        .field(&svc_ref, "spec.selector", sel.to_string())
        .field(
            workload,
            "spec.replicas",
            replicas.map_or_else(|| "unset".to_string(), |r| r.to_string()),
        )
        .related(workload.clone())
        .next_command(
            "See why the workload has no pods",
            Kubectl::new()
                .namespace(ns)
                .args(["describe"])
                .kind_name(&workload.kind, &workload.name)
                .build(),
        )
        .next_command(
            "Check the Service's endpoints",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "endpoints"])
                .value(Name::Label, name)
                .build(),
        );
    if scaled_to_zero {
        f = f.severity(Severity::Info);
    }
    f.build()
}

/// Ingresses of the namespace whose rules or default backend name Service
/// `name`.
fn routed_by_ingress(ctx: &NamespaceCtx<'_>, name: &str) -> Vec<String> {
    ctx.ns
        .ingresses
        .iter()
        .filter(|ing| {
            crate::engine::apps::ingress_backends(ing)
                .iter()
                .any(|b| b == name)
        })
        .filter_map(|ing| ing.metadata.name.clone())
        .collect()
}

/// Another Service of the namespace that already selects every one of
/// `pods`: then a selector one label away from them is not their typo but
/// a second, stale Service.
fn fronted_elsewhere(ctx: &NamespaceCtx<'_>, name: &str, pods: &[&Pod]) -> Option<String> {
    if pods.is_empty() {
        return None;
    }
    ctx.ns.services.iter().find_map(|other| {
        let other_name = other.metadata.name.as_deref()?;
        if other_name == name || is_external_name(other) {
            return None;
        }
        let sel = other
            .spec
            .as_ref()?
            .selector
            .as_ref()
            .filter(|s| !s.is_empty())?;
        let all = pods.iter().all(|p| {
            let labels = p.metadata.labels.as_ref();
            sel.iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        });
        all.then(|| other_name.to_string())
    })
}

/// A Deployment, StatefulSet, ReplicaSet (not owned by a Deployment) or
/// DaemonSet of the namespace whose pod template labels satisfy the Service
/// selector, with its `spec.replicas`.
fn workload_with_matching_template(
    ctx: &NamespaceCtx<'_>,
    selector: &std::collections::BTreeMap<String, String>,
) -> Option<(ObjectRef, Option<i32>)> {
    let matches = |labels: Option<&std::collections::BTreeMap<String, String>>| {
        labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
    };
    let ns = &ctx.ns;
    for d in &ns.deployments {
        let spec = d.spec.as_ref();
        if matches(
            spec.and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
        ) {
            return Some((
                object_ref("Deployment", &d.metadata),
                spec.and_then(|s| s.replicas),
            ));
        }
    }
    for s in &ns.statefulsets {
        let spec = s.spec.as_ref();
        if matches(
            spec.and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
        ) {
            return Some((
                object_ref("StatefulSet", &s.metadata),
                spec.and_then(|s| s.replicas),
            ));
        }
    }
    for r in &ns.replicasets {
        if r.metadata
            .owner_references
            .as_ref()
            .is_some_and(|o| !o.is_empty())
        {
            continue;
        }
        let spec = r.spec.as_ref();
        if matches(
            spec.and_then(|s| s.template.as_ref())
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
        ) {
            return Some((
                object_ref("ReplicaSet", &r.metadata),
                spec.and_then(|s| s.replicas),
            ));
        }
    }
    for d in &ns.daemonsets {
        let spec = d.spec.as_ref();
        if matches(
            spec.and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
        ) {
            return Some((object_ref("DaemonSet", &d.metadata), None));
        }
    }
    None
}

/// The selector matches pods (or the Service has manual endpoints) but no
/// endpoint is ready.
fn no_ready_endpoints(ctx: &NamespaceCtx<'_>, svc: &Service, b: &Backends<'_>) -> Option<Finding> {
    let name = svc.name_any();
    let ns = ctx.namespace();
    let svc_ref = ctx.object("Service", name);
    let published = format!(
        "{} ready, {} not ready{}",
        b.published.ready,
        b.published.not_ready,
        if b.published.present {
            ""
        } else {
            " (no Endpoints or EndpointSlice in the bundle)"
        }
    );
    let mut f = ctx
        .finding(Rule::ServiceNoReadyEndpoints, svc_ref.clone())
        .field(&ctx.object("Endpoints", name), "addresses", published)
        .next_command(
            "See the endpoints",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "endpointslices", "-l"])
                .with("kubernetes.io/service-name=", Name::Label, name, "")
                .build(),
        );
    let Some(selector) = b.selector else {
        // Manual endpoints: nothing to explain from pods.
        if !b.published.present {
            // No selector and no Endpoints at all: a Service fronting
            // nothing by design (e.g. headless placeholder); stay quiet.
            return None;
        }
        return Some(
            f.symptom(format!("Service {name} has no ready endpoints"))
                .cause(format!(
                    "Service {name} has no selector and its manually managed Endpoints list no ready address."
                ))
                .next_command("Inspect the Endpoints", Kubectl::new().namespace(ns).args(["get", "endpoints"]).value(Name::Label, name).args(["-o", "yaml"]).build())
                .build(),
        );
    };
    let sel = selector_text(selector);
    let mut evidence: Vec<Evidence> = Vec::new();
    let groups = explain_not_ready(ctx, &b.selected, &mut evidence);
    let n = b.selected.len();
    let pods_word = if n == 1 { "pod" } else { "pods" };
    f = f
        .symptom(format!("Service {name} has no ready endpoints (0/{n} selected pods ready)"))
        .cause(format!(
            "Service {name} has no ready endpoints: selector {sel} matches {n} {pods_word} but none is ready — {}.",
            describe_groups(&groups)
        ))
        .evidence_all(evidence.into_iter().take(6));
    for pod in &b.selected {
        f = f.related(pod_ref(pod));
    }
    if let Some(first) = b.selected.first().and_then(|p| p.metadata.name.as_deref()) {
        f = f.next_command(
            "See why the pod is not ready",
            Kubectl::new()
                .namespace(ns)
                .args(["describe", "pod"])
                .name(first)
                .build(),
        );
    }
    f = f.next_command(
        "List the selected pods",
        Kubectl::new()
            .namespace(ns)
            .args(["get", "pods", "-l"])
            .value(Name::Selector, &sel)
            .args(["-o", "wide"])
            .build(),
    );
    Some(f.build())
}
