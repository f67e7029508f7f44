//! Lists as other tools wrote them, made into lists as the API server
//! returns them (what the kpm format stores).
//!
//! [`normalise_into`] takes the text path ([`super::raw_list`]) and falls
//! back to a `serde_json::Value` for what that path leaves out (Ingresses
//! to upgrade, unusual field types); both give the same list.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::raw_list::{self, Scratch};
use crate::layout::ResourceKind;

/// What normalising a list learnt from it.
#[derive(Debug, Default)]
pub struct Normalised {
    /// Number of items.
    pub items: u64,
    /// The latest timestamp among the items (an estimate of when they were
    /// read, for captures that do not record it).
    pub latest: Option<DateTime<Utc>>,
    /// For a pod list: each pod's name and `metadata.namespace` (to place
    /// logs whose path does not say the namespace).
    pub pods: Vec<(String, Option<String>)>,
}

/// Normalises one list file of `kind` and writes it compact into `out`
/// (cleared first, ending in a newline): a bare array (troubleshoot before
/// 2022) is wrapped, `"items": null` is an empty list, items get the kind's
/// `kind` and `apiVersion` when they lack them (cluster-info dump), and
/// `extensions/v1beta1` / `networking.k8s.io/v1beta1` Ingresses become
/// `networking.k8s.io/v1`. `None` when the text is no list at all.
pub fn normalise_into(
    src: &[u8],
    kind: &ResourceKind,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Option<Normalised> {
    if let Some(done) = raw_list::normalise_text(src, kind, scratch, out) {
        return Some(done);
    }
    let value: Value = serde_json::from_slice(src).ok()?;
    let (list, done) = normalise(value, kind)?;
    out.clear();
    serde_json::to_writer(&mut *out, &list).ok()?;
    out.push(b'\n');
    Some(done)
}

/// The `Value` path of [`normalise_into`]: the `<Kind>List` object and what
/// was learnt. `None` when the value is no list at all.
fn normalise(value: Value, kind: &ResourceKind) -> Option<(Value, Normalised)> {
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
    let mut done = Normalised {
        items: items.len() as u64,
        ..Normalised::default()
    };
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
            done.latest = done.latest.max(latest_time(&item));
            if kind.kind == "Pod" {
                let text = |p: &str| item.pointer(p).and_then(Value::as_str).map(str::to_string);
                if let Some(name) = text("/metadata/name") {
                    done.pods.push((name, text("/metadata/namespace")));
                }
            }
            item
        })
        .collect();
    let mut list = Map::new();
    list.insert("kind".into(), Value::String(kind.list_kind()));
    list.insert("apiVersion".into(), Value::String(kind.api_version()));
    list.insert("metadata".into(), metadata);
    list.insert("items".into(), Value::Array(items));
    Some((Value::Object(list), done))
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
        .filter_map(|p| item.pointer(p).and_then(time_of))
        .max();
    let status = item.get("status");
    let conditions = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array);
    for c in conditions.into_iter().flatten() {
        for field in ["lastTransitionTime", "lastHeartbeatTime", "lastUpdateTime"] {
            latest = latest.max(c.get(field).and_then(time_of));
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
            latest = latest.max(cs.pointer(pointer).and_then(time_of));
        }
    }
    latest
}

fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(parse_time)
}

/// An RFC 3339 time as the API server writes them.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
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

    /// Normalises `value` written indented (as troubleshoot and kubectl
    /// write lists) through [`normalise_into`], checks the `Value` path
    /// gives the same list and learns the same, and returns both.
    fn both(value: Value, kind: &ResourceKind) -> Option<(Value, Normalised)> {
        let text = serde_json::to_vec_pretty(&value).unwrap();
        let mut out = Vec::new();
        let fast = normalise_into(&text, kind, &mut Scratch::default(), &mut out);
        let slow = normalise(value, kind);
        let (fast, (list, slow)) = match (fast, slow) {
            (Some(fast), Some(slow)) => (fast, slow),
            (None, None) => return None,
            (fast, slow) => panic!("the paths disagree: {fast:?} vs {slow:?}"),
        };
        assert!(out.ends_with(b"}\n"));
        let written: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(written, list);
        assert_eq!(
            (fast.items, fast.latest, &fast.pods),
            (slow.items, slow.latest, &slow.pods)
        );
        Some((list, slow))
    }

    #[test]
    fn bare_arrays_and_null_items_become_lists() {
        let (list, n) = both(json!([{"metadata": {"name": "a"}}]), kind("pods")).unwrap();
        assert_eq!(n.items, 1);
        assert_eq!(list["kind"], "PodList");
        assert_eq!(list["items"][0]["kind"], "Pod");
        assert_eq!(list["items"][0]["apiVersion"], "v1");
        assert_eq!(n.pods, vec![("a".to_string(), None)]);
        let (list, n) = both(
            json!({"kind": "EventList", "apiVersion": "v1", "metadata": {}, "items": null}),
            kind("events"),
        )
        .unwrap();
        assert_eq!(n.items, 0);
        assert_eq!(list["items"], json!([]));
        assert!(both(json!("x"), kind("pods")).is_none());
        assert!(both(json!({"items": 3}), kind("pods")).is_none());
    }

    #[test]
    fn missing_kind_and_api_version_are_added_and_the_rest_kept() {
        let value = json!({"kind": "PodList", "apiVersion": "v1",
               "metadata": {"resourceVersion": "7"},
               "items": [
            {},
            {"kind": "Pod", "metadata": {"name": "b", "namespace": "ns"}},
            {"apiVersion": "v1", "metadata": {"name": "c"}, "spec": {"x": [1, 2.5e3, "a b", null, true]}},
            {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "d", "namespace": "ns"}},
            {"kind": null, "metadata": {"name": "  spaced name , [x]: {y}  "}}
        ]});
        // The text path takes this list (no fallback).
        let text = serde_json::to_vec_pretty(&value).unwrap();
        let fast = raw_list::normalise_text(
            &text,
            kind("pods"),
            &mut Scratch::default(),
            &mut Vec::new(),
        );
        assert_eq!(fast.map(|n| n.items), Some(5));
        let (list, n) = both(value, kind("pods")).unwrap();
        assert_eq!(n.items, 5);
        assert_eq!(list["metadata"], json!({"resourceVersion": "7"}));
        assert_eq!(list["items"][0], json!({"kind": "Pod", "apiVersion": "v1"}));
        assert_eq!(list["items"][1]["apiVersion"], "v1");
        assert_eq!(list["items"][2]["kind"], "Pod");
        assert_eq!(list["items"][4]["kind"], Value::Null);
        assert_eq!(n.pods[0], ("b".to_string(), Some("ns".to_string())));
        assert_eq!(n.pods[3].0, "  spaced name , [x]: {y}  ");
    }

    #[test]
    fn odd_shapes_fall_back_to_the_value_path() {
        // A non-object item, a timestamp that is no string and a name with
        // an escape: the text path refuses, the Value path takes them
        // (`both` checks the result is the same).
        let (list, _) = both(
            json!({"items": [null, {"lastTimestamp": 3}]}),
            kind("events"),
        )
        .unwrap();
        assert_eq!(list["items"][0], Value::Null);
        assert_eq!(list["items"][1]["kind"], "Event");
        let (_, n) = both(json!([{"metadata": {"name": "a\"b\\c"}}]), kind("pods")).unwrap();
        assert_eq!(n.pods[0].0, "a\"b\\c");
        let mut out = Vec::new();
        assert!(normalise_into(
            b"{\"items\": [",
            kind("pods"),
            &mut Scratch::default(),
            &mut out
        )
        .is_none());
        assert!(normalise_into(b"", kind("pods"), &mut Scratch::default(), &mut out).is_none());
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
        let (list, _) = both(old, kind("ingresses")).unwrap();
        let ing = &list["items"][0];
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
        let (_, n) = both(
            json!({"items": [
                {"metadata": {"creationTimestamp": "2025-01-01T00:00:00Z"},
                 "status": {"containerStatuses": [{"state": {"running": {"startedAt": "2025-01-02T03:04:05Z"}}}]}},
                {"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}},
                {"lastTimestamp": null, "series": {"lastObservedTime": "2025-01-01T10:00:00Z"},
                 "status": {"conditions": [{"lastHeartbeatTime": "2025-01-02T01:00:00+02:00"}]}}
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
