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
mod policy;
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
        .or_else(|| policy::printer(plural))
}

/// The top-level fields of an object, borrowed: for `includeObject` the
/// metadata and the object are copied as stored, not re-serialized.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(default, borrow)]
    kind: Option<&'a serde_json::value::RawValue>,
    #[serde(default, borrow)]
    api_version: Option<&'a serde_json::value::RawValue>,
    #[serde(default, borrow)]
    metadata: Option<&'a serde_json::value::RawValue>,
}

/// Writes a Table response row by row, straight from stored objects.
///
/// kubectl asks for Tables page by page (`limit=500`); each row is printed
/// from the stored text and written out at once, so a page never exists as
/// a `Value` tree. `metadata` comes last because the continue token is known
/// only once the page is complete.
pub struct TableWriter<'k> {
    kind: &'k ResourceKind,
    include: Include,
    now: DateTime<Utc>,
    print: Printer,
    out: Vec<u8>,
    rows: usize,
}

impl<'k> TableWriter<'k> {
    /// Starts the Table of `kind`: header and column definitions.
    pub fn new(
        kind: &'k ResourceKind,
        include: Include,
        now: DateTime<Utc>,
    ) -> Result<TableWriter<'k>, ApiError> {
        let (columns, print) = printer(kind.plural)
            .ok_or_else(|| ApiError::internal(format!("no table printer for {}", kind.plural)))?;
        let defs: Vec<Value> = columns
            .iter()
            .map(|c| {
                let format = if c.name == "Name" { "name" } else { "" };
                json!({"name": c.name, "type": c.ty, "format": format, "description": c.description, "priority": c.priority})
            })
            .collect();
        let mut out = Vec::with_capacity(64 * 1024);
        out.extend_from_slice(
            br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","columnDefinitions":"#,
        );
        serde_json::to_writer(&mut out, &defs).map_err(ApiError::internal)?;
        out.extend_from_slice(br#","rows":["#);
        Ok(TableWriter {
            kind,
            include,
            now,
            print,
            out,
            rows: 0,
        })
    }

    /// The cells of one stored object.
    fn cells(&self, raw: &str) -> Result<Vec<Value>, ApiError> {
        // Pods, the big lists, are read straight into the typed model the
        // printer uses, skipping the `Value` tree.
        if self.kind.plural == "pods" {
            if let Some(cells) = core::pod_cells_from_text(raw, self.now) {
                return Ok(cells);
            }
        }
        let obj: Value = serde_json::from_str(raw)
            .map_err(|e| ApiError::internal(format!("stored {} object: {e}", self.kind.kind)))?;
        Ok((self.print)(&obj, self.now))
    }

    /// Appends the row of one stored object.
    pub fn row(&mut self, raw: &str) -> Result<(), ApiError> {
        let cells = self.cells(raw)?;
        if self.rows > 0 {
            self.out.push(b',');
        }
        self.rows += 1;
        self.out.extend_from_slice(br#"{"cells":"#);
        serde_json::to_writer(&mut self.out, &cells).map_err(ApiError::internal)?;
        if self.include != Include::None {
            let env: Envelope<'_> = serde_json::from_str(raw).map_err(|e| {
                ApiError::internal(format!("stored {} object: {e}", self.kind.kind))
            })?;
            self.out.extend_from_slice(br#","object":"#);
            match self.include {
                Include::Metadata => {
                    self.out.extend_from_slice(
                        br#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":"#,
                    );
                    let meta = env.metadata.map_or("{}", |m| m.get());
                    self.out.extend_from_slice(meta.as_bytes());
                    self.out.push(b'}');
                }
                _ => self.push_typed(raw, &env),
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    /// The object as stored with `kind`/`apiVersion` added when missing
    /// (list items do not carry them; a GET answer and a Table row do).
    fn push_typed(&mut self, raw: &str, env: &Envelope<'_>) {
        let body = raw.trim_start().strip_prefix('{').unwrap_or("}");
        self.out.push(b'{');
        let mut added = Vec::new();
        if env.kind.is_none() {
            added.push(("kind", self.kind.kind.to_string()));
        }
        if env.api_version.is_none() {
            added.push(("apiVersion", self.kind.api_version()));
        }
        let empty = body.trim_start().starts_with('}');
        for (i, (k, v)) in added.iter().enumerate() {
            crate::list::push_json_str(&mut self.out, k);
            self.out.push(b':');
            crate::list::push_json_str(&mut self.out, v);
            if i + 1 < added.len() || !empty {
                self.out.push(b',');
            }
        }
        self.out.extend_from_slice(body.as_bytes());
    }

    /// Closes the Table with its list metadata.
    pub fn finish(mut self, resource_version: &str, continue_token: Option<&str>) -> Vec<u8> {
        self.out.extend_from_slice(b"],");
        crate::list::push_list_meta(&mut self.out, resource_version, continue_token);
        self.out.push(b'}');
        self.out
    }
}

/// Builds the Table for `items` of `kind` (a single GET; lists use
/// [`TableWriter`] directly).
pub fn render(
    kind: &ResourceKind,
    items: &[Value],
    include: Include,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let mut w = TableWriter::new(kind, include, now)?;
    for obj in items {
        w.row(&obj.to_string())?;
    }
    let body = w.finish("", None);
    let mut table: Value = serde_json::from_slice(&body).map_err(ApiError::internal)?;
    table["metadata"] = json!({});
    Ok(table)
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
        // A stored object that already says what it is keeps its own type.
        let typed = json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}});
        let t2 = render(kind, std::slice::from_ref(&typed), Include::Object, now).unwrap();
        assert_eq!(t2["rows"][0]["object"], typed);
        let bare = render(kind, &[json!({})], Include::Object, now).unwrap();
        assert_eq!(
            bare["rows"][0]["object"],
            json!({"kind": "ConfigMap", "apiVersion": "v1"})
        );
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
    }

    #[test]
    fn every_layout_kind_has_a_printer() {
        for k in kpm_bundle::layout::all_kinds() {
            assert!(printer(k.plural).is_some(), "{}", k.plural);
        }
    }
}
