//! Aggregated discovery (`apidiscovery.k8s.io`): `/api` and `/apis` as one
//! `APIGroupDiscoveryList` each, when the client's `Accept` asks for it.
//!
//! kubectl asks for this form first; with it, one request per root replaces
//! one per group version, and kubectl has no reason to fall back. The
//! documents are derived from the legacy ones in [`crate::discovery`], so
//! both forms always serve the same kinds, verbs, short names and
//! categories.

use serde_json::{json, Map, Value};

use crate::discovery;

/// The aggregated formats, newest first, with the media type each answers
/// with.
const FORMATS: &[(&str, &str)] = &[
    (
        "v2",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    ),
    (
        "v2beta1",
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
    ),
];

/// The aggregated format the `Accept` header prefers, as (version, content
/// type); None when it prefers (or only accepts) the legacy documents.
pub fn negotiate(accept: &str) -> Option<(&'static str, &'static str)> {
    for media in accept.split(',') {
        let parts: Vec<&str> = media.split(';').map(str::trim).collect();
        let Some((base, params)) = parts.split_first() else {
            continue;
        };
        if !matches!(*base, "application/json" | "application/*" | "*/*") {
            continue;
        }
        let has = |p: &str| params.contains(&p);
        if has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList") {
            if let Some(found) = FORMATS.iter().find(|(v, _)| has(&format!("v={v}"))) {
                return Some(*found);
            }
            continue;
        }
        // A plain type before any aggregated one: the client prefers legacy.
        if params.iter().all(|p| p.starts_with("q=")) {
            return None;
        }
    }
    None
}

/// One legacy `APIResource` list (`APIResourceList.resources`) as
/// `APIResourceDiscovery` entries: subresources (`pods/log`) nest under
/// their resource.
fn resources(group: &str, version: &str, legacy: &[Value]) -> Vec<Value> {
    let kind_of = |r: &Value| json!({"group": group, "version": version, "kind": r["kind"].as_str().unwrap_or("")});
    let mut out: Vec<Value> = Vec::new();
    for r in legacy {
        let name = r["name"].as_str().unwrap_or("");
        if name.contains('/') {
            continue;
        }
        let mut entry = Map::new();
        entry.insert("resource".into(), name.into());
        entry.insert("responseKind".into(), kind_of(r));
        let scope = if r["namespaced"].as_bool().unwrap_or(false) {
            "Namespaced"
        } else {
            "Cluster"
        };
        entry.insert("scope".into(), scope.into());
        entry.insert(
            "singularResource".into(),
            r.get("singularName").cloned().unwrap_or_else(|| "".into()),
        );
        entry.insert("verbs".into(), r["verbs"].clone());
        for key in ["shortNames", "categories"] {
            if let Some(v) = r.get(key) {
                entry.insert(key.into(), v.clone());
            }
        }
        let prefix = format!("{name}/");
        let subs: Vec<Value> = legacy
            .iter()
            .filter_map(|s| {
                let sub = s["name"].as_str()?.strip_prefix(&prefix)?;
                Some(json!({"subresource": sub, "responseKind": kind_of(s), "verbs": s["verbs"]}))
            })
            .collect();
        if !subs.is_empty() {
            entry.insert("subresources".into(), subs.into());
        }
        out.push(Value::Object(entry));
    }
    out
}

/// One `APIGroupDiscovery`: `versions` in preference order.
fn group(name: &str, versions: &[String], has_metrics: bool) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .filter_map(|v| {
            let list = discovery::resource_list(name, v, has_metrics)?;
            let legacy = list["resources"].as_array().map_or(&[][..], Vec::as_slice);
            Some(json!({"version": v, "resources": resources(name, v, legacy), "freshness": "Current"}))
        })
        .collect();
    let mut metadata = json!({"creationTimestamp": null});
    if !name.is_empty() {
        metadata["name"] = name.into();
    }
    json!({"metadata": metadata, "versions": versions})
}

/// `/api` (`core`) or `/apis` in the aggregated format `version`.
pub fn document(version: &str, core: bool, has_metrics: bool) -> Value {
    let items: Vec<Value> = if core {
        vec![group("", &["v1".to_string()], has_metrics)]
    } else {
        let list = discovery::group_list(has_metrics);
        list["groups"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|g| {
                let versions: Vec<String> = g["versions"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice)
                    .iter()
                    .filter_map(|v| v["version"].as_str().map(str::to_string))
                    .collect();
                group(g["name"].as_str().unwrap_or(""), &versions, has_metrics)
            })
            .collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    #[test]
    fn accept_picks_the_first_aggregated_format_or_legacy() {
        assert_eq!(negotiate(KUBECTL).map(|f| f.0), Some("v2"));
        assert_eq!(
            negotiate("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")
                .map(|f| f.0),
            Some("v2beta1")
        );
        assert_eq!(negotiate("application/json, */*"), None);
        assert_eq!(negotiate(""), None);
        assert_eq!(
            negotiate("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"),
            None
        );
    }

    #[test]
    fn apps_and_core_carry_kinds_verbs_names_and_subresources() {
        let apis = document("v2", false, false);
        assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2");
        let apps = &apis["items"][0];
        assert_eq!(apps["metadata"]["name"], "apps");
        let v1 = &apps["versions"][0];
        assert_eq!(v1["version"], "v1");
        let deploy = v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(
            deploy["responseKind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(deploy["scope"], "Namespaced");
        assert_eq!(deploy["singularResource"], "deployment");
        assert_eq!(deploy["verbs"], json!(["get", "list", "watch"]));
        assert_eq!(deploy["shortNames"], json!(["deploy"]));
        assert_eq!(deploy["categories"], json!(["all"]));
        assert_eq!(deploy["subresources"][0]["subresource"], "status");

        let core = document("v2beta1", true, false);
        let item = &core["items"][0];
        assert!(item["metadata"].get("name").is_none());
        let pods = item["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "pods")
            .unwrap();
        let subs: Vec<&str> = pods["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["subresource"].as_str().unwrap())
            .collect();
        assert_eq!(subs, ["log", "status"]);
        let nodes = item["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "nodes")
            .unwrap();
        assert_eq!(nodes["scope"], "Cluster");
    }

    #[test]
    fn both_forms_serve_the_same_resources() {
        for has_metrics in [false, true] {
            let apis = document("v2", false, has_metrics);
            let legacy = discovery::group_list(has_metrics);
            assert_eq!(
                apis["items"].as_array().unwrap().len(),
                legacy["groups"].as_array().unwrap().len()
            );
            for item in apis["items"].as_array().unwrap() {
                let g = item["metadata"]["name"].as_str().unwrap();
                for v in item["versions"].as_array().unwrap() {
                    let ver = v["version"].as_str().unwrap();
                    let list = discovery::resource_list(g, ver, has_metrics).unwrap();
                    let top = list["resources"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|r| !r["name"].as_str().unwrap().contains('/'))
                        .count();
                    assert_eq!(v["resources"].as_array().unwrap().len(), top, "{g}/{ver}");
                }
            }
        }
    }
}
