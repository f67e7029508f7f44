//! A container the runtime cannot start: the pod spec's `command` names a
//! binary the image does not have, so runc's `exec` fails before the
//! process exists (`StartError`, exit code 128, `startedAt` the epoch) —
//! next to a pod that hit one transient start error days ago and has run
//! Ready since.

use serde_json::{json, Value};

use super::common::{self, kubelet_pod_ref, pod_obj};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::pod::{ContainerState, PodFate, Terminated};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::world::World;

/// The start-failure scenario.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "start-failed", description: "catalog-api's new Deployment runs command catalog-api, which the image does not have: containerd reports StartError (exit 128) with runc's exec: \"catalog-api\": executable file not found in $PATH, so its Service has no ready endpoints. Near miss: catalog-search hit one StartError (shim task: context deadline exceeded) two days ago and has been Running and Ready since.", build: start_failed },
];

/// What containerd's CRI reports when runc cannot exec the command: the
/// `message` of the `StartError` termination, the kubelet's
/// `RunContainerError` message and (after `Error: `) its `Failed` event.
const NOT_FOUND: &str = "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"catalog-api\": executable file not found in $PATH: unknown";

/// Seconds since catalog-api was deployed.
const AGE: i64 = 1_500;
/// Start attempts so far: 0, 10, 30, 70, 150, 310, 610, 910 and 1210 s
/// after creation (the kubelet's back-off doubles from 10 s up to 5 min).
const ATTEMPTS: u32 = 9;

fn start_failed() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("catalog", 86_400 * 95);
    let findings = catalog_api(&mut w);
    catalog_search(&mut w);
    common::neighbour(
        &mut w,
        "catalog",
        "catalog-images",
        "ghcr.io/acme-shop/catalog-images:1.8.2",
    );
    (w.finish(), findings)
}

/// The failing app: two replicas, one in back-off, one that just failed
/// again (`RunContainerError` until the kubelet's next sync).
fn catalog_api(w: &mut World) -> Vec<Finding> {
    let image = "ghcr.io/acme-shop/catalog-api:2.0.0";
    let mut app = AppSpec::new("catalog", "catalog-api", image, 8080, 2, AGE, AGE);
    app.main_container()["command"] = json!(["catalog-api", "serve"]);
    app.main_container()["args"] = json!(["--config=/etc/catalog/config.yaml"]);
    let last_failed = [288_i64, 4];
    let d = app::deploy(w, &app, |i, name, pl| {
        let finished = last_failed.get(i).copied().unwrap_or(288);
        let state = if i == 0 {
            ContainerState::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(common::crashloop_message(
                    &common::pod_ref("catalog", name),
                    "catalog-api",
                    "5m0s",
                )),
                restarts: ATTEMPTS - 1,
                last: Some(Terminated::start_error(NOT_FOUND, finished)),
            }
        } else {
            ContainerState::Waiting {
                reason: "RunContainerError".into(),
                message: Some(NOT_FOUND.to_string()),
                restarts: ATTEMPTS - 1,
                last: Some(Terminated::start_error(NOT_FOUND, finished)),
            }
        };
        (PodFate::Placed(pl), vec![state])
    });
    common::expose(w, &app, "catalog-api");
    let mut findings = vec![];
    for (i, (name, finished)) in d.pods.iter().zip(last_failed).enumerate() {
        let p = pod_obj(w, "catalog", name);
        let created = AGE - 3 * i as i64;
        w.cluster
            .add_all(start_failure_events(&p, image, created, finished));
        findings.push(finding(
            "pod-start-failed",
            &pod("catalog", name),
            &[
                "catalog-api",
                "exec: \"catalog-api\": executable file not found in $PATH",
            ],
        ));
    }
    let first = pod("catalog", d.pods.first().map_or("", String::as_str));
    findings.push(
        finding(
            "service-no-ready-endpoints",
            &obj("Service", "catalog", "catalog-api"),
            &[],
        )
        .caused_by("pod-start-failed", &first),
    );
    findings
}

/// The kubelet's events for a container whose every start fails: bound,
/// image pulled once and then found present, created, `Failed` with the
/// runtime's error, `BackOff` between attempts. No `Started`: the process
/// never ran.
fn start_failure_events(p: &Value, image: &str, created_ago: i64, last_ago: i64) -> Vec<Value> {
    let ns = "catalog";
    let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    let k = Source::kubelet(&node);
    let fp = Some("spec.containers{catalog-api}");
    let name = p["metadata"]["name"].as_str().unwrap_or("");
    let first = created_ago - 3;
    vec![
        event::series_event(ns, p, "Normal", "Scheduled", "Binding", &format!("Successfully assigned {ns}/{name} to {node}"), "default-scheduler", "default-scheduler-ip-10-0-0-12", created_ago - 1, None),
        event::event(ns, p, fp, "Normal", "Pulling", &format!("Pulling image \"{image}\""), &k, 1, created_ago - 2, created_ago - 2),
        event::event(ns, p, fp, "Normal", "Pulled", &format!("Successfully pulled image \"{image}\" in 1.912s (1.912s including waiting). Image size 31457834 bytes."), &k, 1, first, first),
        event::event(ns, p, fp, "Normal", "Pulled", &format!("Container image \"{image}\" already present on machine"), &k, ATTEMPTS - 1, first - 10, last_ago + 1),
        event::event(ns, p, fp, "Normal", "Created", "Created container: catalog-api", &k, ATTEMPTS, first, last_ago + 1),
        event::event(ns, p, fp, "Warning", "Failed", &format!("Error: {NOT_FOUND}"), &k, ATTEMPTS, first, last_ago),
        event::event(ns, p, fp, "Warning", "BackOff", &format!("Back-off restarting failed container catalog-api in pod {}", kubelet_pod_ref(p)), &k, 37, first - 2, last_ago.min(12)),
    ]
}

/// Near miss: one start attempt timed out two days ago while the node was
/// overloaded (containerd's shim did not answer in time, as GKE's
/// troubleshooting guide shows it); the kubelet's next attempt worked and
/// the container has been Ready since.
fn catalog_search(w: &mut World) {
    let mut app = AppSpec::new(
        "catalog",
        "catalog-search",
        "ghcr.io/acme-shop/catalog-search:4.1.0",
        8080,
        1,
        86_400 * 60,
        86_400 * 5,
    );
    app.main_container()["command"] = json!(["/app/search", "--listen=:8080"]);
    let message = "failed to create containerd task: failed to create shim task: context deadline exceeded: unknown";
    let failed = 86_400 * 2 + 3_600;
    app::deploy(w, &app, |_, _, pl| {
        let st = ContainerState::Running {
            started_ago: failed - 11,
            ready: true,
            restarts: 1,
            last: Some(Terminated::start_error(message, failed)),
        };
        (PodFate::Placed(pl), vec![st])
    });
    common::expose(w, &app, "catalog-search");
}
