//! Server-side printing: `meta.k8s.io/v1` Tables as the API server builds
//! them for kubectl (`pkg/printers/internalversion/printers.go`).
//!
//! kubectl asks for a Table whenever it prints columns; the API server, not
//! kubectl, decides the columns and formats every cell. So the same column
//! sets and cell texts are reproduced here, with every age relative to the
//! collection time. Columns of priority 1 are the `-o wide` ones; kubectl
//! hides them otherwise.

mod core;
mod network;
mod workloads;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kpm_bundle::layout::ResourceKind;
use serde_json::{json, Value};

use crate::errors::ApiError;

/// What each row carries in `object` (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the server's default).
    Metadata,
    /// The whole object (kubectl sends this for `--sort-by` and
    /// custom columns).
    Object,
}

impl Include {
    /// Reads `includeObject`.
    pub fn from_query(v: Option<&str>) -> Include {
        match v {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// One column definition.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header (kubectl upper-cases it).
    pub name: &'static str,
    /// `string`, `integer`, `boolean`.
    pub ty: &'static str,
    /// 0 = always, 1 = `-o wide`.
    pub priority: u8,
    /// Why the column exists, as the API documents the field.
    pub description: &'static str,
}

/// Shorthand for a column.
const fn col(
    name: &'static str,
    ty: &'static str,
    priority: u8,
    description: &'static str,
) -> Column {
    Column {
        name,
        ty,
        priority,
        description,
    }
}

/// The NAME column every table starts with.
pub const NAME: Column = col(
    "Name",
    "string",
    0,
    "Name must be unique within a namespace.",
);
/// The AGE column.
pub const AGE: Column = col(
    "Age",
    "string",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

/// Prints the cells of one object as seen at `now`.
type Printer = fn(&Value, DateTime<Utc>) -> Vec<Value>;

fn printer(plural: &str) -> Option<(&'static [Column], Printer)> {
    core::printer(plural)
        .or_else(|| workloads::printer(plural))
        .or_else(|| network::printer(plural))
}

/// Builds the Table for `items` of `kind`.
pub fn render(
    kind: &ResourceKind,
    items: &[Value],
    include: Include,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let (columns, print) = printer(kind.plural)
        .ok_or_else(|| ApiError::internal(format!("no table printer for {}", kind.plural)))?;
    let defs: Vec<Value> = columns
        .iter()
        .map(|c| {
            let mut d = json!({"name": c.name, "type": c.ty, "format": "", "description": c.description, "priority": c.priority});
            if c.name == "Name" {
                d["format"] = "name".into();
            }
            d
        })
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let mut row = json!({"cells": print(obj, now)});
            let object = match include {
                Include::None => None,
                Include::Metadata => Some(json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                })),
                Include::Object => Some(crate::routes::with_type_meta(
                    obj.clone(),
                    kind.kind,
                    &kind.api_version(),
                )),
            };
            if let Some(o) = object {
                row["object"] = o;
            }
            row
        })
        .collect();
    Ok(json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": defs,
        "rows": rows,
    }))
}

/// Sets the Table's list metadata (kubectl pages tables by `continue`).
pub fn with_list_meta(
    mut table: Value,
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    let mut meta = json!({"resourceVersion": resource_version});
    if let Some(c) = continue_token {
        meta["continue"] = c.into();
    }
    table["metadata"] = meta;
    table
}

// ---- cell helpers shared by the printers ----

/// The string at a JSON pointer, or "".
pub(crate) fn s<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a JSON pointer, or 0 (Go's zero value).
pub(crate) fn int(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// The array at a JSON pointer, or empty.
pub(crate) fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn time_at(obj: &Value, ptr: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s(obj, ptr))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `translateTimestampSince` of the timestamp at `ptr`; `<unknown>` when
/// unset.
pub(crate) fn since(obj: &Value, ptr: &str, now: DateTime<Utc>) -> String {
    kpm_semantics::duration::age_opt(time_at(obj, ptr), now)
}

/// The AGE cell.
pub(crate) fn age(obj: &Value, now: DateTime<Utc>) -> Value {
    since(obj, "/metadata/creationTimestamp", now).into()
}

/// The NAME cell.
pub(crate) fn name(obj: &Value) -> Value {
    s(obj, "/metadata/name").into()
}

/// `labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty.
pub(crate) fn format_labels(map: Option<&Value>) -> String {
    let pairs: BTreeMap<&str, &str> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    if pairs.is_empty() {
        return "<none>".into();
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `metav1.FormatLabelSelector`: the selector string, `<none>` when empty,
/// `<error>` when it does not convert.
pub(crate) fn format_label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel.filter(|v| !v.is_null()) else {
        return "<none>".into();
    };
    let parsed: Result<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector, _> =
        serde_json::from_value(sel.clone());
    match parsed
        .ok()
        .and_then(|ls| kpm_semantics::selector::Selector::from_label_selector(&ls).ok())
    {
        Some(s) if !s.is_empty() => s.to_string(),
        Some(_) => "<none>".into(),
        None => "<error>".into(),
    }
}

/// `layoutContainerCells`: container names and images, comma-joined.
pub(crate) fn containers(obj: &Value, ptr: &str) -> (Value, Value) {
    let cs = arr(obj, ptr);
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(",").into(), images.join(",").into())
}

/// A list printed as `a,b,c + N more...` (at most `max` shown), or
/// `empty` when there is nothing.
pub(crate) fn list_with_more(list: &[String], max: usize, empty: &str) -> String {
    if list.is_empty() {
        return empty.to_string();
    }
    let shown = list.iter().take(max).cloned().collect::<Vec<_>>().join(",");
    if list.len() > max {
        format!("{shown} + {} more...", list.len() - max)
    } else {
        shown
    }
}

/// A quantity as `Quantity.String()` prints it; unparseable text as is.
pub(crate) fn quantity(q: &str) -> String {
    kpm_semantics::quantity::parse(q)
        .map(|q| q.to_canonical())
        .unwrap_or_else(|_| q.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_labels_format_like_metav1() {
        assert_eq!(
            format_labels(Some(&json!({"tier": "web", "app": "shop"}))),
            "app=shop,tier=web"
        );
        assert_eq!(format_labels(None), "<none>");
        assert_eq!(
            format_label_selector(Some(&json!({"matchLabels": {"app": "web"}}))),
            "app=web"
        );
        assert_eq!(
            format_label_selector(Some(
                &json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]})
            )),
            "tier in (a,b)"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
    }

    #[test]
    fn include_object_modes() {
        let kind = kpm_bundle::layout::kind_by_plural("configmaps").unwrap();
        let now = DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cm = json!({"metadata": {"name": "app-config", "namespace": "shop", "creationTimestamp": "2025-03-01T10:00:00Z"}, "data": {"a": "1", "b": "2"}});
        let t = render(kind, std::slice::from_ref(&cm), Include::Metadata, now).unwrap();
        assert_eq!(t["rows"][0]["cells"], json!(["app-config", 2, "120m"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        let full = render(kind, std::slice::from_ref(&cm), Include::Object, now).unwrap();
        assert_eq!(full["rows"][0]["object"]["kind"], "ConfigMap");
        assert_eq!(full["rows"][0]["object"]["data"]["b"], "2");
        let none = render(kind, std::slice::from_ref(&cm), Include::None, now).unwrap();
        assert!(none["rows"][0].get("object").is_none());
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
    }

    #[test]
    fn every_layout_kind_has_a_printer() {
        for k in kpm_bundle::layout::all_kinds() {
            assert!(printer(k.plural).is_some(), "{}", k.plural);
        }
    }
}
