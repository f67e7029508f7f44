//! Evidence about a dead container: its state, the runtime's termination
//! message and the log line that explains the death, quoted with its
//! context ([`super::pod_deathcause`] picks the line). Shared by the crash,
//! restart and start-failure rules.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus};
use kpm_model::{Evidence, LogLine};

use super::pod::{PodFacts, LOG_LINES};
use super::pod_deathcause;
use kpm_semantics::time::to_chrono;

use crate::context::NamespaceCtx;

/// The most recent termination: current state if terminated, else last state.
pub fn termination(cs: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    cs.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()))
}

/// The reason of a waiting state.
pub fn waiting_reason(cs: &ContainerStatus) -> Option<&str> {
    cs.state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.as_deref())
}

/// Whether the container runs now.
pub fn is_running(cs: &ContainerStatus) -> bool {
    cs.state.as_ref().is_some_and(|s| s.running.is_some())
}

/// "exit code 1 (Error)" style text of a termination.
pub fn exit_text(t: &ContainerStateTerminated) -> String {
    match t.reason.as_deref() {
        Some(r) => format!("exit code {} ({r})", t.exit_code),
        None => format!("exit code {}", t.exit_code),
    }
}

/// Lines of a log searched for the line that explains a death.
pub const SEARCH_LINES: usize = 200;
/// Last lines of the log quoted besides the decisive excerpt.
const TAIL_QUOTED: usize = 3;
/// Longest quote put in a cause sentence.
const QUOTE_CHARS: usize = 300;

/// What a dead container's log says: evidence to show, and the line to
/// quote in the cause.
pub struct LogWords {
    /// The log excerpt (or a note saying why there is none).
    pub evidence: Vec<Evidence>,
    /// The decisive line ([`pod_deathcause::pick`]), when one stands out.
    pub decisive: Option<String>,
    /// The last line, when no line stands out.
    pub last: Option<String>,
}

impl LogWords {
    /// `; it logged before exiting: …` / `; its last log line: …`, or
    /// nothing.
    pub fn clause(&self) -> String {
        match (&self.decisive, &self.last) {
            (Some(d), _) => format!("; it logged before exiting: {}", clip(d)),
            (None, Some(l)) => format!("; its last log line: {}", clip(l)),
            _ => String::new(),
        }
    }
}

/// `s` trimmed and cut to [`QUOTE_CHARS`] characters.
pub fn clip(s: &str) -> String {
    let t = s.trim();
    match t.char_indices().nth(QUOTE_CHARS) {
        Some((i, _)) => format!("{}…", t.get(..i).unwrap_or(t)),
        None => t.to_string(),
    }
}

/// Reads the previous log of a container (or the current one when the
/// bundle has no previous log), picks the line that explains the death and
/// quotes it with its context and the last lines; says why when there is no
/// log.
pub fn log_words(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>, container: &str) -> LogWords {
    let tail = ctx
        .pod_log_tail(facts.name, container, true, SEARCH_LINES)
        .or_else(|| ctx.pod_log_tail(facts.name, container, false, SEARCH_LINES));
    let Some(t) = tail else {
        return LogWords {
            evidence: vec![Evidence::Note {
                text: missing_log_reason(ctx, facts, container),
            }],
            decisive: None,
            last: None,
        };
    };
    let cause = pod_deathcause::pick(&t.lines);
    let keep_from = t.lines.len().saturating_sub(TAIL_QUOTED.max(LOG_LINES));
    let mut lines: Vec<LogLine> = match &cause {
        Some(c) => {
            let tail_from = t.lines.len().saturating_sub(TAIL_QUOTED);
            let mut v = c.excerpt.clone();
            v.extend(t.lines.get(tail_from..).unwrap_or_default().iter().cloned());
            v
        }
        None => t.lines.get(keep_from..).unwrap_or_default().to_vec(),
    };
    lines.sort_by_key(|l| l.number);
    lines.dedup_by_key(|l| l.number);
    LogWords {
        evidence: vec![Evidence::Log {
            file: t.file.clone(),
            lines,
        }],
        last: t.lines.last().map(|l| l.text.clone()),
        decisive: cause.map(|c| c.line.text),
    }
}

/// The runtime's `message` of a termination, when it says something: the
/// decisive line when it is a multi-line log excerpt
/// (`terminationMessagePolicy: FallbackToLogsOnError`), else the whole.
pub fn termination_message(t: &ContainerStateTerminated) -> Option<String> {
    let m = t.message.as_deref()?.trim();
    if m.is_empty() {
        return None;
    }
    if !m.contains('\n') {
        return Some(m.to_string());
    }
    let lines: Vec<LogLine> = m
        .lines()
        .enumerate()
        .map(|(i, l)| LogLine {
            number: i + 1,
            text: l.to_string(),
        })
        .collect();
    pod_deathcause::pick(&lines)
        .map(|c| c.line.text)
        .or_else(|| lines.last().map(|l| l.text.clone()))
}

/// Why the bundle holds no log of a container: the manifest's log step
/// outcome when it failed (e.g. `forbidden` on `pods/log`), else plainly absent.
pub fn missing_log_reason(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>, container: &str) -> String {
    let object = format!("{}/{container}", facts.name);
    let failed = ["logs", "logs/previous"].iter().find_map(|what| {
        ctx.bundle
            .failed_step(what, Some(facts.namespace), Some(object.as_str()))
    });
    match failed {
        Some(step) => format!(
            "no log of container {container} in the bundle: {} {} during collection{}",
            step.what,
            step.outcome.as_str(),
            step.message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
        None => format!("no log of container {container} in the bundle"),
    }
}

/// When the last termination finished (`finishedAt`).
pub fn finished_at(t: &ContainerStateTerminated) -> Option<DateTime<Utc>> {
    t.finished_at.as_ref().and_then(to_chrono)
}

/// When the running instance started (`state.running.startedAt`).
pub fn running_since(cs: &ContainerStatus) -> Option<DateTime<Utc>> {
    cs.state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.as_ref())
        .and_then(to_chrono)
}
