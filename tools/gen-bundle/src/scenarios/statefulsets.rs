//! StatefulSets: one whose ordinal 1 crashloops and blocks ordinal 2, one
//! whose rolling update stopped on a broken pod of the new revision.
//!
//! Shapes from the StatefulSet controller (`pkg/controller/statefulset`):
//! pods are named `<set>-<ordinal>`, labelled `apps.kubernetes.io/pod-index`
//! and `controller-revision-hash` (the ControllerRevision's name); with
//! `OrderedReady` ordinal N+1 is created only when N is Running and Ready,
//! and a rolling update replaces pods from the highest ordinal down, waiting
//! for each to be Running and Ready.

use serde_json::{json, Value};

use super::common::{crashloop_events, crashloop_message, pod_obj, pod_ref};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::pod::{self, ContainerState, Placement, PodFate, Terminated};
use crate::cluster::Cluster;
use crate::expected::{finding, pod as pod_key, Finding};
use crate::ids;
use crate::world::World;

/// The StatefulSet scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "statefulset-stuck", description: "In shop, the session-store StatefulSet (redis, OrderedReady) was scaled from 2 to 3 replicas: ordinal 1 crashloops (exit code 1, its append-only file is corrupt) so the controller never creates ordinal 2; readyReplicas 1 of 3. The rate-limiter StatefulSet's rolling update to a template with a mistyped --maxmemory-policy replaced ordinal 2, which crashloops, so ordinals 1 and 0 stay on the old revision.", build: statefulset_stuck },
];

const IMAGE: &str = "docker.io/library/redis:7.4.2";

/// A redis StatefulSet app in shop: named port, ping readiness, TCP
/// liveness, requests and limits.
fn redis_app(name: &str, replicas: i64, created_ago: i64, rollout_ago: i64) -> AppSpec {
    let mut app = AppSpec::new(
        "shop",
        name,
        IMAGE,
        6379,
        replicas,
        created_ago,
        rollout_ago,
    );
    let c = app.main_container();
    c["ports"] = json!([{"name": "redis", "containerPort": 6379, "protocol": "TCP"}]);
    c["readinessProbe"] = json!({"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    c["livenessProbe"] = json!({"tcpSocket": {"port": "redis"}, "initialDelaySeconds": 15, "periodSeconds": 20, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    app::resources(c, Some("100m"), Some("256Mi"), Some("500m"), Some("512Mi"));
    app
}

/// A crash of the pod's redis container: how often, and its last exit.
struct Crash<'a> {
    restarts: u32,
    exited_ago: i64,
    log: &'a str,
}

/// Recreates StatefulSet pod `name` `created_ago` seconds before collection
/// on the same node with `spec`, crashlooping as `crash` says (status,
/// kubelet events, previous log); returns its `Pod/<ns>/<name>` key.
fn recreate_crashing(
    w: &mut World,
    name: &str,
    created_ago: i64,
    spec: Option<&Value>,
    crash: &Crash<'_>,
) -> String {
    let container = name
        .rsplit_once('-')
        .map_or(name, |(set, _)| set)
        .to_string();
    let Some(old) = w.cluster.find_mut("shop", "pods", name).cloned() else {
        return pod_key("shop", name);
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let placement = Placement {
        node: text(&old["spec"]["nodeName"]),
        host_ip: text(&old["status"]["hostIP"]),
        pod_ip: text(&old["status"]["podIP"]),
        scheduled_ago: created_ago - 1,
    };
    let node = placement.node.clone();
    let spec = spec.cloned().unwrap_or_else(|| old["spec"].clone());
    let state = ContainerState::Waiting {
        reason: "CrashLoopBackOff".into(),
        message: Some(crashloop_message(
            &pod_ref("shop", name),
            &container,
            "5m0s",
        )),
        restarts: crash.restarts,
        last: Some(Terminated::new(
            "Error",
            1,
            crash.exited_ago,
            crash.exited_ago,
        )),
    };
    let fresh = pod::pod(
        "shop",
        name,
        created_ago,
        &spec,
        &PodFate::Placed(placement),
        &[state],
    );
    if let Some(p) = w.cluster.find_mut("shop", "pods", name) {
        p["spec"] = spec;
        p["status"] = fresh["status"].clone();
        p["metadata"]["creationTimestamp"] = fresh["metadata"]["creationTimestamp"].clone();
        p["metadata"]["uid"] = fresh["metadata"]["uid"].clone();
    }
    let p = pod_obj(w, "shop", name);
    w.cluster.add_all(crashloop_events(
        &p,
        &container,
        IMAGE,
        &node,
        crash.restarts,
        created_ago - 5,
        70,
    ));
    w.cluster.add_log("shop", name, &container, true, crash.log);
    pod_key("shop", name)
}

/// Redis's log timestamp `started_ago` seconds before collection.
fn redis_stamp(started_ago: i64) -> String {
    let t = ids::collection_started() - chrono::Duration::seconds(started_ago);
    t.format("%d %b %Y %H:%M:%S%.3f").to_string()
}

/// A redis log whose append-only file is corrupt: redis refuses to load it
/// and exits 1 (`aof.c`, `loadSingleAppendOnlyFile`).
fn redis_aof_log(started_ago: i64) -> String {
    let stamp = redis_stamp(started_ago);
    format!(
        "1:C {stamp} * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n\
1:C {stamp} * Redis version=7.4.2, bits=64, commit=00000000, modified=0, pid=1, just started\n\
1:C {stamp} * Configuration loaded\n\
1:S {stamp} * monotonic clock: POSIX clock_gettime\n\
1:S {stamp} * Running mode=standalone, port=6379.\n\
1:S {stamp} * Server initialized\n\
1:S {stamp} * Reading RDB base file on AOF loading...\n\
1:S {stamp} # Bad file format reading the append only file appendonly.aof.4.incr.aof: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>\n"
    )
}

/// redis refusing a config value (`config.c`): the fatal banner, the line
/// and what the directive accepts.
fn redis_config_log(started_ago: i64) -> String {
    let stamp = redis_stamp(started_ago);
    format!(
        "1:C {stamp} * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n\n\
*** FATAL CONFIG FILE ERROR (Redis 7.4.2) ***\n\
Reading the configuration file, at line 2\n\
>>> 'maxmemory-policy \"allkeys-lfu2\"'\n\
argument(s) must be one of the following: volatile-lru, allkeys-lru, volatile-lfu, allkeys-lfu, volatile-random, allkeys-random, volatile-ttl, noeviction\n"
    )
}

fn statefulset_stuck() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("shop", 86_400 * 200);
    let mut app = redis_app("session-store", 2, 86_400 * 110, 86_400 * 30);
    app.main_container()["args"] = json!(["--appendonly", "yes"]);
    let names = crate::stateful::deploy_stateful(&mut w, &app, "8Gi");
    let broken = names.get(1).cloned().unwrap_or_default();
    // Scaled to 3 forty minutes ago: ordinal 1 was recreated then (its node
    // was replaced) and crashloops, so ordinal 2 is never created.
    let log = redis_aof_log(211);
    let crash = Crash {
        restarts: 12,
        exited_ago: 211,
        log: &log,
    };
    let key = recreate_crashing(&mut w, &broken, 2_400, None, &crash);
    if let Some(sts) = w.cluster.find_mut("shop", "statefulsets", "session-store") {
        sts["metadata"]["generation"] = json!(2);
        sts["spec"]["replicas"] = json!(3);
        sts["status"]["observedGeneration"] = json!(2);
        sts["status"]["readyReplicas"] = json!(1);
        sts["status"]["availableReplicas"] = json!(1);
    }
    let mut findings = rate_limiter(&mut w);
    findings.extend([
        finding("pod-crashloop", &key, &["exit code 1"]),
        finding(
            "statefulset-not-ready",
            "StatefulSet/shop/session-store",
            &[
                &format!("{broken} (ordinal 1) is CrashLoopBackOff"),
                "before it creates or updates ordinal 2",
                "readyReplicas 1 of 3",
            ],
        )
        .caused_by("pod-crashloop", &key),
    ]);
    (w.finish(), findings)
}

/// rate-limiter: a 3-replica redis StatefulSet whose rolling update to a
/// template with a mistyped `--maxmemory-policy` replaced ordinal 2 (the
/// first one a rolling update takes) 25 minutes ago; that pod crashloops,
/// so ordinals 1 and 0 keep the old revision.
fn rate_limiter(w: &mut World) -> Vec<Finding> {
    let app = redis_app("rate-limiter", 3, 86_400 * 80, 86_400 * 12);
    let names = crate::stateful::deploy_stateful(w, &app, "2Gi");
    let (old_rev, new_rev) = ("rate-limiter-7b9d4c6f58", "rate-limiter-5f8c9d7b46");
    let new_args = json!(["--maxmemory", "200mb", "--maxmemory-policy", "allkeys-lfu2"]);
    for n in &names {
        if let Some(p) = w.cluster.find_mut("shop", "pods", n) {
            p["metadata"]["labels"]["controller-revision-hash"] = json!(old_rev);
        }
    }
    let broken = names.get(2).cloned().unwrap_or_default();
    let mut spec = w
        .cluster
        .find_mut("shop", "pods", &broken)
        .map(|p| p["spec"].clone())
        .unwrap_or_default();
    spec["containers"][0]["args"] = new_args.clone();
    let log = redis_config_log(160);
    let crash = Crash {
        restarts: 9,
        exited_ago: 160,
        log: &log,
    };
    let key = recreate_crashing(w, &broken, 1_500, Some(&spec), &crash);
    if let Some(p) = w.cluster.find_mut("shop", "pods", &broken) {
        p["metadata"]["labels"]["controller-revision-hash"] = json!(new_rev);
    }
    if let Some(sts) = w.cluster.find_mut("shop", "statefulsets", "rate-limiter") {
        sts["metadata"]["generation"] = json!(2);
        sts["spec"]["template"]["spec"]["containers"][0]["args"] = new_args;
        sts["status"]["observedGeneration"] = json!(2);
        for (field, n) in [
            ("readyReplicas", 2),
            ("availableReplicas", 2),
            ("currentReplicas", 2),
            ("updatedReplicas", 1),
        ] {
            sts["status"][field] = json!(n);
        }
        sts["status"]["currentRevision"] = json!(old_rev);
        sts["status"]["updateRevision"] = json!(new_rev);
    }
    vec![
        finding(
            "pod-crashloop",
            &key,
            &["exit code 1", "FATAL CONFIG FILE ERROR"],
        ),
        finding(
            "statefulset-update-stuck",
            "StatefulSet/shop/rate-limiter",
            &[
                &format!("from revision {old_rev} to {new_rev}"),
                &format!("{broken} (ordinal 2) is CrashLoopBackOff"),
                "before it updates ordinal 1",
            ],
        )
        .caused_by("pod-crashloop", &key),
    ]
}
