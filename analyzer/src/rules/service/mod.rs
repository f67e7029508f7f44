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
mod ports;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use k8s_openapi::api::core::v1::Service;
use kpm_model::{Evidence, Finding, ObjectRef};

use crate::command::{Kubectl, Name};
use crate::context::{object_ref, pod_ref, NamespaceCtx};
use crate::rules::registry::Rule;
use backends::{
    backends, describe_groups, explain_not_ready, is_external_name, name_list, selector_text,
    Backends,
};
use closest::closest_pods;

pub use ports::{resolve_target_port, PortResolution};

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

fn service_name(svc: &Service) -> &str {
    svc.metadata.name.as_deref().unwrap_or_default()
}

/// The selector matches no pod. When a workload's pod template matches it,
/// the selector is right and the workload simply has no pods: that is a
/// "no ready endpoints" finding naming the workload, not a mismatch.
fn no_pods(
    ctx: &NamespaceCtx<'_>,
    svc: &Service,
    selector: &std::collections::BTreeMap<String, String>,
) -> Finding {
    let name = service_name(svc);
    let ns = ctx.namespace();
    let sel = selector_text(selector);
    let svc_ref = ctx.object("Service", name);
    if let Some((workload, replicas)) = workload_with_matching_template(ctx, selector) {
        let count = replicas.map_or_else(String::new, |r| format!(" (spec.replicas {r})"));
        return ctx
            .finding(Rule::ServiceNoReadyEndpoints, svc_ref.clone())
            .symptom(format!("Service {name} has no endpoints"))
            .cause(format!(
                "Service {name} has no endpoints because {} {} (whose pod template matches selector {sel}) has no pods{count}.",
                workload.kind, workload.name
            ))
            .field(&svc_ref, "spec.selector", sel.clone())
            .field(&workload, "spec.replicas", replicas.map_or_else(|| "unset".to_string(), |r| r.to_string()))
            .related(workload.clone())
            .next_command(
                "See why the workload has no pods",
                Kubectl::new()
                    .namespace(ns)
                    .args(["describe"])
                    .kind_name(&workload.kind, &workload.name)
                    .build(),
            )
            .next_command("Check the Service's endpoints", Kubectl::new().namespace(ns).args(["get", "endpoints"]).value(Name::Label, name).build())
            .build();
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
    let cause = match closest_pods(ctx, selector) {
        Some(closest) => {
            let diffs: Vec<String> = closest.diffs.iter().map(closest::LabelDiff::describe).collect();
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
            format!(
                "Service {name} selects no pod: selector {sel}, closest pods carry {}{also}: {}.",
                diffs.join(", "),
                name_list(&pods, 3)
            )
        }
        None => format!(
            "Service {name} selects no pod: selector {sel} matches none of the {} pods in namespace {ns}, and no pod carries any of its labels.",
            ctx.ns.pods.len()
        ),
    };
    b.cause(cause).build()
}

/// A Deployment, StatefulSet or DaemonSet of the namespace whose pod
/// template labels satisfy the Service selector, with its `spec.replicas`.
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
    let name = service_name(svc);
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
