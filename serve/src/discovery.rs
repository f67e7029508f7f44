//! Discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/<group>[/<version>]`)
//! and `/version`.
//!
//! The served kinds come from `kpm_bundle::layout` (the one table of kinds),
//! plus `metrics.k8s.io/v1beta1` when the bundle holds metrics, so that
//! `kubectl top` behaves like against a cluster with (or without)
//! metrics-server. These are the legacy documents; [`crate::aggregated`]
//! derives the aggregated form kubectl asks for first from them.

use kpm_bundle::layout::{all_kinds, ResourceKind, Scope};
use serde_json::{json, Value};

/// The metrics API group served when the bundle has metrics.
pub const METRICS_GROUP: &str = "metrics.k8s.io";
/// Its version.
pub const METRICS_VERSION: &str = "v1beta1";

/// Group order of the API server's discovery (its group priorities), so
/// that kubectl resolves a resource name to the same group as on a cluster.
const GROUP_ORDER: &[&str] = &[
    "apps",
    "events.k8s.io",
    crate::access::AUTHORIZATION_GROUP,
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "policy",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "scheduling.k8s.io",
    "discovery.k8s.io",
    METRICS_GROUP,
];

/// Kinds in the `all` category, as the API server declares them.
fn categories(plural: &str) -> &'static [&'static str] {
    match plural {
        "pods"
        | "services"
        | "deployments"
        | "replicasets"
        | "statefulsets"
        | "daemonsets"
        | "jobs"
        | "cronjobs"
        | "horizontalpodautoscalers" => &["all"],
        _ => &[],
    }
}

/// Subresources served for a kind: `status` for every kind with a status,
/// `log` for pods.
fn subresources(plural: &str) -> &'static [&'static str] {
    match plural {
        "pods" => &["log", "status"],
        "nodes"
        | "namespaces"
        | "services"
        | "deployments"
        | "replicasets"
        | "statefulsets"
        | "daemonsets"
        | "jobs"
        | "horizontalpodautoscalers"
        | "ingresses"
        | "persistentvolumeclaims"
        | "persistentvolumes"
        | "cronjobs"
        | "resourcequotas"
        | "poddisruptionbudgets"
        | "volumeattachments" => &["status"],
        _ => &[],
    }
}

fn resource(kind: &ResourceKind) -> Vec<Value> {
    let namespaced = kind.scope == Scope::Namespaced;
    let mut main = json!({
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": namespaced,
        "kind": kind.kind,
        "verbs": ["get", "list", "watch"],
    });
    if let Some(obj) = main.as_object_mut() {
        if !kind.short_names.is_empty() {
            obj.insert("shortNames".into(), json!(kind.short_names));
        }
        let cats = categories(kind.plural);
        if !cats.is_empty() {
            obj.insert("categories".into(), json!(cats));
        }
    }
    let mut out = vec![main];
    for sub in subresources(kind.plural) {
        out.push(json!({
            "name": format!("{}/{sub}", kind.plural),
            "singularName": "",
            "namespaced": namespaced,
            "kind": kind.kind,
            "verbs": ["get"],
        }));
    }
    out
}

/// `APIResourceList` of one group version, None when not served.
pub fn resource_list(group: &str, version: &str, has_metrics: bool) -> Option<Value> {
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = if group == METRICS_GROUP
        && version == METRICS_VERSION
        && has_metrics
    {
        vec![
            json!({"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]}),
            json!({"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}),
        ]
    } else if group == crate::events::GROUP && version == crate::events::VERSION {
        crate::events::resources()
    } else if group == crate::access::AUTHORIZATION_GROUP && version == "v1" {
        crate::access::review_resources()
    } else {
        all_kinds()
            .filter(|k| k.group == group && k.version == version)
            .flat_map(resource)
            .collect()
    };
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

/// `/api`: the core group's versions.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// Named groups and their versions, in the API server's order.
fn groups(has_metrics: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for k in all_kinds().filter(|k| !k.group.is_empty()) {
        if !out.iter().any(|(g, v)| g == k.group && v == k.version) {
            out.push((k.group.to_string(), k.version.to_string()));
        }
    }
    if has_metrics {
        out.push((METRICS_GROUP.to_string(), METRICS_VERSION.to_string()));
    }
    out.push((
        crate::access::AUTHORIZATION_GROUP.to_string(),
        "v1".to_string(),
    ));
    out.push((
        crate::events::GROUP.to_string(),
        crate::events::VERSION.to_string(),
    ));
    let rank = |g: &str| {
        GROUP_ORDER
            .iter()
            .position(|x| *x == g)
            .unwrap_or(GROUP_ORDER.len())
    };
    out.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then_with(|| a.0.cmp(&b.0)));
    out
}

fn group_doc(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = vs.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": vs, "preferredVersion": preferred})
}

/// `/apis`: `APIGroupList`.
pub fn group_list(has_metrics: bool) -> Value {
    let mut docs: Vec<Value> = Vec::new();
    let all = groups(has_metrics);
    let mut seen: Vec<&str> = Vec::new();
    for (g, _) in &all {
        if seen.contains(&g.as_str()) {
            continue;
        }
        seen.push(g);
        let versions: Vec<String> = all
            .iter()
            .filter(|(x, _)| x == g)
            .map(|(_, v)| v.clone())
            .collect();
        docs.push(group_doc(g, &versions));
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": docs})
}

/// `/apis/<group>`: `APIGroup`, None when not served.
pub fn group(name: &str, has_metrics: bool) -> Option<Value> {
    let versions: Vec<String> = groups(has_metrics)
        .into_iter()
        .filter(|(g, _)| g == name)
        .map(|(_, v)| v)
        .collect();
    if versions.is_empty() {
        return None;
    }
    let mut doc = group_doc(name, &versions);
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("kind".into(), "APIGroup".into());
        obj.insert("apiVersion".into(), "v1".into());
    }
    Some(doc)
}

/// `/version` when the bundle lacks `cluster/version.json`: what the
/// manifest recorded, in `version.Info` shape.
pub fn version_from_manifest(git_version: &str) -> Value {
    let trimmed = git_version.trim_start_matches('v');
    let mut parts = trimmed.split('.');
    let major = parts.next().unwrap_or("").to_string();
    let minor = parts.next().unwrap_or("").to_string();
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "platform": "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_list_has_pods_with_log_and_short_names() {
        let v = resource_list("", "v1", false).unwrap();
        assert_eq!(v["groupVersion"], "v1");
        let rs = v["resources"].as_array().unwrap();
        let pods = rs.iter().find(|r| r["name"] == "pods").unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert!(rs.iter().any(|r| r["name"] == "pods/log"));
        assert!(rs
            .iter()
            .any(|r| r["name"] == "nodes" && r["namespaced"] == false));
        assert!(resource_list("apps", "v1", false).is_some());
        assert!(resource_list("apps", "v2", false).is_none());
    }

    #[test]
    fn metrics_group_only_with_metrics() {
        let names = |v: &Value| -> Vec<String> {
            v["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert!(!names(&group_list(false)).contains(&METRICS_GROUP.to_string()));
        let with = group_list(true);
        assert_eq!(names(&with).first().map(String::as_str), Some("apps"));
        assert!(names(&with).contains(&METRICS_GROUP.to_string()));
        assert!(resource_list(METRICS_GROUP, METRICS_VERSION, false).is_none());
        assert_eq!(
            group("autoscaling", false).unwrap()["preferredVersion"]["groupVersion"],
            "autoscaling/v2"
        );
    }

    #[test]
    fn version_fallback() {
        let v = version_from_manifest("v1.33.2");
        assert_eq!(v["major"], "1");
        assert_eq!(v["minor"], "33");
    }
}
