//! The batch work of a generated cluster: half of the namespaces run a
//! `cleanup` CronJob every 30 minutes whose last three runs succeeded.
//!
//! As the controllers leave them (`pkg/controller/cronjob`, `pkg/controller/job`,
//! v1.33): `successfulJobsHistoryLimit: 3` keeps three finished Jobs, each
//! with its `Succeeded` pod (`restartPolicy: Never`, the container
//! terminated `Completed` with exit code 0); the CronJob's
//! `lastScheduleTime` is the latest schedule slot and `lastSuccessfulTime`
//! when that run completed. Events live an hour, so only the runs of the
//! last hour still have theirs: `SuccessfulCreate` "Created job …",
//! `SawCompletedJob`, `SuccessfulDelete` for the run that fell out of the
//! history, and the Job's `SuccessfulCreate` "Created pod: …" and
//! `Completed` "Job completed".

use chrono::{Duration, Timelike};
use serde_json::{json, Value};

use crate::builders::event::{self, Source};
use crate::builders::pod::{self, ContainerState, Placement, PodFate, Terminated};
use crate::builders::{meta, workload};
use crate::ids;
use crate::scale::Fleet;

/// The CronJob's name in every namespace that has one.
const NAME: &str = "cleanup";

/// Its schedule: every 30 minutes.
const SCHEDULE: &str = "*/30 * * * *";

/// Minutes between runs (the schedule's step).
const EVERY_MINUTES: i64 = 30;

/// Finished Jobs kept (`successfulJobsHistoryLimit`).
const HISTORY: i64 = 3;

/// How long each run takes, in seconds.
const RUN_SECS: i64 = 40;

/// Whether namespace `ns` runs the CronJob (half of them, by name).
pub fn has_cronjob(ns: &str) -> bool {
    ids::hash(&format!("cron/{ns}")).is_multiple_of(2)
}

/// Pods the batch work adds to namespace `ns` (one per kept Job).
pub fn pods_in(ns: &str) -> u64 {
    if has_cronjob(ns) {
        HISTORY as u64
    } else {
        0
    }
}

/// Seconds before the anchor of the latest schedule slot at least a run's
/// length before collection started (so that run has finished).
fn latest_slot_ago() -> i64 {
    let started = ids::collection_started() - Duration::seconds(RUN_SECS + 5);
    let minute = i64::from(started.minute());
    let into_slot = (minute % EVERY_MINUTES) * 60 + i64::from(started.second());
    let slot = started - Duration::seconds(into_slot);
    (ids::anchor() - slot).num_seconds()
}

/// The container of the cleanup Job: no ports or probes, as Jobs have.
fn job_spec(ns: &str) -> Value {
    let image = format!("ghcr.io/acme-platform/cleanup:{}", 1 + ids::hash(ns) % 3);
    json!({"containers": [{
        "name": NAME,
        "image": image,
        "command": ["/cleanup", "--older-than=24h"],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    }], "restartPolicy": "Never"})
}

/// The CronJob, its status pointing at the latest run.
fn cron_job(ns: &str) -> Value {
    let created_ago = 86_400 * (30 + (ids::hash(ns) % 200) as i64);
    let mut cj = meta::object("batch/v1", "CronJob", Some(ns), NAME, created_ago);
    meta::meta_mut(&mut cj).insert("generation".into(), json!(1));
    cj["spec"] = json!({
        "schedule": SCHEDULE,
        "concurrencyPolicy": "Forbid",
        "suspend": false,
        "successfulJobsHistoryLimit": HISTORY,
        "failedJobsHistoryLimit": 1,
        "jobTemplate": {"metadata": {}, "spec": {"backoffLimit": 6, "template": {"metadata": {}, "spec": job_spec(ns)}}},
    });
    let last = latest_slot_ago();
    cj["status"] = json!({
        "lastScheduleTime": ids::ago(last),
        "lastSuccessfulTime": ids::ago(last - RUN_SECS),
    });
    cj
}

/// The name the CronJob controller gives the Job of the run scheduled
/// `scheduled_ago` seconds before the anchor: `<cronjob>-<minutes since
/// the epoch>`.
fn job_name(scheduled_ago: i64) -> String {
    let scheduled = ids::anchor() - Duration::seconds(scheduled_ago);
    format!("{NAME}-{}", scheduled.timestamp().div_euclid(60))
}

/// The Job of the run `k` slots before the latest, and its pod.
fn run(ns: &str, cj: &Value, k: i64, fleet: &Fleet) -> (Value, Value) {
    let scheduled_ago = latest_slot_ago() + k * EVERY_MINUTES * 60;
    let name = job_name(scheduled_ago);
    let spec = job_spec(ns);
    let mut job = workload::job(ns, &name, scheduled_ago, &spec, scheduled_ago - RUN_SECS);
    meta::add_annotations(
        &mut job,
        &[(
            "batch.kubernetes.io/cronjob-scheduled-timestamp",
            &ids::ago(scheduled_ago),
        )],
    );
    meta::set_owner(&mut job, cj);
    let key = format!("job/{ns}/{name}");
    let h = ids::hash(&key);
    let node = fleet.id(h % fleet.count().max(1));
    let placement = Placement {
        node: node.name,
        host_ip: node.ip,
        pod_ip: format!("100.127.{}.{}", (h >> 8) % 256, h % 256),
        scheduled_ago: scheduled_ago - 1,
    };
    let done = Terminated::new("Completed", 0, scheduled_ago - 3, scheduled_ago - RUN_SECS);
    let pod_name = format!("{name}-{}", ids::suffix(&key, 5));
    let mut p = pod::pod(
        ns,
        &pod_name,
        scheduled_ago - 1,
        &job["spec"]["template"]["spec"],
        &PodFate::Placed(placement),
        &[ContainerState::Done(done)],
    );
    meta::set_generate_name(&mut p, &format!("{name}-"));
    p["metadata"]["labels"] = job["spec"]["template"]["metadata"]["labels"].clone();
    meta::set_owner(&mut p, &job);
    (job, p)
}

/// The kept runs, newest first.
fn runs(ns: &str, fleet: &Fleet) -> Vec<(Value, Value)> {
    let cj = cron_job(ns);
    (0..HISTORY).map(|k| run(ns, &cj, k, fleet)).collect()
}

/// A Normal event on `obj`, seen once `ago` seconds before the anchor.
fn normal(
    ns: &str,
    obj: &Value,
    field: Option<&str>,
    reason: &str,
    msg: &str,
    src: &Source,
    ago: i64,
) -> Value {
    event::event(ns, obj, field, "Normal", reason, msg, src, 1, ago, ago)
}

/// The CronJob and Job controllers' events when the run scheduled `at`
/// seconds before the anchor started.
fn started_events(ns: &str, cj: &Value, job: &Value, pod_name: &str, at: i64) -> Vec<Value> {
    let job_name = meta::name_of(job);
    vec![
        normal(
            ns,
            cj,
            None,
            "SuccessfulCreate",
            &format!("Created job {job_name}"),
            &Source::controller("cronjob-controller"),
            at,
        ),
        normal(
            ns,
            job,
            None,
            "SuccessfulCreate",
            &format!("Created pod: {pod_name}"),
            &Source::controller("job-controller"),
            at - 1,
        ),
    ]
}

/// The Job and CronJob controllers' events when that run completed.
fn completed_events(ns: &str, cj: &Value, job: &Value, at: i64) -> Vec<Value> {
    let cron = Source::controller("cronjob-controller");
    let done = at - RUN_SECS;
    // The run that fell out of the history when this one completed.
    let dropped = job_name(at + HISTORY * EVERY_MINUTES * 60);
    let job_name = meta::name_of(job);
    vec![
        normal(
            ns,
            job,
            None,
            "Completed",
            "Job completed",
            &Source::controller("job-controller"),
            done,
        ),
        normal(
            ns,
            cj,
            None,
            "SawCompletedJob",
            &format!("Saw completed job: {job_name}, condition: Complete"),
            &cron,
            done,
        ),
        normal(
            ns,
            cj,
            None,
            "SuccessfulDelete",
            &format!("Deleted job {dropped}"),
            &cron,
            done,
        ),
    ]
}

/// The kubelet's events of a run's pod started `at` seconds before the
/// anchor.
fn kubelet_events(ns: &str, p: &Value, at: i64) -> Vec<Value> {
    let kubelet = Source::kubelet(p["spec"]["nodeName"].as_str().unwrap_or_default());
    let field = format!("spec.containers{{{NAME}}}");
    let image = p["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default();
    let pulled = format!("Container image \"{image}\" already present on machine");
    vec![
        normal(ns, p, Some(&field), "Pulled", &pulled, &kubelet, at - 2),
        normal(
            ns,
            p,
            Some(&field),
            "Created",
            &format!("Created container: {NAME}"),
            &kubelet,
            at - 2,
        ),
        normal(
            ns,
            p,
            Some(&field),
            "Started",
            &format!("Started container {NAME}"),
            &kubelet,
            at - 3,
        ),
    ]
}

/// The events of the runs of the last hour.
fn events(ns: &str, fleet: &Fleet) -> Vec<Value> {
    let cj = cron_job(ns);
    let mut out = Vec::new();
    for (k, (job, p)) in runs(ns, fleet).iter().enumerate() {
        let at = latest_slot_ago() + k as i64 * EVERY_MINUTES * 60;
        // `at` counts from the anchor; events expire an hour after they
        // were last seen, counted from this bundle's collection.
        if at + ids::later() > 3_600 {
            break;
        }
        out.extend(started_events(ns, &cj, job, meta::name_of(p), at));
        out.extend(kubelet_events(ns, p, at));
        out.extend(completed_events(ns, &cj, job, at));
    }
    out
}

/// The batch objects of one kind (plural) in namespace `ns`.
pub fn objects(plural: &str, ns: &str, fleet: &Fleet) -> Vec<Value> {
    if !has_cronjob(ns) {
        return Vec::new();
    }
    match plural {
        "cronjobs" => vec![cron_job(ns)],
        "jobs" => runs(ns, fleet).into_iter().map(|(j, _)| j).collect(),
        "pods" => runs(ns, fleet).into_iter().map(|(_, p)| p).collect(),
        "events" => events(ns, fleet),
        _ => Vec::new(),
    }
}
