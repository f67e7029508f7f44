//! Config layer: were ConfigMaps or Secrets changed after the pods that use
//! them started, with no rollout since?
//!
//! - `config-stale-configmap` / `config-stale-secret`: the object's last
//!   write (latest `time` of an `Update`/`Apply` in `managedFields`, the only
//!   modification time the API keeps) is after the start of every pod of a
//!   workload that consumes it. Environment variables are resolved when a
//!   container starts and never refresh; mounted files refresh (except
//!   `subPath` mounts) but the application must re-read them — the cause
//!   says which applies. It also says whether the workload's pod template
//!   carries a `checksum/...` annotation (the Helm idiom that rolls pods on
//!   config change), which tells a change made outside the chart.
//!
//! Consumers are found through one pass over the namespace's pod specs
//! (env `valueFrom`, `envFrom`, `configMap`/`secret` volumes, projected
//! sources), indexed by object name, so the rule is linear in pods.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::{ObjectExt, PodExt};

use kpm_semantics::time::to_chrono;

use crate::command::Kubectl;
use crate::context::{pod_ref, FindingBuilder, NamespaceCtx};
use crate::rules::registry::Rule;
use crate::rules::service::backends::name_list;

/// ConfigMap or Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigKind {
    /// A ConfigMap.
    ConfigMap,
    /// A Secret.
    Secret,
}

impl ConfigKind {
    fn kind(self) -> &'static str {
        match self {
            ConfigKind::ConfigMap => "ConfigMap",
            ConfigKind::Secret => "Secret",
        }
    }

    fn rule(self) -> Rule {
        match self {
            ConfigKind::ConfigMap => Rule::ConfigStaleConfigmap,
            ConfigKind::Secret => Rule::ConfigStaleSecret,
        }
    }
}

/// How a pod consumes a ConfigMap or Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Usage {
    /// `env[].valueFrom` or `envFrom`: fixed at container start.
    Env,
    /// A volume mounted with `subPath`: never refreshed.
    SubPathVolume,
    /// A volume (or projected source): files refresh, the app must re-read.
    Volume,
}

/// Objects the control plane injects into every pod (the API server CA
/// bundle of the `kube-api-access-*` projected volume): not application
/// configuration, and refreshed in place by design.
const INJECTED: &[&str] = &["kube-root-ca.crt", "openshift-service-ca.crt"];

/// One object a pod consumes: its kind, name, and how.
pub type Consumed = (ConfigKind, String, Usage);

/// A consuming pod, how it consumes, and when its oldest running container
/// started.
type Consumer<'a> = (&'a Pod, Usage, Option<DateTime<Utc>>);

/// Every (kind, name) a pod spec consumes, with how.
pub fn consumed(spec: &PodSpec) -> Vec<Consumed> {
    consumed_refs(spec)
        .into_iter()
        .map(|(kind, name, usage)| (kind, name.to_string(), usage))
        .collect()
}

/// [`consumed`], the names borrowed from the spec.
pub fn consumed_refs(spec: &PodSpec) -> Vec<(ConfigKind, &str, Usage)> {
    let mut out = Vec::new();
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    let mut sub_path_volumes: Vec<&str> = Vec::new();
    for c in containers {
        for e in c.env.iter().flatten() {
            let Some(from) = e.value_from.as_ref() else {
                continue;
            };
            if let Some(r) = &from.config_map_key_ref {
                out.push((ConfigKind::ConfigMap, r.name.as_str(), Usage::Env));
            }
            if let Some(r) = &from.secret_key_ref {
                out.push((ConfigKind::Secret, r.name.as_str(), Usage::Env));
            }
        }
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.config_map_ref {
                out.push((ConfigKind::ConfigMap, r.name.as_str(), Usage::Env));
            }
            if let Some(r) = &e.secret_ref {
                out.push((ConfigKind::Secret, r.name.as_str(), Usage::Env));
            }
        }
        for m in c.volume_mounts.iter().flatten() {
            if m.sub_path.as_deref().is_some_and(|s| !s.is_empty()) {
                sub_path_volumes.push(m.name.as_str());
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        let usage = if sub_path_volumes.contains(&v.name.as_str()) {
            Usage::SubPathVolume
        } else {
            Usage::Volume
        };
        if let Some(cm) = &v.config_map {
            out.push((ConfigKind::ConfigMap, cm.name.as_str(), usage));
        }
        if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) {
            out.push((ConfigKind::Secret, name, usage));
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &src.config_map {
                out.push((ConfigKind::ConfigMap, cm.name.as_str(), usage));
            }
            if let Some(s) = &src.secret {
                out.push((ConfigKind::Secret, s.name.as_str(), usage));
            }
        }
    }
    out
}

/// The last write to an object: the latest `managedFields[].time` of an
/// `Update` or `Apply` on the main resource (status writes excluded), with
/// the manager that made it.
pub fn last_write(meta: &ObjectMeta) -> Option<(DateTime<Utc>, String)> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|m| matches!(m.operation.as_deref(), Some("Update" | "Apply")))
        .filter(|m| m.subresource.as_deref().is_none_or(str::is_empty))
        .filter_map(|m| {
            let t = m.time.as_ref().and_then(to_chrono)?;
            Some((
                t,
                m.manager
                    .clone()
                    .unwrap_or_else(|| "unknown manager".into()),
            ))
        })
        .max_by_key(|(t, _)| *t)
}

/// When the oldest running container instance of a pod started: env and
/// subPath content were resolved then. Falls back to `status.startTime`.
pub fn pod_started(pod: &Pod) -> Option<DateTime<Utc>> {
    let status = pod.status.as_ref()?;
    let running = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
        .filter_map(to_chrono)
        .min();
    running.or_else(|| status.start_time.as_ref().and_then(to_chrono))
}

/// Runs the config rules over one namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    // (kind, name) → [(pod, usage)]
    let mut consumers: HashMap<(ConfigKind, &str), Vec<(&Pod, Usage)>> = HashMap::new();
    let mut specs: Vec<(&Pod, Vec<Consumed>)> = Vec::new();
    for pod in &ctx.ns.pods {
        let phase = pod.phase();
        if phase != Some("Running") || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let Some(spec) = pod.spec.as_ref() {
            specs.push((pod, consumed(spec)));
        }
    }
    for (pod, uses) in &specs {
        for (kind, name, usage) in uses {
            if INJECTED.contains(&name.as_str()) {
                continue;
            }
            consumers
                .entry((*kind, name.as_str()))
                .or_default()
                .push((pod, *usage));
        }
    }
    let mut out = Vec::new();
    for cm in &ctx.ns.config_maps {
        let name = cm.name_any();
        if let Some(users) = consumers.get(&(ConfigKind::ConfigMap, name)) {
            out.extend(check(ctx, ConfigKind::ConfigMap, &cm.metadata, users));
        }
    }
    for s in &ctx.ns.secrets {
        // Legacy token Secrets are rewritten by the token controller.
        if s.type_.as_deref() == Some("kubernetes.io/service-account-token") {
            continue;
        }
        let name = s.name_any();
        if let Some(users) = consumers.get(&(ConfigKind::Secret, name)) {
            out.extend(check(ctx, ConfigKind::Secret, &s.metadata, users));
        }
    }
    out
}

/// The checksum annotations (`checksum/config`...) of a workload's pod template.
fn template_checksums(ctx: &NamespaceCtx<'_>, workload: &ObjectRef) -> Option<Vec<String>> {
    let template = match workload.kind.as_str() {
        "Deployment" => ctx
            .deployment(&workload.name)
            .and_then(|d| d.spec.as_ref())
            .map(|s| &s.template),
        "StatefulSet" => ctx
            .statefulset(&workload.name)
            .and_then(|d| d.spec.as_ref())
            .map(|s| &s.template),
        "DaemonSet" => ctx
            .daemonset(&workload.name)
            .and_then(|d| d.spec.as_ref())
            .map(|s| &s.template),
        _ => None,
    }?;
    let keys = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .map(|a| {
            a.keys()
                .filter(|k| k.starts_with("checksum/"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Some(keys)
}

/// Workloads whose consuming pods all started before the write, with those
/// pods, in workload order.
type Stale<'g, 'p> = Vec<(&'g ObjectRef, &'g Vec<Consumer<'p>>)>;

fn check(
    ctx: &NamespaceCtx<'_>,
    kind: ConfigKind,
    meta: &ObjectMeta,
    users: &[(&Pod, Usage)],
) -> Option<Finding> {
    let (updated, manager) = last_write(meta)?;
    let name = meta.name.as_deref().unwrap_or_default();
    // Group consumers by owning workload (bare pods stand alone).
    let mut groups: BTreeMap<ObjectRef, Vec<Consumer<'_>>> = BTreeMap::new();
    for (pod, usage) in users {
        let owner = ctx.owner_workload(pod).unwrap_or_else(|| pod_ref(pod));
        groups
            .entry(owner)
            .or_default()
            .push((pod, *usage, pod_started(pod)));
    }
    // A workload is stale when every one of its consuming pods started before
    // the write: no pod has been (re)started since, so no rollout happened.
    let stale: Stale<'_, '_> = groups
        .iter()
        .filter(|(_, pods)| pods.iter().all(|(_, _, s)| s.is_some_and(|s| s < updated)))
        .collect();
    let obj_ref = ctx.object(kind.kind(), name);
    let cause = stale_cause(ctx, kind, name, (updated, &manager), &stale)?;
    let pod_names: Vec<String> = stale
        .iter()
        .flat_map(|(_, p)| p.iter().filter_map(|(p, _, _)| p.metadata.name.clone()))
        .collect();
    let verb = match kind {
        ConfigKind::ConfigMap => "changed",
        ConfigKind::Secret => "rotated",
    };
    let mut f = ctx
        .finding(kind.rule(), obj_ref.clone())
        .symptom(format!(
            "{} {name} {verb} after its consumers started",
            kind.kind()
        ))
        .cause(cause)
        .field(
            &obj_ref,
            "metadata.managedFields[].time (latest write)",
            format!("{} by {manager}", updated.to_rfc3339()),
        )
        .note(format!(
            "pods started before the change: {}",
            name_list(&pod_names, 5)
        ));
    for (w, pods) in &stale {
        f = f.related((*w).clone());
        for (p, _, s) in pods.iter().take(3) {
            if let Some(s) = s {
                f = f.field(&pod_ref(p), "status.startTime", s.to_rfc3339());
            }
        }
    }
    Some(restart_commands(f, ctx.namespace(), kind, name, &stale).build())
}

/// Why the stale workloads still use the old values, or `None` when no
/// workload is stale.
fn stale_cause(
    ctx: &NamespaceCtx<'_>,
    kind: ConfigKind,
    name: &str,
    (updated, manager): (DateTime<Utc>, &str),
    stale: &Stale<'_, '_>,
) -> Option<String> {
    let (workload, pods) = stale.first()?;
    let newest_start = pods.iter().filter_map(|(_, _, s)| *s).max();
    let usage = pods
        .iter()
        .map(|(_, u, _)| *u)
        .min()
        .unwrap_or(Usage::Volume);
    let how = match usage {
        Usage::Env => {
            "they read it through environment variables, which are fixed when a container starts"
        }
        Usage::SubPathVolume => "they mount it with subPath, which the kubelet never refreshes",
        Usage::Volume => {
            "they mount it as files, which the kubelet refreshes but the application must re-read"
        }
    };
    let workloads: Vec<String> = stale
        .iter()
        .map(|(w, _)| format!("{} {}", w.kind, w.name))
        .collect();
    let after = newest_start
        .map(|s| {
            format!(
                ", {} after the newest of their pods started ({})",
                human_gap(updated - s),
                s.to_rfc3339()
            )
        })
        .unwrap_or_default();
    let mut cause = format!(
        "{} {name} was changed at {} by {manager}{after}, and {} {} not been restarted since: {how}, so they still use the old values.",
        kind.kind(),
        updated.to_rfc3339(),
        name_list(&workloads, 3),
        if workloads.len() == 1 { "has" } else { "have" }
    );
    if let Some(n) = checksum_note(ctx, workload, kind) {
        cause.push(' ');
        cause.push_str(&n);
        cause.push('.');
    }
    Some(cause)
}

/// What the workload's pod template's checksum annotations say about how the
/// change was made, when the workload is a kind with a template.
fn checksum_note(ctx: &NamespaceCtx<'_>, workload: &ObjectRef, kind: ConfigKind) -> Option<String> {
    template_checksums(ctx, workload).map(|keys| {
        if keys.is_empty() {
            format!(
                "The {} {} pod template carries no checksum/ annotation, so changing the {} does not roll its pods",
                workload.kind,
                workload.name,
                kind.kind()
            )
        } else {
            format!(
                "The {} {} pod template carries {} — a chart upgrade would roll the pods, so the {} was changed outside the chart",
                workload.kind,
                workload.name,
                keys.join(", "),
                kind.kind()
            )
        }
    })
}

/// One restart (or recreate) step per stale workload, then the write history.
fn restart_commands(
    mut f: FindingBuilder,
    ns: &str,
    kind: ConfigKind,
    name: &str,
    stale: &Stale<'_, '_>,
) -> FindingBuilder {
    for (w, _) in stale {
        if matches!(w.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet") {
            f = f.next_command(
                format!(
                    "Restart {} {} to pick up the new {}",
                    w.kind,
                    w.name,
                    kind.kind()
                ),
                Kubectl::new()
                    .namespace(ns)
                    .args(["rollout", "restart"])
                    .kind_name(&w.kind, &w.name)
                    .build(),
            );
        } else if w.kind == "Pod" {
            f = f.next_command(
                format!("Recreate pod {} to pick up the new {}", w.name, kind.kind()),
                Kubectl::new()
                    .namespace(ns)
                    .args(["delete", "pod"])
                    .name(&w.name)
                    .build(),
            );
        }
    }
    f.next_command(
        format!("See the {}'s write history", kind.kind()),
        Kubectl::new()
            .namespace(ns)
            .args(["get", kind.kind().to_lowercase().as_str()])
            .name(name)
            .args(["--show-managed-fields", "-o", "yaml"])
            .build(),
    )
}

/// `1h5m` — gaps as kubectl prints ages.
fn human_gap(d: chrono::TimeDelta) -> String {
    kpm_semantics::duration::human_duration(d)
}

#[cfg(test)]
mod tests;
