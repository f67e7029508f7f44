//! Writes a kpm bundle from a foreign capture, in one streaming pass over
//! its entries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::cluster_dump::split_framed_logs;
use super::source::{walk, SourceEntry, SourceLimits};
use super::{target, Format, Skipped, Target};
use crate::error::{BundleError, Result};
use crate::layout::{self, kind_by_plural};
use crate::manifest::{
    ClusterInfo, Collection, CollectionOptions, CollectionScope, Manifest, Outcome, Step, Tool,
};
use crate::writer::BundleWriter;

/// What a conversion did.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The source format.
    pub format: Format,
    /// The bundle written.
    pub path: PathBuf,
    /// The source tool's version, when it recorded one.
    pub tool_version: Option<String>,
    /// Entries of the source that were not read, and why.
    pub skipped: Vec<Skipped>,
}

/// A log whose namespace is only known once the pod lists were read.
struct PendingLog {
    source_path: String,
    pod: String,
    container: String,
    previous: bool,
    offset: u64,
    len: u64,
}

#[derive(Default)]
struct State {
    steps: Vec<Step>,
    /// `(plural, namespace)` → index in `steps` of the list's step.
    list_steps: HashMap<(String, Option<String>), usize>,
    errors: BTreeMap<(String, Option<String>), Vec<String>>,
    pod_namespace: HashMap<String, String>,
    namespaces: BTreeSet<String>,
    logs_written: BTreeSet<String>,
    pending: Vec<PendingLog>,
    spool: Option<std::fs::File>,
    spool_len: u64,
    latest_object: Option<DateTime<Utc>>,
    latest_mtime: Option<i64>,
    server_version: Option<String>,
    tool_version: Option<String>,
    problems: Vec<Skipped>,
    /// Node and pod metrics from troubleshoot's `node-metrics/`.
    metrics: super::node_metrics::Collected,
    /// Buffers reused from list to list (a capture has hundreds).
    scratch: super::raw_list::Scratch,
    list_out: Vec<u8>,
    read_buf: Vec<u8>,
}

/// Converts the capture at `input` (of `format`) into a kpm bundle written
/// by `writer`.
pub fn convert(
    input: &Path,
    format: Format,
    mut writer: BundleWriter,
    limits: SourceLimits,
) -> Result<Converted> {
    let mut state = State::default();
    let mut visit = |entry: SourceEntry<'_>| -> Result<()> {
        state.latest_mtime = state.latest_mtime.max(entry.mtime);
        let target = target(format, &entry.path);
        place(&mut writer, &mut state, entry, target)
    };
    let mut skipped = walk(input, limits, &mut visit)?;
    place_pending_logs(&mut writer, &mut state)?;
    place_metrics(&mut writer, &mut state)?;
    if state.list_steps.is_empty() {
        return Err(BundleError::UnknownFormat {
            path: input.to_path_buf(),
            found: format!(
                "a {} without a single readable resource list",
                format.name()
            ),
        });
    }
    skipped.append(&mut state.problems);
    let manifest = manifest(input, format, &mut state, &skipped);
    let path = writer.finish(manifest)?;
    Ok(Converted {
        format,
        path,
        tool_version: state.tool_version,
        skipped,
    })
}

fn place(
    writer: &mut BundleWriter,
    state: &mut State,
    entry: SourceEntry<'_>,
    target: Target,
) -> Result<()> {
    match target {
        Target::List { plural, namespace } => {
            let mut buf = std::mem::take(&mut state.read_buf);
            let placed = read_into(entry, &mut buf).and_then(|path| {
                // YAML that does not parse stays as it is: "not a … list".
                let json = super::yaml::is_yaml(&buf)
                    .then(|| super::yaml::to_json(&buf).ok())
                    .flatten();
                let bytes = json.as_deref().unwrap_or(&buf);
                place_list(writer, state, &path, bytes, plural, namespace)
            });
            state.read_buf = buf;
            placed
        }
        Target::Errors { plural, namespace } => {
            let (path, bytes) = read_all(entry)?;
            place_errors(writer, state, &path, &bytes, plural, namespace)
        }
        Target::Log {
            namespace: Some(ns),
            pod,
            container,
            previous,
            ..
        } => {
            let path = layout::log_path(&ns, &pod, &container, previous);
            let n = copy_entry(writer, entry, &path)?;
            state.logs_written.insert(path.clone());
            state
                .steps
                .push(log_step(&ns, &pod, &container, previous, &path, n));
            Ok(())
        }
        Target::Log {
            namespace: None,
            pod,
            container,
            previous,
            ..
        } => spool_log(state, entry, pod, container, previous),
        Target::FramedLogs { namespace, pod } => {
            let (_, bytes) = read_all(entry)?;
            let text = String::from_utf8_lossy(&bytes);
            place_framed_logs(writer, state, &namespace, &pod, &text)
        }
        Target::ServerVersion => {
            let (path, bytes) = read_all(entry)?;
            place_server_version(writer, state, &path, &bytes)
        }
        Target::ToolVersion => {
            let (path, bytes) = read_all(entry)?;
            let text = String::from_utf8_lossy(&bytes);
            state.tool_version = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("versionNumber:"))
                .map(|v| v.trim().trim_matches('"').to_string())
                .filter(|v| !v.is_empty());
            keep_extra(writer, &path, &bytes)
        }
        Target::NodeMetrics => {
            let (path, bytes) = read_all(entry)?;
            place_node_metrics(writer, state, &path, &bytes)
        }
        Target::Extra => {
            let path = format!("foreign/{}", entry.path);
            copy_entry(writer, entry, &path).map(|_| ())
        }
    }
}

/// The whole entry (lists and small files: capped by the source limits).
fn read_all(entry: SourceEntry<'_>) -> Result<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    entry
        .reader
        .read_to_end(&mut bytes)
        .map_err(|source| BundleError::Read {
            file: entry.path.clone(),
            cause: source,
        })?;
    Ok((entry.path, bytes))
}

/// The whole entry into `buf` (cleared first, sized from the archive's
/// header): lists are read into one reused buffer.
fn read_into(entry: SourceEntry<'_>, buf: &mut Vec<u8>) -> Result<String> {
    buf.clear();
    if let Some(size) = entry.size {
        buf.reserve(usize::try_from(size).unwrap_or(0).saturating_add(1));
    }
    entry
        .reader
        .read_to_end(buf)
        .map_err(|cause| BundleError::Read {
            file: entry.path.clone(),
            cause,
        })?;
    Ok(entry.path)
}

/// Streams the entry into the bundle at `path`; returns its size.
fn copy_entry(writer: &mut BundleWriter, entry: SourceEntry<'_>, path: &str) -> Result<u64> {
    let mut out = writer.start_entry(path)?;
    let n = std::io::copy(entry.reader, &mut out).map_err(|source| BundleError::Read {
        file: entry.path.clone(),
        cause: source,
    })?;
    out.finish()?;
    Ok(n)
}

/// troubleshoot 0.10x wrote some lists (ReplicaSets) under
/// `statefulsets-errors.json/<ns>.json`: such a file is read as the list it
/// is, not as errors.
fn place_errors(
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
fn place_server_version(
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

fn keep_extra(writer: &mut BundleWriter, path: &str, bytes: &[u8]) -> Result<()> {
    writer.write_entry(&format!("foreign/{path}"), bytes)?;
    Ok(())
}

fn place_list(
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
    let normalised = super::lists::normalise_into(bytes, kind, &mut state.scratch, &mut out);
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
    normalised: Option<super::lists::Normalised>,
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

fn spool_log(
    state: &mut State,
    entry: SourceEntry<'_>,
    pod: String,
    container: String,
    previous: bool,
) -> Result<()> {
    if state.spool.is_none() {
        let file = tempfile::tempfile().map_err(|e| BundleError::Write {
            path: "temporary log spool".into(),
            cause: e,
        })?;
        state.spool = Some(file);
    }
    let Some(spool) = state.spool.as_mut() else {
        return Ok(());
    };
    let len = std::io::copy(entry.reader, spool).map_err(|e| BundleError::Read {
        file: entry.path.clone(),
        cause: e,
    })?;
    state.pending.push(PendingLog {
        source_path: entry.path.clone(),
        pod,
        container,
        previous,
        offset: state.spool_len,
        len,
    });
    state.spool_len += len;
    Ok(())
}

/// Logs from `logs` collectors: placed under the namespace of their pod,
/// unless the pod-log collector already gave the same container's log.
fn place_pending_logs(writer: &mut BundleWriter, state: &mut State) -> Result<()> {
    let pending = std::mem::take(&mut state.pending);
    let Some(mut spool) = state.spool.take() else {
        return Ok(());
    };
    let spool_err = |e| BundleError::Read {
        file: "temporary log spool".into(),
        cause: e,
    };
    for log in pending {
        let resolved = state.pod_namespace.get(&log.pod).cloned();
        let path = match &resolved {
            Some(ns) => layout::log_path(ns, &log.pod, &log.container, log.previous),
            // Not a pod's log after all (a collector's own output): kept.
            None => format!("foreign/{}", log.source_path),
        };
        if state.logs_written.contains(&path) {
            continue;
        }
        spool.seek(SeekFrom::Start(log.offset)).map_err(spool_err)?;
        let mut out = writer.start_entry(&path)?;
        let n = std::io::copy(&mut (&mut spool).take(log.len), &mut out).map_err(spool_err)?;
        out.finish()?;
        state.logs_written.insert(path.clone());
        if let Some(ns) = resolved {
            let step = log_step(&ns, &log.pod, &log.container, log.previous, &path, n);
            state.steps.push(step);
        }
    }
    Ok(())
}

/// One `node-metrics/<node>.json`: its figures gathered for
/// [`place_metrics`], the file itself kept under `foreign/`.
fn place_node_metrics(
    writer: &mut BundleWriter,
    state: &mut State,
    path: &str,
    bytes: &[u8],
) -> Result<()> {
    if let Err(reason) = state.metrics.add(bytes) {
        state.problems.push(Skipped {
            path: path.to_string(),
            reason: format!("{reason} (kept under foreign/)"),
        });
    }
    keep_extra(writer, path, bytes)
}

/// The metrics read from `node-metrics/`: `metrics/nodes.json` and a pod
/// metrics list for every namespace (empty where no pod had figures: the
/// metrics were collected, the namespace had no running containers).
fn place_metrics(writer: &mut BundleWriter, state: &mut State) -> Result<()> {
    use super::node_metrics::API_VERSION;
    let metrics = std::mem::take(&mut state.metrics);
    if metrics.nodes.is_empty() {
        return Ok(());
    }
    let list = |kind: &str, items: Vec<serde_json::Value>| serde_json::json!({"kind": kind, "apiVersion": API_VERSION, "metadata": {}, "items": items});
    let mut step = Step::new("metrics/nodes", Outcome::Ok);
    step.items = metrics.nodes.len() as u64;
    step.bytes = writer
        .write_json(
            layout::NODE_METRICS,
            &list("NodeMetricsList", metrics.nodes),
        )?
        .size;
    step.path = Some(layout::NODE_METRICS.to_string());
    state.steps.push(step);
    let mut pods = metrics.pods;
    let namespaces: BTreeSet<String> = state
        .namespaces
        .iter()
        .chain(pods.keys())
        .cloned()
        .collect();
    for ns in namespaces {
        let items = pods.remove(&ns).unwrap_or_default();
        let path = layout::pod_metrics_path(&ns);
        let mut step = Step::new("metrics/pods", Outcome::Ok);
        step.namespace = Some(ns);
        step.items = items.len() as u64;
        step.bytes = writer
            .write_json(&path, &list("PodMetricsList", items))?
            .size;
        step.path = Some(path);
        state.steps.push(step);
    }
    Ok(())
}

fn place_framed_logs(
    writer: &mut BundleWriter,
    state: &mut State,
    namespace: &str,
    pod: &str,
    text: &str,
) -> Result<()> {
    for log in split_framed_logs(text) {
        match log.content {
            Ok(body) => {
                let path = layout::log_path(namespace, pod, &log.container, false);
                let mut out = writer.start_entry(&path)?;
                out.write_all(body.as_bytes())
                    .map_err(|e| BundleError::Write {
                        path: path.clone(),
                        cause: e,
                    })?;
                out.finish()?;
                let step = log_step(
                    namespace,
                    pod,
                    &log.container,
                    false,
                    &path,
                    body.len() as u64,
                );
                state.steps.push(step);
            }
            Err(message) => {
                let mut step = Step::new("logs", outcome_of(&message));
                step.namespace = Some(namespace.to_string());
                step.object = Some(format!("{pod}/{}", log.container));
                step.message = Some(message);
                state.steps.push(step);
            }
        }
    }
    Ok(())
}

fn log_step(ns: &str, pod: &str, container: &str, previous: bool, path: &str, bytes: u64) -> Step {
    let what = if previous { "logs/previous" } else { "logs" };
    let mut step = Step::new(what, Outcome::Ok);
    step.namespace = Some(ns.to_string());
    step.object = Some(format!("{pod}/{container}"));
    step.path = Some(path.to_string());
    step.bytes = bytes;
    step
}

/// The outcome an API error message stands for.
fn outcome_of(message: &str) -> Outcome {
    let m = message.to_ascii_lowercase();
    if m.contains("forbidden") {
        Outcome::Forbidden
    } else if m.contains("could not find the requested resource") || m.contains("not found") {
        Outcome::NotFound
    } else if m.contains("timeout") || m.contains("deadline exceeded") {
        Outcome::Timeout
    } else {
        Outcome::Error
    }
}

fn manifest(input: &Path, format: Format, state: &mut State, skipped: &[Skipped]) -> Manifest {
    // Failed kinds: the source's errors become failed steps (or a message on
    // the list's step when a list was written all the same).
    for ((plural, ns), messages) in std::mem::take(&mut state.errors) {
        let message = messages.join("; ");
        match state.list_steps.get(&(plural.clone(), ns.clone())) {
            Some(i) => {
                if let Some(step) = state.steps.get_mut(*i) {
                    step.message = Some(message);
                }
            }
            None => {
                let mut step = Step::new(plural, outcome_of(&message));
                step.namespace = ns;
                step.message = Some(message);
                state.steps.push(step);
            }
        }
    }
    let (finished, basis) = collection_time(state);
    let source_note = format!(
        "converted from a {} ({}) by kpm {}; {basis}",
        format.name(),
        input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        env!("CARGO_PKG_VERSION")
    );
    let mut note = Step::new("conversion", Outcome::Ok);
    note.message = Some(source_note);
    state.steps.insert(0, note);
    state.steps.extend(skipped_steps(skipped));
    Manifest {
        format_version: layout::FORMAT_VERSION,
        tool: Tool {
            name: format!("{} (converted by kpm)", format.name()),
            version: state
                .tool_version
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
        },
        collection: Collection {
            started_at: finished,
            finished_at: finished,
            interrupted: false,
            timed_out: false,
        },
        cluster: ClusterInfo {
            server_version: state.server_version.clone(),
            context: None,
            name: None,
        },
        scope: CollectionScope {
            all_namespaces: true,
            namespaces: state.namespaces.iter().cloned().collect(),
        },
        options: CollectionOptions::default(),
        steps: std::mem::take(&mut state.steps),
        redaction: BTreeMap::new(),
        files: BTreeMap::new(),
    }
}

/// One `conversion` step per reason entries were skipped or re-read, with
/// a count and a few of the paths: a troubleshoot archive holds a symbolic
/// link per copied log, which is worth one line, not one per link. Links
/// (never followed) are noted as `ok`; anything else that was not read is a
/// failed step.
fn skipped_steps(skipped: &[Skipped]) -> Vec<Step> {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in skipped {
        by_reason.entry(&s.reason).or_default().push(&s.path);
    }
    by_reason
        .into_iter()
        .map(|(reason, paths)| {
            let benign = reason.contains("link") || reason.starts_with("holds a ");
            let mut step = Step::new(
                "conversion",
                if benign { Outcome::Ok } else { Outcome::Error },
            );
            let shown: Vec<&str> = paths.iter().copied().take(3).collect();
            let more = paths.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            step.items = paths.len() as u64;
            step.message = Some(format!("{reason}: {}{tail}", shown.join(", ")));
            step
        })
        .collect()
}

/// When the capture was taken: the archive's entry times when it has them
/// (a tar records when each file was written), else a few seconds after the
/// latest time in the objects, and the manifest says which.
fn collection_time(state: &State) -> (DateTime<Utc>, &'static str) {
    let from_objects = state
        .latest_object
        .map(|t| t + chrono::Duration::seconds(2));
    let from_archive = state
        .latest_mtime
        .and_then(|s| DateTime::from_timestamp(s, 0))
        // An extracted folder's times are when it was unpacked, not taken:
        // only trust entry times no earlier than the objects.
        .filter(|t| {
            from_objects.is_none_or(|o| {
                *t + chrono::Duration::days(1) > o && *t < o + chrono::Duration::days(1)
            })
        });
    match (from_archive, from_objects) {
        (Some(t), _) => (t, "collection time taken from the archive's entry times"),
        (None, Some(t)) => (
            t,
            "the source records no collection time: estimated as 2 s after the latest timestamp in its objects",
        ),
        (None, None) => (
            DateTime::<Utc>::UNIX_EPOCH,
            "the source records no collection time and its objects carry none",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_messages_map_to_outcomes() {
        assert_eq!(
            outcome_of("the server could not find the requested resource"),
            Outcome::NotFound
        );
        assert_eq!(
            outcome_of("pods is forbidden: User \"x\" cannot list resource \"pods\""),
            Outcome::Forbidden
        );
        assert_eq!(outcome_of("context deadline exceeded"), Outcome::Timeout);
        assert_eq!(outcome_of("connection refused"), Outcome::Error);
    }
}
