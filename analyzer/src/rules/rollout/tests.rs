//! Tests of the rollout rules on Deployments, ReplicaSets and pods shaped
//! as the Deployment and ReplicaSet controllers write them.

use serde_json::{json, Value};

use super::run;
use crate::testkit::{obj, Fixture};
use kpm_model::{Finding, Severity};

const TIMED_OUT: &str = "ReplicaSet \"checkout-5d8f7c9b4\" has timed out progressing.";

fn container(image: &str, args: &[&str]) -> Value {
    json!([{"name": "checkout", "image": image, "args": args,
            "env": [{"name": "LOG_LEVEL", "value": "info"}]}])
}

fn deployment(replicas: i32, strategy: Value, progressing: Value, template: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop", "uid": "d-uid",
                     "annotations": {"deployment.kubernetes.io/revision": "8"}},
        "spec": {"replicas": replicas, "progressDeadlineSeconds": 600,
                 "selector": {"matchLabels": {"app": "checkout"}},
                 "strategy": strategy,
                 "template": {"metadata": {"labels": {"app": "checkout"}},
                              "spec": {"containers": template}}},
        "status": {"replicas": replicas + 1, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3,
                   "conditions": [progressing]}
    })
}

fn rolling(surge: Value, unavailable: Value) -> Value {
    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
}

fn timed_out() -> Value {
    json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": TIMED_OUT})
}

fn updating() -> Value {
    json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
           "message": "ReplicaSet \"checkout-5d8f7c9b4\" is progressing."})
}

fn replica_set(hash: &str, revision: u32, replicas: i32, ready: i32, template: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("checkout-{hash}"), "namespace": "shop", "uid": format!("rs-{hash}"),
                     "labels": {"app": "checkout", "pod-template-hash": hash},
                     "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout",
                                          "uid": "d-uid", "controller": true}]},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "checkout", "pod-template-hash": hash}},
                 "template": {"metadata": {"labels": {"app": "checkout", "pod-template-hash": hash}},
                              "spec": {"containers": template}}},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready}
    })
}

/// A pod of ReplicaSet `checkout-<hash>` with the given status.
fn pod(hash: &str, suffix: &str, status: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("checkout-{hash}-{suffix}"), "namespace": "shop",
                     "labels": {"app": "checkout", "pod-template-hash": hash},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("checkout-{hash}"),
                                          "uid": format!("rs-{hash}"), "controller": true}]},
        "spec": {"containers": [{"name": "checkout", "image": "x"}]},
        "status": status
    })
}

fn ready_status() -> Value {
    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
           "containerStatuses": [{"name": "checkout", "ready": true, "restartCount": 0, "image": "x", "imageID": "",
                                  "state": {"running": {"startedAt": "2026-11-20T10:00:00Z"}}}]})
}

fn waiting_status(reason: &str, restarts: i32) -> Value {
    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
           "containerStatuses": [{"name": "checkout", "ready": false, "restartCount": restarts, "image": "x", "imageID": "",
                                  "state": {"waiting": {"reason": reason}}}]})
}

fn unschedulable() -> Value {
    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
           "message": "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."}]})
}

/// Revision 7 (3 ready, image 3.14.2) and revision 8 (image 3.15.0 with a
/// bad arg) whose two pods have `new_status`.
fn rollout(strategy: Value, progressing: Value, new_status: &Value) -> Fixture {
    let good = container("ghcr.io/acme-shop/checkout:3.14.2", &["--port=8080"]);
    let bad = container("ghcr.io/acme-shop/checkout:3.15.0", &["--port=80800"]);
    let mut fx = Fixture::new("shop");
    fx.ns.deployments = vec![obj(deployment(4, strategy, progressing, bad.clone()))];
    fx.ns.replicasets = vec![
        obj(replica_set("6c4b8d5f7", 7, 3, 3, good)),
        obj(replica_set("5d8f7c9b4", 8, 2, 0, bad)),
    ];
    fx.ns.pods = vec![
        obj(pod("6c4b8d5f7", "a1b2c", ready_status())),
        obj(pod("6c4b8d5f7", "d3e4f", ready_status())),
        obj(pod("6c4b8d5f7", "g5h6j", ready_status())),
        obj(pod("5d8f7c9b4", "k7l8m", new_status.clone())),
        obj(pod("5d8f7c9b4", "n9p0q", new_status.clone())),
    ];
    fx
}

fn ids(found: &[Finding]) -> Vec<&str> {
    found.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn a_crashing_new_revision_beside_a_serving_old_one_names_both_and_the_change() {
    let fx = rollout(
        rolling(json!("25%"), json!("25%")),
        timed_out(),
        &waiting_status("CrashLoopBackOff", 7),
    );
    let found = run(&fx.ctx());
    assert_eq!(ids(&found), ["rollout-failing"], "{found:#?}");
    let f = &found[0];
    for want in [
        "ReplicaSet checkout-5d8f7c9b4 (revision 8, pod-template-hash 5d8f7c9b4) has 0 of 2 pods ready",
        "checkout-5d8f7c9b4-k7l8m: checkout CrashLoopBackOff (7 restarts)",
        "ReplicaSet checkout-6c4b8d5f7 (revision 7, pod-template-hash 6c4b8d5f7) still serves 3 ready pods",
        "image ghcr.io/acme-shop/checkout:3.14.2 → ghcr.io/acme-shop/checkout:3.15.0",
        "args [\"--port=8080\"] → [\"--port=80800\"]",
        TIMED_OUT,
    ] {
        assert!(f.cause.contains(want), "{want:?} not in {}", f.cause);
    }
    assert_eq!(f.severity, Severity::Error);
    let related: Vec<String> = f.related.iter().map(ToString::to_string).collect();
    assert!(related.contains(&"Pod/shop/checkout-5d8f7c9b4-k7l8m".to_string()));
    assert!(
        !related.iter().any(|r| r.contains("6c4b8d5f7-")),
        "{related:?}"
    );
    let commands: Vec<&str> = f.next_steps.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(
        commands,
        [
            "kubectl -n shop rollout history deployment/checkout",
            "kubectl -n shop rollout undo deployment/checkout --to-revision=7"
        ]
    );
}

#[test]
fn new_pods_still_starting_within_the_deadline_are_silent() {
    let creating = waiting_status("ContainerCreating", 0);
    let fx = rollout(rolling(json!("25%"), json!("25%")), updating(), &creating);
    assert!(run(&fx.ctx()).is_empty());
    // Running, first instance, readiness not passed yet: still starting.
    let mut starting = ready_status();
    starting["conditions"][0]["status"] = json!("False");
    starting["containerStatuses"][0]["ready"] = json!(false);
    let fx = rollout(rolling(json!("25%"), json!("25%")), updating(), &starting);
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn max_unavailable_zero_with_unschedulable_surge_pods_blocks_the_rollout() {
    let mut fx = rollout(rolling(json!(1), json!(0)), updating(), &unschedulable());
    // 4 replicas, all 4 old pods available: none may go.
    fx.ns.replicasets[0] = obj(replica_set(
        "6c4b8d5f7",
        7,
        4,
        4,
        container("ghcr.io/acme-shop/checkout:3.14.2", &["--port=8080"]),
    ));
    let found = run(&fx.ctx());
    assert_eq!(ids(&found), ["rollout-blocked"], "{found:#?}");
    assert!(found[0]
        .cause
        .contains("maxUnavailable resolves to 0 for 4 replicas (maxSurge 1)"));
    assert!(found[0].cause.contains("3 Insufficient cpu"));
    // With 25 % (1 of 4) unavailable allowed, old pods can make room:
    // the unschedulable new pods are a failing rollout instead.
    let fx = rollout(
        rolling(json!("25%"), json!("25%")),
        updating(),
        &unschedulable(),
    );
    assert_eq!(ids(&run(&fx.ctx())), ["rollout-failing"]);
}

#[test]
fn deadline_exceeded_alone_is_an_error_and_info_once_the_rollout_is_over() {
    // Old pods are gone but not every replica is updated: an error.
    let mut fx = rollout(
        rolling(json!("25%"), json!("25%")),
        timed_out(),
        &waiting_status("ImagePullBackOff", 0),
    );
    fx.ns.pods.retain(|p| {
        !p.metadata
            .name
            .as_deref()
            .unwrap_or("")
            .contains("6c4b8d5f7")
    });
    fx.ns.replicasets[0] = obj(replica_set("6c4b8d5f7", 7, 0, 0, json!([])));
    let found = run(&fx.ctx());
    assert_eq!(ids(&found), ["rollout-deadline-exceeded"], "{found:#?}");
    assert_eq!(found[0].severity, Severity::Error);
    assert!(found[0].cause.contains(TIMED_OUT));
    assert!(found[0].cause.contains("2 of 4 replicas updated"));
    // Every replica updated, no old pod: the pods' findings carry it.
    if let Some(s) = fx.ns.deployments[0].status.as_mut() {
        s.updated_replicas = Some(4);
    }
    assert_eq!(run(&fx.ctx())[0].severity, Severity::Info);
}

#[test]
fn a_paused_deployment_with_a_waiting_change_is_a_warning() {
    let mut fx = rollout(
        rolling(json!("25%"), json!("25%")),
        json!({"type": "Progressing", "status": "Unknown", "reason": "DeploymentPaused", "message": "Deployment is paused"}),
        &ready_status(),
    );
    fx.ns
        .replicasets
        .retain(|r| r.metadata.name.as_deref() == Some("checkout-6c4b8d5f7"));
    fx.ns.pods.retain(|p| {
        !p.metadata
            .name
            .as_deref()
            .unwrap_or("")
            .contains("5d8f7c9b4")
    });
    if let Some(s) = fx.ns.deployments[0].spec.as_mut() {
        s.paused = Some(true);
    }
    let found = run(&fx.ctx());
    assert_eq!(ids(&found), ["rollout-paused"], "{found:#?}");
    assert_eq!(found[0].severity, Severity::Warning);
    assert!(found[0]
        .cause
        .contains("image ghcr.io/acme-shop/checkout:3.14.2 → ghcr.io/acme-shop/checkout:3.15.0"));
    // Nothing waiting: info.
    if let Some(t) = fx.ns.deployments[0].spec.as_mut().map(|s| &mut s.template) {
        t.spec = fx.ns.replicasets[0]
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.clone());
    }
    assert_eq!(run(&fx.ctx())[0].severity, Severity::Info);
}

#[test]
fn a_completed_rollout_is_silent() {
    let mut fx = rollout(
        rolling(json!("25%"), json!("25%")),
        json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
               "message": "ReplicaSet \"checkout-5d8f7c9b4\" has successfully progressed."}),
        &ready_status(),
    );
    fx.ns.replicasets[0] = obj(replica_set("6c4b8d5f7", 7, 0, 0, json!([])));
    fx.ns.pods.retain(|p| {
        !p.metadata
            .name
            .as_deref()
            .unwrap_or("")
            .contains("6c4b8d5f7")
    });
    assert!(run(&fx.ctx()).is_empty());
}
