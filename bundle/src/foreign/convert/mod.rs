//! Writes a kpm bundle from a foreign capture, in one streaming pass over
//! its entries.
//!
//! This module holds the pass itself and the routing of each entry;
//! [`resources`] places lists and errors, [`logs`] places logs,
//! [`metrics`] the metrics, and [`manifest`] writes the manifest that
//! records what the conversion did.

mod logs;
mod manifest;
mod metrics;
mod resources;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use self::logs::{log_step, place_framed_logs, place_pending_logs, spool_log};
use self::manifest::manifest;
use self::metrics::{place_metrics, place_node_metrics};
use self::resources::{place_errors, place_list, place_server_version};
use super::source::{walk, SourceEntry, SourceLimits};
use super::{target, Format, Skipped, Target};
use crate::error::{BundleError, Result};
use crate::layout;
use crate::manifest::Step;
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

#[derive(Default)]
struct State {
    steps: Vec<Step>,
    /// `(plural, namespace)` → index in `steps` of the list's step.
    list_steps: HashMap<(String, Option<String>), usize>,
    errors: BTreeMap<(String, Option<String>), Vec<String>>,
    pod_namespace: HashMap<String, String>,
    namespaces: BTreeSet<String>,
    logs_written: BTreeSet<String>,
    pending: Vec<logs::PendingLog>,
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

fn keep_extra(writer: &mut BundleWriter, path: &str, bytes: &[u8]) -> Result<()> {
    writer.write_entry(&format!("foreign/{path}"), bytes)?;
    Ok(())
}
