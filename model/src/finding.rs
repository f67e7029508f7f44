//! One diagnosis with its evidence and next steps, and the incident that
//! groups a root cause with its consequences.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Layer, ObjectRef, Severity};

/// One numbered line of a log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// 1-based line number in the bundle file.
    pub number: usize,
    /// The line, without its newline.
    pub text: String,
}

/// A piece of evidence from the bundle supporting a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// A Kubernetes event (aggregated as kubectl shows it).
    Event {
        /// The object the event is about.
        object: ObjectRef,
        /// `Normal` or `Warning`.
        event_type: String,
        /// e.g. `FailedScheduling`.
        reason: String,
        /// The message, verbatim.
        message: String,
        /// How many times it happened (from `count` or `series.count`).
        count: u64,
        /// First occurrence, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_seen: Option<DateTime<Utc>>,
        /// Last occurrence, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seen: Option<DateTime<Utc>>,
    },
    /// Lines from a collected log.
    Log {
        /// Path of the log inside the bundle.
        file: String,
        /// The lines quoted.
        lines: Vec<LogLine>,
    },
    /// A field of an object, e.g. `status.containerStatuses[app].lastState.terminated.reason`.
    Field {
        /// The object holding the field.
        object: ObjectRef,
        /// JSON-path-like location.
        path: String,
        /// The value, rendered as text.
        value: String,
    },
    /// A measured or computed quantity (usage, allocation, limit).
    Metric {
        /// What is measured, e.g. `memory usage of container app`.
        name: String,
        /// Value with unit, e.g. `498Mi`.
        value: String,
        /// What it is compared against, e.g. `limit 512Mi`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        compared_to: Option<String>,
    },
    /// Free text for anything else (e.g. a label diff).
    Note {
        /// The text.
        text: String,
    },
}

/// A concrete command to run next, with names filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStep {
    /// Why to run it.
    pub description: String,
    /// The command line, ready to copy.
    pub command: String,
}

/// One diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Unique within the report: `<rule>:<object>`.
    pub id: String,
    /// Stable rule id from `docs/rules.md`, e.g. `pod-crashloop`.
    pub rule: String,
    /// The broken layer.
    pub layer: Layer,
    /// How bad.
    pub severity: Severity,
    /// The object the finding is about.
    pub object: ObjectRef,
    /// Key of the application this belongs to (see [`Application::key`](crate::Application::key)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// The symptom as kubectl would show it, e.g. `CrashLoopBackOff (12 restarts)`.
    pub symptom: String,
    /// The likely cause in one specific sentence.
    pub cause: String,
    /// Evidence from the bundle.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// What to run next.
    #[serde(default)]
    pub next_steps: Vec<NextStep>,
    /// Ids of findings this one is a consequence of. Empty for root causes.
    #[serde(default)]
    pub caused_by: Vec<String>,
    /// Other objects involved (e.g. the pods behind a Service).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<ObjectRef>,
}

impl Finding {
    /// True when nothing else in the report explains this finding.
    pub fn is_root(&self) -> bool {
        self.caused_by.is_empty()
    }
}

/// One incident: a root-cause finding and every finding that follows from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Id of the root-cause finding.
    pub root: String,
    /// Highest severity among the root and its consequences.
    pub severity: Severity,
    /// One-line title, e.g. `shop/web: OOMKilled → Service web has no endpoints → Ingress shop 503`.
    pub title: String,
    /// Ids of consequence findings, nearest first.
    #[serde(default)]
    pub consequences: Vec<String>,
    /// Ids of other root findings merged into this incident: the same rule
    /// on objects of the same application with the same consequences
    /// (replicas failing alike). Empty when the root stands alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same_cause: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_tagged() {
        let e = Evidence::Note { text: "x".into() };
        let v = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(v["type"], "note");
    }
}
