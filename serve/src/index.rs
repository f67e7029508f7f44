//! Field indexes over every namespace: which items of a kind carry a value.
//!
//! Two all-namespaces selections would otherwise read every namespace's
//! list on each request: `kubectl describe node X` lists the pods with
//! `spec.nodeName=X` and the events with `involvedObject.name=X` across all
//! namespaces (150,000 pods and 300,000 events on a large cluster), and the
//! collector asks the same per node. An index maps each value to the
//! positions (namespace, item) of the items that have it; a request then
//! loads only the namespaces those items are in.
//!
//! Indexes are built in one slim pass that reads only the name, namespace
//! and the indexed field of each object, and that keeps nothing but the
//! positions. Positions are those of [`crate::store::parse_list`]: the same
//! stable sort by (namespace, name) is applied to the same file.

use std::collections::HashMap;

use kpm_bundle::layout::ResourceKind;
use serde::Deserialize;
use serde_json::Value;

use crate::errors::ApiError;
use crate::gaps::Gaps;
use crate::store::{sort_items, Store};

/// The indexed (plural, field label) pairs.
pub const INDEXED: &[(&str, &str)] =
    &[("pods", "spec.nodeName"), ("events", "involvedObject.name")];

/// Where an item is: the index of its namespace in [`Store::namespaces`],
/// its position in that namespace's parsed list, and its bytes in the
/// stored file (so a request can read the few objects it needs without
/// parsing the whole list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Index into [`Store::namespaces`].
    pub ns: u32,
    /// Index into the namespace list's items.
    pub item: u32,
    /// Offset of the object in the decompressed file.
    pub start: u32,
    /// Length of the object's text.
    pub len: u32,
}

impl Pos {
    /// The object's byte range in the decompressed file.
    pub fn range(&self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

/// Positions of the items of one kind by the value of one field, in server
/// order (namespace, then item).
#[derive(Debug, Default)]
pub struct FieldIndex {
    by_value: HashMap<Box<str>, Vec<Pos>>,
    /// Namespaces whose list could not be read, left out of the index.
    gaps: Gaps,
}

impl FieldIndex {
    /// The items whose field equals `value`, in server order.
    pub fn get(&self, value: &str) -> &[Pos] {
        self.by_value.get(value).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The lists left out because they could not be read: every answer
    /// from this index says so.
    pub fn gaps(&self) -> &Gaps {
        &self.gaps
    }

    /// Number of distinct values.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_value.len()
    }
}

/// Only what the index needs from one object; the parser skips the rest
/// without building values.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Slim {
    #[serde(default)]
    metadata: SlimMeta,
    #[serde(default)]
    spec: Option<SlimSpec>,
    #[serde(default)]
    involved_object: Option<SlimRef>,
}

#[derive(Deserialize, Default)]
struct SlimMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SlimSpec {
    #[serde(default)]
    node_name: Option<Value>,
}

#[derive(Deserialize, Default)]
struct SlimRef {
    #[serde(default)]
    name: Option<Value>,
}

#[derive(Deserialize)]
struct RawItems<'a> {
    /// `null` in lists written by other tools for no items.
    #[serde(default, borrow)]
    items: Option<Vec<&'a serde_json::value::RawValue>>,
}

/// The field as the API server compares it (see
/// [`crate::selectors::field_value`]): strings as is, unset or null as "".
fn text(v: Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

fn value_of(item: &mut Slim, field: &str) -> String {
    match field {
        "spec.nodeName" => text(item.spec.as_mut().and_then(|s| s.node_name.take())),
        "involvedObject.name" => text(item.involved_object.as_mut().and_then(|r| r.name.take())),
        _ => String::new(),
    }
}

/// Reads the values of `field` in one stored list with each object's byte
/// range, in server order.
pub fn slim_values(
    bytes: &[u8],
    field: &str,
) -> Result<Vec<(String, std::ops::Range<usize>)>, serde_json::Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        serde_json::Error::io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    })?;
    let base = text.as_ptr() as usize;
    let list: RawItems<'_> = serde_json::from_str(text)?;
    let mut items = list
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|raw| {
            let mut it: Slim = serde_json::from_str(raw.get())?;
            let start = (raw.get().as_ptr() as usize).saturating_sub(base);
            let v = value_of(&mut it, field);
            Ok((it.metadata, v, start..start + raw.get().len()))
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    sort_items(&mut items, |(m, _, _)| {
        (m.namespace.as_str(), m.name.as_str())
    });
    Ok(items.into_iter().map(|(_, v, r)| (v, r)).collect())
}

/// Builds the index of `field` over every namespace's list of `kind`. A
/// list that cannot be read is left out and noted in [`FieldIndex::gaps`].
pub fn build(store: &Store, kind: &ResourceKind, field: &str) -> Result<FieldIndex, ApiError> {
    let mut by_value: HashMap<Box<str>, Vec<Pos>> = HashMap::new();
    let mut gaps = Gaps::default();
    for (ns_index, ns) in store.namespaces().iter().enumerate() {
        let Some(path) = kind.path(Some(ns)) else {
            continue;
        };
        if !store.bundle().contains(&path) {
            continue;
        }
        let values = match store.bundle().read_bytes(&path) {
            Ok(bytes) => slim_values(&bytes, field)
                .map_err(|e| kpm_bundle::BundleError::from_json(&path, &e).to_string()),
            Err(e) => Err(e.to_string()),
        };
        let values = match values {
            Ok(v) => v,
            Err(damage) => {
                gaps.note(damage);
                continue;
            }
        };
        let ns_index = u32::try_from(ns_index)
            .map_err(|_| ApiError::internal("too many namespaces to index"))?;
        let too_big = || ApiError::internal(format!("{path}: too large to index"));
        for (i, (v, range)) in values.into_iter().enumerate() {
            by_value.entry(v.into_boxed_str()).or_default().push(Pos {
                ns: ns_index,
                item: u32::try_from(i).map_err(|_| too_big())?,
                start: u32::try_from(range.start).map_err(|_| too_big())?,
                len: u32::try_from(range.len()).map_err(|_| too_big())?,
            });
        }
    }
    for positions in by_value.values_mut() {
        positions.shrink_to_fit();
    }
    Ok(FieldIndex { by_value, gaps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parse_list;

    #[test]
    fn slim_values_follow_the_parsed_order() {
        // Stored out of order, one pod unscheduled, one with a null node.
        let list = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[
          {"metadata":{"name":"web-2","namespace":"shop","labels":{"app":"web"}},"spec":{"nodeName":"worker-2","containers":[{"name":"app","image":"nginx:1.27"}]},"status":{"phase":"Running"}},
          {"metadata":{"name":"api-1","namespace":"shop"},"spec":{"containers":[{"name":"api"}]},"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable"}]}},
          {"metadata":{"name":"db-0","namespace":"shop"},"spec":{"nodeName":null},"status":{"phase":"Pending"}},
          {"metadata":{"name":"web-1","namespace":"shop"},"spec":{"nodeName":"worker-1"},"status":{"phase":"Running"}}]}"#;
        let slim = slim_values(list, "spec.nodeName").unwrap();
        let full = parse_list("pods", Some("shop"), list.to_vec()).unwrap();
        let scanned: Vec<(String, &str)> = full
            .items
            .iter()
            .map(|it| (it.field("pods", "spec.nodeName"), full.raw(it)))
            .collect();
        let text = std::str::from_utf8(list).unwrap();
        let indexed: Vec<(String, &str)> = slim
            .iter()
            .map(|(v, r)| (v.clone(), &text[r.clone()]))
            .collect();
        assert_eq!(indexed, scanned);
        let values: Vec<&str> = slim.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(values, ["", "", "worker-1", "worker-2"]);
    }

    #[test]
    fn event_involved_object_names() {
        let list = br#"{"items":[
          {"metadata":{"name":"worker-1.17f3a","namespace":"default"},"involvedObject":{"kind":"Node","name":"worker-1","uid":"worker-1"},"reason":"NodeNotReady","type":"Normal","source":{"component":"node-controller"}},
          {"metadata":{"name":"web-1.17f3b","namespace":"default"},"involvedObject":{"kind":"Pod","namespace":"default","name":"web-1"},"reason":"BackOff","type":"Warning"}]}"#;
        let values: Vec<String> = slim_values(list, "involvedObject.name")
            .unwrap()
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        assert_eq!(values, ["web-1", "worker-1"]);
    }
}
