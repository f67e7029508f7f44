//! The Job layer: `job-failed`, a Job the job controller gave up on;
//! `cronjob-failing`, a CronJob whose last scheduled run failed and has not
//! succeeded since; `cronjob-suspended`.
//!
//! The job controller (`pkg/controller/job/job_controller.go`) marks a Job
//! it stops retrying with the condition `Failed=True` (since v1.31 after a
//! `FailureTarget` condition with the same reason) and a Warning Event of
//! the same reason: `BackoffLimitExceeded` / `Job has reached the specified
//! backoff limit` when more pods failed than `spec.backoffLimit` allows,
//! `DeadlineExceeded` / `Job was active longer than specified deadline`
//! when it ran past `spec.activeDeadlineSeconds` (its running pods are
//! then deleted). A CronJob's failed run followed by a run that succeeded
//! or is still running is history, not a finding. The finding names the Job's failed pods and their
//! containers' exit codes, so the incident starts from what the workload
//! did; the pods' own findings (a crash with its log line) are linked as
//! its cause through the registry's `PodNotServing` link.
//!
//! The CronJob controller (`pkg/controller/cronjob/cronjob_controllerv2.go`)
//! names the Job of a scheduled time `<cronjob>-<scheduled Unix time in
//! minutes>`, records `status.lastScheduleTime` when it creates it and
//! `status.lastSuccessfulTime` when a Job of it completes. So the Job of
//! the last schedule is known exactly: when it failed and nothing succeeded
//! after, the CronJob is failing, and that Job's `job-failed` finding is
//! its cause (`JobFailing` link). A run still active, or a failure followed
//! by a success, is not a finding.

use k8s_openapi::api::batch::v1::{CronJob, Job, JobCondition};
use k8s_openapi::api::core::v1::Pod;
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::ObjectExt;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kpm_semantics::time::to_chrono;

use crate::command::Kubectl;
use crate::context::{pod_ref, LogTail, NamespaceCtx};
use crate::rules::pod_death::clip;
use crate::rules::pod_deathcause;
use crate::rules::registry::Rule;

/// At most this many failed pods are named in the cause.
const NAMED_PODS: usize = 3;
/// Lines of the last failed pod's log read for the line that explains it.
const LOG_LINES: usize = 40;

/// Every `job-failed`, `cronjob-failing` and `cronjob-suspended` finding of
/// the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out: Vec<Finding> = ctx
        .ns
        .jobs
        .iter()
        .filter_map(|job| failed(ctx, job))
        .collect();
    for cj in &ctx.ns.cron_jobs {
        out.extend(cronjob_suspended(ctx, cj));
        out.extend(cronjob_failing(ctx, cj));
    }
    out
}

/// The name the CronJob controller gives the Job of `scheduled`
/// (`getJobName`: the scheduled time in minutes since the epoch).
pub fn scheduled_job_name(cron_job: &str, scheduled: DateTime<Utc>) -> String {
    format!("{cron_job}-{}", scheduled.timestamp().div_euclid(60))
}

fn status_time(t: Option<&Time>) -> Option<DateTime<Utc>> {
    t.and_then(to_chrono)
}

fn cronjob_suspended(ctx: &NamespaceCtx<'_>, cj: &CronJob) -> Option<Finding> {
    if cj.spec.as_ref()?.suspend != Some(true) {
        return None;
    }
    let name = cj.name_any();
    let object = ObjectRef::namespaced("CronJob", ctx.namespace(), name);
    let last = status_time(
        cj.status
            .as_ref()
            .and_then(|s| s.last_schedule_time.as_ref()),
    );
    let since = match last {
        Some(t) => format!(
            "; its last run was scheduled {} before collection",
            kpm_semantics::duration::human_duration(ctx.now - t)
        ),
        None => "; it has never been scheduled".to_string(),
    };
    Some(
        ctx.finding(Rule::CronjobSuspended, object.clone())
            .symptom("Suspended")
            .cause(format!(
                "spec.suspend is true: the CronJob controller creates no Job for schedule {}{since}",
                cj.spec.as_ref().map_or("", |s| s.schedule.as_str())
            ))
            .field(&object, "spec.suspend", "true")
            .next_command(
                "Resume it when the pause is over",
                Kubectl::new()
                    .namespace(ctx.namespace())
                    .args(["patch", "cronjob"])
                    .name(name)
                    .args(["-p", r#"{"spec":{"suspend":false}}"#])
                    .build(),
            )
            .build(),
    )
}

fn cronjob_failing(ctx: &NamespaceCtx<'_>, cj: &CronJob) -> Option<Finding> {
    let status = cj.status.as_ref()?;
    let scheduled = status_time(status.last_schedule_time.as_ref())?;
    let success = status_time(status.last_successful_time.as_ref());
    if success.is_some_and(|s| s >= scheduled) {
        return None;
    }
    let name = cj.name_any();
    let job_name = scheduled_job_name(name, scheduled);
    let job = ctx.ns.jobs.iter().find(|j| j.name_any() == job_name)?;
    let cond = failed_condition(job)?;
    let object = ObjectRef::namespaced("CronJob", ctx.namespace(), name);
    let reason = cond.reason.as_deref().unwrap_or("Failed");
    let ago = |t: DateTime<Utc>| kpm_semantics::duration::human_duration(ctx.now - t);
    let last_ok = match success {
        Some(s) => format!(
            "the last successful run finished {} before collection",
            ago(s)
        ),
        None => "no run of it has succeeded".to_string(),
    };
    let job_ref = ObjectRef::namespaced("Job", ctx.namespace(), &job_name);
    Some(
        ctx.finding(Rule::CronjobFailing, object.clone())
            .symptom(format!("last run failed ({reason})"))
            .cause(format!(
                "the Job of its last schedule ({} before collection), {job_name}, failed with {reason}; {last_ok}",
                ago(scheduled)
            ))
            .field(&object, "status.lastScheduleTime", scheduled.to_rfc3339())
            .field(
                &object,
                "status.lastSuccessfulTime",
                success.map_or_else(|| "<none>".to_string(), |s| s.to_rfc3339()),
            )
            .related(job_ref)
            .next_command(
                "See the failed Job",
                Kubectl::new()
                    .namespace(ctx.namespace())
                    .args(["describe", "job"])
                    .name(&job_name)
                    .build(),
            )
            .build(),
    )
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

/// The CronJob controlling `job`, by name.
fn cron_owner(job: &Job) -> Option<&str> {
    job.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "CronJob" && o.controller == Some(true))
        .map(|o| o.name.as_str())
}

/// Whether a later run of the same CronJob has not failed (it succeeded or
/// is still running): the failed run is then history, and the CronJob's
/// state is `cronjob-failing`'s to judge.
fn superseded(ctx: &NamespaceCtx<'_>, job: &Job) -> bool {
    let Some(owner) = cron_owner(job) else {
        return false;
    };
    let created = job.metadata.creation_timestamp.as_ref();
    ctx.ns.jobs.iter().any(|other| {
        cron_owner(other) == Some(owner)
            && other.metadata.creation_timestamp.as_ref() > created
            && failed_condition(other).is_none()
    })
}

fn failed(ctx: &NamespaceCtx<'_>, job: &Job) -> Option<Finding> {
    let cond = failed_condition(job)?;
    if superseded(ctx, job) {
        return None;
    }
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
    fn scheduled_job_names_count_minutes_since_the_epoch() {
        let t = DateTime::parse_from_rfc3339("2026-11-20T14:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            scheduled_job_name("invoice-sync", t),
            "invoice-sync-29919750"
        );
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
