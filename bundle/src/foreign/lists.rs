//! Lists as other tools wrote them, made into lists as the API server
//! returns them (what the kpm format stores).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::layout::ResourceKind;

/// A normalised list and what conversion learnt from it.
pub struct Normalised {
    /// The `<Kind>List` object.
    pub list: Value,
    /// Number of items.
    pub items: u64,
    /// The latest timestamp among the items (an estimate of when they were
    /// read, for captures that do not record it).
    pub latest: Option<DateTime<Utc>>,
}

/// Normalises the JSON of one list file of `kind`: a bare array (troubleshoot
/// before 2022) is wrapped, `"items": null` is an empty list, items get the
/// kind's `kind` and `apiVersion` when they lack them (cluster-info dump),
/// and `extensions/v1beta1` / `networking.k8s.io/v1beta1` Ingresses become
/// `networking.k8s.io/v1`. `None` when the value is no list at all.
pub fn normalise(value: Value, kind: &ResourceKind) -> Option<Normalised> {
    let (metadata, items) = match value {
        Value::Array(items) => (Value::Object(Map::new()), items),
        Value::Object(mut list) => {
            let items = match list.remove("items") {
                Some(Value::Array(items)) => items,
                Some(Value::Null) | None => Vec::new(),
                Some(_) => return None,
            };
            let metadata = list
                .remove("metadata")
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::Object(Map::new()));
            (metadata, items)
        }
        _ => return None,
    };
    let mut latest = None;
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut item| {
            if let Some(obj) = item.as_object_mut() {
                if kind.kind == "Ingress" {
                    upgrade_ingress(obj);
                }
                obj.entry("kind")
                    .or_insert_with(|| Value::String(kind.kind.to_string()));
                obj.entry("apiVersion")
                    .or_insert_with(|| Value::String(kind.api_version()));
            }
            latest = latest.max(latest_time(&item));
            item
        })
        .collect();
    let count = items.len() as u64;
    let mut list = Map::new();
    list.insert("kind".into(), Value::String(kind.list_kind()));
    list.insert("apiVersion".into(), Value::String(kind.api_version()));
    list.insert("metadata".into(), metadata);
    list.insert("items".into(), Value::Array(items));
    Some(Normalised {
        list: Value::Object(list),
        items: count,
        latest,
    })
}

/// Rewrites a pre-v1 Ingress (`serviceName`/`servicePort` backends) in the
/// v1 shape, as the API server converts it when read as v1.
fn upgrade_ingress(obj: &mut Map<String, Value>) {
    let old = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v.ends_with("v1beta1"));
    if !old {
        return;
    }
    obj.insert(
        "apiVersion".into(),
        Value::String("networking.k8s.io/v1".into()),
    );
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(backend) = spec.remove("backend") {
        spec.insert("defaultBackend".into(), upgrade_backend(backend));
    }
    let rules = spec.get_mut("rules").and_then(Value::as_array_mut);
    for rule in rules.into_iter().flatten() {
        let paths = rule
            .pointer_mut("/http/paths")
            .and_then(Value::as_array_mut);
        for path in paths.into_iter().flatten() {
            let Some(path) = path.as_object_mut() else {
                continue;
            };
            if let Some(backend) = path.remove("backend") {
                path.insert("backend".into(), upgrade_backend(backend));
            }
            path.entry("pathType")
                .or_insert_with(|| Value::String("ImplementationSpecific".into()));
        }
    }
}

fn upgrade_backend(backend: Value) -> Value {
    let Value::Object(mut old) = backend else {
        return backend;
    };
    let Some(name) = old.remove("serviceName") else {
        return Value::Object(old);
    };
    let port = match old.remove("servicePort") {
        Some(Value::Number(n)) => serde_json::json!({ "number": n }),
        Some(Value::String(s)) => match s.parse::<u16>() {
            Ok(n) => serde_json::json!({ "number": n }),
            Err(_) => serde_json::json!({ "name": s }),
        },
        _ => serde_json::json!({}),
    };
    serde_json::json!({ "service": { "name": name, "port": port } })
}

/// The latest of the timestamps an object carries that the API server sets
/// as things happen (creation, events, condition and container changes).
fn latest_time(item: &Value) -> Option<DateTime<Utc>> {
    const POINTERS: &[&str] = &[
        "/metadata/creationTimestamp",
        "/lastTimestamp",
        "/eventTime",
        "/series/lastObservedTime",
    ];
    let mut latest = POINTERS
        .iter()
        .filter_map(|p| item.pointer(p).and_then(parse_time))
        .max();
    let status = item.get("status");
    let conditions = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array);
    for c in conditions.into_iter().flatten() {
        for field in ["lastTransitionTime", "lastHeartbeatTime", "lastUpdateTime"] {
            latest = latest.max(c.get(field).and_then(parse_time));
        }
    }
    let statuses = status
        .and_then(|s| s.get("containerStatuses"))
        .and_then(Value::as_array);
    for cs in statuses.into_iter().flatten() {
        for pointer in [
            "/state/running/startedAt",
            "/state/terminated/finishedAt",
            "/lastState/terminated/finishedAt",
        ] {
            latest = latest.max(cs.pointer(pointer).and_then(parse_time));
        }
    }
    latest
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::layout::kind_by_plural;

    fn kind(plural: &str) -> &'static ResourceKind {
        kind_by_plural(plural).unwrap_or_else(|| panic!("{plural}"))
    }

    #[test]
    fn bare_arrays_and_null_items_become_lists() {
        let n = normalise(json!([{"metadata": {"name": "a"}}]), kind("pods")).unwrap();
        assert_eq!(n.items, 1);
        assert_eq!(n.list["kind"], "PodList");
        assert_eq!(n.list["items"][0]["kind"], "Pod");
        assert_eq!(n.list["items"][0]["apiVersion"], "v1");
        let n = normalise(
            json!({"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": null}),
            kind("events"),
        )
        .unwrap();
        assert_eq!(n.items, 0);
        assert_eq!(n.list["items"], json!([]));
        assert!(normalise(json!("x"), kind("pods")).is_none());
        assert!(normalise(json!({"items": 3}), kind("pods")).is_none());
    }

    #[test]
    fn v1beta1_ingresses_are_upgraded() {
        let old = json!([{
            "apiVersion": "extensions/v1beta1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"rules": [{"host": "shop.example", "http": {"paths": [
                {"path": "/", "backend": {"serviceName": "web", "servicePort": 80}},
                {"path": "/api", "backend": {"serviceName": "api", "servicePort": "http"}}
            ]}}]}
        }]);
        let n = normalise(old, kind("ingresses")).unwrap();
        let ing = &n.list["items"][0];
        assert_eq!(ing["apiVersion"], "networking.k8s.io/v1");
        let paths = &ing["spec"]["rules"][0]["http"]["paths"];
        assert_eq!(
            paths[0]["backend"],
            json!({"service": {"name": "web", "port": {"number": 80}}})
        );
        assert_eq!(
            paths[1]["backend"]["service"]["port"],
            json!({"name": "http"})
        );
        assert_eq!(paths[0]["pathType"], "ImplementationSpecific");
    }

    #[test]
    fn latest_timestamp_is_found() {
        let n = normalise(
            json!({"items": [
                {"metadata": {"creationTimestamp": "2025-01-01T00:00:00Z"},
                 "status": {"containerStatuses": [{"state": {"running": {"startedAt": "2025-01-02T03:04:05Z"}}}]}},
                {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}}
            ]}),
            kind("pods"),
        )
        .unwrap();
        assert_eq!(
            n.latest.map(|t| t.to_rfc3339()),
            Some("2025-01-02T03:04:05+00:00".to_string())
        );
    }
}
