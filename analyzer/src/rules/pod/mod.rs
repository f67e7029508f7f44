//! Pod-layer rules: image pulls, crashes, OOM, scheduling, mounts, config,
//! init containers, readiness, restarts, probes and mutable tags.
//!
//! One finding per pod and rule (the `expected.json` convention names pods),
//! so replicas failing for the same reason give one finding each; the engine
//! groups them into one incident through the Service or workload. The
//! symptom is the STATUS column exactly as `kubectl get pods` prints it
//! (`kpm_semantics::pod_status`). Each concern lives in its own module:
//! [`super::pod_image`], [`super::pod_crash`], [`super::pod_sched`],
//! [`super::pod_config`], [`super::pod_probe`], [`super::pod_mount`],
//! [`super::pod_start`], [`super::pod_restart`], [`super::pod_evicted`],
//! [`super::pod_logerrors`]. Evicted pods are reported per owner
//! ([`super::pod_evicted`]) and skip every other rule: they are history
//! the kubelet keeps, not containers that run.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};
use kpm_model::{Evidence, Finding, ObjectRef};
use kpm_semantics::pod_status::{pod_row, PodRow};
use kpm_semantics::{ObjectExt, PodExt};

use crate::command::{Kubectl, Name};
use crate::context::{pod_ref, EventView, FindingBuilder, NamespaceCtx};
use crate::rules::registry::Rule;

use super::{
    pod_config, pod_crash, pod_evicted, pod_image, pod_logerrors, pod_mount, pod_probe,
    pod_restart, pod_sched, pod_start,
};

/// At most this many events are quoted per finding.
pub const MAX_EVENTS: usize = 3;
/// Lines of the previous log quoted for a crash.
pub const LOG_LINES: usize = 10;

/// What every pod rule needs about one pod, computed once.
pub struct PodFacts<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// Its name.
    pub name: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// `Pod/ns/name`.
    pub object: ObjectRef,
    /// The `kubectl get pods` row.
    pub row: PodRow,
    /// Events about the pod, merged, oldest last-seen first.
    pub events: Vec<EventView>,
}

impl<'a> PodFacts<'a> {
    /// Facts of `pod` in `ctx`.
    pub fn new(ctx: &NamespaceCtx<'a>, pod: &'a Pod) -> PodFacts<'a> {
        let name = pod.name_any();
        PodFacts {
            pod,
            name,
            namespace: ctx.ns.name.as_str(),
            object: pod_ref(pod),
            row: pod_row(pod, ctx.now),
            events: ctx.events_for("Pod", name),
        }
    }

    /// STATUS with the restart count when there were restarts, e.g.
    /// `CrashLoopBackOff (12 restarts)`.
    pub fn symptom(&self) -> String {
        match self.row.restart_count {
            0 => self.row.status.clone(),
            1 => format!("{} (1 restart)", self.row.status),
            n => format!("{} ({n} restarts)", self.row.status),
        }
    }

    /// Events with one of these reasons, most recent last.
    pub fn events_with(&self, reasons: &[&str]) -> Vec<&EventView> {
        self.events
            .iter()
            .filter(|e| reasons.contains(&e.reason.as_str()))
            .collect()
    }

    /// The most recent events with one of these reasons, as evidence.
    pub fn event_evidence(&self, reasons: &[&str]) -> Vec<Evidence> {
        let evs = self.events_with(reasons);
        let skip = evs.len().saturating_sub(MAX_EVENTS);
        evs.into_iter()
            .skip(skip)
            .map(EventView::to_evidence)
            .collect()
    }

    /// Regular container statuses.
    pub fn container_statuses(&self) -> &'a [ContainerStatus] {
        self.pod.container_statuses()
    }

    /// Init container statuses.
    pub fn init_statuses(&self) -> &'a [ContainerStatus] {
        self.pod.init_container_statuses()
    }

    /// Every container status, init containers first, with whether it is an
    /// init container: the order the kubelet runs them, so the first broken
    /// one found is the one blocking the pod.
    pub fn all_statuses(&self) -> impl Iterator<Item = (&'a ContainerStatus, bool)> {
        self.init_statuses()
            .iter()
            .map(|s| (s, true))
            .chain(self.container_statuses().iter().map(|s| (s, false)))
    }

    /// A pod-layer finding of `rule` about this pod, its symptom the STATUS
    /// column: the opening every pod rule shares.
    pub fn finding(
        &self,
        ctx: &NamespaceCtx<'_>,
        rule: Rule,
        cause: impl Into<String>,
    ) -> FindingBuilder {
        ctx.finding(rule, self.object.clone())
            .symptom(self.symptom())
            .cause(cause)
    }

    /// Every container spec (init first), with whether it is an init container.
    pub fn containers(&self) -> Vec<(&'a Container, bool)> {
        let Some(spec) = self.pod.spec.as_ref() else {
            return Vec::new();
        };
        spec.init_containers
            .iter()
            .flatten()
            .map(|c| (c, true))
            .chain(spec.containers.iter().map(|c| (c, false)))
            .collect()
    }

    /// The spec of container `name` (init or regular).
    pub fn container(&self, name: &str) -> Option<&'a Container> {
        self.containers()
            .into_iter()
            .map(|(c, _)| c)
            .find(|c| c.name == name)
    }

    /// `kubectl -n ns describe pod NAME`; `None` when a name is not valid.
    pub fn describe_cmd(&self) -> Option<String> {
        Kubectl::new()
            .namespace(self.namespace)
            .args(["describe", "pod"])
            .name(self.name)
            .build()
    }

    /// `kubectl -n ns logs NAME -c C [--previous]`.
    pub fn logs_cmd(&self, container: &str, previous: bool) -> Option<String> {
        Kubectl::new()
            .namespace(self.namespace)
            .args(["logs"])
            .name(self.name)
            .args(["-c"])
            .value(Name::Label, container)
            .args(previous.then_some("--previous"))
            .build()
    }

    /// The pod's status field path for a container, e.g.
    /// `status.containerStatuses[app]`.
    pub fn status_path(&self, container: &str, init: bool) -> String {
        let list = if init {
            "initContainerStatuses"
        } else {
            "containerStatuses"
        };
        format!("status.{list}[{container}]")
    }
}

/// Runs every pod rule over the namespace's pods.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut mutable_seen: HashSet<String> = HashSet::new();
    for pod in &ctx.ns.pods {
        if pod.metadata.name.is_none() || pod_evicted::is_evicted(pod) {
            continue;
        }
        let facts = PodFacts::new(ctx, pod);
        out.extend(run_pod(ctx, &facts));
        if let Some(f) = pod_probe::image_tag_mutable(ctx, &facts) {
            // Replicas share the finding: it is about the workload's spec.
            if mutable_seen.insert(f.id.clone()) {
                out.push(f);
            }
        }
    }
    out.extend(pod_evicted::evicted(ctx));
    out
}

/// The rules of one pod, most specific cause first: a pod that cannot pull
/// its image is not also reported as not ready, a process that never
/// started is not also crash-looping, and a pod any rule explains is not
/// also judged by its log's error lines.
pub fn run_pod(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let image = pod_image::check(ctx, facts);
    let blocked = image.is_some();
    out.extend(image);
    if !blocked {
        if let Some(f) = pod_sched::unschedulable(ctx, facts) {
            out.push(f);
            return out;
        }
        out.extend(pod_mount::mount_failed(ctx, facts));
        out.extend(pod_config::config_error(ctx, facts));
    }
    let start = pod_start::start_failed(ctx, facts);
    let not_started = blocked || start.is_some();
    out.extend(start);
    if !not_started {
        out.extend(pod_crash::init_failing(ctx, facts));
    }
    let oom = pod_crash::oom_killed(ctx, facts);
    let crash = pod_crash::crashloop(ctx, facts);
    let crashed = oom.is_some() || crash.is_some();
    out.extend(oom);
    out.extend(crash);
    if !crashed && !not_started {
        out.extend(pod_restart::restart_storm(ctx, facts));
        out.extend(pod_probe::not_ready(ctx, facts));
    }
    if out.is_empty() {
        out.extend(pod_logerrors::log_errors(ctx, facts));
    }
    out.extend(pod_probe::probe_port_mismatch(ctx, facts));
    out
}

#[cfg(test)]
mod tests;
