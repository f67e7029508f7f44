//! The admission layer: controllers that cannot create their pods because
//! the API server refuses them.
//!
//! The ReplicaSet, Job and DaemonSet controllers record a Warning
//! `FailedCreate` Event on their object (`Error creating: <error>`, from
//! `RealPodControl.CreatePods` in `pkg/controller/controller_utils.go`), the
//! StatefulSet controller one reading `create Pod <pod> in StatefulSet
//! <set> failed error: <error>`, and the ReplicaSet controller also sets
//! the condition `ReplicaFailure=True` / `FailedCreate` with the error (which
//! the Deployment controller copies). The error is the admission plugin's
//! ([`message`]). A finding needs both: the controller is still short of
//! pods (fewer created than it wants) and its latest `FailedCreate` is not
//! older than its latest `SuccessfulCreate` (a failure followed by
//! successful creations is history). The finding names the object that
//! refused, checked against the bundle ([`facts`], [`webhook`]), and is the
//! cause of the consequences on the workload (`PodsNotCreated`) — a
//! Service left without endpoints, a rollout stalled.

mod facts;
pub mod message;
mod webhook;

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kpm_model::{Finding, Severity};

use crate::command::Kubectl;
use crate::context::{EventView, NamespaceCtx};
use crate::engine::index::controller_owner;
use crate::rules::registry::Rule;
use facts::Facts;
use message::Refusal;

/// A pod-creating controller as this layer reads it.
#[derive(Debug)]
struct Controller<'a> {
    /// `ReplicaSet`, `StatefulSet`, `DaemonSet` or `Job`.
    kind: &'static str,
    meta: &'a ObjectMeta,
    /// Pods it wants now.
    wanted: i64,
    /// Pods it has created (not terminated).
    created: i64,
    /// Of which ready.
    ready: i64,
    /// The pod template's spec.
    template: Option<&'a PodSpec>,
    /// `ReplicaFailure=True` / `FailedCreate` message (ReplicaSets).
    failure_condition: Option<&'a str>,
}

/// Every controller of the namespace that creates pods.
fn controllers<'a>(ctx: &NamespaceCtx<'a>) -> Vec<Controller<'a>> {
    let ns = ctx.ns;
    let mut out = Vec::new();
    for rs in &ns.replicasets {
        let st = rs.status.as_ref();
        let failure = st
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| {
                c.type_ == "ReplicaFailure"
                    && c.status == "True"
                    && c.reason.as_deref() == Some("FailedCreate")
            })
            .and_then(|c| c.message.as_deref());
        out.push(Controller {
            kind: "ReplicaSet",
            meta: &rs.metadata,
            wanted: i64::from(rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)),
            created: i64::from(st.map_or(0, |s| s.replicas)),
            ready: i64::from(st.and_then(|s| s.ready_replicas).unwrap_or(0)),
            template: rs
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .and_then(|t| t.spec.as_ref()),
            failure_condition: failure,
        });
    }
    for s in &ns.statefulsets {
        let st = s.status.as_ref();
        out.push(Controller {
            kind: "StatefulSet",
            meta: &s.metadata,
            wanted: i64::from(s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)),
            created: i64::from(st.map_or(0, |s| s.replicas)),
            ready: i64::from(st.and_then(|s| s.ready_replicas).unwrap_or(0)),
            template: s.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
            failure_condition: None,
        });
    }
    for d in &ns.daemonsets {
        let st = d.status.as_ref();
        out.push(Controller {
            kind: "DaemonSet",
            meta: &d.metadata,
            wanted: i64::from(st.map_or(0, |s| s.desired_number_scheduled)),
            created: i64::from(st.map_or(0, |s| s.current_number_scheduled)),
            ready: i64::from(st.map_or(0, |s| s.number_ready)),
            template: d.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
            failure_condition: None,
        });
    }
    out.extend(ns.jobs.iter().filter_map(job_controller));
    out
}

/// A Job that is still running, with the pods it wants now
/// (`min(parallelism, completions - succeeded)`); finished Jobs want none.
fn job_controller(job: &k8s_openapi::api::batch::v1::Job) -> Option<Controller<'_>> {
    let st = job.status.as_ref();
    let finished = st
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True");
    if finished {
        return None;
    }
    let spec = job.spec.as_ref();
    let parallelism = i64::from(spec.and_then(|s| s.parallelism).unwrap_or(1));
    let succeeded = i64::from(st.and_then(|s| s.succeeded).unwrap_or(0));
    let remaining = spec
        .and_then(|s| s.completions)
        .map_or(parallelism, |c| i64::from(c) - succeeded);
    Some(Controller {
        kind: "Job",
        meta: &job.metadata,
        wanted: parallelism.min(remaining).max(0),
        created: i64::from(st.and_then(|s| s.active).unwrap_or(0)),
        ready: i64::from(st.and_then(|s| s.ready).unwrap_or(0)),
        template: spec.and_then(|s| s.template.spec.as_ref()),
        failure_condition: None,
    })
}

/// Every admission finding of the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    controllers(ctx)
        .iter()
        .filter(|c| c.created < c.wanted)
        .filter_map(|c| blocked(ctx, c))
        .collect()
}

/// The controller's classified refusal and the events that carry it
/// (latest first), or `None` when creations succeeded since.
fn refusal(
    ctx: &NamespaceCtx<'_>,
    c: &Controller<'_>,
) -> Option<(Refusal, Vec<EventView>, String)> {
    let name = c.meta.name.as_deref()?;
    let events = ctx.events_for(c.kind, name);
    let mut failed: Vec<EventView> = events
        .iter()
        .filter(|e| e.event_type == "Warning" && e.reason == "FailedCreate")
        .cloned()
        .collect();
    failed.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
    let created_since = events
        .iter()
        .filter(|e| e.reason == "SuccessfulCreate")
        .filter_map(|e| e.last_seen)
        .max();
    if let (Some(ok), Some(bad)) = (created_since, failed.first().and_then(|e| e.last_seen)) {
        if ok > bad {
            return None;
        }
    }
    for e in &failed {
        if let Some(r) = message::classify(&e.message) {
            let same: Vec<EventView> = failed
                .iter()
                .filter(|o| message::classify(&o.message).as_ref() == Some(&r))
                .cloned()
                .collect();
            return Some((r, same, e.message.clone()));
        }
    }
    if !failed.is_empty() {
        return None;
    }
    let m = c.failure_condition?;
    Some((message::classify(m)?, Vec::new(), m.to_string()))
}

/// The rule, the symptom's headline and the facts of a refusal.
fn explain(ctx: &NamespaceCtx<'_>, c: &Controller<'_>, r: &Refusal) -> (Rule, String, Facts) {
    match r {
        Refusal::QuotaExceeded { quota, items } => {
            let res: Vec<&str> = items.iter().map(|i| i.resource.as_str()).collect();
            (
                Rule::AdmissionQuotaExceeded,
                format!("exceeded quota {quota} ({})", res.join(", ")),
                facts::quota_exceeded(ctx, quota, items),
            )
        }
        Refusal::QuotaUnspecified { quota, missing } => (
            Rule::AdmissionQuotaExceeded,
            format!("quota {quota} requires {}", missing.join(", ")),
            facts::quota_unspecified(ctx, quota, missing, c.template),
        ),
        Refusal::LimitRange { violations } => (
            Rule::AdmissionLimitRange,
            "outside the LimitRange".to_string(),
            facts::limit_range(ctx, violations),
        ),
        Refusal::PodSecurity { policy, checks } => (
            Rule::AdmissionPodSecurity,
            format!("violates PodSecurity {policy}"),
            facts::pod_security(ctx, policy, checks),
        ),
        Refusal::WebhookUnreachable { webhook, error } => (
            Rule::AdmissionWebhookUnreachable,
            format!("webhook {webhook} unreachable"),
            webhook::facts(ctx, webhook, Some(error), None),
        ),
        Refusal::WebhookDenied { webhook, reason } => (
            Rule::AdmissionWebhookDenied,
            format!("denied by webhook {webhook}"),
            webhook::facts(ctx, webhook, None, reason.as_deref()),
        ),
        Refusal::ServiceAccount { name, error } => (
            Rule::AdmissionServiceAccountMissing,
            format!("ServiceAccount {name} missing"),
            facts::service_account(ctx, name, error),
        ),
    }
}

fn blocked(ctx: &NamespaceCtx<'_>, c: &Controller<'_>) -> Option<Finding> {
    let name = c.meta.name.as_deref()?;
    let (r, events, verbatim) = refusal(ctx, c)?;
    let (rule, headline, facts) = explain(ctx, c, &r);
    let object = ctx.object(c.kind, name);
    let count: u64 = events.iter().map(|e| e.count).sum();
    let tries = if count > 0 {
        format!(" ({count} refused creations in the bundle's events)")
    } else {
        " (condition ReplicaFailure)".to_string()
    };
    let mut b = ctx
        .finding(rule, object.clone())
        .symptom(format!(
            "FailedCreate: {}/{} pods created, {headline}",
            c.created, c.wanted
        ))
        .cause(format!(
            "the API server refuses the {}'s pods{tries}: {}; {} of {} pods exist",
            c.kind, facts.cause, c.created, c.wanted
        ))
        .evidence_all(events.iter().take(3).map(EventView::to_evidence));
    if events.is_empty() {
        b = b.field(
            &object,
            "status.conditions[ReplicaFailure].message",
            verbatim,
        );
    }
    for (o, path, value) in facts.fields {
        b = b.field(&o, path, value);
    }
    if let Some((kind, owner)) = controller_owner(c.meta) {
        b = b.related(ctx.object(kind, owner));
    }
    for o in facts.related {
        b = b.related(o);
    }
    b = b.next_command(
        format!("See the {}'s events", c.kind),
        Kubectl::new()
            .namespace(ctx.namespace())
            .args(["describe"])
            .kind_name(c.kind, name)
            .build(),
    );
    for (desc, cmd) in facts.commands {
        b = b.next_command(desc, cmd);
    }
    let severity = if facts.resolved {
        Severity::Warning
    } else if c.ready == 0 {
        Severity::Critical
    } else {
        Severity::Error
    };
    Some(b.severity(severity).build())
}

#[cfg(test)]
mod tests;
