//! The policy objects of a generated namespace, in the proportions of a
//! multi-tenant cluster run by a platform team:
//!
//! - every namespace has an `object-counts` ResourceQuota;
//! - namespaces whose apps all set requests and limits also have a
//!   `compute-resources` quota and a `container-limits` LimitRange (a
//!   LimitRange's defaults would have filled in what the others leave out,
//!   and the quota would have refused them, so those namespaces have none);
//! - half of the namespaces isolate their pods with `default-deny-ingress`
//!   and admit their own pods and the ingress-nginx controller's namespace;
//! - one multi-replica app in three has a `maxUnavailable: 1`
//!   PodDisruptionBudget.
//!
//! Quota usage and budget status are counted from the generated pods, as
//! the quota and disruption controllers count them.

use serde_json::{json, Value};

use crate::builders::meta;
use crate::builders::policy::{pdb, resource_quota};
use crate::ids;
use crate::scale::Fleet;
use crate::scale_apps::{self, AppDesc, NsDesc};
use crate::scale_injected::Injected;
use crate::scale_plan::Failure;

/// Whether every app of `ns` sets CPU and memory requests and limits.
fn fully_specified(ns: &NsDesc) -> bool {
    ns.apps.iter().all(|a| {
        !matches!(
            a.failure,
            Some(Failure::NoLimits | Failure::HpaMissingRequests | Failure::Unschedulable)
        )
    })
}

/// Whether namespace `ns` isolates its pods with NetworkPolicies.
pub fn isolated(ns: &str) -> bool {
    ids::hash(&format!("netpol/{ns}")).is_multiple_of(2)
}

/// Whether `app` has a PodDisruptionBudget.
fn has_pdb(ns: &NsDesc, app: &AppDesc) -> bool {
    app.replicas >= 2 && ids::hash(&format!("pdb/{}/{}", ns.name, app.name)).is_multiple_of(3)
}

/// Borrowed `(key, value)` pairs for [`resource_quota`].
fn pairs<'a>(v: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// `count` rounded up to a whole multiple of `step`, doubled: the head room
/// a platform team leaves in a quota.
fn head_room(count: u64, step: u64) -> u64 {
    (count * 2).div_ceil(step).max(1) * step
}

fn quotas(ns: &NsDesc) -> Vec<Value> {
    let apps = &ns.apps;
    let pods: u64 = apps.iter().map(|a| a.replicas).sum();
    let deployments = apps.iter().filter(|a| !a.stateful).count() as u64;
    let claims: u64 = apps.iter().filter(|a| a.stateful).map(|a| a.replicas).sum();
    let n = apps.len() as u64;
    let counts = [
        ("count/deployments.apps", deployments),
        ("configmaps", n),
        ("persistentvolumeclaims", claims),
        ("pods", pods),
        ("secrets", n),
        ("services", n),
    ];
    let hard: Vec<(&str, String)> = counts
        .iter()
        .map(|(k, v)| (*k, head_room(*v, 10).to_string()))
        .collect();
    let used: Vec<(&str, String)> = counts.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let mut out = vec![resource_quota(
        &ns.name,
        "object-counts",
        &pairs(&hard),
        &pairs(&used),
    )];
    if fully_specified(ns) {
        let sum = |f: &dyn Fn(&AppDesc) -> u64| apps.iter().map(|a| a.replicas * f(a)).sum::<u64>();
        let req_cpu = sum(&|a| a.cpu);
        let lim_cpu = sum(&|a| a.cpu * 2);
        let req_mem = sum(&|a| a.mem / 2);
        let lim_mem = sum(&|a| a.mem);
        let hard = [
            (
                "limits.cpu",
                format!("{}", head_room(lim_cpu, 1_000) / 1_000),
            ),
            (
                "limits.memory",
                format!("{}Gi", head_room(lim_mem, 1_024) / 1_024),
            ),
            (
                "requests.cpu",
                format!("{}", head_room(req_cpu, 1_000) / 1_000),
            ),
            (
                "requests.memory",
                format!("{}Gi", head_room(req_mem, 1_024) / 1_024),
            ),
        ];
        let used = [
            ("limits.cpu", format!("{lim_cpu}m")),
            ("limits.memory", format!("{lim_mem}Mi")),
            ("requests.cpu", format!("{req_cpu}m")),
            ("requests.memory", format!("{req_mem}Mi")),
        ];
        out.push(resource_quota(
            &ns.name,
            "compute-resources",
            &pairs(&hard),
            &pairs(&used),
        ));
    }
    out
}

fn limit_ranges(ns: &NsDesc) -> Vec<Value> {
    if !fully_specified(ns) {
        return Vec::new();
    }
    let mut lr = meta::object(
        "v1",
        "LimitRange",
        Some(&ns.name),
        "container-limits",
        ns.created_ago,
    );
    lr["spec"] = json!({"limits": [{"type": "Container",
        "max": {"cpu": "4", "memory": "8Gi"},
        "default": {"cpu": "500m", "memory": "512Mi"},
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]});
    vec![lr]
}

/// A NetworkPolicy of namespace `ns` as the API server stores it.
fn policy(ns: &NsDesc, name: &str, spec: Value) -> Value {
    let mut p = meta::object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        Some(&ns.name),
        name,
        ns.created_ago,
    );
    meta::meta_mut(&mut p).insert("generation".into(), json!(1));
    meta::add_labels(&mut p, &[("app.kubernetes.io/managed-by", "Helm")]);
    p["spec"] = spec;
    p
}

fn network_policies(ns: &NsDesc) -> Vec<Value> {
    if !isolated(&ns.name) {
        return Vec::new();
    }
    vec![
        policy(
            ns,
            "default-deny-ingress",
            json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
        ),
        policy(
            ns,
            "allow-same-namespace",
            json!({
                "podSelector": {},
                "ingress": [{"from": [{"podSelector": {}}]}],
                "policyTypes": ["Ingress"]
            }),
        ),
        policy(
            ns,
            "allow-ingress-nginx",
            json!({
                "podSelector": {},
                "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
                    "ports": [{"protocol": "TCP", "port": "http"}]
                }],
                "policyTypes": ["Ingress"]
            }),
        ),
    ]
}

/// `(expected, desired, current healthy)` of an app's budget.
fn budget_counts(ns: &NsDesc, app: &AppDesc, fleet: &Fleet) -> (i64, i64, i64) {
    let pods = scale_apps::objects("pods", ns, app, fleet);
    let ready = pods.iter().filter(|p| crate::app::is_ready(p)).count() as i64;
    let expected = app.replicas as i64;
    (expected, expected - 1, ready)
}

fn budgets(ns: &NsDesc, fleet: &Fleet) -> Vec<Value> {
    ns.apps
        .iter()
        .filter(|a| has_pdb(ns, a))
        .map(|app| {
            pdb(
                &ns.name,
                &app.name,
                ("maxUnavailable", json!(1)),
                &[("app.kubernetes.io/name", &app.name)],
                budget_counts(ns, app, fleet),
                app.rollout_ago.max(1),
            )
        })
        .collect()
}

/// The finding an app's budget must produce: when its pods are failing
/// the budget allows no disruption (`pdb-disruptions-exhausted`).
pub fn injected(ns: &NsDesc, app: &AppDesc, fleet: &Fleet) -> Option<Injected> {
    if !has_pdb(ns, app) {
        return None;
    }
    let (_, desired, current) = budget_counts(ns, app, fleet);
    (current <= desired).then(|| Injected {
        rule: "pdb-disruptions-exhausted".into(),
        object: format!("PodDisruptionBudget/{}/{}", ns.name, app.name),
    })
}

/// The policy objects of one kind (plural) in namespace `ns`.
pub fn objects(plural: &str, ns: &NsDesc, fleet: &Fleet) -> Vec<Value> {
    match plural {
        "resourcequotas" => quotas(ns),
        "limitranges" => limit_ranges(ns),
        "networkpolicies" => network_policies(ns),
        "poddisruptionbudgets" => budgets(ns, fleet),
        _ => Vec::new(),
    }
}
