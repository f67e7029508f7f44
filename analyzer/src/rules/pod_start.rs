//! `pod-start-failed`: the runtime cannot start a container's process.
//!
//! The kubelet shows it as a waiting `RunContainerError` (start failed) or
//! `CreateContainerError` (create failed), and records the attempt as a
//! termination with reason `StartError` (containerd, exit 128) or
//! `ContainerCannotRun` (dockershim, exit 127/128) whose `message` is the
//! runtime's own words, e.g. `failed to create shim task: OCI runtime create
//! failed: runc create failed: unable to start container process: exec:
//! "wge": executable file not found in $PATH: unknown`. Between attempts the
//! container waits in `CrashLoopBackOff`: the crash-loop rule leaves such
//! containers to this one, since the process never ran.

use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus};
use kpm_model::Finding;

use super::pod::PodFacts;
use super::pod_death::{clip, is_running, termination, waiting_reason};
use crate::command::{Kubectl, Name};
use crate::context::NamespaceCtx;
use crate::rules::registry::Rule;

/// Waiting reasons of a container the runtime could not create or start.
const WAITING: &[&str] = &["RunContainerError", "CreateContainerError", "StartError"];
/// Termination reasons of a start attempt that never ran the process.
const TERMINATED: &[&str] = &["StartError", "ContainerCannotRun"];

fn start_termination(cs: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    termination(cs).filter(|t| TERMINATED.contains(&t.reason.as_deref().unwrap_or_default()))
}

/// Whether the container is failing to start now: a waiting reason of
/// [`WAITING`], or not running after a `StartError`/`ContainerCannotRun`.
pub fn is_start_failure(cs: &ContainerStatus) -> bool {
    WAITING.contains(&waiting_reason(cs).unwrap_or_default())
        || (!is_running(cs) && start_termination(cs).is_some())
}

/// The most specific part of a runtime message: what follows `unable to
/// start container process: ` (runc), else after the last `desc = `
/// (containerd's gRPC wrapping), with runc's trailing `: unknown` removed.
pub fn runtime_reason(message: &str) -> &str {
    let m = message.trim();
    let tail = m
        .rsplit_once("unable to start container process: ")
        .map(|(_, t)| t)
        .or_else(|| m.rsplit_once("desc = ").map(|(_, t)| t))
        .unwrap_or(m);
    tail.strip_suffix(": unknown").unwrap_or(tail)
}

/// The runtime's message for container `name`: the waiting message, the
/// termination message, else the kubelet's `Failed` event naming it.
fn runtime_message(facts: &PodFacts<'_>, cs: &ContainerStatus) -> Option<String> {
    let waiting = cs
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .filter(|w| WAITING.contains(&w.reason.as_deref().unwrap_or_default()))
        .and_then(|w| w.message.clone());
    let terminated = start_termination(cs).and_then(|t| t.message.clone());
    let event = || {
        let quoted = format!("\"{}\"", cs.name);
        facts
            .events_with(&["Failed"])
            .into_iter()
            .rev()
            .find(|e| e.message.starts_with("Error: ") && e.message.contains(&quoted))
            .map(|e| e.message.clone())
    };
    waiting
        .or(terminated)
        .filter(|m| !m.trim().is_empty())
        .or_else(event)
}

/// `command` and `args` of a container spec, as one line.
fn command_line(facts: &PodFacts<'_>, container: &str) -> Option<String> {
    let c = facts.container(container)?;
    let words: Vec<&str> = kpm_semantics::pod::command_words(c).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// `pod-start-failed`.
pub fn start_failed(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    let (cs, init) = facts.all_statuses().find(|(cs, _)| is_start_failure(cs))?;
    let which = if init { "init container" } else { "container" };
    let message = runtime_message(facts, cs);
    let what = match &message {
        Some(m) => clip(runtime_reason(m)),
        None => "the runtime's message is not in the bundle".to_string(),
    };
    let mut cause = format!(
        "the runtime cannot start {which} {}'s process: {what}",
        cs.name
    );
    if let Some(cmd) = command_line(facts, &cs.name) {
        cause.push_str(&format!(" (spec command: {})", clip(&cmd)));
    }
    let path = facts.status_path(&cs.name, init);
    let mut b = facts.finding(ctx, Rule::PodStartFailed, cause);
    if let Some(r) = waiting_reason(cs) {
        b = b.field(&facts.object, format!("{path}.state.waiting.reason"), r);
    }
    if let Some(t) = start_termination(cs) {
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
    if let Some(m) = &message {
        b = b.field(&facts.object, format!("{path}.message"), m.clone());
    }
    Some(
        b.field(
            &facts.object,
            format!("{path}.restartCount"),
            cs.restart_count.to_string(),
        )
        .evidence_all(facts.event_evidence(&["Failed", "BackOff"]))
        .next_command("See the runtime's error", facts.describe_cmd())
        .next_command(
            "Check the command exists in the image",
            Kubectl::new()
                .namespace(facts.namespace)
                .args(["get", "pod"])
                .name(facts.name)
                .args(["-o"])
                .with(
                    if init {
                        "jsonpath={.spec.initContainers[?(@.name==\""
                    } else {
                        "jsonpath={.spec.containers[?(@.name==\""
                    },
                    Name::Label,
                    &cs.name,
                    "\")].command}",
                )
                .build(),
        )
        .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_reason_keeps_the_runtime_words() {
        let runc = "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"wge\": executable file not found in $PATH: unknown";
        assert_eq!(
            runtime_reason(runc),
            "exec: \"wge\": executable file not found in $PATH"
        );
        let containerd = "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error mounting \"/etc/app/config.yaml\" to rootfs at \"/config.yaml\": not a directory: unknown";
        assert!(
            runtime_reason(containerd).starts_with("error during container init: error mounting")
        );
        let grpc = "rpc error: code = Unknown desc = failed to reserve container name \"app_web-0_shop_1\": name is reserved";
        assert_eq!(
            runtime_reason(grpc),
            "failed to reserve container name \"app_web-0_shop_1\": name is reserved"
        );
    }
}
