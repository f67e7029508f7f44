//! `pod-restart-storm`: a container that runs now but keeps restarting.
//!
//! `restartCount` is a lifetime total: 96 restarts over months of node
//! reboots, the last one seven hours ago, is a recovered container. A storm
//! needs the last restart inside the window ([`STORM_WINDOW_MINUTES`] before
//! collection, from `state.running.startedAt` or
//! `lastState.terminated.finishedAt`) and restarts that keep coming: an
//! average of at least one per window since the pod started, or the
//! kubelet's `BackOff` / liveness `Unhealthy` events inside the window.

use chrono::{DateTime, Duration, Utc};
use k8s_openapi::api::core::v1::ContainerStatus;
use kpm_model::{Finding, Severity};

use super::pod::PodFacts;
use super::pod_death::{clip, exit_text, finished_at, is_running, log_words, running_since};
use kpm_semantics::time::to_chrono;

use crate::context::{EventView, NamespaceCtx};
use crate::rules::registry::Rule;

/// Restarts that make a storm (with the other conditions).
pub const STORM_RESTARTS: i32 = 5;
/// How recent the last restart must be for a storm, and the average restart
/// interval at or below which restarts "keep coming".
pub const STORM_WINDOW_MINUTES: i64 = 60;

/// When the container last restarted: the start of the running instance,
/// else the end of the previous one.
fn last_restart(cs: &ContainerStatus) -> Option<DateTime<Utc>> {
    running_since(cs).or_else(|| {
        cs.last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(finished_at)
    })
}

/// Events of `facts` whose reason is one of `reasons`, whose message starts
/// with `prefix`, last seen within the window.
fn recent_events<'f>(
    ctx: &NamespaceCtx<'_>,
    facts: &'f PodFacts<'_>,
    reasons: &[&str],
    prefix: &str,
) -> Vec<&'f EventView> {
    let window = Duration::minutes(STORM_WINDOW_MINUTES);
    facts
        .events_with(reasons)
        .into_iter()
        .filter(|e| e.message.starts_with(prefix))
        .filter(|e| e.last_seen.is_some_and(|t| ctx.now - t <= window))
        .collect()
}

/// Whether restarts keep coming: on average one per window since the pod
/// started, or restart events inside the window.
fn keeps_restarting(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>, cs: &ContainerStatus) -> bool {
    let started = facts
        .pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .and_then(to_chrono);
    let frequent = started.is_some_and(|s| {
        let minutes = (ctx.now - s).num_minutes().max(1);
        minutes / i64::from(cs.restart_count.max(1)) <= STORM_WINDOW_MINUTES
    });
    frequent
        || !recent_events(ctx, facts, &["BackOff"], "Back-off restarting").is_empty()
        || !recent_events(ctx, facts, &["Unhealthy"], "Liveness probe failed").is_empty()
}

/// `pod-restart-storm`.
pub fn restart_storm(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    let window = Duration::minutes(STORM_WINDOW_MINUTES);
    let cs = facts.container_statuses().iter().find(|cs| {
        let recent = last_restart(cs).is_some_and(|t| ctx.now - t <= window);
        is_running(cs)
            && cs.restart_count >= STORM_RESTARTS
            && recent
            && keeps_restarting(ctx, facts, cs)
    })?;
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let exit = last
        .map(exit_text)
        .unwrap_or_else(|| "no exit recorded".into());
    let ago = last_restart(cs)
        .map(|t| kpm_semantics::duration::human_duration(ctx.now - t))
        .unwrap_or_default();
    let liveness = recent_events(ctx, facts, &["Unhealthy"], "Liveness probe failed");
    let mut cause = format!(
        "container {} is running but restarted {} times, the last {ago} before collection ({exit})",
        cs.name, cs.restart_count
    );
    let words = log_words(ctx, facts, &cs.name);
    let severity = if let Some(e) = liveness.last() {
        let count: u64 = liveness.iter().map(|e| e.count).sum();
        let answer = e
            .message
            .trim()
            .trim_start_matches("Liveness probe failed")
            .trim_start_matches(':')
            .trim();
        let answer = if answer.is_empty() {
            "the probe printed nothing".to_string()
        } else {
            clip(answer)
        };
        cause.push_str(&format!(
            ": the kubelet kills it because its liveness probe fails ({count} Liveness probe failed events; {answer})"
        ));
        Severity::Error
    } else {
        cause.push_str(&words.clause());
        Severity::Warning
    };
    Some(
        facts
            .finding(ctx, Rule::PodRestartStorm, cause)
            .severity(severity)
            .field(
                &facts.object,
                format!("{}.restartCount", facts.status_path(&cs.name, false)),
                cs.restart_count.to_string(),
            )
            .evidence_all(words.evidence)
            .evidence_all(facts.event_evidence(&["Unhealthy", "Killing", "BackOff"]))
            .next_command(
                "Read the log of the instance before the last restart",
                facts.logs_cmd(&cs.name, true),
            )
            .next_command("See the restart history and events", facts.describe_cmd())
            .build(),
    )
}
