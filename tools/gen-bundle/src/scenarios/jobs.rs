//! Jobs the job controller gave up on, and a Job that failed twice and
//! then succeeded.
//!
//! Shapes from the job controller (`pkg/controller/job/job_controller.go`,
//! v1.33): a Job past its `backoffLimit` gets `FailureTarget` then
//! `Failed` conditions, both `BackoffLimitExceeded` / `Job has reached the
//! specified backoff limit`, and a Warning Event of that reason; one past
//! `activeDeadlineSeconds` gets `DeadlineExceeded` / `Job was active longer
//! than specified deadline`, and its running pod is deleted. Its failed
//! pods stay (`restartPolicy: Never`), phase `Failed`, the container
//! terminated with its exit code and reason `Error`.

use serde_json::{json, Value};

use super::Scenario;
use crate::app;
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::pod::{self, ContainerState, PodFate, Terminated};
use crate::builders::{meta, workload};
use crate::cluster::Cluster;
use crate::expected::{finding, Finding};
use crate::world::World;

/// The Job scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "job-failures", description: "In reports, the ledger-backfill Job failed 4 times (exit code 2: relation \"ledger_entries\" does not exist) and hit its backoffLimit of 3 (BackoffLimitExceeded); the search-reindex Job ran past its activeDeadlineSeconds of 600 (DeadlineExceeded); the invoice-sync CronJob's 14:30 run failed (exit code 1, the payment API refuses its token) and its last success was at 13:30; quarterly-report is suspended.", build: job_failures },
    Scenario { name: "job-retried", description: "Near miss: the invoice-export Job's first two pods failed (exit code 1, a timeout to the ledger database) and the third succeeded: the Job is Complete with status.failed 2, which is not a failure; the hourly-export CronJob's last run succeeded; cache-warmup's 14:00 run failed but its 14:30 run is still active.", build: job_retried },
];

const BACKOFF_MESSAGE: &str = "Job has reached the specified backoff limit";
const DEADLINE_MESSAGE: &str = "Job was active longer than specified deadline";

/// The container of the reports Jobs: no ports or probes, as Jobs have.
pub(super) fn job_spec(name: &str, image: &str, command: &[&str]) -> Value {
    let mut c = app::container(name, image, 8080);
    if let Some(m) = c.as_object_mut() {
        m.remove("ports");
        m.remove("readinessProbe");
        m.remove("livenessProbe");
    }
    c["command"] = json!(command);
    app::resources(
        &mut c,
        Some("200m"),
        Some("256Mi"),
        Some("1"),
        Some("512Mi"),
    );
    json!({"containers": [c]})
}

/// Turns the completed Job built by [`workload::job`] into one the job
/// controller failed with `reason`.
fn fail_job(job: &mut Value, reason: &str, message: &str, failed: i64, failed_ago: i64) {
    let at = crate::ids::ago(failed_ago);
    job["status"] = json!({
        "startTime": job["status"]["startTime"].clone(),
        "failed": failed,
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
        "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": reason, "message": message, "lastProbeTime": at, "lastTransitionTime": at},
            {"type": "Failed", "status": "True", "reason": reason, "message": message, "lastProbeTime": at, "lastTransitionTime": at},
        ],
    });
}

/// One pod of `job` whose container ended with `exit` (`Error` when not 0).
pub(super) fn job_pod(
    w: &mut World,
    job: &Value,
    index: usize,
    started_ago: i64,
    ran: i64,
    exit: i32,
) -> String {
    let ns = meta::namespace_of(job).to_string();
    let job_name = meta::name_of(job).to_string();
    let name = format!(
        "{job_name}-{}",
        crate::ids::suffix(&format!("job/{job_name}/{index}"), 5)
    );
    let placement = w.place(started_ago + 1);
    let spec = job["spec"]["template"]["spec"].clone();
    let reason = if exit == 0 { "Completed" } else { "Error" };
    let done = Terminated::new(reason, exit, started_ago, started_ago - ran);
    let mut p = pod::pod(
        &ns,
        &name,
        started_ago + 2,
        &spec,
        &PodFate::Placed(placement),
        &[ContainerState::Done(done)],
    );
    meta::set_generate_name(&mut p, &format!("{job_name}-"));
    p["metadata"]["labels"] = job["spec"]["template"]["metadata"]["labels"].clone();
    if exit != 0 {
        p["status"]["phase"] = json!("Failed");
    }
    meta::set_owner(&mut p, job);
    w.cluster.add(p);
    name
}

fn job_failures() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("reports", 86_400 * 140);
    let mut findings = backfill(&mut w);
    findings.extend(reindex(&mut w));
    findings.extend(invoice_sync(&mut w));
    let quarterly = cron_job(
        "quarterly-report",
        "0 6 1 */3 *",
        86_400 * 200,
        &job_spec(
            "report",
            "ghcr.io/acme-shop/reports:4.1.0",
            &["/report", "--quarter"],
        ),
        Some(86_400 * 50 + 30_000),
        Some(86_400 * 50 + 29_500),
    );
    let mut quarterly = quarterly;
    quarterly["spec"]["suspend"] = json!(true);
    w.cluster.add(quarterly);
    findings.push(finding(
        "cronjob-suspended",
        "CronJob/reports/quarterly-report",
        &["spec.suspend is true", "0 6 1 */3 *"],
    ));
    (w.finish(), findings)
}

/// A `batch/v1` CronJob with the controller's status: last scheduled and
/// last successful run, seconds before collection started.
pub(super) fn cron_job(
    name: &str,
    schedule: &str,
    created_ago: i64,
    spec: &Value,
    last_schedule_ago: Option<i64>,
    last_success_ago: Option<i64>,
) -> Value {
    let mut cj = meta::object("batch/v1", "CronJob", Some("reports"), name, created_ago);
    let mut pod_spec = spec.clone();
    pod_spec["restartPolicy"] = json!("Never");
    cj["spec"] = json!({
        "schedule": schedule,
        "concurrencyPolicy": "Forbid",
        "suspend": false,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
        "jobTemplate": {"metadata": {}, "spec": {"backoffLimit": 0, "template": {"metadata": {}, "spec": pod_spec}}},
    });
    let mut status = json!({});
    if let Some(a) = last_schedule_ago {
        status["lastScheduleTime"] = json!(crate::ids::ago(a));
    }
    if let Some(a) = last_success_ago {
        status["lastSuccessfulTime"] = json!(crate::ids::ago(a));
    }
    cj["status"] = status;
    cj
}

/// The Job the CronJob controller creates for the run scheduled
/// `scheduled_ago` seconds before collection (`<cronjob>-<minutes>`), owned
/// by `cj`, completed `ran` seconds later (or still running when `None`).
pub(super) fn scheduled_job(cj: &Value, scheduled_ago: i64, ran: Option<i64>) -> Value {
    let cj_name = meta::name_of(cj);
    let scheduled = crate::ids::collection_started() - chrono::Duration::seconds(scheduled_ago);
    let name = format!("{cj_name}-{}", scheduled.timestamp().div_euclid(60));
    let spec = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"].clone();
    let done = ran.map_or(0, |r| scheduled_ago - r);
    let mut job = workload::job("reports", &name, scheduled_ago, &spec, done);
    job["spec"]["backoffLimit"] = json!(0);
    job["metadata"]["annotations"] =
        json!({"batch.kubernetes.io/cronjob-scheduled-timestamp": crate::ids::ago(scheduled_ago)});
    meta::set_owner(&mut job, cj);
    if ran.is_none() {
        job["status"] = json!({"startTime": crate::ids::ago(scheduled_ago), "active": 1, "ready": 1, "terminating": 0, "uncountedTerminatedPods": {}});
    }
    job
}

/// Every 30 minutes; the 13:00 and 13:30 runs succeeded, the 14:00 run
/// failed (its Job is gone: failedJobsHistoryLimit 1) and so did 14:30's.
fn invoice_sync(w: &mut World) -> Vec<Finding> {
    let spec = job_spec(
        "sync",
        "ghcr.io/acme-shop/invoice-sync:1.12.0",
        &["/sync", "--target=payments"],
    );
    let cj = cron_job(
        "invoice-sync",
        "*/30 * * * *",
        86_400 * 60,
        &spec,
        Some(118),
        Some(3_718 - 52),
    );
    for ago in [5_518_i64, 3_718] {
        let job = scheduled_job(&cj, ago, Some(52));
        job_pod(w, &job, 0, ago - 2, 48, 0);
        w.cluster.add(job);
    }
    let mut job = scheduled_job(&cj, 118, Some(20));
    let pod = job_pod(w, &job, 0, 116, 14, 1);
    let log = format!(
        "{} INFO invoice sync starting batch=2026-11-20T14:30\n{} ERROR sync failed: POST https://payments.internal/v2/invoices: 401 Unauthorized: token expired\n",
        crate::ids::ago(116),
        crate::ids::ago(103)
    );
    w.cluster.add_log("reports", &pod, "sync", false, &log);
    fail_job(&mut job, "BackoffLimitExceeded", BACKOFF_MESSAGE, 1, 100);
    let job_name = meta::name_of(&job).to_string();
    w.cluster.add(job);
    w.cluster.add(cj);
    let job_key = format!("Job/reports/{job_name}");
    vec![
        finding(
            "job-failed",
            &job_key,
            &["BackoffLimitExceeded", "exit code 1", "401 Unauthorized"],
        ),
        finding(
            "cronjob-failing",
            "CronJob/reports/invoice-sync",
            &[
                &job_name,
                "BackoffLimitExceeded",
                "last successful run finished",
            ],
        )
        .caused_by("job-failed", &job_key),
    ]
}

/// backoffLimit 3: four pods failed with exit code 2, the last 9 minutes
/// ago.
fn backfill(w: &mut World) -> Vec<Finding> {
    let spec = job_spec(
        "backfill",
        "ghcr.io/acme-shop/ledger-tools:3.4.0",
        &["/app/ledger", "backfill", "--since=2026-10-01"],
    );
    let created = 1_500;
    let mut job = workload::job("reports", "ledger-backfill", created, &spec, 0);
    job["spec"]["backoffLimit"] = json!(3);
    // The back-off between retries doubles from 10 s.
    let starts = [1_495_i64, 1_420, 1_290, 1_020];
    for (i, s) in starts.iter().enumerate() {
        let pod = job_pod(w, &job, i, *s, 6, 2);
        let log = format!(
            "{} INFO ledger backfill starting since=2026-10-01\n{} ERROR backfill failed: pq: relation \"ledger_entries\" does not exist\n",
            crate::ids::ago(*s),
            crate::ids::ago(s - 5)
        );
        w.cluster.add_log("reports", &pod, "backfill", false, &log);
    }
    fail_job(&mut job, "BackoffLimitExceeded", BACKOFF_MESSAGE, 4, 1_010);
    w.cluster.add(event::event(
        "reports",
        &job,
        None,
        "Warning",
        "BackoffLimitExceeded",
        BACKOFF_MESSAGE,
        &Source::controller("job-controller"),
        1,
        1_010,
        1_010,
    ));
    w.cluster.add(job);
    vec![finding(
        "job-failed",
        "Job/reports/ledger-backfill",
        &[
            "BackoffLimitExceeded",
            "backoffLimit is 3",
            "exit code 2",
            "relation \"ledger_entries\" does not exist",
        ],
    )]
}

/// activeDeadlineSeconds 600: the one pod was deleted at the deadline, so
/// none is left; status.failed counts it.
fn reindex(w: &mut World) -> Vec<Finding> {
    let spec = job_spec(
        "reindex",
        "ghcr.io/acme-shop/search-indexer:1.9.2",
        &["/indexer", "reindex", "--all"],
    );
    let created = 2_400;
    let mut job = workload::job("reports", "search-reindex", created, &spec, 0);
    job["spec"]["activeDeadlineSeconds"] = json!(600);
    fail_job(&mut job, "DeadlineExceeded", DEADLINE_MESSAGE, 1, 1_800);
    w.cluster.add(event::event(
        "reports",
        &job,
        None,
        "Warning",
        "DeadlineExceeded",
        DEADLINE_MESSAGE,
        &Source::controller("job-controller"),
        1,
        1_800,
        1_800,
    ));
    w.cluster.add(job);
    vec![finding(
        "job-failed",
        "Job/reports/search-reindex",
        &["DeadlineExceeded", "activeDeadlineSeconds is 600"],
    )]
}

fn job_retried() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("reports", 86_400 * 140);
    let spec = job_spec(
        "export",
        "ghcr.io/acme-shop/invoice-export:2.2.1",
        &["/export", "--month=2026-10"],
    );
    let created = 3_000;
    let mut job = workload::job("reports", "invoice-export", created, &spec, 2_700);
    for (i, (start, exit)) in [(2_995_i64, 1), (2_960, 1), (2_890, 0)].iter().enumerate() {
        job_pod(&mut w, &job, i, *start, 180, *exit);
    }
    job["status"]["failed"] = json!(2);
    w.cluster.add(job);
    let spec = job_spec(
        "export",
        "ghcr.io/acme-shop/invoice-export:2.2.1",
        &["/export", "--hourly"],
    );
    // Last run at 14:00, succeeded a minute later.
    let hourly = cron_job(
        "hourly-export",
        "0 * * * *",
        86_400 * 30,
        &spec,
        Some(1_918),
        Some(1_858),
    );
    let run = scheduled_job(&hourly, 1_918, Some(60));
    job_pod(&mut w, &run, 0, 1_916, 55, 0);
    w.cluster.add(run);
    w.cluster.add(hourly);
    // The 14:00 run failed, the 14:30 run is still running.
    let spec = job_spec("warm", "ghcr.io/acme-shop/cache-warmer:0.9.3", &["/warm"]);
    let warm = cron_job(
        "cache-warmup",
        "*/30 * * * *",
        86_400 * 30,
        &spec,
        Some(118),
        Some(3_700),
    );
    let mut failed = scheduled_job(&warm, 1_918, Some(30));
    job_pod(&mut w, &failed, 0, 1_916, 25, 1);
    fail_job(
        &mut failed,
        "BackoffLimitExceeded",
        BACKOFF_MESSAGE,
        1,
        1_880,
    );
    w.cluster.add(failed);
    w.cluster.add(scheduled_job(&warm, 118, None));
    w.cluster.add(warm);
    (w.finish(), Vec::new())
}
