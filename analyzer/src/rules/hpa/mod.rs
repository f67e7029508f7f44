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
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, MetricSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kpm_model::{Evidence, Finding, Layer, ObjectRef, Severity};

use crate::context::NamespaceCtx;
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

#[allow(clippy::too_many_lines)] // TODO(structure): split
fn check(ctx: &NamespaceCtx<'_>, hpa: &HorizontalPodAutoscaler) -> Vec<Finding> {
    let name = hpa.metadata.name.as_deref().unwrap_or_default();
    let ns = ctx.namespace();
    let hpa_ref = ctx.object("HorizontalPodAutoscaler", name);
    let Some(spec) = hpa.spec.as_ref() else {
        return Vec::new();
    };
    let target = &spec.scale_target_ref;
    let target_ref = ctx.object(&target.kind, &target.name);
    let describe = format!("kubectl -n {ns} describe hpa {name}");
    let events = ctx.events_for("HorizontalPodAutoscaler", name);
    let mut out = Vec::new();

    let workload = match target_of(ctx, &target.kind, &target.name) {
        Err(()) => {
            let plural = format!("{}s", target.kind.to_lowercase());
            let mut f = ctx
                .finding("hpa-target-missing", Layer::Autoscaling, Severity::Error, hpa_ref.clone())
                .symptom(format!("HPA {name}: scale target {}/{} not found", target.kind, target.name))
                .cause(format!(
                    "HPA {name} scales {}/{}, which does not exist in namespace {ns}, so it cannot scale anything.",
                    target.kind, target.name
                ))
                .field(&hpa_ref, "spec.scaleTargetRef", format!("{}/{}", target.kind, target.name))
                .related(target_ref.clone());
            if let Some(c) = condition(hpa, "AbleToScale").filter(|c| c.status == "False") {
                f = f.evidence(condition_evidence(&hpa_ref, c));
            }
            f = f.evidence_all(
                events
                    .iter()
                    .filter(|e| e.reason == "FailedGetScale")
                    .map(|e| e.to_evidence()),
            );
            out.push(
                f.next_step(
                    format!("List the {plural} that exist"),
                    format!("kubectl -n {ns} get {plural}"),
                )
                .next_step("See the HPA's conditions", describe)
                .build(),
            );
            return out;
        }
        Ok(w) => w,
    };
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
    if let Some(first) = missing.first() {
        let quoted = if active_msg.contains("missing request for") {
            format!(" (`{}`)", active_msg)
        } else {
            String::new()
        };
        let pod_names: Vec<String> = missing.iter().map(|m| m.pod.clone()).collect();
        let mut f = ctx
            .finding("hpa-missing-requests", Layer::Autoscaling, Severity::Error, hpa_ref.clone())
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
            .related(target_ref.clone());
        for m in missing.iter().filter(|m| m.pod != "<template>").take(10) {
            f = f.related(ctx.object("Pod", &m.pod));
        }
        if let Some(c) = active.filter(|c| c.status == "False") {
            f = f.evidence(condition_evidence(&hpa_ref, c));
        }
        out.push(
            f.next_step(
                "Add the request to the workload's containers",
                format!(
                    "kubectl -n {ns} set resources {}/{} -c {} --requests={}=100m",
                    target.kind.to_lowercase(),
                    target.name,
                    first.container,
                    first.resource
                ),
            )
            .next_step("See the HPA's conditions", describe.clone())
            .build(),
        );
    } else if let Some(f) = metrics_unavailable(ctx, hpa, &hpa_ref, &events) {
        out.push(f);
    }

    if let Some(c) = condition(hpa, "ScalingLimited")
        .filter(|c| c.status == "True" && c.reason.as_deref() == Some("TooManyReplicas"))
    {
        let current = hpa
            .status
            .as_ref()
            .and_then(|s| s.current_replicas)
            .unwrap_or(0);
        let desired = hpa.status.as_ref().map_or(0, |s| s.desired_replicas);
        out.push(
            ctx.finding("hpa-at-max", Layer::Autoscaling, Severity::Warning, hpa_ref.clone())
                .symptom(format!("HPA {name} at maxReplicas {} ({})", spec.max_replicas, targets_text(hpa)))
                .cause(format!(
                    "HPA {name} wants more replicas than maxReplicas {} allows ({current} running, {desired} desired, targets {}): the load exceeds what the autoscaler may add.",
                    spec.max_replicas,
                    targets_text(hpa)
                ))
                .evidence(condition_evidence(&hpa_ref, c))
                .related(target_ref.clone())
                .next_step("See the metrics against their targets", describe.clone())
                .next_step(
                    "Raise the ceiling if the nodes have room",
                    format!("kubectl -n {ns} patch hpa {name} -p '{{\"spec\":{{\"maxReplicas\":{}}}}}'", spec.max_replicas * 2),
                )
                .build(),
        );
    }

    if let Some(c) = condition(hpa, "AbleToScale").filter(|c| c.status == "False") {
        let reason = c.reason.as_deref().unwrap_or("unknown reason");
        let msg = c.message.as_deref().unwrap_or_default();
        out.push(
            ctx.finding(
                "hpa-unable-to-scale",
                Layer::Autoscaling,
                Severity::Error,
                hpa_ref.clone(),
            )
            .symptom(format!("HPA {name}: AbleToScale False ({reason})"))
            .cause(format!(
                "HPA {name} cannot scale {}/{}: {reason}: {msg}",
                target.kind, target.name
            ))
            .evidence(condition_evidence(&hpa_ref, c))
            .evidence_all(
                events
                    .iter()
                    .filter(|e| e.event_type == "Warning" && e.reason.starts_with("Failed"))
                    .map(|e| e.to_evidence()),
            )
            .related(target_ref)
            .next_step("See the HPA's conditions and events", describe)
            .build(),
        );
    }
    out
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

#[allow(clippy::too_many_lines)] // TODO(structure): split
fn metrics_unavailable(
    ctx: &NamespaceCtx<'_>,
    hpa: &HorizontalPodAutoscaler,
    hpa_ref: &ObjectRef,
    events: &[crate::context::EventView],
) -> Option<Finding> {
    let name = hpa.metadata.name.as_deref().unwrap_or_default();
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
    let why = if infra.metrics_server_pods.is_empty() {
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
    };
    let quoted = failing
        .and_then(|c| c.message.as_deref())
        .map(|m| format!(": `{m}`"))
        .unwrap_or_default();
    let mut f = ctx
        .finding(
            "hpa-metrics-unavailable",
            Layer::Autoscaling,
            Severity::Error,
            hpa_ref.clone(),
        )
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
    Some(
        f.next_step(
            "Check the metrics API",
            "kubectl get apiservice v1beta1.metrics.k8s.io",
        )
        .next_step(
            "Check metrics-server",
            "kubectl -n kube-system get pods -l k8s-app=metrics-server",
        )
        .next_step(
            "See the HPA's conditions",
            format!("kubectl -n {ns} describe hpa {name}"),
        )
        .build(),
    )
}

#[cfg(test)]
mod tests;
