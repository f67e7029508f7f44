//! The disruption layer: PodDisruptionBudgets that let no pod be evicted.
//!
//! The disruption controller (`pkg/controller/disruption/disruption.go`)
//! writes a PDB's status: `expectedPods` (the pods it counts: the scale of
//! their controller for `maxUnavailable` and percentages, the matching pods
//! for an integer `minAvailable`), `desiredHealthy` (`minAvailable`, or
//! `expectedPods - maxUnavailable`), `currentHealthy` (ready pods) and
//! `disruptionsAllowed = currentHealthy - desiredHealthy` (never below 0).
//! With no matching pod it records a Normal event `NoPods` / `No matching
//! pods found`. The eviction API (`pkg/registry/core/pod/storage/eviction.go`)
//! refuses every eviction while `disruptionsAllowed` is 0 with HTTP 429
//! `Cannot evict pod as it would violate the pod's disruption budget.` and
//! the cause `The disruption budget <name> needs <desiredHealthy> healthy
//! pods and has <currentHealthy> currently`, which is what `kubectl drain`
//! (and so every node upgrade) prints and retries forever.
//!
//! Three cases, one rule each:
//! - `pdb-blocks-drain`: `desiredHealthy >= expectedPods`, so even with every
//!   pod healthy no eviction is allowed — the spec does it (`maxUnavailable:
//!   0`, `minAvailable` equal to the replicas or `100%`, a single replica
//!   with `minAvailable: 1`);
//! - `pdb-disruptions-exhausted`: the spec would allow evictions but too few
//!   pods are healthy; the unhealthy pods are related, so their own
//!   findings (a crash, a failing probe) are linked as the cause;
//! - `pdb-no-pods`: `expectedPods` 0, the selector matches nothing (info).
//!
//! A status the controller has not caught up with (`observedGeneration`
//! behind `metadata.generation`) or could not compute (`SyncFailed`) says
//! nothing and gives no finding.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::{ObjectExt, PodExt};

use crate::command::{Kubectl, Name};
use crate::context::{pod_ref, FindingBuilder, NamespaceCtx};
use crate::rules::registry::Rule;

/// What the eviction API answers while a PDB allows no disruption.
pub const EVICTION_REFUSED: &str =
    "Cannot evict pod as it would violate the pod's disruption budget.";

/// At most this many unhealthy pods are named in a cause.
const NAMED_PODS: usize = 3;

/// Every disruption finding of the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    ctx.ns
        .pdbs
        .iter()
        .filter_map(|pdb| check(ctx, pdb))
        .collect()
}

/// The status when the controller computed it for the current spec.
fn trusted_status(pdb: &PodDisruptionBudget) -> Option<&PodDisruptionBudgetStatus> {
    let status = pdb.status.as_ref()?;
    let observed = status.observed_generation?;
    if pdb.metadata.generation.is_some_and(|g| g > observed) {
        return None;
    }
    let sync_failed = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "DisruptionAllowed" && c.reason == "SyncFailed");
    (!sync_failed).then_some(status)
}

fn int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// `spec.minAvailable: 3` or `spec.maxUnavailable: 0`, as written.
fn budget_text(pdb: &PodDisruptionBudget) -> Option<(&'static str, String)> {
    let spec = pdb.spec.as_ref()?;
    if let Some(v) = &spec.max_unavailable {
        return Some(("spec.maxUnavailable", int_or_string(v)));
    }
    spec.min_available
        .as_ref()
        .map(|v| ("spec.minAvailable", int_or_string(v)))
}

/// The pods the PDB selects (a missing selector selects none; an empty
/// one, in `policy/v1`, every pod of the namespace).
fn selected<'a>(ctx: &'a NamespaceCtx<'_>, pdb: &PodDisruptionBudget) -> Vec<&'a Pod> {
    match pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) {
        Some(sel) => ctx.pods_matching(sel),
        None => Vec::new(),
    }
}

/// `<n> pods` / `1 pod`.
fn pods_word(n: i32) -> String {
    if n == 1 {
        "1 pod".to_string()
    } else {
        format!("{n} pods")
    }
}

/// `; its pods belong to Deployment/ns/name` when they share one owner.
fn owners_text(ctx: &NamespaceCtx<'_>, pods: &[&Pod]) -> String {
    let mut owners: Vec<String> = pods
        .iter()
        .filter_map(|p| ctx.owner_workload(p))
        .map(|o| format!("{} {}", o.kind, o.name))
        .collect();
    owners.sort();
    owners.dedup();
    match owners.as_slice() {
        [] => String::new(),
        [one] => format!(" (pods of {one})"),
        many => format!(" (pods of {})", many.join(", ")),
    }
}

fn check(ctx: &NamespaceCtx<'_>, pdb: &PodDisruptionBudget) -> Option<Finding> {
    let status = trusted_status(pdb)?;
    if status.expected_pods == 0 {
        return no_pods(ctx, pdb);
    }
    if status.disruptions_allowed > 0 {
        return None;
    }
    if status.desired_healthy >= status.expected_pods {
        Some(blocks_drain(ctx, pdb, status))
    } else if status.current_healthy <= status.desired_healthy {
        exhausted(ctx, pdb, status)
    } else {
        None
    }
}

/// The eviction API's refusal, verbatim, for this PDB's status.
fn refusal(name: &str, status: &PodDisruptionBudgetStatus) -> String {
    format!(
        "the eviction API refuses with \"{EVICTION_REFUSED}\" (The disruption budget {name} needs {} healthy pods and has {} currently)",
        status.desired_healthy, status.current_healthy
    )
}

/// The common evidence and commands of a PDB finding.
fn with_status(
    ctx: &NamespaceCtx<'_>,
    b: FindingBuilder,
    object: &ObjectRef,
    pdb: &PodDisruptionBudget,
    status: &PodDisruptionBudgetStatus,
) -> FindingBuilder {
    let name = pdb.name_any();
    let mut b = b;
    if let Some((path, value)) = budget_text(pdb) {
        b = b.field(object, path, value);
    }
    b = b
        .field(
            object,
            "status.expectedPods",
            status.expected_pods.to_string(),
        )
        .field(
            object,
            "status.desiredHealthy",
            status.desired_healthy.to_string(),
        )
        .field(
            object,
            "status.currentHealthy",
            status.current_healthy.to_string(),
        )
        .field(
            object,
            "status.disruptionsAllowed",
            status.disruptions_allowed.to_string(),
        )
        .next_command(
            "See the budget and its status",
            Kubectl::new()
                .namespace(ctx.namespace())
                .args(["describe", "pdb"])
                .name(name)
                .build(),
        );
    let labels = pdb
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| s.match_expressions.as_ref().is_none_or(Vec::is_empty))
        .and_then(|s| s.match_labels.as_ref())
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        });
    if let Some(sel) = labels {
        b = b.next_command(
            "See the pods it covers and whether they are ready",
            Kubectl::new()
                .namespace(ctx.namespace())
                .args(["get", "pods", "-o", "wide", "-l"])
                .value(Name::Selector, &sel)
                .build(),
        );
    }
    b
}

fn blocks_drain(
    ctx: &NamespaceCtx<'_>,
    pdb: &PodDisruptionBudget,
    status: &PodDisruptionBudgetStatus,
) -> Finding {
    let name = pdb.name_any();
    let object = ctx.object("PodDisruptionBudget", name);
    let pods = selected(ctx, pdb);
    let budget = budget_text(pdb)
        .map(|(path, v)| format!("{path} is {v}"))
        .unwrap_or_else(|| "its budget".to_string());
    let cause = format!(
        "{budget} and it counts {}{}: even with every pod healthy it needs {} healthy, so it allows no disruption; kubectl drain and node upgrades cannot evict them: {}",
        pods_word(status.expected_pods),
        owners_text(ctx, &pods),
        status.desired_healthy,
        refusal(name, status),
    );
    let b = ctx
        .finding(Rule::PdbBlocksDrain, object.clone())
        .symptom("ALLOWED DISRUPTIONS 0 by design")
        .cause(cause);
    with_status(ctx, b, &object, pdb, status)
        .note("Allow at least one disruption: maxUnavailable 1 (or a percentage), or more replicas than minAvailable.")
        .build()
}

fn is_healthy(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && pod.phase() == Some("Running") && pod.is_ready()
}

fn exhausted(
    ctx: &NamespaceCtx<'_>,
    pdb: &PodDisruptionBudget,
    status: &PodDisruptionBudgetStatus,
) -> Option<Finding> {
    let name = pdb.name_any();
    let object = ctx.object("PodDisruptionBudget", name);
    let pods = selected(ctx, pdb);
    let unhealthy: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| !is_healthy(p) && !matches!(p.phase(), Some("Succeeded" | "Failed")))
        .collect();
    let named: Vec<String> = unhealthy
        .iter()
        .take(NAMED_PODS)
        .map(|p| p.name_any().to_string())
        .collect();
    let which = match (named.is_empty(), unhealthy.len() > NAMED_PODS) {
        (true, _) => String::new(),
        (false, false) => format!(" (not ready: {})", named.join(", ")),
        (false, true) => format!(
            " (not ready: {} and {} more)",
            named.join(", "),
            unhealthy.len() - NAMED_PODS
        ),
    };
    let cause = format!(
        "only {} of its {} expected pods are healthy{which}{} and it needs {}: no eviction is allowed until they recover, so kubectl drain and node upgrades stall: {}",
        status.current_healthy,
        status.expected_pods,
        owners_text(ctx, &pods),
        status.desired_healthy,
        refusal(name, status),
    );
    let mut b = ctx
        .finding(Rule::PdbDisruptionsExhausted, object.clone())
        .symptom("ALLOWED DISRUPTIONS 0: pods unhealthy")
        .cause(cause);
    for p in &unhealthy {
        b = b.related(pod_ref(p));
    }
    Some(with_status(ctx, b, &object, pdb, status).build())
}

fn no_pods(ctx: &NamespaceCtx<'_>, pdb: &PodDisruptionBudget) -> Option<Finding> {
    // Pods not collected: the selector cannot be checked.
    if ctx.ns.unavailable("pods").is_some() || !selected(ctx, pdb).is_empty() {
        return None;
    }
    let name = pdb.name_any();
    let object = ctx.object("PodDisruptionBudget", name);
    let selector = pdb
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .and_then(|s| s.match_labels.as_ref())
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "its selector".to_string());
    Some(
        ctx.finding(Rule::PdbNoPods, object.clone())
            .symptom("No matching pods found")
            .cause(format!(
                "status.expectedPods is 0: {selector} matches no pod in namespace {}, so the budget protects nothing (a renamed or removed workload?)",
                ctx.namespace()
            ))
            .field(&object, "status.expectedPods", "0")
            .next_command(
                "See the budget's selector",
                Kubectl::new()
                    .namespace(ctx.namespace())
                    .args(["get", "pdb", "-o", "yaml"])
                    .name(name)
                    .build(),
            )
            .build(),
    )
}

#[cfg(test)]
mod tests;
