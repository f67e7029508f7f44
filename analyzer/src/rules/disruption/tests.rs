//! Tests of the disruption rules on PDB objects as the disruption
//! controller writes them.

use serde_json::json;

use super::*;
use crate::testkit::{obj, Fixture, PodFixture};

fn pdb(spec: serde_json::Value, status: serde_json::Value) -> PodDisruptionBudget {
    let mut spec = spec;
    spec["selector"] = json!({"matchLabels": {"app": "web"}});
    obj(
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "shop", "generation": 1},
        "spec": spec, "status": status}),
    )
}

fn status(expected: i32, desired: i32, current: i32, allowed: i32) -> serde_json::Value {
    let (cond, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    json!({"observedGeneration": 1, "expectedPods": expected, "desiredHealthy": desired,
        "currentHealthy": current, "disruptionsAllowed": allowed,
        "conditions": [{"type": "DisruptionAllowed", "status": cond, "reason": reason, "message": "",
            "observedGeneration": 1, "lastTransitionTime": "2026-11-20T13:00:30Z"}]})
}

fn fixture(ready: &[bool]) -> Fixture {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = ready
        .iter()
        .enumerate()
        .map(|(i, r)| {
            obj(PodFixture::new("shop", &format!("web-7c9d8f6b5-p{i}"))
                .labels(json!({"app": "web"}))
                .ready(*r)
                .build())
        })
        .collect();
    fx
}

fn rules(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn max_unavailable_zero_blocks_drains_by_design() {
    let mut fx = fixture(&[true, true, true]);
    fx.ns.pdbs = vec![pdb(json!({"maxUnavailable": 0}), status(3, 3, 3, 0))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), ["pdb-blocks-drain"]);
    let c = &out[0].cause;
    assert!(c.contains("spec.maxUnavailable is 0"), "{c}");
    assert!(c.contains("Cannot evict pod as it would violate the pod's disruption budget."));
    assert!(c.contains("The disruption budget web needs 3 healthy pods and has 3 currently"));
    assert!(out[0].related.is_empty(), "by design: no pod is the cause");
    assert!(out[0]
        .next_steps
        .iter()
        .any(|s| s.command == "kubectl -n shop get pods -o wide -l app=web"));
}

#[test]
fn single_replica_with_min_available_one_blocks_drains() {
    let mut fx = fixture(&[true]);
    fx.ns.pdbs = vec![pdb(json!({"minAvailable": 1}), status(1, 1, 1, 0))];
    assert_eq!(rules(&run(&fx.ctx())), ["pdb-blocks-drain"]);
}

#[test]
fn a_budget_with_room_is_silent() {
    // kube-system style: minAvailable 1 over 2 replicas allows 1.
    let mut fx = fixture(&[true, true]);
    fx.ns.pdbs = vec![pdb(json!({"minAvailable": 1}), status(2, 1, 2, 1))];
    assert!(run(&fx.ctx()).is_empty());
    // 3 replicas, maxUnavailable 1.
    let mut fx = fixture(&[true, true, true]);
    fx.ns.pdbs = vec![pdb(json!({"maxUnavailable": 1}), status(3, 2, 3, 1))];
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn unhealthy_pods_exhaust_the_budget_and_are_related() {
    let mut fx = fixture(&[true, false]);
    fx.ns.pdbs = vec![pdb(json!({"minAvailable": 1}), status(2, 1, 1, 0))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), ["pdb-disruptions-exhausted"]);
    assert!(
        out[0]
            .cause
            .contains("only 1 of its 2 expected pods are healthy (not ready: web-7c9d8f6b5-p1)"),
        "{}",
        out[0].cause
    );
    assert_eq!(
        out[0].related,
        [ObjectRef::namespaced("Pod", "shop", "web-7c9d8f6b5-p1")]
    );
}

#[test]
fn a_budget_over_no_pod_is_info_and_stale_status_is_ignored() {
    let mut fx = fixture(&[]);
    fx.ns.pdbs = vec![pdb(json!({"minAvailable": 1}), status(0, 1, 0, 0))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), ["pdb-no-pods"]);
    assert_eq!(out[0].severity, kpm_model::Severity::Info);
    // The controller has not seen generation 2 yet.
    let mut fx = fixture(&[true]);
    let mut stale = pdb(json!({"maxUnavailable": 0}), status(1, 1, 1, 0));
    stale.metadata.generation = Some(2);
    fx.ns.pdbs = vec![stale];
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn hostile_names_give_no_command() {
    let mut fx = fixture(&[true]);
    let mut p = pdb(json!({"maxUnavailable": 0}), status(1, 1, 1, 0));
    p.metadata.name = Some("web$(touch /tmp/x)".into());
    fx.ns.pdbs = vec![p];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), ["pdb-blocks-drain"]);
    assert!(out[0]
        .next_steps
        .iter()
        .all(|s| !s.command.contains("touch")));
}
