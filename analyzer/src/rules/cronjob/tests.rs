use super::*;
use crate::testkit::{now, obj, Fixture};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Event;
use serde_json::{json, Value};

fn ago(secs: i64) -> String {
    (now() - Duration::seconds(secs)).to_rfc3339()
}

fn cron_job(schedule: &str, extra_spec: Value, status: Value) -> CronJob {
    let mut spec = json!({"schedule": schedule, "concurrencyPolicy": "Forbid",
        "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra_spec.as_object()) {
        s.extend(e.clone());
    }
    obj(json!({
        "metadata": {"name": "compactor", "namespace": "reports", "creationTimestamp": ago(86_400 * 60)},
        "spec": spec,
        "status": status
    }))
}

fn missed_event(reason: &str, message: &str, last_ago: i64) -> Event {
    obj(json!({
        "metadata": {"name": "compactor.1", "namespace": "reports"},
        "involvedObject": {"kind": "CronJob", "namespace": "reports", "name": "compactor", "apiVersion": "batch/v1"},
        "type": "Warning", "reason": reason, "message": message, "count": 7,
        "firstTimestamp": ago(last_ago + 3000), "lastTimestamp": ago(last_ago),
        "source": {"component": "cronjob-controller"}
    }))
}

fn run_with(cj: CronJob, events: Vec<Event>, jobs: Vec<Job>) -> Vec<Finding> {
    let mut f = Fixture::new("reports");
    f.ns.cron_jobs = vec![cj];
    f.ns.events = events;
    f.ns.jobs = jobs;
    run(&f.ctx())
}

const TOO_MANY: &str = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew";

#[test]
fn a_hung_run_under_forbid_is_named_with_the_missed_start_events() {
    let cj = cron_job(
        "*/10 * * * *",
        json!({}),
        json!({"lastScheduleTime": ago(72_000), "lastSuccessfulTime": ago(72_550),
            "active": [{"kind": "Job", "namespace": "reports", "name": "compactor-29918550"}]}),
    );
    let out = run_with(
        cj,
        vec![missed_event("TooManyMissedTimes", TOO_MANY, 60)],
        vec![],
    );
    let rules: Vec<&str> = out.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        rules,
        vec![
            Rule::CronjobMissedStarts.id(),
            Rule::CronjobNoRecentSuccess.id()
        ]
    );
    assert!(out[0].cause.contains(TOO_MANY), "{}", out[0].cause);
    assert!(out[0].cause.contains("startingDeadlineSeconds is not set"));
    let no = &out[1];
    assert!(no.cause.contains("came round 121 times"), "{}", no.cause);
    assert!(
        no.cause
            .contains("Job compactor-29918550 is still active and concurrencyPolicy is Forbid"),
        "{}",
        no.cause
    );
    assert_eq!(
        no.related,
        vec![ObjectRef::namespaced(
            "Job",
            "reports",
            "compactor-29918550"
        )]
    );
}

#[test]
fn a_weekly_job_that_succeeded_three_days_ago_is_silent() {
    let cj = cron_job(
        "0 3 * * 0",
        json!({}),
        json!({"lastScheduleTime": ago(86_400 * 3), "lastSuccessfulTime": ago(86_400 * 3 - 600)}),
    );
    assert!(run_with(cj, vec![], vec![]).is_empty());
}

#[test]
fn a_job_slower_than_its_interval_is_not_a_missed_window() {
    // Every 5 minutes, the last success 17 minutes ago: 3 fire times, but
    // not longer than 3 gaps and an hour.
    let cj = cron_job(
        "*/5 * * * *",
        json!({}),
        json!({"lastScheduleTime": ago(300), "lastSuccessfulTime": ago(1_020)}),
    );
    assert!(run_with(cj, vec![], vec![]).is_empty());
}

#[test]
fn a_time_zone_costs_one_fire_time_of_margin() {
    // Daily at 02:00; last success 3 days and 2 hours ago: 3 fire times in
    // UTC, enough in UTC, not with an unknown offset.
    let status =
        json!({"lastScheduleTime": ago(86_400), "lastSuccessfulTime": ago(86_400 * 3 + 7_200)});
    let utc = cron_job("0 2 * * *", json!({}), status.clone());
    let berlin = cron_job("0 2 * * *", json!({"timeZone": "Europe/Berlin"}), status);
    let fired = run_with(utc, vec![], vec![]);
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert!(fired[0].cause.contains("came round 3 times"));
    assert!(run_with(berlin, vec![], vec![]).is_empty());
}

#[test]
fn a_failed_last_run_is_left_to_cronjob_failing() {
    let scheduled = now() - Duration::seconds(86_400);
    let job_name = scheduled_job_name("compactor", scheduled);
    let cj = cron_job(
        "0 * * * *",
        json!({}),
        json!({"lastScheduleTime": scheduled.to_rfc3339(), "lastSuccessfulTime": ago(86_400 * 4)}),
    );
    let job: Job = obj(
        json!({"metadata": {"name": job_name, "namespace": "reports"},
        "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}}),
    );
    assert!(run_with(cj, vec![], vec![job]).is_empty());
}

#[test]
fn missed_starts_followed_by_a_success_or_a_suspended_job_are_history() {
    let recovered = cron_job(
        "0 * * * *",
        json!({}),
        json!({"lastScheduleTime": ago(600), "lastSuccessfulTime": ago(500)}),
    );
    let miss = "Missed scheduled time to start a job: Fri, 20 Nov 2026 13:00:00 +0000";
    assert!(run_with(
        recovered,
        vec![missed_event("MissSchedule", miss, 3_000)],
        vec![]
    )
    .is_empty());
    let suspended = cron_job(
        "*/10 * * * *",
        json!({"suspend": true}),
        json!({"lastScheduleTime": ago(72_000)}),
    );
    assert!(run_with(
        suspended,
        vec![missed_event("TooManyMissedTimes", TOO_MANY, 60)],
        vec![]
    )
    .is_empty());
}

#[test]
fn a_miss_schedule_event_names_the_deadline() {
    let cj = cron_job(
        "0 * * * *",
        json!({"startingDeadlineSeconds": 30}),
        json!({"lastScheduleTime": ago(3_600), "lastSuccessfulTime": ago(3_500)}),
    );
    let miss = "Missed scheduled time to start a job: Fri, 20 Nov 2026 14:00:00 +0000";
    let out = run_with(cj, vec![missed_event("MissSchedule", miss, 100)], vec![]);
    assert_eq!(out.len(), 1);
    assert!(out[0].cause.contains("startingDeadlineSeconds (30)"));
    assert!(out[0].cause.contains(miss));
}
