//! An application that is up — Running, Ready, never restarted — but
//! fails at its job: its log repeats the same database error every ten
//! seconds up to the collection. Next to it, a pod whose log had a burst of
//! errors an hour ago and then recovered.

use serde_json::json;

use super::common::{self, iso_ms};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::config;
use crate::cluster::Cluster;
use crate::expected::{finding, pod, Finding};
use crate::world::World;

/// The repeated-log-error scenario.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "log-repeated-error", description: "invoice-worker is Running and Ready (its health endpoint does not touch the database) but the billing database's password was rotated outside the cluster: every 10 s for the last ten minutes its log says FATAL:  password authentication failed for user \"app\". Near miss: ledger-export logged six \"the database system is starting up\" errors during an RDS failover an hour ago and has worked since.", build: log_repeated_error },
];

/// The billing database as libpq names it in connection errors.
const BILLING_DB: &str =
    "connection to server at \"billing-db.cluster-c8x2kq.us-east-1.rds.amazonaws.com\" (10.0.3.41), port 5432 failed";
/// The ledger database.
const LEDGER_DB: &str =
    "connection to server at \"ledger-db.cluster-c8x2kq.us-east-1.rds.amazonaws.com\" (10.0.2.77), port 5432 failed";

fn log_repeated_error() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("billing", 86_400 * 210);
    w.cluster.add(config::secret(
        "billing",
        "billing-db",
        86_400 * 120,
        86_400 * 120,
        "helm",
        "Opaque",
        &[
            ("username", "app"),
            ("password", "s3cr3t-from-last-quarter"),
        ],
    ));
    let findings = invoice_worker(&mut w);
    ledger_export(&mut w);
    common::neighbour(
        &mut w,
        "billing",
        "billing-portal",
        "ghcr.io/acme-billing/billing-portal:7.2.0",
    );
    (w.finish(), findings)
}

/// A Python worker (psycopg) reading the database credentials from the
/// `billing-db` Secret.
fn worker(name: &str, image: &str, host: &str, rollout_ago: i64) -> AppSpec {
    let mut app = AppSpec::new("billing", name, image, 8080, 1, 86_400 * 90, rollout_ago);
    let database = host.split('-').next().unwrap_or("app");
    let c = app.main_container();
    c["command"] = json!(["python", "-m", name.replace('-', "_")]);
    c["env"] = json!([
        {"name": "PGHOST", "value": host},
        {"name": "PGDATABASE", "value": database},
        {"name": "PGUSER", "valueFrom": {"secretKeyRef": {"name": "billing-db", "key": "username"}}},
        {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "billing-db", "key": "password"}}},
    ]);
    app
}

/// Python `logging` lines: `<ISO time> <LEVEL> <logger>: <message>`.
fn line(ago: i64, ms: u32, level: &str, logger: &str, msg: &str) -> String {
    format!("{} {level:<5} {logger}: {msg}\n", iso_ms(ago, ms))
}

/// Worked for three hours, then fails to connect every 10 s for the last
/// ten minutes (the readiness probe only checks the HTTP server).
fn invoice_worker(w: &mut World) -> Vec<Finding> {
    let started = 10_800;
    let app = worker(
        "invoice-worker",
        "ghcr.io/acme-billing/invoice-worker:3.4.2",
        "billing-db.cluster-c8x2kq.us-east-1.rds.amazonaws.com",
        started + 12,
    );
    let d = app::deploy_healthy(w, &app);
    let mut log = line(
        started,
        211,
        "INFO",
        "invoice_worker",
        "invoice-worker 3.4.2 starting, health server on :8080",
    );
    log.push_str(&line(
        started - 1,
        30,
        "INFO",
        "invoice_worker.db",
        "connected to billing as app (pool size 4)",
    ));
    for i in 1..=32 {
        let ago = started - i * 300;
        let n = 20 + (i * 7) % 31;
        log.push_str(&line(
            ago,
            412,
            "INFO",
            "invoice_worker.batch",
            &format!("issued {n} invoices in {} ms", 600 + n * 9),
        ));
    }
    for i in 0..60 {
        let ago = 600 - i * 10;
        let msg = format!("{BILLING_DB}: FATAL:  password authentication failed for user \"app\"");
        log.push_str(&line(ago, 118, "ERROR", "invoice_worker.db", &msg));
        log.push_str(&line(
            ago,
            119,
            "INFO",
            "invoice_worker.db",
            "retrying in 10s",
        ));
    }
    let mut findings = vec![];
    for name in &d.pods {
        w.cluster
            .add_log("billing", name, "invoice-worker", false, &log);
        findings.push(finding(
            "pod-log-errors",
            &pod("billing", name),
            &[
                "invoice-worker",
                "password authentication failed for user \"app\"",
            ],
        ));
    }
    findings
}

/// Near miss: six errors during a database failover 65 minutes ago, then
/// a reconnect and an hour of normal work.
fn ledger_export(w: &mut World) {
    let started = 86_400 * 2 + 600;
    let app = worker(
        "ledger-export",
        "ghcr.io/acme-billing/ledger-export:1.9.0",
        "ledger-db.cluster-c8x2kq.us-east-1.rds.amazonaws.com",
        started + 12,
    );
    let d = app::deploy_healthy(w, &app);
    let mut log = line(
        started,
        5,
        "INFO",
        "ledger_export",
        "ledger-export 1.9.0 starting, health server on :8080",
    );
    for i in 1..=10 {
        log.push_str(&line(
            4_200 + i * 90,
            640,
            "INFO",
            "ledger_export.sync",
            &format!("exported {} ledger entries", 100 + i * 13),
        ));
    }
    for i in 0..6 {
        let msg = format!("{LEDGER_DB}: FATAL:  the database system is starting up");
        log.push_str(&line(
            3_900 - i * 10,
            201,
            "ERROR",
            "ledger_export.db",
            &msg,
        ));
        log.push_str(&line(
            3_900 - i * 10,
            202,
            "INFO",
            "ledger_export.db",
            "retrying in 10s",
        ));
    }
    log.push_str(&line(
        3_830,
        17,
        "INFO",
        "ledger_export.db",
        "connected to ledger as app (pool size 2)",
    ));
    for i in 1..=40 {
        log.push_str(&line(
            3_830 - i * 90,
            640,
            "INFO",
            "ledger_export.sync",
            &format!("exported {} ledger entries", 80 + (i * 11) % 57),
        ));
    }
    for name in &d.pods {
        w.cluster
            .add_log("billing", name, "ledger-export", false, &log);
    }
}
