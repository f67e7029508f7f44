//! The manifest of a converted bundle: steps for errors and skipped
//! entries, and the collection time estimated from the capture.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::super::{Format, Skipped};
use super::State;
use crate::layout;
use crate::manifest::{
    ClusterInfo, Collection, CollectionOptions, CollectionScope, Manifest, Outcome, Step, Tool,
};

/// The outcome an API error message stands for.
pub(super) fn outcome_of(message: &str) -> Outcome {
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

pub(super) fn manifest(
    input: &Path,
    format: Format,
    state: &mut State,
    skipped: &[Skipped],
) -> Manifest {
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
