//! Resource lists, their error files and `/version`: normalised into the
//! bundle layout, one step each.

use super::super::{lists, Skipped};
use super::{keep_extra, State};
use crate::error::{BundleError, Result};
use crate::layout::{self, kind_by_plural};
use crate::manifest::{Outcome, Step};
use crate::writer::BundleWriter;

/// troubleshoot 0.10x wrote some lists (ReplicaSets) under
/// `statefulsets-errors.json/<ns>.json`: such a file is read as the list it
/// is, not as errors.
pub(super) fn place_errors(
    writer: &mut BundleWriter,
    state: &mut State,
    path: &str,
    bytes: &[u8],
    plural: &'static str,
    namespace: Option<String>,
) -> Result<()> {
    let value: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    let misplaced = value
        .as_ref()
        .and_then(|v| v.get("kind"))
        .and_then(serde_json::Value::as_str)
        .and_then(|k| crate::layout::all_kinds().find(|r| r.list_kind() == k));
    let Some(kind) = misplaced else {
        record_errors(state, bytes, plural, namespace);
        return Ok(());
    };
    state.problems.push(Skipped {
        path: path.to_string(),
        reason: format!(
            "holds a {} (not errors of {plural}): read as {}",
            kind.list_kind(),
            kind.plural
        ),
    });
    place_list(writer, state, path, bytes, kind.plural, namespace)
}

/// `/version`, unwrapped from troubleshoot's `{"info": …, "string": …}`.
pub(super) fn place_server_version(
    writer: &mut BundleWriter,
    state: &mut State,
    path: &str,
    bytes: &[u8],
) -> Result<()> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| BundleError::from_json(path, &e))?;
    let info = value.get("info").cloned().unwrap_or(value);
    state.server_version = info
        .get("gitVersion")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    writer.write_json(layout::CLUSTER_VERSION, &info)?;
    let mut step = Step::new("version", Outcome::Ok);
    step.path = Some(layout::CLUSTER_VERSION.to_string());
    state.steps.push(step);
    Ok(())
}

pub(super) fn place_list(
    writer: &mut BundleWriter,
    state: &mut State,
    source_path: &str,
    bytes: &[u8],
    plural: &'static str,
    namespace: Option<String>,
) -> Result<()> {
    let Some(kind) = kind_by_plural(plural) else {
        return keep_extra(writer, source_path, bytes);
    };
    let mut out = std::mem::take(&mut state.list_out);
    let normalised = lists::normalise_into(bytes, kind, &mut state.scratch, &mut out);
    let source = ListSource {
        path: source_path,
        bytes,
        text: &out,
    };
    let result = place_normalised(writer, state, &source, kind, namespace, normalised);
    state.list_out = out;
    result
}

/// A list file as read and as normalised.
struct ListSource<'a> {
    path: &'a str,
    bytes: &'a [u8],
    text: &'a [u8],
}

/// Records and writes a list normalised into `source.text` (`None`: it was
/// no list of `kind`).
fn place_normalised(
    writer: &mut BundleWriter,
    state: &mut State,
    source: &ListSource<'_>,
    kind: &'static crate::layout::ResourceKind,
    namespace: Option<String>,
    normalised: Option<lists::Normalised>,
) -> Result<()> {
    let (source_path, bytes) = (source.path, source.bytes);
    let plural = kind.plural;
    let Some(normalised) = normalised else {
        state.problems.push(Skipped {
            path: source_path.to_string(),
            reason: format!("not a {} list (kept under foreign/)", kind.kind),
        });
        return keep_extra(writer, source_path, bytes);
    };
    let Some(path) = kind.path(namespace.as_deref()) else {
        return keep_extra(writer, source_path, bytes);
    };
    if state
        .list_steps
        .contains_key(&(plural.to_string(), namespace.clone()))
    {
        state.problems.push(Skipped {
            path: source_path.to_string(),
            reason: format!(
                "a second {} list for the same scope (kept under foreign/)",
                kind.kind
            ),
        });
        return keep_extra(writer, source_path, bytes);
    }
    for (name, ns) in normalised.pods {
        if let Some(ns) = ns.or_else(|| namespace.clone()) {
            state.pod_namespace.insert(name, ns);
        }
    }
    if let Some(ns) = &namespace {
        state.namespaces.insert(ns.clone());
    }
    state.latest_object = state.latest_object.max(normalised.latest);
    let record = writer.write_entry(&path, source.text)?;
    let mut step = Step::new(plural, Outcome::Ok);
    step.namespace = namespace.clone();
    step.path = Some(path);
    step.items = normalised.items;
    step.bytes = record.size;
    state
        .list_steps
        .insert((plural.to_string(), namespace), state.steps.len());
    state.steps.push(step);
    Ok(())
}

/// troubleshoot writes a kind's errors as a JSON array of messages, or an
/// object of namespace → message.
fn record_errors(state: &mut State, bytes: &[u8], plural: &'static str, namespace: Option<String>) {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()));
    let mut add = |ns: Option<String>, message: String| {
        state
            .errors
            .entry((plural.to_string(), ns))
            .or_default()
            .push(message);
    };
    match value {
        serde_json::Value::Object(map) => {
            for (ns, message) in map {
                add(Some(ns), text_of(&message));
            }
        }
        serde_json::Value::Array(messages) => {
            for m in messages {
                add(namespace.clone(), text_of(&m));
            }
        }
        other => add(namespace, text_of(&other)),
    }
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
