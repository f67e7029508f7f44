//! Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and HPAs with the
//! status their controllers write.

use serde_json::{json, Value};

use super::{admission, meta};
use crate::ids;

/// Replica counts of a workload's status.
#[derive(Debug, Clone, Copy)]
pub struct Replicas {
    /// `spec.replicas`.
    pub desired: i64,
    /// Pods created and not terminating.
    pub current: i64,
    /// Pods with Ready=True.
    pub ready: i64,
}

fn selector(labels: &[(&str, &str)]) -> Value {
    let m: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    json!({ "matchLabels": m })
}

/// A pod template spec as the API server stores it (defaults filled in).
fn defaulted(spec: &Value) -> Value {
    let mut s = spec.clone();
    admission::default_template_spec(&mut s);
    s
}

fn label_map(labels: &[(&str, &str)]) -> Value {
    let m: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    Value::Object(m)
}

/// A Deployment whose current ReplicaSet is `revision`; `pod_spec` is the
/// template spec and `selector_labels` its selector (also the template labels).
// Every argument is a distinct field of the object; a parameter struct would
// only rename them.
#[allow(clippy::too_many_arguments)]
pub fn deployment(
    namespace: &str,
    name: &str,
    created_ago: i64,
    selector_labels: &[(&str, &str)],
    pod_spec: &Value,
    r: Replicas,
    revision: u32,
    last_update_ago: i64,
) -> Value {
    let mut d = meta::object("apps/v1", "Deployment", Some(namespace), name, created_ago);
    meta::add_labels(&mut d, selector_labels);
    meta::add_annotations(
        &mut d,
        &[("deployment.kubernetes.io/revision", &revision.to_string())],
    );
    meta::add_managed(
        &mut d,
        "helm",
        "Update",
        last_update_ago,
        json!({"f:spec": {"f:template": {}}}),
        None,
    );
    meta::add_managed(
        &mut d,
        "kube-controller-manager",
        "Update",
        last_update_ago.min(60),
        json!({"f:status": {}}),
        Some("status"),
    );
    d["metadata"]["generation"] = json!(revision);
    d["spec"] = json!({
        "replicas": r.desired,
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "selector": selector(selector_labels),
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "template": {"metadata": {"labels": label_map(selector_labels)}, "spec": defaulted(pod_spec)},
    });
    let available = r.ready >= r.desired - r.desired / 4 && r.desired > 0 || r.desired == 0;
    let rs_name = format!(
        "{name}-{}",
        ids::template_hash(&format!("{namespace}/{name}/{revision}"))
    );
    let mut status = json!({
        "observedGeneration": revision,
        "replicas": r.current,
        "updatedReplicas": r.current,
        "readyReplicas": r.ready,
        "availableReplicas": r.ready,
        "conditions": [
            if available {
                json!({"type": "Available", "status": "True", "lastUpdateTime": ids::ago(last_update_ago), "lastTransitionTime": ids::ago(last_update_ago), "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."})
            } else {
                json!({"type": "Available", "status": "False", "lastUpdateTime": ids::ago(last_update_ago - 30), "lastTransitionTime": ids::ago(last_update_ago - 30), "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."})
            },
            if r.ready >= r.desired || last_update_ago < 600 {
                json!({"type": "Progressing", "status": "True", "lastUpdateTime": ids::ago(last_update_ago - 20), "lastTransitionTime": ids::ago(last_update_ago), "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{rs_name}\" has successfully progressed.")})
            } else {
                json!({"type": "Progressing", "status": "False", "lastUpdateTime": ids::ago(last_update_ago - 600), "lastTransitionTime": ids::ago(last_update_ago - 600), "reason": "ProgressDeadlineExceeded", "message": format!("ReplicaSet \"{rs_name}\" has timed out progressing.")})
            }
        ],
    });
    if r.ready < r.current {
        status["unavailableReplicas"] = json!(r.current - r.ready);
    }
    if r.ready == 0 {
        if let Some(m) = status.as_object_mut() {
            m.remove("readyReplicas");
            m.remove("availableReplicas");
        }
    }
    d["status"] = status;
    d
}

/// The name of the ReplicaSet of `deployment` at `revision`, and its
/// `pod-template-hash`.
pub fn replica_set_name(namespace: &str, deployment: &str, revision: u32) -> (String, String) {
    let hash = ids::template_hash(&format!("{namespace}/{deployment}/{revision}"));
    (format!("{deployment}-{hash}"), hash)
}

/// Replicas the Deployment asks for (how far an old ReplicaSet was scaled
/// down from).
fn replicas_before(deploy: &Value) -> i64 {
    deploy["spec"]["replicas"].as_i64().unwrap_or(1).max(1)
}

/// The ReplicaSet a Deployment created for `revision`.
pub fn replica_set(deploy: &Value, revision: u32, created_ago: i64, r: Replicas) -> Value {
    let ns = meta::namespace_of(deploy);
    let dname = meta::name_of(deploy);
    let (name, hash) = replica_set_name(ns, dname, revision);
    let mut rs = meta::object("apps/v1", "ReplicaSet", Some(ns), &name, created_ago);
    let mut labels = deploy["spec"]["selector"]["matchLabels"].clone();
    labels["pod-template-hash"] = json!(hash);
    rs["metadata"]["labels"] = labels.clone();
    meta::add_annotations(
        &mut rs,
        &[
            (
                "deployment.kubernetes.io/desired-replicas",
                &r.desired.to_string(),
            ),
            (
                "deployment.kubernetes.io/max-replicas",
                &(r.desired + (r.desired + 3) / 4).to_string(),
            ),
            ("deployment.kubernetes.io/revision", &revision.to_string()),
        ],
    );
    meta::set_owner(&mut rs, deploy);
    meta::add_managed(
        &mut rs,
        "kube-controller-manager",
        "Update",
        created_ago,
        json!({"f:spec": {"f:replicas": {}}}),
        None,
    );
    meta::add_managed(
        &mut rs,
        "kube-controller-manager",
        "Update",
        created_ago.min(60),
        json!({"f:status": {}}),
        Some("status"),
    );
    // The Deployment controller writes `spec.replicas` once per rollout
    // step: a ReplicaSet created by a rollout was scaled up step by step, an
    // old one scaled down to zero the same way.
    let generation = if r.desired == 0 {
        1 + replicas_before(deploy)
    } else if revision > 1 {
        r.desired.max(1)
    } else {
        1
    };
    rs["metadata"]["generation"] = json!(generation);
    let mut template = deploy["spec"]["template"].clone();
    template["metadata"]["labels"] = labels.clone();
    rs["spec"] = json!({
        "replicas": r.desired,
        "selector": {"matchLabels": labels},
        "template": template,
    });
    let mut status = json!({"replicas": r.current, "fullyLabeledReplicas": r.current, "observedGeneration": generation});
    if r.ready > 0 {
        status["readyReplicas"] = json!(r.ready);
        status["availableReplicas"] = json!(r.ready);
    }
    rs["status"] = status;
    rs
}

/// A StatefulSet with `serviceName` and the given status.
pub fn stateful_set(
    namespace: &str,
    name: &str,
    created_ago: i64,
    selector_labels: &[(&str, &str)],
    pod_spec: &Value,
    r: Replicas,
    service_name: &str,
) -> Value {
    let mut s = meta::object("apps/v1", "StatefulSet", Some(namespace), name, created_ago);
    meta::add_labels(&mut s, selector_labels);
    meta::add_managed(
        &mut s,
        "helm",
        "Update",
        created_ago,
        json!({"f:spec": {}}),
        None,
    );
    s["metadata"]["generation"] = json!(1);
    let rev = format!(
        "{name}-{}",
        ids::template_hash(&format!("sts/{namespace}/{name}"))
    );
    s["spec"] = json!({
        "replicas": r.desired,
        "serviceName": service_name,
        "podManagementPolicy": "OrderedReady",
        "revisionHistoryLimit": 10,
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "selector": selector(selector_labels),
        "template": {"metadata": {"labels": label_map(selector_labels)}, "spec": defaulted(pod_spec)},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
    });
    s["status"] = json!({
        "observedGeneration": 1,
        "replicas": r.current,
        "readyReplicas": r.ready,
        "currentReplicas": r.current,
        "updatedReplicas": r.current,
        "availableReplicas": r.ready,
        "currentRevision": rev,
        "updateRevision": rev,
        "collisionCount": 0,
    });
    s
}

/// The `controller-revision-hash` label of a StatefulSet's or DaemonSet's pods.
pub fn controller_revision_hash(owner: &Value) -> String {
    ids::template_hash(&format!(
        "crh/{}/{}",
        meta::namespace_of(owner),
        meta::name_of(owner)
    ))
}

/// A DaemonSet scheduled on `nodes` nodes.
pub fn daemon_set(
    namespace: &str,
    name: &str,
    created_ago: i64,
    selector_labels: &[(&str, &str)],
    pod_spec: &Value,
    nodes: i64,
    ready: i64,
) -> Value {
    let mut d = meta::object("apps/v1", "DaemonSet", Some(namespace), name, created_ago);
    meta::add_labels(&mut d, selector_labels);
    meta::add_annotations(&mut d, &[("deprecated.daemonset.template.generation", "1")]);
    meta::add_managed(
        &mut d,
        "eks",
        "Update",
        created_ago,
        json!({"f:spec": {}}),
        None,
    );
    d["metadata"]["generation"] = json!(1);
    d["spec"] = json!({
        "revisionHistoryLimit": 10,
        "selector": selector(selector_labels),
        "template": {"metadata": {"labels": label_map(selector_labels)}, "spec": defaulted(pod_spec)},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}},
    });
    d["status"] = json!({
        "currentNumberScheduled": nodes,
        "desiredNumberScheduled": nodes,
        "numberAvailable": ready,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "observedGeneration": 1,
        "updatedNumberScheduled": nodes,
    });
    if ready < nodes {
        d["status"]["numberUnavailable"] = json!(nodes - ready);
    }
    d
}

/// A completed Job (one pod, succeeded).
pub fn job(
    namespace: &str,
    name: &str,
    created_ago: i64,
    pod_spec: &Value,
    completed_ago: i64,
) -> Value {
    let mut j = meta::object("batch/v1", "Job", Some(namespace), name, created_ago);
    let uid = j["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let labels = [
        ("batch.kubernetes.io/controller-uid", uid.as_str()),
        ("batch.kubernetes.io/job-name", name),
        ("controller-uid", uid.as_str()),
        ("job-name", name),
    ];
    meta::add_labels(&mut j, &labels[2..]);
    meta::add_managed(
        &mut j,
        "kube-controller-manager",
        "Update",
        completed_ago,
        json!({"f:status": {}}),
        Some("status"),
    );
    let mut spec = pod_spec.clone();
    spec["restartPolicy"] = json!("Never");
    j["spec"] = json!({
        "parallelism": 1,
        "completions": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": false,
        "manualSelector": false,
        "podReplacementPolicy": "TerminatingOrFailed",
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
        "template": {"metadata": {"labels": label_map(&labels)}, "spec": defaulted(&spec)},
    });
    j["status"] = json!({
        "startTime": ids::ago(created_ago),
        "completionTime": ids::ago(completed_ago),
        "succeeded": 1,
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": ids::ago(completed_ago), "lastTransitionTime": ids::ago(completed_ago)},
            {"type": "Complete", "status": "True", "lastProbeTime": ids::ago(completed_ago), "lastTransitionTime": ids::ago(completed_ago)},
        ],
    });
    j
}

/// How an HPA currently behaves.
#[derive(Debug, Clone)]
pub enum HpaState {
    /// Metrics available: current utilization in percent.
    Healthy {
        /// Average CPU utilization in percent of requests.
        utilization: i64,
        /// Average CPU in millicores.
        average_millis: i64,
    },
    /// `ScalingActive=False` with this reason and message (targets `<unknown>`).
    NoMetrics {
        /// e.g. `FailedGetResourceMetric`.
        reason: String,
        /// The controller's message.
        message: String,
    },
}

/// An `autoscaling/v2` HPA on a Deployment with a CPU utilization target.
#[allow(clippy::too_many_arguments)]
pub fn hpa(
    namespace: &str,
    name: &str,
    created_ago: i64,
    target: &str,
    min: i64,
    max: i64,
    target_utilization: i64,
    replicas: i64,
    state: &HpaState,
) -> Value {
    let mut h = meta::object(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        Some(namespace),
        name,
        created_ago,
    );
    meta::add_managed(
        &mut h,
        "helm",
        "Update",
        created_ago,
        json!({"f:spec": {}}),
        None,
    );
    meta::add_managed(
        &mut h,
        "kube-controller-manager",
        "Update",
        15,
        json!({"f:status": {}}),
        Some("status"),
    );
    h["spec"] = json!({
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "minReplicas": min,
        "maxReplicas": max,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target_utilization}}}],
    });
    let able = json!({"type": "AbleToScale", "status": "True", "lastTransitionTime": ids::ago(created_ago - 15), "reason": "ReadyForNewScale", "message": "recommended size matches current size"});
    h["status"] = match state {
        HpaState::Healthy {
            utilization,
            average_millis,
        } => json!({
            "currentReplicas": replicas,
            "desiredReplicas": replicas,
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": utilization, "averageValue": format!("{average_millis}m")}}}],
            "conditions": [
                able,
                {"type": "ScalingActive", "status": "True", "lastTransitionTime": ids::ago(created_ago - 15), "reason": "ValidMetricFound", "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
                {"type": "ScalingLimited", "status": "False", "lastTransitionTime": ids::ago(created_ago - 15), "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range"},
            ],
        }),
        HpaState::NoMetrics { reason, message } => json!({
            "currentReplicas": replicas,
            "desiredReplicas": replicas,
            "currentMetrics": null,
            "conditions": [
                {"type": "AbleToScale", "status": "True", "lastTransitionTime": ids::ago(created_ago - 15), "reason": "SucceededGetScale", "message": "the HPA controller was able to get the target's current scale"},
                {"type": "ScalingActive", "status": "False", "lastTransitionTime": ids::ago(created_ago - 15), "reason": reason, "message": message},
            ],
        }),
    };
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_replicaset_chain_parses() {
        let spec = json!({"containers": [{"name": "api", "image": "ghcr.io/acme/api:1.4.2"}]});
        let r = Replicas {
            desired: 3,
            current: 3,
            ready: 1,
        };
        let d = deployment(
            "shop",
            "api",
            86_400,
            &[("app.kubernetes.io/name", "api")],
            &spec,
            r,
            4,
            3_600,
        );
        let rs = replica_set(&d, 4, 3_600, r);
        assert_eq!(rs["metadata"]["ownerReferences"][0]["name"], "api");
        let (name, hash) = replica_set_name("shop", "api", 4);
        assert_eq!(rs["metadata"]["name"], name.as_str());
        assert_eq!(
            rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"],
            hash.as_str()
        );
        assert_eq!(d["status"]["conditions"][0]["status"], "False");
        let _: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(d).unwrap();
        let _: k8s_openapi::api::apps::v1::ReplicaSet = serde_json::from_value(rs).unwrap();
    }

    #[test]
    fn hpa_without_metrics_has_no_current_metrics() {
        let st = HpaState::NoMetrics {
            reason: "FailedGetResourceMetric".into(),
            message: "the HPA was unable to compute the replica count".into(),
        };
        let h = hpa("shop", "api", 7_200, "api", 2, 10, 70, 2, &st);
        let typed: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler =
            serde_json::from_value(h).unwrap();
        let status = typed.status.unwrap();
        assert!(status.current_metrics.is_none());
        let conds = status.conditions.unwrap();
        assert!(conds
            .iter()
            .any(|c| c.type_ == "ScalingActive" && c.status == "False"));
        let spec = json!({"containers": [{"name": "m", "image": "busybox:1.37"}]});
        let _: k8s_openapi::api::batch::v1::Job =
            serde_json::from_value(job("ops", "migrate", 900, &spec, 800)).unwrap();
        let _: k8s_openapi::api::apps::v1::DaemonSet = serde_json::from_value(daemon_set(
            "kube-system",
            "kube-proxy",
            900,
            &[("k8s-app", "kube-proxy")],
            &spec,
            3,
            3,
        ))
        .unwrap();
        let _: k8s_openapi::api::apps::v1::StatefulSet = serde_json::from_value(stateful_set(
            "db",
            "pg",
            900,
            &[("app", "pg")],
            &spec,
            Replicas {
                desired: 1,
                current: 1,
                ready: 1,
            },
            "pg",
        ))
        .unwrap();
    }
}
