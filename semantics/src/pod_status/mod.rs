//! The `kubectl get pods` row, computed exactly as the API server's table
//! printer does (`printPod` in `pkg/printers/internalversion/printers.go`).
//!
//! The STATUS column is not `status.phase`: it is derived from the pod's
//! reason, scheduling gates, init containers (`Init:0/2`,
//! `Init:CrashLoopBackOff`, `Init:Signal:9`, `Init:ExitCode:1`), container
//! waiting/terminated reasons (`CrashLoopBackOff`, `OOMKilled`, `Signal:9`,
//! `ExitCode:1`), `Completed` vs `NotReady` for pods whose main container
//! finished while another still runs, `Terminating` and `Unknown` (NodeLost).
//! READY counts restartable (sidecar) init containers; RESTARTS carries the
//! "(2m ago)" of the latest `lastState.terminated.finishedAt`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodCondition, PodStatus};
use serde::{Deserialize, Serialize};

use crate::duration::{age, age_opt};
use crate::time::{opt_to_chrono, to_chrono};

/// Pod reason the node lifecycle controller sets when a node stops reporting
/// (`node.NodeUnreachablePodReason`).
pub const NODE_UNREACHABLE_POD_REASON: &str = "NodeLost";

/// One row of `kubectl get pods -o wide`, all cells as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRow {
    /// NAME
    pub name: String,
    /// The pod's namespace (not a column, but every consumer needs it).
    pub namespace: String,
    /// READY, e.g. `1/2`.
    pub ready: String,
    /// The numerator of READY.
    pub ready_containers: u32,
    /// The denominator of READY: containers plus restartable init containers.
    pub total_containers: u32,
    /// STATUS, e.g. `CrashLoopBackOff`, `Init:0/2`, `Completed`.
    pub status: String,
    /// RESTARTS, e.g. `5 (2m ago)` or `0`.
    pub restarts: String,
    /// The number in RESTARTS.
    pub restart_count: i32,
    /// When the most recent counted restart happened, if known.
    pub last_restart: Option<DateTime<Utc>>,
    /// AGE, e.g. `3d4h`, or `<unknown>` without a creation timestamp.
    pub age: String,
    /// IP (wide): the first pod IP or `<none>`.
    pub ip: String,
    /// NODE (wide): `spec.nodeName` or `<none>`.
    pub node: String,
    /// NOMINATED NODE (wide) or `<none>`.
    pub nominated_node: String,
    /// READINESS GATES (wide): `true/total` or `<none>`.
    pub readiness_gates: String,
}

/// Computes the `kubectl get pods -o wide` row of `pod` as seen at `now`
/// (kpm passes the bundle's collection time).
pub fn pod_row(pod: &Pod, now: DateTime<Utc>) -> PodRow {
    let counted = count(pod);
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();

    let restarts = match counted.last_restart {
        Some(t) if counted.restarts != 0 => format!("{} ({} ago)", counted.restarts, age(t, now)),
        _ => counted.restarts.to_string(),
    };

    let ip = status
        .and_then(|s| {
            // The internal API (which printPod sees) fills podIPs from podIP.
            s.pod_ips
                .as_ref()
                .and_then(|ips| ips.first())
                .map(|ip| ip.ip.clone())
                .or_else(|| s.pod_ip.clone())
        })
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| "<none>".to_owned());
    let node = non_empty_or_none(spec.and_then(|s| s.node_name.as_deref()));
    let nominated_node = non_empty_or_none(status.and_then(|s| s.nominated_node_name.as_deref()));

    let gates = spec
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default();
    let readiness_gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let true_conditions = gates
            .iter()
            .filter(|g| {
                // The first condition of that type decides, as in printPod.
                conditions(status)
                    .iter()
                    .find(|c| c.type_ == g.condition_type)
                    .is_some_and(|c| c.status == "True")
            })
            .count();
        format!("{}/{}", true_conditions, gates.len())
    };

    PodRow {
        name: pod.metadata.name.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        ready: format!("{}/{}", counted.ready, counted.total),
        ready_containers: counted.ready,
        total_containers: counted.total,
        status: counted.reason,
        restarts,
        restart_count: counted.restarts,
        last_restart: counted.last_restart,
        age: age_opt(opt_to_chrono(pod.metadata.creation_timestamp.as_ref()), now),
        ip,
        node,
        nominated_node,
        readiness_gates,
    }
}

/// The number kubectl shows in RESTARTS: init container restarts while the
/// pod is still initializing, otherwise container restarts plus restartable
/// (sidecar) init container restarts.
pub fn container_restarts(pod: &Pod) -> i32 {
    count(pod).restarts
}

/// Just the STATUS column of [`pod_row`].
pub fn pod_status_reason(pod: &Pod) -> String {
    count(pod).reason
}

fn non_empty_or_none(s: Option<&str>) -> String {
    match s {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => "<none>".to_owned(),
    }
}

fn conditions(status: Option<&PodStatus>) -> &[PodCondition] {
    status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
}

fn condition_true(status: Option<&PodStatus>, type_: &str) -> bool {
    // isPodInitializedConditionTrue: the first condition of the type decides.
    conditions(status)
        .iter()
        .find(|c| c.type_ == type_)
        .is_some_and(|c| c.status == "True")
}

fn has_ready_condition(status: Option<&PodStatus>) -> bool {
    // hasPodReadyCondition: any Ready=True condition.
    conditions(status)
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn is_restartable(c: Option<&&Container>) -> bool {
    c.and_then(|c| c.restart_policy.as_deref()) == Some("Always")
}

struct Counted {
    ready: u32,
    total: u32,
    reason: String,
    restarts: i32,
    last_restart: Option<DateTime<Utc>>,
}

fn last_terminated_at(cs: &ContainerStatus) -> Option<DateTime<Utc>> {
    cs.last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.finished_at.as_ref())
        .and_then(to_chrono)
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn non_empty(s: Option<&String>) -> Option<&str> {
    s.map(String::as_str).filter(|s| !s.is_empty())
}

/// The printPod algorithm proper.
fn count(pod: &Pod) -> Counted {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let containers: &[Container] = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let init_specs: &[Container] = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default();
    let init_statuses: &[ContainerStatus] = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or_default();
    let statuses: &[ContainerStatus] = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();

    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_default();
    let mut reason = non_empty(status.and_then(|s| s.reason.as_ref()))
        .map(str::to_owned)
        .unwrap_or_else(|| phase.clone());
    if conditions(status)
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".to_owned();
    }
    let sidecars = init_specs
        .iter()
        .filter(|c| is_restartable(Some(c)))
        .count();
    let mut counted = Counted {
        ready: 0,
        total: u32::try_from(containers.len())
            .unwrap_or(u32::MAX)
            .saturating_add(u32::try_from(sidecars).unwrap_or(0)),
        reason,
        restarts: 0,
        last_restart: None,
    };

    let init = count_init_containers(&mut counted, init_specs, init_statuses);
    if !init.initializing || condition_true(status, "Initialized") {
        counted.restarts = init.sidecar_restarts;
        counted.last_restart = init.last_sidecar_restart;
        count_containers(&mut counted, statuses, status);
    }

    if pod.metadata.deletion_timestamp.is_some() {
        if status.and_then(|s| s.reason.as_deref()) == Some(NODE_UNREACHABLE_POD_REASON) {
            counted.reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            counted.reason = "Terminating".to_owned();
        }
    }
    counted
}

/// What the init-container pass leaves for the container pass.
struct InitPass {
    /// An init container has not finished: the pod is still initializing.
    initializing: bool,
    /// Restarts of restartable (sidecar) init containers only.
    sidecar_restarts: i32,
    /// The latest restart of a sidecar init container.
    last_sidecar_restart: Option<DateTime<Utc>>,
}

/// printPod's init-container loop: counts restarts and ready sidecars, and
/// sets `Init:<reason>` / `Init:<i>/<n>` on the first unfinished one.
fn count_init_containers(
    counted: &mut Counted,
    init_specs: &[Container],
    init_statuses: &[ContainerStatus],
) -> InitPass {
    let by_name: HashMap<&str, &Container> =
        init_specs.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut pass = InitPass {
        initializing: false,
        sidecar_restarts: 0,
        last_sidecar_restart: None,
    };
    for (i, cs) in init_statuses.iter().enumerate() {
        let restartable = is_restartable(by_name.get(cs.name.as_str()));
        counted.restarts = counted.restarts.saturating_add(cs.restart_count);
        counted.last_restart = latest(counted.last_restart, last_terminated_at(cs));
        if restartable {
            pass.sidecar_restarts = pass.sidecar_restarts.saturating_add(cs.restart_count);
            pass.last_sidecar_restart = latest(pass.last_sidecar_restart, last_terminated_at(cs));
        }
        let state = cs.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let waiting_reason = non_empty(
            state
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_ref()),
        );
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if restartable && cs.started == Some(true) {
            if cs.ready {
                counted.ready += 1;
            }
            continue;
        }
        counted.reason = if let Some(t) = terminated {
            // Initialization failed.
            match non_empty(t.reason.as_ref()) {
                Some(r) => format!("Init:{r}"),
                None => match t.signal {
                    Some(sig) if sig != 0 => format!("Init:Signal:{sig}"),
                    _ => format!("Init:ExitCode:{}", t.exit_code),
                },
            }
        } else if let Some(w) = waiting_reason.filter(|r| *r != "PodInitializing") {
            format!("Init:{w}")
        } else {
            format!("Init:{}/{}", i, init_specs.len())
        };
        pass.initializing = true;
        break;
    }
    pass
}

/// printPod's container loop (last container first): restarts, ready
/// containers, and the reason of a waiting or terminated one.
fn count_containers(
    counted: &mut Counted,
    statuses: &[ContainerStatus],
    status: Option<&PodStatus>,
) {
    let mut has_running = false;
    for cs in statuses.iter().rev() {
        counted.restarts = counted.restarts.saturating_add(cs.restart_count);
        counted.last_restart = latest(counted.last_restart, last_terminated_at(cs));
        let state = cs.state.as_ref();
        let waiting = state.and_then(|s| s.waiting.as_ref());
        let terminated = state.and_then(|s| s.terminated.as_ref());
        if let Some(r) = non_empty(waiting.and_then(|w| w.reason.as_ref())) {
            counted.reason = r.to_owned();
        } else if let Some(t) = terminated {
            counted.reason = match non_empty(t.reason.as_ref()) {
                Some(r) => r.to_owned(),
                None => match t.signal {
                    Some(sig) if sig != 0 => format!("Signal:{sig}"),
                    _ => format!("ExitCode:{}", t.exit_code),
                },
            };
        } else if cs.ready && state.is_some_and(|s| s.running.is_some()) {
            has_running = true;
            counted.ready += 1;
        }
    }
    // A pod whose last reason is Completed but that still runs a container
    // is shown Running (or NotReady if the pod is not Ready).
    if counted.reason == "Completed" && has_running {
        counted.reason = if has_ready_condition(status) {
            "Running".to_owned()
        } else {
            "NotReady".to_owned()
        };
    }
}

#[cfg(test)]
mod tests;
