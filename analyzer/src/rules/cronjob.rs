//! The CronJob schedule layer: `cronjob-no-recent-success`, a CronJob
//! whose schedule came round several times since its last success, and
//! `cronjob-missed-starts`, the CronJob controller saying it missed start
//! times. The last run's own failure is `cronjob-failing` (jobs.rs); this
//! layer stays silent then, so one cause is one finding.
//!
//! The schedule is read as kube-controller-manager reads it
//! ([`kpm_semantics::cron`], robfig/cron v3). Fire times are counted in
//! UTC: without a time-zone database, a `spec.timeZone` (or `CRON_TZ=`)
//! other than UTC costs one fire time of margin, which a fixed offset
//! cannot exceed over a window. "Several times" is at least
//! [`MIN_MISSED`] fire times and longer than [`MIN_MISSED`] of the
//! schedule's longest gaps (a weekday job's weekend, say) and an hour, so
//! a run that is simply slower than its interval is not a finding.
//!
//! The controller (`pkg/controller/cronjob/cronjob_controllerv2.go`,
//! `utils.go`) records `TooManyMissedTimes` (`too many missed start times.
//! Set or decrease .spec.startingDeadlineSeconds or check clock skew`) when
//! more than 100 start times passed since `status.lastScheduleTime`, and
//! `MissSchedule` (`Missed scheduled time to start a job: <RFC1123Z>`) when
//! a run could not start within `startingDeadlineSeconds`; with
//! `concurrencyPolicy: Forbid` it skips every run while a Job is active
//! (`JobAlreadyActive`). The missed-start finding is linked as the cause
//! of the no-success one through the registry's `CronjobNotStarting` link.

use chrono::{DateTime, Duration, Utc};
use k8s_openapi::api::batch::v1::CronJob;
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::cron;
use kpm_semantics::duration::human_duration;
use kpm_semantics::time::to_chrono;
use kpm_semantics::ObjectExt;

use crate::command::Kubectl;
use crate::context::{FindingBuilder, NamespaceCtx};
use crate::engine::index::EventView;
use crate::rules::jobs::{failed_condition, scheduled_job_name};
use crate::rules::registry::Rule;

/// Fire times that must have passed since the last success.
pub const MIN_MISSED: usize = 3;
/// Fire times counted at most (and looked at for the longest gap).
const COUNT_CAP: usize = 5_000;
/// The controller's event reasons for start times it missed.
const MISSED_REASONS: &[&str] = &["TooManyMissedTimes", "MissSchedule"];

/// Every `cronjob-no-recent-success` and `cronjob-missed-starts` finding
/// of the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for cj in &ctx.ns.cron_jobs {
        if cj.spec.as_ref().and_then(|s| s.suspend) == Some(true) {
            continue;
        }
        out.extend(missed_starts(ctx, cj));
        out.extend(no_recent_success(ctx, cj));
    }
    out
}

fn time(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<DateTime<Utc>> {
    t.and_then(to_chrono)
}

fn last_success(cj: &CronJob) -> Option<DateTime<Utc>> {
    time(cj.status.as_ref()?.last_successful_time.as_ref())
}

/// Whether the zone the schedule is read in is UTC (unset means the
/// controller's own zone, UTC on every managed control plane).
fn utc_zone(cj: &CronJob, schedule: &cron::Schedule) -> bool {
    let zone = cj
        .spec
        .as_ref()
        .and_then(|s| s.time_zone.as_deref())
        .or(schedule.zone());
    zone.is_none_or(|z| matches!(z, "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Etc/UCT" | "UCT"))
}

fn missed_starts(ctx: &NamespaceCtx<'_>, cj: &CronJob) -> Option<Finding> {
    let name = cj.name_any();
    let events: Vec<EventView> = ctx
        .events_for("CronJob", name)
        .into_iter()
        .filter(|e| e.event_type == "Warning" && MISSED_REASONS.contains(&e.reason.as_str()))
        .collect();
    let last = events.iter().max_by_key(|e| e.last_seen)?;
    // A success after the last complaint: the controller caught up.
    if let (Some(ok), Some(seen)) = (last_success(cj), last.last_seen) {
        if ok > seen {
            return None;
        }
    }
    let object = ObjectRef::namespaced("CronJob", ctx.namespace(), name);
    let status = cj.status.as_ref();
    let scheduled = time(status.and_then(|s| s.last_schedule_time.as_ref()));
    let deadline = cj.spec.as_ref().and_then(|s| s.starting_deadline_seconds);
    let why = match last.reason.as_str() {
        "TooManyMissedTimes" => format!(
            "more than 100 start times of schedule {} passed since status.lastScheduleTime{}{}",
            schedule_text(cj),
            scheduled.map_or_else(String::new, |t| format!(
                " ({} before collection)",
                human_duration(ctx.now - t)
            )),
            match deadline {
                Some(d) => format!("; startingDeadlineSeconds is {d}"),
                None => "; startingDeadlineSeconds is not set, so the controller counts every start time since then".to_string(),
            }
        ),
        _ => match deadline {
            Some(d) => format!("a run could not start within startingDeadlineSeconds ({d})"),
            None => "a run could not start in time".to_string(),
        },
    };
    let ago = last
        .last_seen
        .map(|t| format!(", last {} before collection", human_duration(ctx.now - t)))
        .unwrap_or_default();
    let mut b = ctx
        .finding(Rule::CronjobMissedStarts, object.clone())
        .symptom(last.reason.clone())
        .cause(format!(
            "the CronJob controller missed start times: {why}; it reported {}: {} ({}x{ago})",
            last.reason, last.message, last.count
        ))
        .evidence_all(events.iter().map(EventView::to_evidence))
        .field(&object, "spec.schedule", schedule_text(cj));
    if let Some(t) = scheduled {
        b = b.field(&object, "status.lastScheduleTime", t.to_rfc3339());
    }
    Some(describe_cronjob(ctx, b, name).build())
}

/// Both CronJob findings end with `kubectl describe cronjob`.
fn describe_cronjob(ctx: &NamespaceCtx<'_>, b: FindingBuilder, name: &str) -> FindingBuilder {
    b.next_command(
        "See the CronJob's status, active Jobs and events",
        Kubectl::new()
            .namespace(ctx.namespace())
            .args(["describe", "cronjob"])
            .name(name)
            .build(),
    )
}

fn schedule_text(cj: &CronJob) -> &str {
    cj.spec.as_ref().map_or("", |s| s.schedule.as_str())
}

/// Whether `cronjob-failing` speaks for this CronJob: the Job of its last
/// schedule failed and nothing succeeded since.
fn last_run_failed(ctx: &NamespaceCtx<'_>, cj: &CronJob) -> bool {
    let Some(scheduled) = time(
        cj.status
            .as_ref()
            .and_then(|s| s.last_schedule_time.as_ref()),
    ) else {
        return false;
    };
    let job = scheduled_job_name(cj.name_any(), scheduled);
    ctx.ns
        .jobs
        .iter()
        .any(|j| j.name_any() == job && failed_condition(j).is_some())
}

/// The active Jobs of the CronJob (`status.active`), by name.
fn active_jobs(cj: &CronJob) -> Vec<String> {
    cj.status
        .as_ref()
        .and_then(|s| s.active.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|r| r.name.clone())
        .collect()
}

#[allow(clippy::too_many_lines)] // TODO(structure): split
fn no_recent_success(ctx: &NamespaceCtx<'_>, cj: &CronJob) -> Option<Finding> {
    let schedule = cron::parse(schedule_text(cj)).ok()?;
    let status = cj.status.as_ref()?;
    let scheduled = time(status.last_schedule_time.as_ref())?;
    let success = last_success(cj);
    let since = success.or_else(|| time(cj.metadata.creation_timestamp.as_ref()))?;
    if last_run_failed(ctx, cj) {
        return None;
    }
    let margin = usize::from(!utc_zone(cj, &schedule));
    let due = schedule.count_between(since.naive_utc(), ctx.now.naive_utc(), COUNT_CAP);
    let gap = schedule.longest_gap(since.naive_utc(), COUNT_CAP)?;
    let window = (gap * MIN_MISSED as i32).max(Duration::hours(1))
        + Duration::hours(i64::try_from(margin).unwrap_or(0));
    if due < MIN_MISSED + margin || ctx.now - since <= window {
        return None;
    }
    let name = cj.name_any();
    let object = ObjectRef::namespaced("CronJob", ctx.namespace(), name);
    let ago = |t: DateTime<Utc>| human_duration(ctx.now - t);
    let runs = if due >= COUNT_CAP {
        format!("more than {COUNT_CAP}")
    } else {
        due.to_string()
    };
    let last_ok = match success {
        Some(s) => format!(
            "its last successful run finished {} before collection",
            ago(s)
        ),
        None => format!(
            "no run has succeeded since it was created {} before collection",
            ago(since)
        ),
    };
    let active = active_jobs(cj);
    let forbid = cj
        .spec
        .as_ref()
        .and_then(|s| s.concurrency_policy.as_deref())
        == Some("Forbid");
    let started = if scheduled > since {
        format!(
            "the last run was scheduled {} before collection",
            ago(scheduled)
        )
    } else {
        "the controller has started no run since".to_string()
    };
    let blocking = match (active.first(), forbid) {
        (Some(job), true) => format!(
            "; Job {job} is still active and concurrencyPolicy is Forbid, so the controller skips every run while it runs"
        ),
        (Some(job), false) => format!("; Job {job} is still active"),
        (None, _) => String::new(),
    };
    let mut b = ctx
        .finding(Rule::CronjobNoRecentSuccess, object.clone())
        .symptom(format!("no success in {runs} scheduled runs"))
        .cause(format!(
            "{last_ok}, and schedule {} came round {runs} times since; {started}{blocking}",
            schedule_text(cj)
        ))
        .field(&object, "spec.schedule", schedule_text(cj))
        .field(&object, "status.lastScheduleTime", scheduled.to_rfc3339())
        .field(
            &object,
            "status.lastSuccessfulTime",
            success.map_or_else(|| "<none>".to_string(), |s| s.to_rfc3339()),
        );
    if let Some(z) = cj.spec.as_ref().and_then(|s| s.time_zone.as_deref()) {
        b = b.field(&object, "spec.timeZone", z);
    }
    if !active.is_empty() {
        b = b.field(&object, "status.active", active.join(", "));
    }
    for job in &active {
        b = b.related(ObjectRef::namespaced("Job", ctx.namespace(), job));
    }
    if let Some(job) = active.first() {
        b = b.next_command(
            "See what the active Job is doing",
            Kubectl::new()
                .namespace(ctx.namespace())
                .args(["describe", "job"])
                .name(job)
                .build(),
        );
    }
    Some(describe_cronjob(ctx, b, name).build())
}

#[cfg(test)]
mod tests;
