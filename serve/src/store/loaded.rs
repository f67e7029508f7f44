//! One stored list, parsed: the file's text plus, per object, its byte
//! range and the few values selectors need.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::errors::ApiError;
use crate::selectors::{field_value, kind_fields};
use kpm_semantics::names::{self, NameRule};

/// One object of a list. Its JSON text is [`Loaded::raw`].
#[derive(Debug)]
pub struct Item {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, empty at cluster scope.
    pub namespace: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// Values of the kind's field labels, in [`kind_fields`] order.
    pub fields: Vec<String>,
    /// Whether the name and namespace are ones an API server accepts
    /// ([`valid_names`]); invalid objects are never served but keep their
    /// place, so positions agree with the field indexes.
    pub valid: bool,
    /// Where the object is in [`Loaded`]'s text.
    range: Range<usize>,
}

impl Item {
    /// The value of a field label as the API server compares it.
    pub fn field(&self, plural: &str, field: &str) -> String {
        match field {
            "metadata.name" => self.name.clone(),
            "metadata.namespace" => self.namespace.clone(),
            other => kind_fields(plural)
                .iter()
                .position(|f| *f == other)
                .and_then(|i| self.fields.get(i).cloned())
                .unwrap_or_default(),
        }
    }

    /// Approximate heap bytes of this entry, for the cache budget.
    fn weight(&self) -> usize {
        std::mem::size_of::<Item>()
            + self.name.capacity()
            + self.namespace.capacity()
            + self
                .labels
                .iter()
                .map(|(k, v)| k.capacity() + v.capacity() + 64)
                .sum::<usize>()
            + self
                .fields
                .iter()
                .map(|f| f.capacity() + std::mem::size_of::<String>())
                .sum::<usize>()
    }
}

/// One list file, parsed.
#[derive(Debug)]
pub struct Loaded {
    /// Namespace of a namespaced list, None at cluster scope.
    pub namespace: Option<String>,
    /// `metadata.resourceVersion` of the stored list.
    pub resource_version: String,
    /// The items, sorted as the API server lists them.
    pub items: Vec<Item>,
    /// The file as stored; items point into it, so each object is one range
    /// instead of one allocation.
    text: String,
}

impl Loaded {
    /// The object exactly as stored.
    pub fn raw(&self, item: &Item) -> &str {
        self.text.get(item.range.clone()).unwrap_or("{}")
    }

    /// The object parsed, for printing.
    pub fn value(&self, item: &Item) -> Result<Value, ApiError> {
        serde_json::from_str(self.raw(item))
            .map_err(|e| ApiError::internal(format!("object {}: {e}", item.name)))
    }

    /// Approximate heap bytes, for the cache budget.
    pub fn weight(&self) -> usize {
        self.text.capacity() + self.items.iter().map(Item::weight).sum::<usize>()
    }

    /// The position of the object called `name`: a binary search, as items
    /// of one list share their namespace and are sorted by name.
    pub fn position(&self, name: &str) -> Option<usize> {
        let found = self
            .items
            .binary_search_by(|it| it.name.as_str().cmp(name))
            .ok()
            .filter(|&i| self.items.get(i).is_some_and(|it| it.name == name));
        // A list mixing namespaces (cluster-scope metrics, foreign bundles)
        // is not sorted by name alone.
        found
            .or_else(|| self.items.iter().position(|it| it.name == name))
            .filter(|&i| self.items.get(i).is_some_and(|it| it.valid))
    }

    /// The objects not served because of their names, as `namespace/name`
    /// (or `name`) shown safely, for the report on stderr.
    pub fn invalid_names(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|it| !it.valid)
    }
}

#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(default)]
    metadata: ListMeta,
    /// `null` in lists written by other tools for no items: an empty list.
    #[serde(default, borrow)]
    items: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    #[serde(default)]
    resource_version: Option<Value>,
}

/// Just the parts of an object selectors need; everything else is skipped
/// by the parser without building values.
#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    metadata: ProbeMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<ProbeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<ProbeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    involved_object: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reporting_component: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<Value>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<Value>,
}

#[derive(Deserialize, Serialize, Default)]
struct ProbeMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct ProbeSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restart_policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheduler_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_account_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_network: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unschedulable: Option<Value>,
    #[serde(default, rename = "clusterIP", skip_serializing_if = "Option::is_none")]
    cluster_ip: Option<Value>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<Value>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct ProbeStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phase: Option<Value>,
    #[serde(default, rename = "podIP", skip_serializing_if = "Option::is_none")]
    pod_ip: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nominated_node_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replicas: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    succeeded: Option<Value>,
}

/// Whether an object of `plural` called `name` in `namespace` (empty at
/// cluster scope) has names an API server would have accepted: a bundle
/// can say anything, and names end up in kubectl's file paths (`kubectl
/// cluster-info dump`) and in URLs.
pub fn valid_names(plural: &str, name: &str, namespace: &str) -> bool {
    NameRule::for_resource(plural).accepts(name)
        && (namespace.is_empty() || names::is_dns1123_label(namespace))
}

/// A name from the bundle as it may be printed: quoted, escaped, cut.
pub fn shown(name: &str) -> String {
    let cut: String = name.chars().take(80).collect();
    let more = if cut.len() < name.len() { "…" } else { "" };
    format!("{cut:?}{more}")
}

/// Reads the selector values of one object.
fn index_item(plural: &str, raw: &str, range: Range<usize>) -> Result<Item, serde_json::Error> {
    let probe: Probe = serde_json::from_str(raw)?;
    let wanted = kind_fields(plural);
    let fields = if wanted.is_empty() {
        Vec::new()
    } else {
        let mut v = serde_json::to_value(&probe)?;
        // `status.successful` of jobs is stored as `status.succeeded`.
        if let Some(s) = v.pointer("/status/succeeded").cloned() {
            if let Some(st) = v.get_mut("status").and_then(Value::as_object_mut) {
                st.insert("successful".into(), s);
            }
        }
        wanted.iter().map(|f| field_value(&v, f)).collect()
    };
    let valid = valid_names(plural, &probe.metadata.name, &probe.metadata.namespace);
    Ok(Item {
        valid,
        name: probe.metadata.name,
        namespace: probe.metadata.namespace,
        labels: probe.metadata.labels,
        fields,
        range,
    })
}

/// Why a stored list could not be parsed (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not UTF-8 (JSON must be).
    #[error("not UTF-8: {0}")]
    Utf8(std::str::Utf8Error),
    /// Not a JSON list.
    #[error("{0}")]
    Json(serde_json::Error),
}

/// Parses one stored list, keeping its text.
pub fn parse_list(
    plural: &str,
    namespace: Option<&str>,
    bytes: impl Into<Vec<u8>>,
) -> Result<Loaded, ParseError> {
    let text = String::from_utf8(bytes.into()).map_err(|e| ParseError::Utf8(e.utf8_error()))?;
    let base = text.as_ptr() as usize;
    let (resource_version, mut items) = {
        let list: RawList<'_> = serde_json::from_str(&text).map_err(ParseError::Json)?;
        let items = list
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|raw| {
                // The raw value borrows from `text`: its offset is its range.
                let start = (raw.get().as_ptr() as usize).saturating_sub(base);
                index_item(plural, raw.get(), start..start + raw.get().len())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(ParseError::Json)?;
        let rv = match list.metadata.resource_version {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        (rv, items)
    };
    // The API server lists in storage-key order (namespace, then name);
    // bundles written by other tools may not be, and kubectl output and
    // continue tokens must not depend on that.
    sort_items(&mut items, |it| (it.namespace.as_str(), it.name.as_str()));
    Ok(Loaded {
        namespace: namespace.map(str::to_string),
        resource_version,
        items,
        text,
    })
}

/// A list holding only the objects at `ranges` of a stored file, in that
/// order: what an indexed request needs from a namespace, without parsing
/// the rest of it.
pub fn parse_ranges(
    plural: &str,
    namespace: Option<&str>,
    bytes: impl Into<Vec<u8>>,
    ranges: &[Range<usize>],
) -> Result<Loaded, ParseError> {
    let text = String::from_utf8(bytes.into()).map_err(|e| ParseError::Utf8(e.utf8_error()))?;
    let items = ranges
        .iter()
        .map(|r| {
            let raw = text.get(r.clone()).unwrap_or("{}");
            index_item(plural, raw, r.clone())
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(ParseError::Json)?;
    Ok(Loaded {
        namespace: namespace.map(str::to_string),
        resource_version: String::new(),
        items,
        text,
    })
}

/// The one ordering of a list's items, shared with the index builder so
/// that positions agree: by (namespace, name), stable.
pub(crate) fn sort_items<T>(items: &mut [T], key: impl Fn(&T) -> (&str, &str)) {
    items.sort_by(|a, b| key(a).cmp(&key(b)));
}
