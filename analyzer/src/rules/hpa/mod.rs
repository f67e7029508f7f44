//! Autoscaling layer: can each HorizontalPodAutoscaler (autoscaling/v2)
//! read its metrics and scale its target?
//!
//! - `hpa-target-missing`: `scaleTargetRef` names a Deployment, StatefulSet
//!   or ReplicaSet that does not exist.
//! - `hpa-missing-requests`: a resource *utilization* target on pods that do
//!   not request that resource (utilization is usage / request).
//! - `hpa-metrics-unavailable`: targets show `<unknown>` because the metrics
//!   API is missing or failing (condition `ScalingActive=False`,
//!   `FailedGetResourceMetric`), cross-checked with metrics-server pods.
//! - `hpa-at-max`: `ScalingLimited=True` / `TooManyReplicas`: it wants more
//!   than `maxReplicas`.
//! - `hpa-unable-to-scale`: `AbleToScale=False` on an existing target.
//!
//! A missing request and a missing metrics API both print `<unknown>`; they
//! are told apart (the controller's message says `missing request for`), so
//! one cause is reported, not two.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition,
    HorizontalPodAutoscalerSpec, MetricSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kpm_model::{Evidence, Finding, ObjectRef};
use kpm_semantics::ObjectExt;

use crate::command::{Kubectl, Name};
use crate::context::{EventView, FindingBuilder, NamespaceCtx};

use crate::rules::registry::Rule;
use crate::rules::service::backends::name_list;

/// Runs the autoscaling rules over one namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for hpa in &ctx.ns.hpas {
        out.extend(check(ctx, hpa));
    }
    out
}

/// A resource metric an HPA scales on, with its target as kubectl prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTarget {
    /// `cpu` or `memory`.
    pub resource: String,
    /// For `ContainerResource` metrics, the container.
    pub container: Option<String>,
    /// Target is `Utilization` (a percentage of the request).
    pub utilization: bool,
    /// `80%` or `500Mi`.
    pub target: String,
}

/// The Resource / ContainerResource metrics of an HPA. autoscaling/v2
/// defaults an empty `metrics` to cpu at 80 % utilization.
pub fn resource_targets(hpa: &HorizontalPodAutoscaler) -> Vec<ResourceTarget> {
    let metrics = hpa
        .spec
        .as_ref()
        .and_then(|s| s.metrics.as_deref())
        .unwrap_or(&[]);
    if metrics.is_empty() {
        return vec![ResourceTarget {
            resource: "cpu".into(),
            container: None,
            utilization: true,
            target: "80%".into(),
        }];
    }
    metrics.iter().filter_map(resource_target).collect()
}

fn resource_target(m: &MetricSpec) -> Option<ResourceTarget> {
    let (name, container, target) = match (&m.resource, &m.container_resource) {
        (Some(r), _) => (r.name.clone(), None, &r.target),
        (None, Some(c)) => (c.name.clone(), Some(c.container.clone()), &c.target),
        _ => return None,
    };
    let utilization = target.type_ == "Utilization";
    let text = match (
        target.average_utilization,
        &target.average_value,
        &target.value,
    ) {
        (Some(u), _, _) => format!("{u}%"),
        (None, Some(v), _) | (None, None, Some(v)) => v.0.clone(),
        _ => "?".into(),
    };
    Some(ResourceTarget {
        resource: name,
        container,
        utilization,
        target: text,
    })
}

/// `cpu: <unknown>/80%, memory: 300Mi/500Mi` as `kubectl get hpa` prints
/// the TARGETS column (resource metrics only).
pub fn targets_text(hpa: &HorizontalPodAutoscaler) -> String {
    let current = hpa
        .status
        .as_ref()
        .and_then(|s| s.current_metrics.as_deref())
        .unwrap_or(&[]);
    resource_targets(hpa)
        .iter()
        .map(|t| {
            let cur = current
                .iter()
                .find_map(|m| match (&m.resource, &m.container_resource) {
                    (Some(r), _) if t.container.is_none() && r.name == t.resource => {
                        Some(&r.current)
                    }
                    (None, Some(c))
                        if t.container.as_deref() == Some(c.container.as_str())
                            && c.name == t.resource =>
                    {
                        Some(&c.current)
                    }
                    _ => None,
                })
                .and_then(|c| {
                    if t.utilization {
                        c.average_utilization.map(|u| format!("{u}%"))
                    } else {
                        c.average_value
                            .as_ref()
                            .or(c.value.as_ref())
                            .map(|q| q.0.clone())
                    }
                })
                .unwrap_or_else(|| "<unknown>".into());
            format!("{}: {cur}/{}", t.resource, t.target)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn condition<'h>(
    hpa: &'h HorizontalPodAutoscaler,
    type_: &str,
) -> Option<&'h HorizontalPodAutoscalerCondition> {
    hpa.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
}

fn condition_evidence(hpa_ref: &ObjectRef, c: &HorizontalPodAutoscalerCondition) -> Evidence {
    Evidence::Field {
        object: hpa_ref.clone(),
        path: format!("status.conditions[{}]", c.type_),
        value: format!(
            "{} {}: {}",
            c.status,
            c.reason.as_deref().unwrap_or_default(),
            c.message.as_deref().unwrap_or_default()
        ),
    }
}

/// The scale target's pod selector and template, when the target is a kind
/// the bundle holds. `Err(())` when it is such a kind but does not exist;
/// `Ok(None)` for kinds the bundle cannot check (custom resources).
fn target_of<'a>(
    ctx: &NamespaceCtx<'a>,
    kind: &str,
    name: &str,
) -> Result<Option<(&'a LabelSelector, &'a PodTemplateSpec)>, ()> {
    let found = match kind {
        "Deployment" => ctx
            .deployment(name)
            .map(|d| d.spec.as_ref().map(|s| (&s.selector, &s.template))),
        "StatefulSet" => ctx
            .statefulset(name)
            .map(|d| d.spec.as_ref().map(|s| (&s.selector, &s.template))),
        "ReplicaSet" => ctx.replicaset(name).map(|d| {
            d.spec
                .as_ref()
                .and_then(|s| s.template.as_ref().map(|t| (&s.selector, t)))
        }),
        _ => return Ok(None),
    };
    match found {
        Some(spec) => Ok(spec),
        None => Err(()),
    }
}

/// One HPA under judgement, with what every rule about it needs.
struct Subject<'c, 'a> {
    ctx: &'c NamespaceCtx<'a>,
    hpa: &'a HorizontalPodAutoscaler,
    spec: &'a HorizontalPodAutoscalerSpec,
    name: &'a str,
    hpa_ref: ObjectRef,
    target_ref: ObjectRef,
    /// `kubectl describe hpa <name>`.
    describe: Option<String>,
    events: Vec<EventView>,
}

impl Subject<'_, '_> {
    fn target(&self) -> &CrossVersionObjectReference {
        &self.spec.scale_target_ref
    }
}

fn check(ctx: &NamespaceCtx<'_>, hpa: &HorizontalPodAutoscaler) -> Vec<Finding> {
    let name = hpa.name_any();
    let Some(spec) = hpa.spec.as_ref() else {
        return Vec::new();
    };
    let target = &spec.scale_target_ref;
    let s = Subject {
        ctx,
        hpa,
        spec,
        name,
        hpa_ref: ctx.object("HorizontalPodAutoscaler", name),
        target_ref: ctx.object(&target.kind, &target.name),
        describe: Kubectl::new()
            .namespace(ctx.namespace())
            .args(["describe", "hpa"])
            .name(name)
            .build(),
        events: ctx.events_for("HorizontalPodAutoscaler", name),
    };
    let Ok(workload) = target_of(ctx, &target.kind, &target.name) else {
        return vec![target_missing(&s)];
    };
    let mut out = Vec::new();
    if let Some(f) = missing_requests_finding(&s, workload) {
        out.push(f);
    } else if let Some(f) = metrics_unavailable(ctx, hpa, &s.hpa_ref, &s.events) {
        out.push(f);
    }
    out.extend(at_max(&s));
    out.extend(unable_to_scale(&s));
    out
}

/// `hpa-target-missing`: the scale target does not exist.
fn target_missing(s: &Subject<'_, '_>) -> Finding {
    let (ctx, name, ns) = (s.ctx, s.name, s.ctx.namespace());
    let target = s.target();
    let plural = format!("{}s", target.kind.to_lowercase());
    let mut f = ctx
        .finding(Rule::HpaTargetMissing, s.hpa_ref.clone())
        .symptom(format!("HPA {name}: scale target {}/{} not found", target.kind, target.name))
        .cause(format!(
            "HPA {name} scales {}/{}, which does not exist in namespace {ns}, so it cannot scale anything.",
            target.kind, target.name
        ))
        .field(&s.hpa_ref, "spec.scaleTargetRef", format!("{}/{}", target.kind, target.name))
        .related(s.target_ref.clone());
    if let Some(c) = condition(s.hpa, "AbleToScale").filter(|c| c.status == "False") {
        f = f.evidence(condition_evidence(&s.hpa_ref, c));
    }
    f = f.evidence_all(
        s.events
            .iter()
            .filter(|e| e.reason == "FailedGetScale")
            .map(|e| e.to_evidence()),
    );
    f.next_command(
        format!("List the {plural} that exist"),
        Kubectl::new()
            .namespace(ns)
            .args(["get"])
            .value(Name::Kind, &plural)
            .build(),
    )
    .next_command("See the HPA's conditions", s.describe.clone())
    .build()
}

/// `hpa-missing-requests`: a utilization target on containers without the
/// request it divides by.
fn missing_requests_finding(
    s: &Subject<'_, '_>,
    workload: Option<(&LabelSelector, &PodTemplateSpec)>,
) -> Option<Finding> {
    let (ctx, name, ns, hpa) = (s.ctx, s.name, s.ctx.namespace(), s.hpa);
    let target = s.target();
    let pods: Vec<&Pod> = workload
        .map(|(sel, _)| ctx.pods_matching(sel))
        .unwrap_or_default();
    let targets = resource_targets(hpa);
    let active = condition(hpa, "ScalingActive");
    let active_msg = active
        .filter(|c| c.status == "False")
        .and_then(|c| c.message.clone())
        .unwrap_or_default();
    let missing = missing_requests(&targets, &pods, workload.map(|(_, t)| t));
    let first = missing.first()?;
    let quoted = if active_msg.contains("missing request for") {
        format!(" (`{}`)", active_msg)
    } else {
        String::new()
    };
    let pod_names: Vec<String> = missing.iter().map(|m| m.pod.clone()).collect();
    let mut f = ctx
        .finding(Rule::HpaMissingRequests, s.hpa_ref.clone())
        .symptom(format!("HPA {name} targets {}", targets_text(hpa)))
        .cause(format!(
            "HPA {name} scales on {} utilization but {}/{} sets no {} request: missing request for {} in container {} of Pod {}{quoted}.",
            first.resource, target.kind, target.name, first.resource, first.resource, first.container, first.pod
        ))
        .field(
            &ctx.object("Pod", &first.pod),
            format!("spec.containers[{}].resources.requests.{}", first.container, first.resource),
            "<none>",
        )
        .note(format!("pods without the request: {}", name_list(&pod_names, 5)))
        .related(s.target_ref.clone());
    for m in missing.iter().filter(|m| m.pod != "<template>").take(10) {
        f = f.related(ctx.object("Pod", &m.pod));
    }
    if let Some(c) = active.filter(|c| c.status == "False") {
        f = f.evidence(condition_evidence(&s.hpa_ref, c));
    }
    Some(
        f.next_command(
            "Add the request to the workload's containers",
            Kubectl::new()
                .namespace(ns)
                .args(["set", "resources"])
                .kind_name(&target.kind, &target.name)
                .args(["-c"])
                .value(Name::Label, &first.container)
                .with("--requests=", Name::Label, &first.resource, "=100m")
                .build(),
        )
        .next_command("See the HPA's conditions", s.describe.clone())
        .build(),
    )
}

/// `hpa-at-max`: `ScalingLimited=True` / `TooManyReplicas`.
fn at_max(s: &Subject<'_, '_>) -> Option<Finding> {
    let (ctx, name, ns, hpa, spec) = (s.ctx, s.name, s.ctx.namespace(), s.hpa, s.spec);
    let c = condition(hpa, "ScalingLimited")
        .filter(|c| c.status == "True" && c.reason.as_deref() == Some("TooManyReplicas"))?;
    let current = hpa
        .status
        .as_ref()
        .and_then(|s| s.current_replicas)
        .unwrap_or(0);
    let desired = hpa.status.as_ref().map_or(0, |s| s.desired_replicas);
    Some(
        ctx.finding(Rule::HpaAtMax, s.hpa_ref.clone())
            .symptom(format!("HPA {name} at maxReplicas {} ({})", spec.max_replicas, targets_text(hpa)))
            .cause(format!(
                "HPA {name} wants more replicas than maxReplicas {} allows ({current} running, {desired} desired, targets {}): the load exceeds what the autoscaler may add.",
                spec.max_replicas,
                targets_text(hpa)
            ))
            .evidence(condition_evidence(&s.hpa_ref, c))
            .related(s.target_ref.clone())
            .next_command("See the metrics against their targets", s.describe.clone())
            .next_command(
                "Raise the ceiling if the nodes have room",
                Kubectl::new()
                    .namespace(ns)
                    .args(["patch", "hpa"])
                    .name(name)
                    .args([
                        "-p",
                        &format!(
                            "{{\"spec\":{{\"maxReplicas\":{}}}}}",
                            spec.max_replicas.saturating_mul(2)
                        ),
                    ])
                    .build(),
            )
            .build(),
    )
}

/// `hpa-unable-to-scale`: `AbleToScale=False` on an existing target.
fn unable_to_scale(s: &Subject<'_, '_>) -> Option<Finding> {
    let (ctx, name) = (s.ctx, s.name);
    let target = s.target();
    let c = condition(s.hpa, "AbleToScale").filter(|c| c.status == "False")?;
    let reason = c.reason.as_deref().unwrap_or("unknown reason");
    let msg = c.message.as_deref().unwrap_or_default();
    Some(
        ctx.finding(Rule::HpaUnableToScale, s.hpa_ref.clone())
            .symptom(format!("HPA {name}: AbleToScale False ({reason})"))
            .cause(format!(
                "HPA {name} cannot scale {}/{}: {reason}: {msg}",
                target.kind, target.name
            ))
            .evidence(condition_evidence(&s.hpa_ref, c))
            .evidence_all(
                s.events
                    .iter()
                    .filter(|e| e.event_type == "Warning" && e.reason.starts_with("Failed"))
                    .map(|e| e.to_evidence()),
            )
            .related(s.target_ref.clone())
            .next_command("See the HPA's conditions and events", s.describe.clone())
            .build(),
    )
}

/// A container that lacks the request a utilization target needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingRequest {
    /// `cpu` or `memory`.
    pub resource: String,
    /// Container name.
    pub container: String,
    /// Pod name (or `<template>` when the workload has no pods).
    pub pod: String,
}

/// Containers of `pods` (or of the workload template when there are none)
/// missing a request for a utilization target's resource, in pod order.
pub fn missing_requests(
    targets: &[ResourceTarget],
    pods: &[&Pod],
    template: Option<&PodTemplateSpec>,
) -> Vec<MissingRequest> {
    let mut out = Vec::new();
    for t in targets.iter().filter(|t| t.utilization) {
        let lacks = |c: &k8s_openapi::api::core::v1::Container| {
            t.container.as_deref().is_none_or(|n| n == c.name)
                && !c
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .is_some_and(|r| r.contains_key(&t.resource))
        };
        if pods.is_empty() {
            for c in template
                .and_then(|t| t.spec.as_ref())
                .iter()
                .flat_map(|s| s.containers.iter())
            {
                if lacks(c) {
                    out.push(MissingRequest {
                        resource: t.resource.clone(),
                        container: c.name.clone(),
                        pod: "<template>".into(),
                    });
                }
            }
        }
        for pod in pods {
            for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
                if lacks(c) {
                    out.push(MissingRequest {
                        resource: t.resource.clone(),
                        container: c.name.clone(),
                        pod: pod.metadata.name.clone().unwrap_or_default(),
                    });
                }
            }
        }
    }
    out
}

/// `hpa-metrics-unavailable`: the metrics API is missing or failing.
fn metrics_unavailable(
    ctx: &NamespaceCtx<'_>,
    hpa: &HorizontalPodAutoscaler,
    hpa_ref: &ObjectRef,
    events: &[EventView],
) -> Option<Finding> {
    let name = hpa.name_any();
    let ns = ctx.namespace();
    let targets = targets_text(hpa);
    let failing = condition(hpa, "ScalingActive").filter(|c| {
        c.status == "False"
            && c.reason
                .as_deref()
                .is_some_and(|r| r.starts_with("FailedGet") && r.ends_with("Metric"))
    });
    let infra = &ctx.cluster.infra;
    let healthy_ms = infra.metrics_server_pods.iter().any(|p| p.healthy());
    let metrics_missing = !healthy_ms || !infra.pod_metrics_available;
    if failing.is_none() && !(targets.contains("<unknown>") && metrics_missing) {
        return None;
    }
    let why = metrics_why(ctx, healthy_ms);
    let quoted = failing
        .and_then(|c| c.message.as_deref())
        .map(|m| format!(": `{m}`"))
        .unwrap_or_default();
    let mut f = ctx
        .finding(Rule::HpaMetricsUnavailable, hpa_ref.clone())
        .symptom(format!("HPA {name} targets {targets}"))
        .cause(format!(
            "HPA {name} cannot read its metrics ({targets}): {why}{quoted}."
        ));
    if let Some(c) = failing {
        f = f.evidence(condition_evidence(hpa_ref, c));
    }
    if let Some(problem) = &infra.pod_metrics_problem {
        f = f.note(problem.clone());
    }
    f = f.evidence_all(
        events
            .iter()
            .filter(|e| {
                e.reason == "FailedGetResourceMetric" || e.reason == "FailedComputeMetricsReplicas"
            })
            .map(|e| e.to_evidence()),
    );
    for p in &infra.metrics_server_pods {
        f = f.related(p.object.clone());
    }
    Some(metrics_commands(f, ns, name).build())
}

/// Why the metrics API does not answer, from the metrics-server pods seen.
fn metrics_why(ctx: &NamespaceCtx<'_>, healthy_ms: bool) -> String {
    let infra = &ctx.cluster.infra;
    if infra.metrics_server_pods.is_empty() {
        "no metrics-server pod runs in the cluster, so the resource metrics API (metrics.k8s.io) is unavailable".to_string()
    } else if !healthy_ms {
        let states: Vec<String> = infra
            .metrics_server_pods
            .iter()
            .map(|p| {
                format!(
                    "{} ({}{})",
                    p.object,
                    p.phase,
                    if p.ready { "" } else { ", not ready" }
                )
            })
            .collect();
        format!("metrics-server is not ready ({})", name_list(&states, 2))
    } else {
        "the metrics API fails for its pods".to_string()
    }
}

/// The next steps of `hpa-metrics-unavailable`.
fn metrics_commands(f: FindingBuilder, ns: &str, name: &str) -> FindingBuilder {
    f.next_command(
        "Check the metrics API",
        Kubectl::new()
            .args(["get", "apiservice", "v1beta1.metrics.k8s.io"])
            .build(),
    )
    .next_command(
        "Check metrics-server",
        Kubectl::new()
            .namespace("kube-system")
            .args(["get", "pods", "-l", "k8s-app=metrics-server"])
            .build(),
    )
    .next_command(
        "See the HPA's conditions",
        Kubectl::new()
            .namespace(ns)
            .args(["describe", "hpa"])
            .name(name)
            .build(),
    )
}

#[cfg(test)]
mod tests;
