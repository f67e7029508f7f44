//! The Job layer: `job-failed`, a Job the job controller gave up on.
//!
//! The job controller (`pkg/controller/job/job_controller.go`) marks a Job
//! it stops retrying with the condition `Failed=True` (since v1.31 after a
//! `FailureTarget` condition with the same reason) and a Warning Event of
//! the same reason: `BackoffLimitExceeded` / `Job has reached the specified
//! backoff limit` when more pods failed than `spec.backoffLimit` allows,
//! `DeadlineExceeded` / `Job was active longer than specified deadline`
//! when it ran past `spec.activeDeadlineSeconds` (its running pods are
//! then deleted). The finding names the Job's failed pods and their
//! containers' exit codes, so the incident starts from what the workload
//! did; the pods' own findings (a crash with its log line) are linked as
//! its cause through the registry's `PodNotServing` link.

use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::Pod;
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::ObjectExt;

use crate::command::Kubectl;
use crate::context::{pod_ref, LogTail, NamespaceCtx};
use crate::rules::pod_death::clip;
use crate::rules::pod_deathcause;
use crate::rules::registry::Rule;

/// At most this many failed pods are named in the cause.
const NAMED_PODS: usize = 3;
/// Lines of the last failed pod's log read for the line that explains it.
const LOG_LINES: usize = 40;

/// Every `job-failed` finding of the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    ctx.ns
        .jobs
        .iter()
        .filter_map(|job| failed(ctx, job))
        .collect()
}

/// The `Failed=True` condition of a Job, if it has one.
pub fn failed_condition(job: &Job) -> Option<&JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed" && c.status == "True")
}

/// Whether `pod` is controlled by `job` (by uid when both have one, else
/// by name).
fn owned_by(pod: &Pod, job: &Job) -> bool {
    pod.metadata.owner_references.iter().flatten().any(|o| {
        o.kind == "Job"
            && o.controller == Some(true)
            && match (&job.metadata.uid, o.uid.is_empty()) {
                (Some(uid), false) => *uid == o.uid,
                _ => Some(&o.name) == job.metadata.name.as_ref(),
            }
    })
}

/// `container exit N (Reason)` for every terminated container of a failed
/// pod that did not exit 0.
fn exit_codes(pod: &Pod) -> Vec<String> {
    let statuses = pod.status.as_ref().map(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
    });
    statuses
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let t = c
                .state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .or_else(|| c.last_state.as_ref().and_then(|s| s.terminated.as_ref()))?;
            (t.exit_code != 0).then(|| {
                let reason = t.reason.as_deref().unwrap_or("no reason");
                format!("{} exit code {} ({reason})", c.name, t.exit_code)
            })
        })
        .collect()
}

/// The log of the first container of `pod` that exited non-zero, and the
/// line of it that explains the failure ([`pod_deathcause::pick`]).
fn last_words(ctx: &NamespaceCtx<'_>, pod: &Pod) -> Option<(LogTail, Option<String>)> {
    let container = pod
        .status
        .as_ref()?
        .container_statuses
        .iter()
        .flatten()
        .find(|c| {
            c.state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .is_some_and(|t| t.exit_code != 0)
        })?;
    let tail = ctx.pod_log_tail(pod.name_any(), &container.name, false, LOG_LINES)?;
    let line = pod_deathcause::pick(&tail.lines).map(|c| c.line.text);
    Some((tail, line))
}

fn is_failed(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
}

/// The Job's failed pods, oldest first (the last is the latest attempt).
fn failed_pods<'a>(ctx: &'a NamespaceCtx<'_>, job: &Job) -> Vec<&'a Pod> {
    let mut pods: Vec<&Pod> = ctx
        .ns
        .pods
        .iter()
        .filter(|p| owned_by(p, job) && is_failed(p))
        .collect();
    pods.sort_by_key(|p| {
        (
            p.metadata.creation_timestamp.clone(),
            p.metadata.name.clone(),
        )
    });
    pods
}

/// How many pods failed against the limit the controller enforced.
fn limit_text(job: &Job, reason: &str) -> String {
    let spec = job.spec.as_ref();
    let failed_pods = match job.status.as_ref().and_then(|s| s.failed).unwrap_or(0) {
        1 => "1 pod failed".to_string(),
        n => format!("{n} pods failed"),
    };
    match reason {
        // The API server defaults backoffLimit to 6.
        "BackoffLimitExceeded" => format!(
            "{failed_pods}, backoffLimit is {}",
            spec.and_then(|s| s.backoff_limit).unwrap_or(6)
        ),
        "DeadlineExceeded" => match spec.and_then(|s| s.active_deadline_seconds) {
            Some(d) => format!("activeDeadlineSeconds is {d}; {failed_pods}"),
            None => failed_pods,
        },
        _ => failed_pods,
    }
}

/// `; failed pods: <name>: <exit codes>; …` (at most [`NAMED_PODS`]).
fn pods_text(pods: &[&Pod]) -> String {
    let named: Vec<String> = pods
        .iter()
        .take(NAMED_PODS)
        .map(|p| {
            let codes = exit_codes(p);
            if codes.is_empty() {
                format!("{} (no container exit code recorded)", p.name_any())
            } else {
                format!("{}: {}", p.name_any(), codes.join(", "))
            }
        })
        .collect();
    match (named.is_empty(), pods.len() > NAMED_PODS) {
        (true, _) => "; none of its failed pods is left in the bundle".to_string(),
        (false, false) => format!("; failed pods: {}", named.join("; ")),
        (false, true) => format!(
            "; failed pods: {} and {} more",
            named.join("; "),
            pods.len() - NAMED_PODS
        ),
    }
}

fn failed(ctx: &NamespaceCtx<'_>, job: &Job) -> Option<Finding> {
    let cond = failed_condition(job)?;
    let name = job.name_any();
    let object = ObjectRef::namespaced("Job", ctx.namespace(), name);
    let reason = cond.reason.as_deref().unwrap_or("Failed");
    let pods = failed_pods(ctx, job);
    let log = pods.last().and_then(|p| last_words(ctx, p));
    let said = log
        .as_ref()
        .and_then(|(_, line)| line.as_deref())
        .map(|l| format!("; the last failed pod's log says: {}", clip(l)))
        .unwrap_or_default();
    let cause = format!(
        "the job controller stopped the Job: {reason} ({}){}{said}",
        limit_text(job, reason),
        pods_text(&pods)
    );
    let mut b = ctx
        .finding(Rule::JobFailed, object.clone())
        .symptom(format!("Failed: {reason}"))
        .cause(cause)
        .field(&object, "status.conditions[Failed].reason", reason)
        .next_command(
            "See the Job's conditions, events and pod statuses",
            Kubectl::new()
                .namespace(ctx.namespace())
                .args(["describe", "job"])
                .name(name)
                .build(),
        );
    if let Some(message) = cond.message.as_deref().filter(|m| !m.is_empty()) {
        b = b.field(&object, "status.conditions[Failed].message", message);
    }
    if let Some((tail, _)) = log {
        b = b.evidence(tail.to_evidence());
    }
    if let Some(p) = pods.last() {
        b = b.next_command(
            "Read the log of the last failed pod",
            Kubectl::new()
                .namespace(ctx.namespace())
                .args(["logs"])
                .name(p.name_any())
                .build(),
        );
    }
    for p in &pods {
        b = b.related(pod_ref(p));
    }
    Some(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(conditions: serde_json::Value) -> Job {
        serde_json::from_value(
            json!({"metadata": {"name": "ledger-backfill", "namespace": "reports", "uid": "u1"},
            "spec": {"backoffLimit": 3, "template": {"spec": {"containers": []}}},
            "status": {"failed": 4, "conditions": conditions}}),
        )
        .unwrap()
    }

    #[test]
    fn only_a_true_failed_condition_counts() {
        let failed = job(json!([
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}
        ]));
        assert_eq!(
            failed_condition(&failed).and_then(|c| c.reason.as_deref()),
            Some("BackoffLimitExceeded")
        );
        let target_only = job(json!([
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"}
        ]));
        assert!(failed_condition(&target_only).is_none());
        assert!(failed_condition(&job(json!([{"type": "Complete", "status": "True"}]))).is_none());
    }

    #[test]
    fn exit_codes_name_the_containers_that_failed() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "ledger-backfill", "uid": "u1", "controller": true}]},
            "status": {"phase": "Failed", "containerStatuses": [
                {"name": "backfill", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                 "state": {"terminated": {"exitCode": 2, "reason": "Error"}}},
                {"name": "sidecar", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}))
        .unwrap();
        assert_eq!(exit_codes(&pod), ["backfill exit code 2 (Error)"]);
        assert!(owned_by(&pod, &job(json!([]))));
    }
}
