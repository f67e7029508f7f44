//! Containers that die: `pod-crashloop`, `pod-oom-killed`,
//! `pod-init-failing`, `pod-restart-storm`.
//!
//! The evidence a human would look for first is quoted: the last
//! termination's reason and exit code, and the last lines of the *previous*
//! container's log (what it printed before dying), with file and line numbers.

use chrono::Duration;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus};
use kpm_model::{Evidence, Finding};
use kpm_semantics::quantity::Quantity;

use super::pod::{PodFacts, LOG_LINES};
use crate::command::Kubectl;
use crate::context::{to_chrono, NamespaceCtx};
use crate::rules::registry::Rule;

/// Restarts within [`STORM_WINDOW_MINUTES`] that make a restart storm.
pub const STORM_RESTARTS: i32 = 5;
/// How recent the last restart must be for a storm.
pub const STORM_WINDOW_MINUTES: i64 = 60;
/// An init container running longer than this is stuck.
pub const INIT_STUCK_MINUTES: i64 = 10;

/// The most recent termination: current state if terminated, else last state.
fn termination(cs: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    cs.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()))
}

fn waiting_reason(cs: &ContainerStatus) -> Option<&str> {
    cs.state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.as_deref())
}

fn is_running(cs: &ContainerStatus) -> bool {
    cs.state.as_ref().is_some_and(|s| s.running.is_some())
}

/// "exit code 1 (Error)" style text of a termination.
fn exit_text(t: &ContainerStateTerminated) -> String {
    match t.reason.as_deref() {
        Some(r) => format!("exit code {} ({r})", t.exit_code),
        None => format!("exit code {}", t.exit_code),
    }
}

/// Quotes the previous log of a container (or the current one when the
/// bundle has no previous log), and says which when neither is there.
fn log_evidence(
    ctx: &NamespaceCtx<'_>,
    facts: &PodFacts<'_>,
    container: &str,
) -> (Vec<Evidence>, Option<String>) {
    let tail = ctx
        .pod_log_tail(facts.name, container, true, LOG_LINES)
        .or_else(|| ctx.pod_log_tail(facts.name, container, false, LOG_LINES));
    match tail {
        Some(t) => {
            let last = t.lines.last().map(|l| l.text.clone());
            (vec![t.to_evidence()], last)
        }
        None => (
            vec![Evidence::Note {
                text: missing_log_reason(ctx, facts, container),
            }],
            None,
        ),
    }
}

/// Why the bundle holds no log of a container: the manifest's log step
/// outcome when it failed (e.g. `forbidden` on `pods/log`), else plainly absent.
fn missing_log_reason(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>, container: &str) -> String {
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

/// The liveness-probe failure that made the kubelet kill the container, if
/// the events say so.
fn liveness_kill(facts: &PodFacts<'_>, container: &str) -> Option<String> {
    let killed = facts.events_with(&["Killing"]).into_iter().any(|e| {
        e.message
            .contains(&format!("Container {container} failed liveness probe"))
    });
    if !killed {
        return None;
    }
    facts
        .events_with(&["Unhealthy"])
        .into_iter()
        .rev()
        .find(|e| e.message.starts_with("Liveness probe failed"))
        .map(|e| e.message.clone())
        .or_else(|| Some("Liveness probe failed".to_string()))
}

/// `pod-crashloop`: a regular container in `CrashLoopBackOff`, or terminated
/// with a non-zero exit and not running, whose last death is not OOM.
pub fn crashloop(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    let cs = facts.container_statuses().iter().find(|cs| {
        let Some(t) = termination(cs) else {
            return waiting_reason(cs) == Some("CrashLoopBackOff");
        };
        if t.reason.as_deref() == Some("OOMKilled") {
            return false;
        }
        waiting_reason(cs) == Some("CrashLoopBackOff")
            || (!is_running(cs) && t.exit_code != 0 && cs.restart_count > 0)
    })?;
    let t = termination(cs);
    let (logs, last_line) = log_evidence(ctx, facts, &cs.name);
    let mut cause = match t {
        Some(t) => format!("container {} keeps exiting with {}", cs.name, exit_text(t)),
        None => format!(
            "container {} keeps exiting (no termination recorded)",
            cs.name
        ),
    };
    if let Some(probe) = liveness_kill(facts, &cs.name) {
        cause.push_str(&format!(
            ": the kubelet kills it because its liveness probe fails ({probe})"
        ));
    } else if let Some(line) = last_line {
        cause.push_str(&format!("; its last log line: {}", line.trim()));
    }
    let path = facts.status_path(&cs.name, false);
    let mut b = facts.finding(ctx, Rule::PodCrashloop, cause).field(
        &facts.object,
        format!("{path}.restartCount"),
        cs.restart_count.to_string(),
    );
    if let Some(t) = t {
        b = b
            .field(
                &facts.object,
                format!("{path}.lastState.terminated.reason"),
                t.reason.clone().unwrap_or_default(),
            )
            .field(
                &facts.object,
                format!("{path}.lastState.terminated.exitCode"),
                t.exit_code.to_string(),
            );
    }
    Some(
        b.evidence_all(logs)
            .evidence_all(facts.event_evidence(&["BackOff", "Unhealthy", "Killing"]))
            .next_command(
                "Read what the container printed before it died",
                facts.logs_cmd(&cs.name, true),
            )
            .next_command("See the restart history and events", facts.describe_cmd())
            .build(),
    )
}

/// Memory limit of a container, as written in its spec.
fn memory_limit(facts: &PodFacts<'_>, container: &str) -> Option<String> {
    facts
        .container(container)?
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get("memory")
        .map(|q| q.0.clone())
}

/// Memory usage of a container from pod metrics, as printed by kubectl top.
fn memory_usage(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>, container: &str) -> Option<String> {
    let m = ctx.pod_metrics(facts.name)?;
    let c = m.containers.iter().find(|c| c.name == container)?;
    let q = Quantity::from_k8s(c.usage.get("memory")?).ok()?;
    Some(format!("{}Mi", q.value() / (1024 * 1024)))
}

/// `pod-oom-killed`: a container's last termination is `OOMKilled`.
pub fn oom_killed(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    let (cs, init, t) = facts
        .all_statuses()
        .filter_map(|(cs, init)| termination(cs).map(|t| (cs, init, t)))
        .find(|(_, _, t)| t.reason.as_deref() == Some("OOMKilled"))?;
    let limit = memory_limit(facts, &cs.name);
    let usage = memory_usage(ctx, facts, &cs.name);
    let limit_text = match &limit {
        Some(l) => format!("its memory limit {l}"),
        None => "the node's available memory (no memory limit set)".to_string(),
    };
    // Not `exit_text`: its "(OOMKilled)" suffix would repeat the reason the
    // sentence already names.
    let mut cause = format!(
        "container {} was OOMKilled (exit code {}): it used more than {limit_text}",
        cs.name, t.exit_code
    );
    if let Some(u) = &usage {
        cause.push_str(&format!("; usage at collection {u}"));
    }
    let path = facts.status_path(&cs.name, init);
    let mut b = facts
        .finding(ctx, Rule::PodOomKilled, cause)
        .field(
            &facts.object,
            format!("{path}.lastState.terminated.reason"),
            "OOMKilled",
        )
        .field(
            &facts.object,
            format!("{path}.lastState.terminated.exitCode"),
            t.exit_code.to_string(),
        )
        .field(
            &facts.object,
            format!("{path}.restartCount"),
            cs.restart_count.to_string(),
        );
    if let Some(l) = &limit {
        b = b.evidence(Evidence::Metric {
            name: format!("memory limit of container {}", cs.name),
            value: l.clone(),
            compared_to: None,
        });
    }
    if let Some(u) = usage {
        b = b.evidence(Evidence::Metric {
            name: format!("memory usage of container {}", cs.name),
            value: u,
            compared_to: limit.map(|l| format!("limit {l}")),
        });
    }
    let (logs, _) = log_evidence(ctx, facts, &cs.name);
    Some(
        b.evidence_all(logs)
            .next_command("See the termination and the limit", facts.describe_cmd())
            .next_command(
                "Compare live usage with the limit",
                Kubectl::new()
                    .namespace(facts.namespace)
                    .args(["top", "pod"])
                    .name(facts.name)
                    .args(["--containers"])
                    .build(),
            )
            .build(),
    )
}

/// `pod-init-failing`: an init container crashing (`Init:CrashLoopBackOff`,
/// `Init:Error`) or stuck running for longer than [`INIT_STUCK_MINUTES`].
pub fn init_failing(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    if !facts.row.status.starts_with("Init:") {
        return None;
    }
    for cs in facts.init_statuses() {
        if cs.ready {
            continue;
        }
        let t = termination(cs);
        let crashing =
            waiting_reason(cs) == Some("CrashLoopBackOff") || t.is_some_and(|t| t.exit_code != 0);
        let started = cs
            .state
            .as_ref()
            .and_then(|s| s.running.as_ref())
            .and_then(|r| r.started_at.as_ref())
            .and_then(|s| to_chrono(&s.0));
        let stuck_for = started
            .map(|s| ctx.now - s)
            .filter(|d| *d > Duration::minutes(INIT_STUCK_MINUTES));
        if t.is_some_and(|t| t.reason.as_deref() == Some("OOMKilled")) {
            continue;
        }
        let cause = if crashing {
            let exit = t.map(exit_text).unwrap_or_else(|| "a failure".to_string());
            format!(
                "init container {} fails with {exit}, so the app containers never start",
                cs.name
            )
        } else if let Some(d) = stuck_for {
            format!(
                "init container {} has been running for {} without completing, so the app containers never start",
                cs.name,
                kpm_semantics::duration::human_duration(d)
            )
        } else {
            continue;
        };
        let (logs, last) = log_evidence(ctx, facts, &cs.name);
        let cause = match last {
            Some(l) if crashing => format!("{cause}; its last log line: {}", l.trim()),
            _ => cause,
        };
        return Some(
            facts
                .finding(ctx, Rule::PodInitFailing, cause)
                .field(
                    &facts.object,
                    format!("{}.restartCount", facts.status_path(&cs.name, true)),
                    cs.restart_count.to_string(),
                )
                .evidence_all(logs)
                .evidence_all(facts.event_evidence(&["BackOff"]))
                .next_command(
                    "Read the init container's log",
                    facts.logs_cmd(&cs.name, crashing),
                )
                .next_command("See the init sequence and events", facts.describe_cmd())
                .build(),
        );
    }
    None
}

/// `pod-restart-storm`: a container running now that restarted at least
/// [`STORM_RESTARTS`] times, the last within [`STORM_WINDOW_MINUTES`].
pub fn restart_storm(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    let cs = facts.container_statuses().iter().find(|cs| {
        let recent = cs
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.finished_at.as_ref())
            .and_then(|t| to_chrono(&t.0))
            .is_some_and(|t| ctx.now - t <= Duration::minutes(STORM_WINDOW_MINUTES));
        is_running(cs) && cs.restart_count >= STORM_RESTARTS && recent
    })?;
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let exit = last.map(exit_text).unwrap_or_default();
    let (logs, _) = log_evidence(ctx, facts, &cs.name);
    Some(
        facts
            .finding(
                ctx,
                Rule::PodRestartStorm,
                format!(
            "container {} is running but restarted {} times, the last within the hour ({exit})",
            cs.name, cs.restart_count
        ),
            )
            .field(
                &facts.object,
                format!("{}.restartCount", facts.status_path(&cs.name, false)),
                cs.restart_count.to_string(),
            )
            .evidence_all(logs)
            .next_command(
                "Read the log of the instance before the last restart",
                facts.logs_cmd(&cs.name, true),
            )
            .build(),
    )
}
