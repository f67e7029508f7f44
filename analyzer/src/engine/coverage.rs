//! Coverage gaps: the checks that could not run, and why. Missing data is
//! never a silent pass: every kind a check needs that is unavailable in a
//! namespace yields one gap naming the check, the kind and the reason.

use kpm_model::{CollectionSummary, CoverageGap, FailedStep};

use crate::context::{ClusterData, NamespaceData};

/// Which checks need which kinds (plural names, or `metrics/pods`).
const CHECKS: &[(&str, &[&str])] = &[
    ("pod health", &["pods"]),
    (
        "pod events (pull errors, probe failures, scheduling)",
        &["events"],
    ),
    (
        "service selectors and endpoints",
        &["services", "endpoints"],
    ),
    ("ingress routing", &["ingresses"]),
    ("autoscaling", &["horizontalpodautoscalers"]),
    (
        "workload ownership and rollouts",
        &["deployments", "replicasets"],
    ),
    ("config rollout", &["configmaps"]),
    ("secret rotation", &["secrets"]),
    ("volume claims", &["persistentvolumeclaims"]),
    ("failed jobs and cronjob runs", &["jobs", "cronjobs"]),
];

/// Gaps of one namespace.
pub fn namespace_gaps(ns: &NamespaceData) -> Vec<CoverageGap> {
    let mut out = Vec::new();
    for (check, kinds) in CHECKS {
        for kind in *kinds {
            if let Some(why) = ns.unavailable(kind) {
                out.push(CoverageGap {
                    check: (*check).to_string(),
                    namespace: Some(ns.name.clone()),
                    reason: format!("{kind} {why}"),
                });
            }
        }
    }
    out
}

/// Gaps at cluster scope (nodes, metrics).
pub fn cluster_gaps(cluster: &ClusterData) -> Vec<CoverageGap> {
    let mut out = Vec::new();
    for (kind, check) in [
        ("nodes", "node health and capacity"),
        ("ingressclasses", "ingress controller per class"),
        ("persistentvolumes", "volume binding"),
    ] {
        if let Some(why) = cluster.unavailable.get(kind) {
            out.push(CoverageGap {
                check: check.to_string(),
                namespace: None,
                reason: format!("{kind} {why}"),
            });
        }
    }
    if let Some(problem) = &cluster.infra.pod_metrics_problem {
        out.push(CoverageGap {
            check: "resource usage (kubectl top, memory near limit)".to_string(),
            namespace: None,
            reason: problem.clone(),
        });
    }
    if cluster.node_metrics.is_none() {
        out.push(CoverageGap {
            check: "node usage (kubectl top node)".to_string(),
            namespace: None,
            reason: "no node metrics in the bundle".to_string(),
        });
    }
    out
}

/// The manifest's steps and redaction as the report shows them.
pub fn collection_summary(bundle: &kpm_bundle::Bundle) -> CollectionSummary {
    let m = bundle.manifest();
    CollectionSummary {
        steps_total: m.steps.len(),
        failed_steps: m
            .failed_steps()
            .map(|s| FailedStep {
                what: s.what.clone(),
                namespace: s.namespace.clone(),
                object: s.object.clone(),
                outcome: s.outcome.as_str().to_string(),
                message: s.message.clone(),
            })
            .collect(),
        redaction: m.redaction.clone(),
        redaction_enabled: m.options.redaction,
    }
}
