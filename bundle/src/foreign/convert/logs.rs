//! Container logs: written where their namespace is known, spooled until
//! the pod lists tell it otherwise, and split out of framed log files.

use std::io::{Read, Seek, SeekFrom, Write};

use super::super::cluster_dump::split_framed_logs;
use super::super::source::SourceEntry;
use super::manifest::outcome_of;
use super::State;
use crate::error::{BundleError, Result};
use crate::layout;
use crate::manifest::{Outcome, Step};
use crate::writer::BundleWriter;

/// A log whose namespace is only known once the pod lists were read.
pub(super) struct PendingLog {
    source_path: String,
    pod: String,
    container: String,
    previous: bool,
    offset: u64,
    len: u64,
}

pub(super) fn spool_log(
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
pub(super) fn place_pending_logs(writer: &mut BundleWriter, state: &mut State) -> Result<()> {
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

pub(super) fn place_framed_logs(
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

pub(super) fn log_step(
    ns: &str,
    pod: &str,
    container: &str,
    previous: bool,
    path: &str,
    bytes: u64,
) -> Step {
    let what = if previous { "logs/previous" } else { "logs" };
    let mut step = Step::new(what, Outcome::Ok);
    step.namespace = Some(ns.to_string());
    step.object = Some(format!("{pod}/{container}"));
    step.path = Some(path.to_string());
    step.bytes = bytes;
    step
}
