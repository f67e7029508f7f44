//! CronJob schedules: a CronJob whose hung run has blocked every start for
//! 20 hours (`concurrencyPolicy: Forbid`, `TooManyMissedTimes`), and the
//! near miss of CronJobs that ran when their schedules said.
//!
//! Shapes from the CronJob controller (`pkg/controller/cronjob`,
//! `cronjob_controllerv2.go` and `utils.go`, v1.33): with Forbid and an
//! active Job it records the Normal event `JobAlreadyActive` (`Not starting
//! job because prior execution is running and concurrency policy is
//! Forbid`) and leaves `status.lastScheduleTime` alone; once more than 100
//! start times passed since that time, every sync also records the Warning
//! `TooManyMissedTimes` (`too many missed start times. Set or decrease
//! .spec.startingDeadlineSeconds or check clock skew`).

use serde_json::json;

use super::jobs::{cron_job, job_pod, job_spec, scheduled_job};
use super::Scenario;
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::meta;
use crate::builders::pod::{self, ContainerState, PodFate};
use crate::cluster::Cluster;
use crate::expected::{finding, Finding};
use crate::ids;
use crate::world::World;

/// The CronJob schedule scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "cronjob-missed", description: "In reports, the metrics-compactor CronJob (every 10 minutes, concurrencyPolicy Forbid) has had one run hanging since 18:30 yesterday: the controller skips every start (JobAlreadyActive) and reports TooManyMissedTimes; its last success was 20 hours ago.", build: cronjob_missed },
    Scenario { name: "cronjob-on-schedule", description: "Near miss: a weekly CronJob (Tuesdays 03:00) whose last success was 3 days ago, a daily one in Europe/Berlin that succeeded last night and an every-10-minutes one that succeeded 8 minutes ago: every schedule is being kept.", build: cronjob_on_schedule },
];

const TOO_MANY: &str = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew";
const ALREADY_ACTIVE: &str =
    "Not starting job because prior execution is running and concurrency policy is Forbid";

/// Seconds before collection of 18:30:00 yesterday (collection started
/// 14:31:58).
const HUNG_AGO: i64 = 72_000 + 118;

fn cronjob_missed() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("reports", 86_400 * 140);
    let spec = job_spec(
        "compactor",
        "ghcr.io/acme-shop/metrics-compactor:2.3.1",
        &["/compactor", "--retention=30d"],
    );
    // The 18:20 run succeeded in 70 s; the 18:30 run never finished.
    let cj = cron_job(
        "metrics-compactor",
        "*/10 * * * *",
        86_400 * 60,
        &spec,
        Some(HUNG_AGO),
        Some(HUNG_AGO + 600 - 70),
    );
    let mut cj = cj;
    for (ago, ran) in [(HUNG_AGO + 1_200, 64), (HUNG_AGO + 600, 70)] {
        let job = scheduled_job(&cj, ago, Some(ran));
        job_pod(&mut w, &job, 0, ago - 2, ran - 4, 0);
        w.cluster.add(job);
    }
    let hung = scheduled_job(&cj, HUNG_AGO, None);
    let hung_name = meta::name_of(&hung).to_string();
    hung_pod(&mut w, &hung);
    cj["status"]["active"] = json!([{"apiVersion": "batch/v1", "kind": "Job", "namespace": "reports", "name": hung_name, "uid": hung["metadata"]["uid"], "resourceVersion": hung["metadata"]["resourceVersion"]}]);
    w.cluster.add(hung);
    // The controller syncs at every start time: 20 syncs since the
    // events were last compacted 3 hours 20 minutes ago.
    let src = Source::controller("cronjob-controller");
    w.cluster.add(event::event(
        "reports",
        &cj,
        None,
        "Normal",
        "JobAlreadyActive",
        ALREADY_ACTIVE,
        &src,
        20,
        12_118,
        118,
    ));
    w.cluster.add(event::event(
        "reports",
        &cj,
        None,
        "Warning",
        "TooManyMissedTimes",
        TOO_MANY,
        &src,
        20,
        12_118,
        118,
    ));
    w.cluster.add(cj);
    let object = "CronJob/reports/metrics-compactor";
    let findings = vec![
        finding(
            "cronjob-missed-starts",
            object,
            &["TooManyMissedTimes", TOO_MANY],
        ),
        finding(
            "cronjob-no-recent-success",
            object,
            &[
                "came round 121 times",
                &format!("Job {hung_name} is still active and concurrencyPolicy is Forbid"),
            ],
        )
        .caused_by("cronjob-missed-starts", object),
    ];
    (w.finish(), findings)
}

/// The hung run's pod: Running since 18:30, stuck waiting for a lock.
fn hung_pod(w: &mut World, job: &serde_json::Value) {
    let job_name = meta::name_of(job).to_string();
    let name = format!(
        "{job_name}-{}",
        ids::suffix(&format!("job/{job_name}/0"), 5)
    );
    let placement = w.place(HUNG_AGO - 1);
    let spec = job["spec"]["template"]["spec"].clone();
    let mut p = pod::pod(
        "reports",
        &name,
        HUNG_AGO - 1,
        &spec,
        &PodFate::Placed(placement),
        &[ContainerState::Running {
            started_ago: HUNG_AGO - 6,
            ready: true,
            restarts: 0,
            last: None,
        }],
    );
    meta::set_generate_name(&mut p, &format!("{job_name}-"));
    p["metadata"]["labels"] = job["spec"]["template"]["metadata"]["labels"].clone();
    meta::set_owner(&mut p, job);
    let log = format!(
        "{} INFO compactor starting retention=30d\n{} INFO acquiring lease metrics-compactor/segments\n{} INFO lease held by compactor-29918520-x7k2p, waiting\n",
        ids::ago(HUNG_AGO - 6),
        ids::ago(HUNG_AGO - 7),
        ids::ago(HUNG_AGO - 8)
    );
    w.cluster
        .add_log("reports", &name, "compactor", false, &log);
    w.cluster.add(p);
}

fn cronjob_on_schedule() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("reports", 86_400 * 140);
    // Tuesday 03:00 (3 days 11:31:58 before collection), 20 minutes' run.
    let weekly_ago = 3 * 86_400 + 41_518;
    let weekly = (
        "weekly-report",
        "0 3 * * 2",
        weekly_ago,
        1_200,
        job_spec(
            "report",
            "ghcr.io/acme-shop/reports:4.1.0",
            &["/report", "--week"],
        ),
    );
    // 01:30 in Berlin is 00:30 UTC (14 h 01:58 before collection).
    let nightly = (
        "nightly-export",
        "30 1 * * *",
        14 * 3_600 + 118,
        300,
        job_spec(
            "export",
            "ghcr.io/acme-shop/exporter:1.9.0",
            &["/export", "--all"],
        ),
    );
    // Every 10 minutes: the 14:20 run succeeded in 62 s.
    let frequent = (
        "cache-refresh",
        "*/10 * * * *",
        718,
        62,
        job_spec(
            "refresh",
            "ghcr.io/acme-shop/cache-refresh:0.8.2",
            &["/refresh"],
        ),
    );
    for (name, schedule, ago, ran, spec) in [weekly, nightly, frequent] {
        let mut cj = cron_job(
            name,
            schedule,
            86_400 * 90,
            &spec,
            Some(ago),
            Some(ago - ran),
        );
        if name == "nightly-export" {
            cj["spec"]["timeZone"] = json!("Europe/Berlin");
        }
        let job = scheduled_job(&cj, ago, Some(ran));
        job_pod(&mut w, &job, 0, ago - 2, ran - 4, 0);
        w.cluster.add(job);
        w.cluster.add(cj);
    }
    (w.finish(), Vec::new())
}
