//! core/v1 Events as the two recorders in a v1.33 cluster write them.
//!
//! The kubelet and controller-manager use the legacy recorder (`count`,
//! `firstTimestamp`, `lastTimestamp`, `source`); the scheduler uses the
//! events.k8s.io recorder, which shows through core/v1 with `eventTime`,
//! `series` and null timestamps. Analyzers must handle both, so both exist.

use serde_json::{json, Value};

use super::meta;
use crate::ids;

/// Who reported an event.
#[derive(Debug, Clone)]
pub struct Source {
    /// `kubelet`, `default-scheduler`, `horizontal-pod-autoscaler`, ...
    pub component: String,
    /// The node for kubelet events.
    pub host: Option<String>,
}

impl Source {
    /// The kubelet of `node`.
    pub fn kubelet(node: &str) -> Source {
        Source {
            component: "kubelet".into(),
            host: Some(node.to_string()),
        }
    }

    /// A controller-manager controller (`deployment-controller`, ...).
    pub fn controller(name: &str) -> Source {
        Source {
            component: name.into(),
            host: None,
        }
    }
}

fn involved(obj: &Value, field_path: Option<&str>) -> Value {
    let mut o = json!({
        "kind": obj["kind"],
        "namespace": obj["metadata"]["namespace"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "apiVersion": obj["apiVersion"],
        "resourceVersion": obj["metadata"]["resourceVersion"],
    });
    if let Some(fp) = field_path {
        o["fieldPath"] = json!(fp);
    }
    if obj["metadata"]["namespace"].is_null() {
        if let Some(m) = o.as_object_mut() {
            m.remove("namespace");
        }
    }
    o
}

fn event_name(obj: &Value, reason: &str, message: &str) -> String {
    let key = format!(
        "{}/{}/{reason}/{message}",
        meta::namespace_of(obj),
        meta::name_of(obj)
    );
    format!("{}.{:016x}", meta::name_of(obj), ids::hash(&key) >> 1)
}

/// A legacy-recorder event about `obj` seen `count` times between
/// `first_ago` and `last_ago`. `namespace` is where the Event lives (the
/// object's namespace, or `default` for cluster objects).
#[allow(clippy::too_many_arguments)]
pub fn event(
    namespace: &str,
    obj: &Value,
    field_path: Option<&str>,
    kind: &str,
    reason: &str,
    message: &str,
    source: &Source,
    count: u32,
    first_ago: i64,
    last_ago: i64,
) -> Value {
    let name = event_name(obj, reason, message);
    let mut e = meta::object("v1", "Event", Some(namespace), &name, first_ago);
    e["metadata"]["creationTimestamp"] = json!(ids::ago(first_ago));
    let mut src = json!({"component": source.component});
    if let Some(h) = &source.host {
        src["host"] = json!(h);
    }
    if let Some(m) = e.as_object_mut() {
        m.insert("involvedObject".into(), involved(obj, field_path));
        m.insert("reason".into(), json!(reason));
        m.insert("message".into(), json!(message));
        m.insert("source".into(), src);
        m.insert("firstTimestamp".into(), json!(ids::ago(first_ago)));
        m.insert("lastTimestamp".into(), json!(ids::ago(last_ago)));
        m.insert("count".into(), json!(count));
        m.insert("type".into(), json!(kind));
        m.insert("eventTime".into(), Value::Null);
        m.insert("reportingComponent".into(), json!(source.component));
        m.insert(
            "reportingInstance".into(),
            json!(source.host.clone().unwrap_or_default()),
        );
    }
    e
}

/// An events.k8s.io-recorder event (the scheduler's): `eventTime` set,
/// timestamps null, and a `series` when it repeated.
#[allow(clippy::too_many_arguments)]
pub fn series_event(
    namespace: &str,
    obj: &Value,
    kind: &str,
    reason: &str,
    action: &str,
    message: &str,
    component: &str,
    instance: &str,
    first_ago: i64,
    series: Option<(u32, i64)>,
) -> Value {
    let name = event_name(obj, reason, message);
    let mut e = meta::object("v1", "Event", Some(namespace), &name, first_ago);
    if let Some(m) = e.as_object_mut() {
        m.insert("involvedObject".into(), involved(obj, None));
        m.insert("reason".into(), json!(reason));
        m.insert("message".into(), json!(message));
        m.insert("source".into(), json!({}));
        m.insert("firstTimestamp".into(), Value::Null);
        m.insert("lastTimestamp".into(), Value::Null);
        m.insert("type".into(), json!(kind));
        m.insert(
            "eventTime".into(),
            json!(ids::micro(first_ago, (ids::hash(&name) % 1_000_000) as u32)),
        );
        m.insert("action".into(), json!(action));
        m.insert("reportingComponent".into(), json!(component));
        m.insert("reportingInstance".into(), json!(instance));
        if let Some((count, last_ago)) = series {
            m.insert(
                "series".into(),
                json!({"count": count, "lastObservedTime": ids::micro(last_ago, (ids::hash(&format!("{name}/s")) % 1_000_000) as u32)}),
            );
        }
    }
    e
}

/// The `Scheduled`/`Pulled`/`Created`/`Started` events of a pod that started
/// normally `started_ago` seconds ago on `node` (only recent pods still have
/// them: the API server keeps events for an hour). The scheduler bound it
/// just before the kubelet's `status.startTime`.
pub fn normal_start(
    pod: &Value,
    container: &str,
    image: &str,
    node: &str,
    started_ago: i64,
) -> Vec<Value> {
    let ns = meta::namespace_of(pod);
    let name = meta::name_of(pod);
    let fp = format!("spec.containers{{{container}}}");
    let k = Source::kubelet(node);
    let scheduled = ids::ago_of(&pod["status"]["startTime"]).unwrap_or(started_ago + 7) + 1;
    vec![
        series_event(
            ns,
            pod,
            "Normal",
            "Scheduled",
            "Binding",
            &format!("Successfully assigned {ns}/{name} to {node}"),
            "default-scheduler",
            "default-scheduler-ip-10-0-0-12",
            scheduled,
            None,
        ),
        event(
            ns,
            pod,
            Some(&fp),
            "Normal",
            "Pulled",
            &format!("Container image \"{image}\" already present on machine"),
            &k,
            1,
            started_ago + 2,
            started_ago + 2,
        ),
        event(
            ns,
            pod,
            Some(&fp),
            "Normal",
            "Created",
            &format!("Created container: {container}"),
            &k,
            1,
            started_ago + 1,
            started_ago + 1,
        ),
        event(
            ns,
            pod,
            Some(&fp),
            "Normal",
            "Started",
            &format!("Started container {container}"),
            &k,
            1,
            started_ago,
            started_ago,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_series_events_parse() {
        let pod = meta::object("v1", "Pod", Some("shop"), "api-7c9d8f6b5-x2x7q", 900);
        let e = event(
            "shop",
            &pod,
            Some("spec.containers{api}"),
            "Warning",
            "BackOff",
            "Back-off restarting failed container api in pod api-7c9d8f6b5-x2x7q_shop(uid)",
            &Source::kubelet("ip-10-0-1-17.ec2.internal"),
            25,
            850,
            12,
        );
        let typed: k8s_openapi::api::core::v1::Event = serde_json::from_value(e).unwrap();
        assert_eq!(typed.count, Some(25));
        assert_eq!(
            typed.source.unwrap().host.as_deref(),
            Some("ip-10-0-1-17.ec2.internal")
        );
        let s = series_event(
            "shop",
            &pod,
            "Warning",
            "FailedScheduling",
            "Scheduling",
            "0/3 nodes are available: 3 Insufficient cpu.",
            "default-scheduler",
            "default-scheduler-ip-10-0-0-12",
            900,
            Some((14, 30)),
        );
        let typed: k8s_openapi::api::core::v1::Event = serde_json::from_value(s).unwrap();
        assert!(typed.last_timestamp.is_none());
        assert_eq!(typed.series.unwrap().count, Some(14));
        assert!(typed.event_time.is_some());
        assert_eq!(
            normal_start(&pod, "api", "ghcr.io/acme/api:1.4.2", "n1", 600).len(),
            4
        );
    }
}
