//! Pods with the status a v1.33 kubelet reports.
//!
//! The interesting part of a broken pod is its status: which condition is
//! False and why, the waiting reason and message, the previous termination.
//! [`ContainerState`] describes one container in plain terms and [`pod`]
//! derives phase, conditions, QoS class and container statuses from it the
//! way the kubelet does.

use serde_json::{json, Value};

use super::{admission, meta};
use crate::ids;

mod state;

pub use state::{ContainerState, Placement, PodFate, Terminated};

/// Normalizes an image reference the way the container runtime reports it in
/// `containerStatuses[].image` (`nginx:1.27` → `docker.io/library/nginx:1.27`).
pub fn normalized_image(image: &str) -> String {
    let first = image.split('/').next().unwrap_or("");
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        image.to_string()
    } else if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    }
}

/// The `imageID` the runtime reports for a pulled image: the repository
/// with the content digest.
pub fn image_id(image: &str) -> String {
    let norm = normalized_image(image);
    let repo = match norm.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r.to_string(),
        _ => norm.clone(),
    };
    let repo = repo.split('@').next().unwrap_or("").to_string();
    format!("{repo}@sha256:{}", ids::hex64(&format!("img/{norm}")))
}

/// The QoS class the API server computes from requests and limits.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in &containers {
        let req = &c["resources"]["requests"];
        let lim = &c["resources"]["limits"];
        for r in ["cpu", "memory"] {
            if !req[r].is_null() || !lim[r].is_null() {
                any = true;
            }
            // Requests default to limits when only limits are set.
            let effective_req = if req[r].is_null() { &lim[r] } else { &req[r] };
            if lim[r].is_null() || effective_req != &lim[r] {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn condition(
    kind: &str,
    status: bool,
    ago: i64,
    reason: Option<&str>,
    message: Option<&str>,
) -> Value {
    let mut c = json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": ids::ago(ago),
    });
    if let Some(map) = c.as_object_mut() {
        if let Some(r) = reason {
            map.insert("reason".into(), json!(r));
        }
        if let Some(m) = message {
            map.insert("message".into(), json!(m));
        }
    }
    c
}

fn terminated_json(t: &Terminated, container_id: &str) -> Value {
    let started = if t.never_started {
        "1970-01-01T00:00:00Z".to_string()
    } else {
        ids::ago(t.started_ago)
    };
    let mut term = json!({
        "exitCode": t.exit_code,
        "reason": t.reason,
        "startedAt": started,
        "finishedAt": ids::ago(t.finished_ago),
        "containerID": container_id,
    });
    if let (Some(m), Some(map)) = (&t.message, term.as_object_mut()) {
        map.insert("message".into(), json!(m));
    }
    json!({ "terminated": term })
}

fn container_status(pod_key: &str, c: &Value, state: &ContainerState) -> Value {
    let name = c["name"].as_str().unwrap_or("");
    let image = c["image"].as_str().unwrap_or("");
    let key = format!("{pod_key}/{name}");
    let restarts = match state {
        ContainerState::Running { restarts, .. } | ContainerState::Waiting { restarts, .. } => {
            *restarts
        }
        ContainerState::Done(_) => 0,
    };
    let current_id = format!("containerd://{}", ids::hex64(&format!("{key}/{restarts}")));
    let previous_id = format!(
        "containerd://{}",
        ids::hex64(&format!("{key}/{}", restarts.saturating_sub(1)))
    );
    let (state_json, last_json) = match state {
        ContainerState::Running {
            started_ago, last, ..
        } => (
            json!({"running": {"startedAt": ids::ago(*started_ago)}}),
            last.as_ref()
                .map_or(json!({}), |t| terminated_json(t, &previous_id)),
        ),
        ContainerState::Waiting {
            reason,
            message,
            last,
            ..
        } => {
            let mut w = json!({"reason": reason});
            if let (Some(m), Some(map)) = (message, w.as_object_mut()) {
                map.insert("message".into(), json!(m));
            }
            (
                json!({ "waiting": w }),
                last.as_ref()
                    .map_or(json!({}), |t| terminated_json(t, &previous_id)),
            )
        }
        ContainerState::Done(t) => (terminated_json(t, &current_id), json!({})),
    };
    let mut status = json!({
        "name": name,
        "state": state_json,
        "lastState": last_json,
        "ready": state.is_ready(),
        "restartCount": restarts,
        "image": normalized_image(image),
        "imageID": if state.has_run() { image_id(image) } else { String::new() },
        "started": matches!(state, ContainerState::Running { .. }),
    });
    if let Some(map) = status.as_object_mut() {
        match state {
            ContainerState::Running { .. } | ContainerState::Done(_) => {
                map.insert("containerID".into(), json!(current_id));
            }
            ContainerState::Waiting { last: Some(_), .. } => {
                map.insert("containerID".into(), json!(previous_id));
            }
            ContainerState::Waiting { .. } => {}
        }
        runtime_fields(map, c, state.has_run());
    }
    status
}

/// What a v1.33 kubelet adds to a container status: the resources it
/// allocated (requests, defaulted from limits), and for containers the
/// runtime created, their resources, mounts and process identity.
fn runtime_fields(map: &mut serde_json::Map<String, Value>, c: &Value, created: bool) {
    let res = &c["resources"];
    let mut allocated = res["requests"].as_object().cloned().unwrap_or_default();
    for (k, v) in res["limits"].as_object().into_iter().flatten() {
        allocated.entry(k.clone()).or_insert(v.clone());
    }
    if !allocated.is_empty() {
        map.insert("allocatedResources".into(), Value::Object(allocated));
    }
    if !created {
        return;
    }
    if res.as_object().is_some_and(|r| !r.is_empty()) {
        map.insert("resources".into(), res.clone());
    }
    let mounts: Vec<Value> = c["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            json!({
                "name": m["name"],
                "mountPath": m["mountPath"],
                "readOnly": m["readOnly"].as_bool().unwrap_or(false),
                "recursiveReadOnly": "Disabled",
            })
        })
        .collect();
    if !mounts.is_empty() {
        map.insert("volumeMounts".into(), json!(mounts));
    }
    let uid = c["securityContext"]["runAsUser"].as_i64().unwrap_or(0);
    let gid = c["securityContext"]["runAsGroup"].as_i64().unwrap_or(uid);
    map.insert(
        "user".into(),
        json!({"linux": {"uid": uid, "gid": gid, "supplementalGroups": [gid]}}),
    );
}

/// A pod built from a template `spec` (as in a Deployment), with the given
/// fate and one state per container (in `spec.containers` order).
pub fn pod(
    namespace: &str,
    name: &str,
    created_ago: i64,
    spec: &Value,
    fate: &PodFate,
    states: &[ContainerState],
) -> Value {
    let mut pod = meta::object("v1", "Pod", Some(namespace), name, created_ago);
    // Pods have had a `generation` since v1.33; nothing here updates a pod spec.
    pod["metadata"]["generation"] = json!(1);
    let mut spec = spec.clone();
    admission::admit_pod(namespace, name, &mut spec);
    let qos = qos_class(&spec);
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    let pod_key = format!("{namespace}/{name}");
    let status = match fate {
        PodFate::Unschedulable { message, since_ago } => json!({
            "phase": "Pending",
            "conditions": [condition("PodScheduled", false, *since_ago, Some("Unschedulable"), Some(message))],
            "qosClass": qos,
        }),
        PodFate::Evicted {
            placement,
            message,
            at_ago,
        } => {
            bind(&mut spec, &placement.node);
            evicted_status(&pod_key, placement, message, *at_ago, &containers, qos)
        }
        PodFate::Placed(p) => {
            bind(&mut spec, &p.node);
            placed_status(&pod_key, p, &containers, states, qos)
        }
    };
    if let Some(map) = pod.as_object_mut() {
        map.insert("spec".into(), spec);
        map.insert("status".into(), status);
    }
    add_pod_managers(&mut pod, created_ago, fate, states);
    pod
}

/// Sets `spec.nodeName`, as the scheduler's binding does.
fn bind(spec: &mut Value, node: &str) {
    if let Some(map) = spec.as_object_mut() {
        map.insert("nodeName".into(), json!(node));
    }
}

/// The status of a pod the kubelet evicted: phase `Failed`, reason
/// `Evicted`, every container killed.
fn evicted_status(
    pod_key: &str,
    placement: &Placement,
    message: &str,
    at_ago: i64,
    containers: &[Value],
    qos: &str,
) -> Value {
    json!({
        "phase": "Failed",
        "reason": "Evicted",
        "message": message,
        "hostIP": placement.host_ip,
        "hostIPs": [{"ip": placement.host_ip}],
        "startTime": ids::ago(placement.scheduled_ago),
        "conditions": [
            condition("DisruptionTarget", true, at_ago, Some("TerminationByKubelet"), Some(message)),
            condition("PodReadyToStartContainers", false, at_ago, None, None),
            condition("Initialized", true, placement.scheduled_ago, None, None),
            condition("Ready", false, at_ago, Some("PodFailed"), None),
            condition("ContainersReady", false, at_ago, Some("PodFailed"), None),
            condition("PodScheduled", true, placement.scheduled_ago, None, None),
        ],
        "containerStatuses": containers.iter().map(|c| {
            let t = Terminated::new("Error", 137, placement.scheduled_ago - 5, at_ago);
            container_status(pod_key, c, &ContainerState::Done(t))
        }).collect::<Vec<_>>(),
        "qosClass": qos,
    })
}

/// The `managedFields` of a pod: the ReplicaSet controller created it, the
/// kubelet (or, while unschedulable, the scheduler) last wrote its status.
fn add_pod_managers(pod: &mut Value, created_ago: i64, fate: &PodFate, states: &[ContainerState]) {
    let status_time = match fate {
        PodFate::Placed(p) => p.scheduled_ago.min(latest_change(states)),
        PodFate::Unschedulable { since_ago, .. } => *since_ago,
        PodFate::Evicted { at_ago, .. } => *at_ago,
    };
    meta::add_managed(
        pod,
        "kube-controller-manager",
        "Update",
        created_ago,
        json!({"f:metadata": {"f:generateName": {}, "f:labels": {}, "f:ownerReferences": {}}, "f:spec": {}}),
        None,
    );
    let manager = if matches!(fate, PodFate::Unschedulable { .. }) {
        "kube-scheduler"
    } else {
        "kubelet"
    };
    meta::add_managed(
        pod,
        manager,
        "Update",
        status_time.max(0),
        json!({"f:status": {"f:conditions": {}}}),
        Some("status"),
    );
}

/// Adds `initContainerStatuses` (one state per `spec.initContainers`) to a
/// pod built by [`pod`]. While one has not completed, the kubelet reports
/// `Initialized=False` (`ContainersNotInitialized`) naming the incomplete ones.
pub fn set_init_statuses(pod: &mut Value, states: &[ContainerState], since_ago: i64) {
    let key = format!("{}/{}", meta::namespace_of(pod), meta::name_of(pod));
    let inits = pod["spec"]["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<Value> = inits
        .iter()
        .zip(states)
        .map(|(c, st)| container_status(&key, c, st))
        .collect();
    let incomplete: Vec<&str> = inits
        .iter()
        .zip(states)
        .filter(|(_, st)| !matches!(st, ContainerState::Done(_)))
        .filter_map(|(c, _)| c["name"].as_str())
        .collect();
    pod["status"]["initContainerStatuses"] = json!(statuses);
    if incomplete.is_empty() {
        return;
    }
    let msg = format!(
        "containers with incomplete status: [{}]",
        incomplete.join(" ")
    );
    for c in pod["status"]["conditions"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if c["type"] == "Initialized" {
            *c = condition(
                "Initialized",
                false,
                since_ago,
                Some("ContainersNotInitialized"),
                Some(&msg),
            );
        }
    }
}

/// Seconds-ago of the most recent container state change.
fn latest_change(states: &[ContainerState]) -> i64 {
    states
        .iter()
        .map(|s| match s {
            ContainerState::Running { started_ago, .. } => *started_ago,
            ContainerState::Waiting { last: Some(t), .. } => t.finished_ago,
            ContainerState::Waiting { .. } => i64::MAX,
            ContainerState::Done(t) => t.finished_ago,
        })
        .min()
        .unwrap_or(i64::MAX)
}

/// The status of a pod bound to a node, derived from its containers'
/// states as the kubelet derives it.
fn placed_status(
    pod_key: &str,
    p: &Placement,
    containers: &[Value],
    states: &[ContainerState],
    qos: &str,
) -> Value {
    // Containers without a given state run Ready since just after binding.
    let all_states: Vec<ContainerState> = (0..containers.len())
        .map(|i| {
            states
                .get(i)
                .cloned()
                .unwrap_or_else(|| ContainerState::ready(p.scheduled_ago - 5))
        })
        .collect();
    let statuses: Vec<Value> = containers
        .iter()
        .zip(&all_states)
        .map(|(c, state)| container_status(pod_key, c, state))
        .collect();
    // A sandbox exists unless the pod is stuck before creating it (volumes
    // that cannot be mounted keep it in ContainerCreating without one).
    let sandbox = !all_states.iter().any(
        |s| matches!(s, ContainerState::Waiting { reason, .. } if reason == "ContainerCreating"),
    );
    let (ready_cond, cr_cond) = readiness_conditions(p, containers, &all_states);
    let mut status = json!({
        "phase": phase(&all_states),
        "conditions": [
            condition("PodReadyToStartContainers", sandbox, p.scheduled_ago - 2, None, None),
            condition("Initialized", true, p.scheduled_ago - 1, None, None),
            ready_cond,
            cr_cond,
            condition("PodScheduled", true, p.scheduled_ago, None, None),
        ],
        "hostIP": p.host_ip,
        "hostIPs": [{"ip": p.host_ip}],
        "startTime": ids::ago(p.scheduled_ago),
        "containerStatuses": statuses,
        "qosClass": qos,
    });
    if sandbox {
        if let Some(map) = status.as_object_mut() {
            map.insert("podIP".into(), json!(p.pod_ip));
            map.insert("podIPs".into(), json!([{"ip": p.pod_ip}]));
        }
    }
    status
}

/// `Succeeded` when every container completed, `Running` when every one has
/// run (restarting ones included), else `Pending`.
fn phase(states: &[ContainerState]) -> &'static str {
    if states.iter().all(|s| matches!(s, ContainerState::Done(_))) {
        "Succeeded"
    } else if states.iter().all(ContainerState::has_run) {
        "Running"
    } else {
        "Pending"
    }
}

/// The `Ready` and `ContainersReady` conditions: True when every container
/// is ready, `PodCompleted` when all completed, else `ContainersNotReady`
/// naming the unready ones.
fn readiness_conditions(
    p: &Placement,
    containers: &[Value],
    states: &[ContainerState],
) -> (Value, Value) {
    let changed = latest_change(states).min(p.scheduled_ago);
    if states.iter().all(ContainerState::is_ready) {
        return (
            condition("Ready", true, changed, None, None),
            condition("ContainersReady", true, changed, None, None),
        );
    }
    if states.iter().all(|s| matches!(s, ContainerState::Done(_))) {
        return (
            condition("Ready", false, changed, Some("PodCompleted"), None),
            condition(
                "ContainersReady",
                false,
                changed,
                Some("PodCompleted"),
                None,
            ),
        );
    }
    let unready: Vec<&str> = containers
        .iter()
        .zip(states)
        .filter(|(_, s)| !s.is_ready())
        .filter_map(|(c, _)| c["name"].as_str())
        .collect();
    let msg = format!("containers with unready status: [{}]", unready.join(" "));
    let since = changed.min(p.scheduled_ago - 1);
    (
        condition(
            "Ready",
            false,
            since,
            Some("ContainersNotReady"),
            Some(&msg),
        ),
        condition(
            "ContainersReady",
            false,
            since,
            Some("ContainersNotReady"),
            Some(&msg),
        ),
    )
}

#[cfg(test)]
mod tests;
