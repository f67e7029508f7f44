//! Policy objects of a namespace: ResourceQuotas and PodDisruptionBudgets
//! with the status their controllers write.

use serde_json::{json, Value};

use crate::builders::meta;

/// When the budgets were created (and last synced with a transition).
pub const PDB_AGE: i64 = 86_400 * 30;

/// A `v1` ResourceQuota with the same `spec.hard` and `status.hard`.
pub fn resource_quota(ns: &str, name: &str, hard: &[(&str, &str)], used: &[(&str, &str)]) -> Value {
    let mut q = meta::object("v1", "ResourceQuota", Some(ns), name, 86_400 * 120);
    let map = |pairs: &[(&str, &str)]| {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), json!(v)))
                .collect(),
        )
    };
    q["spec"] = json!({"hard": map(hard)});
    q["status"] = json!({"hard": map(hard), "used": map(used)});
    q
}

/// A `policy/v1` PodDisruptionBudget over `selector` with the controller's
/// status: `expected` pods counted, `desired` needed healthy, `current`
/// healthy.
pub fn pdb(
    ns: &str,
    name: &str,
    budget: (&str, Value),
    selector: &[(&str, &str)],
    (expected, desired, current): (i64, i64, i64),
    transition_ago: i64,
) -> Value {
    let mut p = meta::object("policy/v1", "PodDisruptionBudget", Some(ns), name, PDB_AGE);
    meta::meta_mut(&mut p).insert("generation".into(), json!(1));
    meta::add_labels(&mut p, &[("app.kubernetes.io/managed-by", "Helm")]);
    meta::add_managed(
        &mut p,
        "helm",
        "Update",
        PDB_AGE,
        json!({"f:spec": {format!("f:{}", budget.0): {}, "f:selector": {}}}),
        None,
    );
    meta::add_managed(
        &mut p,
        "kube-controller-manager",
        "Update",
        transition_ago,
        json!({"f:status": {"f:conditions": {}, "f:currentHealthy": {}, "f:desiredHealthy": {}, "f:disruptionsAllowed": {}, "f:expectedPods": {}, "f:observedGeneration": {}}}),
        Some("status"),
    );
    let labels: serde_json::Map<String, Value> = selector
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    p["spec"] = json!({budget.0: budget.1, "selector": {"matchLabels": labels}});
    let allowed = (current - desired).max(0);
    let (status, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    p["status"] = json!({
        "observedGeneration": 1,
        "disruptionsAllowed": allowed,
        "currentHealthy": current,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": [{"type": "DisruptionAllowed", "status": status, "reason": reason, "message": "",
            "observedGeneration": 1, "lastTransitionTime": crate::ids::ago(transition_ago)}],
    });
    p
}
