//! Containers that die: `pod-crashloop`, `pod-oom-killed`,
//! `pod-init-failing`.
//!
//! The evidence a human would look for first is quoted: the last
//! termination's reason, exit code and message, and the line of the
//! *previous* container's log that explains the death, with its context
//! and line numbers ([`super::pod_death`]).

use chrono::Duration;
use k8s_openapi::api::core::v1::ContainerStatus;
use kpm_model::{Evidence, Finding, Severity};
use kpm_semantics::quantity::Quantity;

use super::pod::PodFacts;
use super::pod_death::{
    clip, exit_text, finished_at, is_running, log_words, running_since, termination,
    termination_message, waiting_reason,
};
use super::pod_start;
use crate::command::Kubectl;
use crate::context::NamespaceCtx;
use crate::rules::registry::Rule;

/// A termination older than this, with the container running since, is
/// history: the container recovered.
pub const RECENT_MINUTES: i64 = 60;
/// An init container running longer than this is stuck.
pub const INIT_STUCK_MINUTES: i64 = 10;

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

/// Whether a container is crash-looping now: `CrashLoopBackOff`, or not
/// running after a non-zero exit that finished within
/// [`RECENT_MINUTES`] of collection. OOM kills and start failures have
/// their own rules.
fn crashing_now(ctx: &NamespaceCtx<'_>, cs: &ContainerStatus) -> bool {
    let backoff = waiting_reason(cs) == Some("CrashLoopBackOff");
    let Some(t) = termination(cs) else {
        return backoff;
    };
    if t.reason.as_deref() == Some("OOMKilled") || pod_start::is_start_failure(cs) {
        return false;
    }
    let recent = finished_at(t).is_none_or(|f| ctx.now - f <= Duration::minutes(RECENT_MINUTES));
    backoff || (!is_running(cs) && t.exit_code != 0 && cs.restart_count > 0 && recent)
}

/// `pod-crashloop`: a regular container crash-looping now
/// ([`crashing_now`]).
pub fn crashloop(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    let cs = facts
        .container_statuses()
        .iter()
        .find(|cs| crashing_now(ctx, cs))?;
    let t = termination(cs);
    let words = log_words(ctx, facts, &cs.name);
    let mut cause = match t {
        Some(t) => format!("container {} keeps exiting with {}", cs.name, exit_text(t)),
        None => format!(
            "container {} keeps exiting (no termination recorded)",
            cs.name
        ),
    };
    let message = t.and_then(termination_message);
    if let Some(m) = &message {
        cause.push_str(&format!(": {}", clip(m)));
    }
    if let Some(probe) = liveness_kill(facts, &cs.name) {
        cause.push_str(&format!(
            "; the kubelet kills it because its liveness probe fails ({probe})"
        ));
    } else {
        cause.push_str(&words.clause());
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
        if let Some(m) = t.message.as_deref().filter(|m| !m.trim().is_empty()) {
            b = b.field(
                &facts.object,
                format!("{path}.lastState.terminated.message"),
                m,
            );
        }
    }
    Some(
        b.evidence_all(words.evidence)
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
    let words = log_words(ctx, facts, &cs.name);
    // A container running for longer than the window since its last OOM
    // kill has recovered: the limit was hit, nothing fails now.
    let since = running_since(cs).filter(|s| ctx.now - *s > Duration::minutes(RECENT_MINUTES));
    if let Some(s) = since {
        b = b.severity(Severity::Warning).note(format!(
            "running again since {} ({} before collection)",
            s.to_rfc3339(),
            kpm_semantics::duration::human_duration(ctx.now - s)
        ));
    }
    Some(
        b.evidence_all(words.evidence)
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
        if pod_start::is_start_failure(cs) {
            continue;
        }
        let t = termination(cs);
        let crashing =
            waiting_reason(cs) == Some("CrashLoopBackOff") || t.is_some_and(|t| t.exit_code != 0);
        let stuck_for = running_since(cs)
            .map(|s| ctx.now - s)
            .filter(|d| *d > Duration::minutes(INIT_STUCK_MINUTES));
        if t.is_some_and(|t| t.reason.as_deref() == Some("OOMKilled")) {
            continue;
        }
        let words = log_words(ctx, facts, &cs.name);
        let cause = if crashing {
            let exit = t.map(exit_text).unwrap_or_else(|| "a failure".to_string());
            let message = t
                .and_then(termination_message)
                .map(|m| format!(": {}", clip(&m)))
                .unwrap_or_default();
            format!(
                "init container {} fails with {exit}{message}, so the app containers never start{}",
                cs.name,
                words.clause()
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
        return Some(
            facts
                .finding(ctx, Rule::PodInitFailing, cause)
                .field(
                    &facts.object,
                    format!("{}.restartCount", facts.status_path(&cs.name, true)),
                    cs.restart_count.to_string(),
                )
                .evidence_all(words.evidence)
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
