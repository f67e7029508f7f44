//! The merged timeline: events, container terminations and starts,
//! ConfigMap/Secret updates and the collection itself, oldest first.
//!
//! A cluster of 150,000 pods has far more history than a reader can use, so
//! per namespace only Warning events, events about objects with findings, and
//! container and config changes of objects with findings are kept, and the
//! whole timeline is capped at its [`MAX_ENTRIES`] most recent entries.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kpm_model::{Finding, ObjectRef, TimelineEntry};

use kpm_semantics::time::to_chrono;

use crate::context::{pod_ref, NamespaceCtx};
use crate::engine::index::EventView;

/// Upper bound of timeline entries in a report.
pub const MAX_ENTRIES: usize = 2000;

/// Timeline entries of one namespace.
pub fn namespace_entries(ctx: &NamespaceCtx<'_>, findings: &[Finding]) -> Vec<TimelineEntry> {
    let involved: HashSet<String> = findings
        .iter()
        .flat_map(|f| std::iter::once(&f.object).chain(f.related.iter()))
        .map(ToString::to_string)
        .collect();
    let mut out = Vec::new();
    for ev in &ctx.ns.events {
        let v = EventView::from_event(ev, ctx.namespace());
        if v.event_type != "Warning" && !involved.contains(&v.object.to_string()) {
            continue;
        }
        let Some(time) = v.last_seen else { continue };
        let deleted = is_gone(ctx, ev);
        out.push(TimelineEntry {
            time,
            source: "event".to_string(),
            object: Some(v.object),
            event_type: v.event_type,
            reason: v.reason,
            message: v.message,
            count: v.count,
            object_deleted: deleted,
        });
    }
    for pod in &ctx.ns.pods {
        let pref = pod_ref(pod);
        if !involved.contains(&pref.to_string()) {
            continue;
        }
        container_entries(pod, &pref, &mut out);
    }
    let config = ctx
        .ns
        .config_maps
        .iter()
        .map(|c| ("ConfigMap", &c.metadata))
        .chain(ctx.ns.secrets.iter().map(|s| ("Secret", &s.metadata)));
    for (kind, meta) in config {
        let oref = ctx.object(kind, meta.name.as_deref().unwrap_or_default());
        if !involved.contains(&oref.to_string()) {
            continue;
        }
        if let Some(time) = last_update(meta) {
            out.push(TimelineEntry {
                time,
                source: "config_update".to_string(),
                message: format!("{kind} {} last written", oref.name),
                object: Some(oref),
                event_type: String::new(),
                reason: "Updated".to_string(),
                count: 1,
                object_deleted: false,
            });
        }
    }
    out
}

/// Whether an event is about a namespaced object that is not in the bundle
/// any more, or about an earlier object of the same name (another uid).
/// Judged only for kinds the bundle lists completely in this namespace.
fn is_gone(ctx: &NamespaceCtx<'_>, ev: &k8s_openapi::api::core::v1::Event) -> bool {
    let o = &ev.involved_object;
    let (Some(kind), Some(name)) = (o.kind.as_deref(), o.name.as_deref()) else {
        return false;
    };
    if o.namespace
        .as_deref()
        .is_some_and(|ns| ns != ctx.namespace())
    {
        return false;
    }
    let (plural, meta): (&str, Option<&ObjectMeta>) = match kind {
        "Pod" => ("pods", ctx.pod(name).map(|p| &p.metadata)),
        "ReplicaSet" => ("replicasets", ctx.replicaset(name).map(|p| &p.metadata)),
        "Deployment" => ("deployments", ctx.deployment(name).map(|p| &p.metadata)),
        "StatefulSet" => ("statefulsets", ctx.statefulset(name).map(|p| &p.metadata)),
        "DaemonSet" => ("daemonsets", ctx.daemonset(name).map(|p| &p.metadata)),
        "Job" => ("jobs", ctx.job(name).map(|p| &p.metadata)),
        "Service" => ("services", ctx.service(name).map(|p| &p.metadata)),
        _ => return false,
    };
    if ctx.ns.unavailable(plural).is_some() {
        return false;
    }
    match meta {
        None => true,
        Some(m) => !crate::engine::index::about_current(ev, m.uid.as_deref()),
    }
}

/// Terminations (last state) and starts (current running) of every
/// container of a pod.
fn container_entries(
    pod: &k8s_openapi::api::core::v1::Pod,
    pref: &ObjectRef,
    out: &mut Vec<TimelineEntry>,
) {
    let Some(status) = pod.status.as_ref() else {
        return;
    };
    let statuses = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for cs in statuses {
        let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
        let current = cs.state.as_ref().and_then(|s| s.terminated.as_ref());
        for t in last.into_iter().chain(current) {
            if let Some(time) = t.finished_at.as_ref().and_then(to_chrono) {
                out.push(TimelineEntry {
                    time,
                    source: "termination".to_string(),
                    object: Some(pref.clone()),
                    event_type: String::new(),
                    reason: t.reason.clone().unwrap_or_else(|| "Terminated".to_string()),
                    message: format!("container {} exited with code {}", cs.name, t.exit_code),
                    count: 1,
                    object_deleted: false,
                });
            }
        }
        let started = cs
            .state
            .as_ref()
            .and_then(|s| s.running.as_ref())
            .and_then(|r| r.started_at.as_ref())
            .and_then(to_chrono);
        if let Some(time) = started {
            out.push(TimelineEntry {
                time,
                source: "start".to_string(),
                object: Some(pref.clone()),
                event_type: String::new(),
                reason: "Started".to_string(),
                message: format!(
                    "container {} started (restart count {})",
                    cs.name, cs.restart_count
                ),
                count: 1,
                object_deleted: false,
            });
        }
    }
}

/// The latest write time of an object, from `managedFields` (every apply or
/// update records one), else its creation.
pub fn last_update(meta: &ObjectMeta) -> Option<DateTime<Utc>> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.time.as_ref().and_then(to_chrono))
        .max()
        .or_else(|| meta.creation_timestamp.as_ref().and_then(to_chrono))
}

/// Sorts oldest first, keeps the most recent [`MAX_ENTRIES`] and appends
/// the collection entry.
pub fn finish(
    mut entries: Vec<TimelineEntry>,
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
) -> Vec<TimelineEntry> {
    entries.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.reason.cmp(&b.reason)));
    if entries.len() > MAX_ENTRIES {
        entries.drain(..entries.len() - MAX_ENTRIES);
    }
    entries.push(TimelineEntry {
        time: finished,
        source: "collection".to_string(),
        object: None,
        event_type: String::new(),
        reason: "Collected".to_string(),
        message: format!("bundle collected from {started} to {finished}"),
        count: 1,
        object_deleted: false,
    });
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::FindingBuilder;
    use crate::testkit::{now, obj, EventFixture, Fixture, PodFixture};

    use serde_json::json;

    #[test]
    fn keeps_warnings_and_changes_of_objects_with_findings() {
        let mut fx = Fixture::new("shop");
        let mut p = PodFixture::new("shop", "web-7c9d8f6b5-a")
            .labels(json!({"app": "web"}))
            .build();
        p["status"]["containerStatuses"][0]["restartCount"] = json!(1);
        p["status"]["containerStatuses"][0]["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
            "startedAt": "2026-11-20T13:00:04Z", "finishedAt": "2026-11-20T14:10:00Z"}});
        fx.ns.pods = vec![obj(p)];
        fx.ns.events = vec![
            obj(EventFixture::about("shop", "Pod", "web-7c9d8f6b5-a").normal().says("Pulled", "Container image \"registry.example.com/shop/web:1.4.2\" already present on machine").build()),
            obj(EventFixture::about("shop", "Pod", "other-1").normal().says("Scheduled", "Successfully assigned shop/other-1 to worker-2").build()),
            obj(EventFixture::about("shop", "Pod", "other-1").says("BackOff", "Back-off restarting failed container app in pod other-1_shop(u)").count(3).build()),
        ];
        fx.ns.config_maps = vec![obj(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "web-config", "namespace": "shop", "creationTimestamp": "2026-11-18T09:00:00Z",
                "managedFields": [
                    {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1", "time": "2026-11-18T09:00:00Z"},
                    {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1", "time": "2026-11-20T14:01:58Z"}]},
            "data": {"LOG_LEVEL": "debug"}}))];
        let ctx = fx.ctx();
        let findings = vec![FindingBuilder::new(
            crate::rules::registry::Rule::PodOomKilled,
            ctx.object("Pod", "web-7c9d8f6b5-a"),
        )
        .related(ctx.object("ConfigMap", "web-config"))
        .build()];
        let entries = finish(namespace_entries(&ctx, &findings), now(), now());
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.source.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("start", "Started"),
                ("config_update", "Updated"),
                ("termination", "OOMKilled"),
                ("event", "BackOff"),
                ("event", "Pulled"),
                ("collection", "Collected"),
            ]
        );
        let update = entries
            .iter()
            .find(|e| e.source == "config_update")
            .unwrap();
        assert_eq!(update.time.to_rfc3339(), "2026-11-20T14:01:58+00:00");
    }

    /// Events about a deleted pod stay in the timeline, marked; events
    /// about a live pod and about kinds the bundle did not collect are not.
    #[test]
    fn events_about_deleted_objects_are_marked_as_history() {
        let mut fx = Fixture::new("shop");
        fx.ns.pods = vec![obj(PodFixture::new("shop", "web-1")
            .labels(json!({"app": "web"}))
            .build())];
        fx.ns.events = vec![
            obj(EventFixture::about("shop", "Pod", "web-1")
                .says("Unhealthy", "Readiness probe failed")
                .count(2)
                .build()),
            obj(EventFixture::about("shop", "Pod", "web-0")
                .says("BackOff", "Back-off restarting failed container")
                .count(5)
                .build()),
            obj(EventFixture::about("shop", "CronJob", "nightly")
                .says("FailedCreate", "quota exceeded")
                .build()),
        ];
        let ctx = fx.ctx();
        let entries = namespace_entries(&ctx, &[]);
        let deleted = |name: &str| {
            entries
                .iter()
                .find(|e| e.object.as_ref().is_some_and(|o| o.name == name))
                .map(|e| e.object_deleted)
        };
        assert_eq!(deleted("web-1"), Some(false));
        assert_eq!(deleted("web-0"), Some(true));
        assert_eq!(deleted("nightly"), Some(false));
    }
}
