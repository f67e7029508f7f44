//! Resources layer: limits that are missing, and memory usage about to hit
//! its limit.
//!
//! - `resources-no-limits`: containers without a memory or CPU limit. One
//!   finding per workload (the pod template is what needs fixing), judged on
//!   its live pods so limits a LimitRange injected count. Remarks about
//!   system components (stock add-ons run without limits by design) are
//!   set aside and grouped by the engine (`engine::system`), never dropped.
//! - `resources-near-memory-limit`: a container's working set (PodMetrics
//!   `usage.memory`, what `kubectl top` shows and what the OOM killer judges)
//!   is at or above 90 % of its memory limit.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use kpm_model::{Evidence, Finding, ObjectRef};
use kpm_semantics::quantity::Quantity;
use kpm_semantics::{ObjectExt, PodExt};

use crate::command::{Kubectl, Name};
use kpm_semantics::PodMetrics;

use crate::context::{pod_ref, NamespaceCtx};
use crate::rules::registry::Rule;
use crate::rules::service::backends::name_list;

/// Usage at or above this share of the limit is "near" (per cent).
pub const NEAR_LIMIT_PERCENT: i128 = 90;

/// Runs the resources rules over one namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(no_limits(ctx));
    for pod in &ctx.ns.pods {
        out.extend(near_memory_limit(ctx, pod));
    }
    out
}

/// Containers that run for the pod's life: regular ones and restartable
/// (sidecar) init containers.
fn long_running(pod: &Pod) -> Vec<&Container> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .chain(
            spec.init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always")),
        )
        .collect()
}

/// The limits a container lacks, among `memory` and `cpu`.
pub fn missing_limits(c: &Container) -> Vec<&'static str> {
    let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
    ["memory", "cpu"]
        .into_iter()
        .filter(|r| !limits.is_some_and(|l| l.contains_key(*r)))
        .collect()
}

/// A container name and the limits it lacks.
type MissingByContainer = (String, Vec<&'static str>);

fn no_limits(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    // Owner → (first pod seen, its containers' missing limits, pod count).
    let mut by_owner: BTreeMap<ObjectRef, (&Pod, Vec<MissingByContainer>, usize)> = BTreeMap::new();
    for pod in &ctx.ns.pods {
        let phase = pod.phase();
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        let owner = ctx.owner_workload(pod).unwrap_or_else(|| pod_ref(pod));
        if let Some(entry) = by_owner.get_mut(&owner) {
            entry.2 += 1;
            continue;
        }
        let missing: Vec<MissingByContainer> = long_running(pod)
            .into_iter()
            .map(|c| (c.name.clone(), missing_limits(c)))
            .filter(|(_, m)| !m.is_empty())
            .collect();
        by_owner.insert(owner, (pod, missing, 1));
    }
    by_owner
        .into_iter()
        .filter(|(_, (_, missing, _))| !missing.is_empty())
        .map(|(owner, (pod, missing, count))| no_limits_finding(ctx, &owner, pod, &missing, count))
        .collect()
}

/// `resources-no-limits` for one workload, judged on its first pod.
fn no_limits_finding(
    ctx: &NamespaceCtx<'_>,
    owner: &ObjectRef,
    pod: &Pod,
    missing: &[MissingByContainer],
    count: usize,
) -> Finding {
    let ns = ctx.namespace();
    let parts: Vec<String> = missing
        .iter()
        .map(|(c, m)| format!("container {c} has no {} limit", m.join(" and no ")))
        .collect();
    let memory_missing = missing.iter().any(|(_, m)| m.contains(&"memory"));
    let risk = if memory_missing {
        "without a memory limit a leak grows until the node runs out of memory and the kubelet evicts or the kernel OOM-kills other pods"
    } else {
        "without a CPU limit a busy container can starve its neighbours of CPU"
    };
    let pods_text = if count == 1 {
        "1 pod".to_string()
    } else {
        format!("{count} pods")
    };
    let mut f = ctx
        .finding(Rule::ResourcesNoLimits, owner.clone())
        .symptom(format!(
            "{} {}: {}",
            owner.kind,
            owner.name,
            parts.join("; ")
        ))
        .cause(format!(
            "{} {} ({pods_text}): {}; {risk}.",
            owner.kind,
            owner.name,
            parts.join("; ")
        ))
        .related(pod_ref(pod));
    for (c, m) in missing {
        f = f.field(
            &pod_ref(pod),
            format!("spec.containers[{c}].resources.limits"),
            format!("no {}", m.join(", no ")),
        );
    }
    let first_container = missing.first().map(|(c, _)| c.as_str()).unwrap_or("app");
    let target_kind = if owner.kind == "Pod" {
        "pod"
    } else {
        owner.kind.as_str()
    };
    let pod_name = pod.name_any();
    f.next_command(
        "See current usage to size the limits",
        Kubectl::new()
            .namespace(ns)
            .args(["top", "pod"])
            .name(pod_name)
            .args(["--containers"])
            .build(),
    )
    .next_command(
        "Set limits on the workload",
        Kubectl::new()
            .namespace(ns)
            .args(["set", "resources"])
            .kind_name(target_kind, &owner.name)
            .args(["-c"])
            .value(Name::Label, first_container)
            .args(["--limits=cpu=500m,memory=512Mi"])
            .build(),
    )
    .build()
}

/// Parses a k8s quantity, `None` when absent or malformed.
fn qty(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Option<Quantity> {
    q.and_then(|q| Quantity::from_k8s(q).ok())
}

/// A container near its memory limit: name, usage, limit, per cent.
type Hot = (String, Quantity, Quantity, i128);

/// The pod's containers whose working set is at or above
/// [`NEAR_LIMIT_PERCENT`] of their memory limit.
fn hot_containers(pod: &Pod, metrics: &PodMetrics) -> Vec<Hot> {
    let containers = long_running(pod);
    let mut hot: Vec<Hot> = Vec::new();
    for cm in &metrics.containers {
        let Some(usage) = qty(cm.usage.get("memory")) else {
            continue;
        };
        let Some(c) = containers.iter().find(|c| c.name == cm.name) else {
            continue;
        };
        let limit = qty(c
            .resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get("memory")));
        let Some(limit) = limit.filter(|l| !l.is_zero()) else {
            continue;
        };
        let pct = usage.nanos().saturating_mul(100) / limit.nanos();
        if pct >= NEAR_LIMIT_PERCENT {
            hot.push((cm.name.clone(), usage, limit, pct));
        }
    }
    hot
}

fn near_memory_limit(ctx: &NamespaceCtx<'_>, pod: &Pod) -> Option<Finding> {
    let name = pod.metadata.name.as_deref()?;
    let metrics = ctx.pod_metrics(name)?;
    let hot = hot_containers(pod, metrics);
    let (c0, u0, l0, p0) = hot.first()?.clone();
    let ns = ctx.namespace();
    let parts: Vec<String> = hot
        .iter()
        .map(|(c, u, l, p)| {
            format!(
                "container {c} uses {} of its {} memory limit ({p}%)",
                mib(u),
                l
            )
        })
        .collect();
    let oom_before = pod
        .container_statuses()
        .iter()
        .find(|c| c.name == c0)
        .and_then(|c| c.last_state.as_ref()?.terminated.as_ref())
        .is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"));
    let tail = if oom_before {
        "; it was already OOMKilled once and will be again"
    } else {
        "; the next allocation spike gets it OOMKilled"
    };
    let mut f = ctx
        .finding(Rule::ResourcesNearMemoryLimit, pod_ref(pod))
        .symptom(format!(
            "Pod {name}: memory {} / limit {} ({p0}%)",
            mib(&u0),
            l0
        ))
        .cause(format!("Pod {name}: {}{tail}.", name_list(&parts, 3)));
    for (c, u, l, p) in &hot {
        f = f.evidence(Evidence::Metric {
            name: format!("memory usage of container {c}"),
            value: mib(u),
            compared_to: Some(format!("limit {l} ({p}%)")),
        });
    }
    if let Some(owner) = ctx.owner_workload(pod) {
        f = f.related(owner);
    }
    Some(
        f.next_command(
            "Watch the usage",
            Kubectl::new()
                .namespace(ns)
                .args(["top", "pod"])
                .name(name)
                .args(["--containers"])
                .build(),
        )
        .next_command(
            "See restarts and last termination",
            Kubectl::new()
                .namespace(ns)
                .args(["describe", "pod"])
                .name(name)
                .build(),
        )
        .build(),
    )
}

/// Memory as `kubectl top` prints it: whole MiB.
fn mib(q: &Quantity) -> String {
    format!("{}Mi", q.value() / (1024 * 1024))
}

#[cfg(test)]
mod tests;
