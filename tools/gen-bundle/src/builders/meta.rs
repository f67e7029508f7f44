//! `ObjectMeta` the way the API server fills it in.
//!
//! Analyzers key on `uid`, `ownerReferences`, `creationTimestamp` and the
//! `managedFields` times (a ConfigMap's last update is only visible there), so
//! every builder goes through these helpers to get them consistent.

use serde_json::{json, Map, Value};

use crate::ids;

/// A fresh object: `apiVersion`, `kind` and metadata with a deterministic
/// uid, resourceVersion and creationTimestamp `created_ago` seconds before
/// collection.
pub fn object(
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    created_ago: i64,
) -> Value {
    let key = match namespace {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    };
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    meta.insert("uid".into(), json!(ids::uid(&key)));
    meta.insert("resourceVersion".into(), json!(ids::resource_version(&key)));
    meta.insert("creationTimestamp".into(), json!(ids::ago(created_ago)));
    json!({ "apiVersion": api_version, "kind": kind, "metadata": Value::Object(meta) })
}

/// Mutable access to `metadata` (created when absent).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let root = match obj.as_object_mut() {
        Some(m) => m,
        None => unreachable!("just made an object"),
    };
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    match meta.as_object_mut() {
        Some(m) => m,
        None => unreachable!("just made an object"),
    }
}

/// Adds labels (merging with existing ones).
pub fn add_labels(obj: &mut Value, labels: &[(&str, &str)]) {
    add_map(obj, "labels", labels);
}

/// Adds annotations (merging with existing ones).
pub fn add_annotations(obj: &mut Value, annotations: &[(&str, &str)]) {
    add_map(obj, "annotations", annotations);
}

fn add_map(obj: &mut Value, field: &str, pairs: &[(&str, &str)]) {
    let meta = meta_mut(obj);
    let entry = meta.entry(field).or_insert_with(|| json!({}));
    if let Some(map) = entry.as_object_mut() {
        for (k, v) in pairs {
            map.insert((*k).to_string(), json!(v));
        }
    }
}

/// Sets `metadata.generateName`.
pub fn set_generate_name(obj: &mut Value, prefix: &str) {
    meta_mut(obj).insert("generateName".into(), json!(prefix));
}

/// The `ownerReferences` entry pointing at `owner` as its controller.
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Makes `owner` the controller of `obj`.
pub fn set_owner(obj: &mut Value, owner: &Value) {
    let reference = owner_ref(owner);
    meta_mut(obj).insert("ownerReferences".into(), json!([reference]));
}

/// Appends one `managedFields` entry. `fields` is the `fieldsV1` tree
/// (`{"f:data": {"f:KEY": {}}}`); `subresource` is e.g. `status`.
pub fn add_managed(
    obj: &mut Value,
    manager: &str,
    operation: &str,
    secs_ago: i64,
    fields: Value,
    subresource: Option<&str>,
) {
    let api_version = obj.get("apiVersion").cloned().unwrap_or(Value::Null);
    let mut entry = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": ids::ago(secs_ago),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    });
    if let (Some(sub), Some(map)) = (subresource, entry.as_object_mut()) {
        map.insert("subresource".into(), json!(sub));
    }
    let meta = meta_mut(obj);
    let list = meta.entry("managedFields").or_insert_with(|| json!([]));
    if let Some(items) = list.as_array_mut() {
        items.push(entry);
    }
}

/// `fieldsV1` listing the given keys under one top-level field, e.g.
/// `fields_of("f:data", ["a", "b"])`.
pub fn fields_of<'a>(top: &str, keys: impl IntoIterator<Item = &'a str>) -> Value {
    let mut inner = Map::new();
    inner.insert(".".into(), json!({}));
    for k in keys {
        inner.insert(format!("f:{k}"), json!({}));
    }
    let mut root = Map::new();
    root.insert(top.to_string(), Value::Object(inner));
    Value::Object(root)
}

/// Name of an object (empty when missing).
pub fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or("")
}

/// Namespace of an object (empty when missing).
pub fn namespace_of(obj: &Value) -> &str {
    obj["metadata"]["namespace"].as_str().unwrap_or("")
}

/// Labels of an object as pairs.
pub fn labels_of(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_chain_and_managed_fields() {
        let rs = object("apps/v1", "ReplicaSet", Some("shop"), "api-5d8f", 100);
        let mut pod = object("v1", "Pod", Some("shop"), "api-5d8f-abcde", 90);
        set_owner(&mut pod, &rs);
        add_labels(&mut pod, &[("app", "api")]);
        add_managed(
            &mut pod,
            "kubelet",
            "Update",
            80,
            json!({"f:status": {}}),
            Some("status"),
        );
        assert_eq!(
            pod["metadata"]["ownerReferences"][0]["uid"],
            rs["metadata"]["uid"]
        );
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        assert_eq!(pod["metadata"]["managedFields"][0]["subresource"], "status");
        assert_eq!(
            pod["metadata"]["managedFields"][0]["fieldsType"],
            "FieldsV1"
        );
        assert_eq!(
            labels_of(&pod),
            vec![("app".to_string(), "api".to_string())]
        );
        assert_eq!(name_of(&pod), "api-5d8f-abcde");
        let f = fields_of("f:data", ["A", "B"]);
        assert!(f["f:data"]["f:A"].is_object());
    }
}
