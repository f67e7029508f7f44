//! The merged timeline of what happened when.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ObjectRef;

/// What happened when, merged from events, container state and config updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    pub time: DateTime<Utc>,
    /// `event`, `termination`, `start`, `config_update`, `collection`.
    pub source: String,
    /// The object concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// `Normal`/`Warning` for events; empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_type: String,
    /// Reason or short title.
    pub reason: String,
    /// Details.
    pub message: String,
    /// Repetitions (events).
    #[serde(default = "one")]
    pub count: u64,
    /// The event is about an object that no longer exists (or an earlier
    /// object of the same name): history, never evidence about a current one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub object_deleted: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn one() -> u64 {
    1
}
