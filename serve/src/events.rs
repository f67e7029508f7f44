//! `events.k8s.io/v1` Events, derived from the bundle's core/v1 Events as
//! the API server derives them (both versions share one storage; the
//! conversion is `Convert_core_Event_To_v1_Event` in
//! `pkg/apis/events/v1/conversion.go`): `regarding` ← `involvedObject`,
//! `note` ← `message`, `deprecatedSource` ← `source`,
//! `deprecatedFirstTimestamp`/`deprecatedLastTimestamp`/`deprecatedCount` ←
//! `firstTimestamp`/`lastTimestamp`/`count`, `reportingController` ←
//! `reportingComponent`; the other fields keep their names. `eventTime`
//! is always present (null when the core Event has none), as the API
//! server writes it.
//!
//! Served: get and list; a watch is refused (the watch stream does not
//! convert objects), so discovery advertises `get` and `list` only.
//!
//! Field selectors use the events.k8s.io labels (`regarding.name`,
//! `reportingController`, …), mapped to the core labels as
//! `AddFieldLabelConversionsForEvent` maps them; anything else is refused
//! with the server's `field label not supported: X`.

use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::routes::{self, Reply, Request, Route, State};

/// The group served.
pub const GROUP: &str = "events.k8s.io";
/// Its version.
pub const VERSION: &str = "v1";

/// events.k8s.io field label → core field label.
const FIELD_LABELS: &[(&str, &str)] = &[
    ("reason", "reason"),
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    (
        "regarding.resourceVersion",
        "involvedObject.resourceVersion",
    ),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reportingController", "reportingComponent"),
    ("source", "source"),
    ("type", "type"),
    ("metadata.namespace", "metadata.namespace"),
    ("metadata.name", "metadata.name"),
];

/// Core/v1 Event field → events.k8s.io/v1 field, where the name changes.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

/// The discovery entry of `events.k8s.io/v1`.
pub fn resources() -> Vec<Value> {
    vec![serde_json::json!({
        "name": "events", "singularName": "event", "namespaced": true, "kind": "Event",
        "verbs": ["get", "list"], "shortNames": ["ev"],
    })]
}

/// One core/v1 Event as events.k8s.io/v1 serves it.
pub fn convert(core: Value) -> Value {
    let Value::Object(fields) = core else {
        return core;
    };
    let mut out = Map::new();
    out.insert("kind".into(), "Event".into());
    out.insert("apiVersion".into(), format!("{GROUP}/{VERSION}").into());
    for (key, value) in fields {
        if key == "kind" || key == "apiVersion" {
            continue;
        }
        let name = RENAMED
            .iter()
            .find(|(from, _)| *from == key)
            .map_or(key.as_str(), |(_, to)| to);
        // Zero values the core Event carries are left out, as Go's
        // `omitempty` leaves them out of the converted object.
        let empty = match &value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_i64() == Some(0),
            Value::Object(o) => o.values().all(Value::is_null) || o.is_empty(),
            _ => false,
        };
        if empty && name != "regarding" && name != "metadata" {
            continue;
        }
        out.insert(name.to_string(), value);
    }
    out.entry("eventTime").or_insert(Value::Null);
    Value::Object(out)
}

/// The query with events.k8s.io field labels mapped to the core ones.
fn core_query(query: &[(String, String)]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::with_capacity(query.len());
    for (k, v) in query {
        if k != "fieldSelector" {
            out.push((k.clone(), v.clone()));
            continue;
        }
        let parsed = crate::selectors::FieldSelector::parse(v)?;
        let mut terms = Vec::new();
        for req in parsed.0 {
            let core = FIELD_LABELS
                .iter()
                .find(|(label, _)| *label == req.field)
                .map(|(_, core)| *core)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("field label not supported: {}", req.field))
                })?;
            let op = if req.negated { "!=" } else { "=" };
            let value = req
                .value
                .replace('\\', "\\\\")
                .replace(',', "\\,")
                .replace('=', "\\=");
            terms.push(format!("{core}{op}{value}"));
        }
        out.push((k.clone(), terms.join(",")));
    }
    Ok(out)
}

/// Answers `/apis/events.k8s.io/v1/...events[/NAME]` from the core Events.
pub fn answer(
    state: &State,
    req: &Request<'_>,
    version: &str,
    plural: &str,
    namespace: Option<&str>,
    name: Option<&str>,
    subresource: Option<&str>,
) -> Result<Reply, ApiError> {
    if version != VERSION || plural != "events" || subresource.is_some() {
        return Err(ApiError::no_such_resource());
    }
    if namespace.is_none() && name.is_some() {
        return Err(ApiError::no_such_resource());
    }
    if req
        .query
        .iter()
        .any(|(k, v)| k == "watch" && crate::watch::params::is_true(v))
    {
        // The watch stream replays stored objects as they are; converting
        // them is not done, so the watch is refused rather than answered
        // with core/v1 objects (`kubectl get events -w` watches core/v1).
        return Err(ApiError {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "watch of {GROUP}/{VERSION} events is not served by this snapshot; watch the core/v1 events (kubectl get events -w)"
            ),
            details: None,
        });
    }
    let query = core_query(req.query)?;
    let route = Route::Resource {
        group: String::new(),
        version: "v1".into(),
        plural: "events".into(),
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        subresource: None,
    };
    let reply = routes::handle(
        state,
        &Request {
            route: &route,
            query: &query,
            table: req.table,
        },
    );
    if reply.status != 200 {
        return Ok(reply);
    }
    let body: Value = serde_json::from_slice(&reply.body)
        .map_err(|e| ApiError::internal(format!("events answer: {e}")))?;
    let mut out = Reply::json(200, &convert_answer(body));
    out.warning = reply.warning;
    Ok(out)
}

/// Converts a core answer: one Event, an EventList, or a Table whose rows
/// carry the objects.
fn convert_answer(body: Value) -> Value {
    let Value::Object(mut map) = body else {
        return body;
    };
    match map.get("kind").and_then(Value::as_str) {
        Some("Event") => return convert(Value::Object(map)),
        Some("EventList") => {
            map.insert("apiVersion".into(), format!("{GROUP}/{VERSION}").into());
            if let Some(Value::Array(items)) = map.remove("items") {
                let items: Vec<Value> = items
                    .into_iter()
                    .map(|item| without_type_meta(convert(item)))
                    .collect();
                map.insert("items".into(), Value::Array(items));
            }
        }
        Some("Table") => {
            if let Some(Value::Array(rows)) = map.get_mut("rows") {
                for row in rows {
                    if let Some(obj) = row.get_mut("object") {
                        if obj.get("kind").and_then(Value::as_str) == Some("Event") {
                            *obj = convert(obj.take());
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Value::Object(map)
}

/// List items carry no `kind`/`apiVersion`, as the API server lists them.
fn without_type_meta(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("kind");
        o.remove("apiVersion");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conversion_follows_the_api_server() {
        let core = json!({
            "metadata": {"name": "web.1", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "shop", "uid": "u1"},
            "reason": "BackOff", "message": "Back-off restarting failed container", "type": "Warning",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2025-03-01T09:00:00Z", "lastTimestamp": "2025-03-01T11:00:00Z", "count": 41,
            "eventTime": null, "reportingComponent": "kubelet", "reportingInstance": "n1"
        });
        let v = convert(core);
        assert_eq!(v["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v["regarding"]["name"], "web");
        assert_eq!(v["note"], "Back-off restarting failed container");
        assert_eq!(v["deprecatedCount"], 41);
        assert_eq!(v["deprecatedSource"]["component"], "kubelet");
        assert_eq!(v["deprecatedLastTimestamp"], "2025-03-01T11:00:00Z");
        assert_eq!(v["reportingController"], "kubelet");
        assert_eq!(v["reportingInstance"], "n1");
        assert!(v.get("eventTime").is_some_and(Value::is_null));
        assert!(v.get("message").is_none() && v.get("involvedObject").is_none());
        let empty = convert(
            json!({"metadata": {"name": "x"}, "involvedObject": {}, "reportingComponent": "", "count": 0}),
        );
        assert!(empty.get("reportingController").is_none());
        assert!(empty.get("deprecatedCount").is_none());
        assert_eq!(empty["regarding"], json!({}));
    }

    #[test]
    fn discovery_lists_events_k8s_io() {
        let list = crate::discovery::resource_list(GROUP, VERSION, false).unwrap();
        assert_eq!(list["resources"][0]["name"], "events");
        let groups = crate::discovery::group_list(false);
        let names: Vec<&str> = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|g| g["name"].as_str())
            .collect();
        assert!(names.contains(&GROUP), "{names:?}");
    }

    #[test]
    fn field_labels_map_to_core_or_are_refused() {
        let q = |s: &str| core_query(&[("fieldSelector".to_string(), s.to_string())]);
        assert_eq!(
            q("regarding.name=web,reportingController!=kubelet,type=Warning").unwrap()[0].1,
            "involvedObject.name=web,reportingComponent!=kubelet,type=Warning"
        );
        assert_eq!(
            q("regarding.name=a\\,b").unwrap()[0].1,
            "involvedObject.name=a\\,b"
        );
        assert_eq!(
            q("involvedObject.name=web").unwrap_err().message,
            "field label not supported: involvedObject.name"
        );
    }
}
