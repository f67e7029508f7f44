//! The rollout layer: what the Deployment controller
//! (`pkg/controller/deployment`) says about a rollout, read from the
//! Deployment, its ReplicaSets (revision = the
//! `deployment.kubernetes.io/revision` annotation) and their pods.
//!
//! - `rollout-failing`: the newest ReplicaSet's pods fail while an older
//!   ReplicaSet still has ready pods: the bad revision and the good one are
//!   named, with what changed between their pod templates
//!   ([`diff::template_changes`]) and `kubectl rollout undo`.
//! - `rollout-blocked`: `maxUnavailable` resolves to 0, so the controller
//!   may not scale the old ReplicaSet down before a new pod is available,
//!   and the new (surge) pods cannot be scheduled for lack of room, which
//!   only scaling the old pods down would free.
//! - `rollout-deadline-exceeded`: `Progressing=False` /
//!   `ProgressDeadlineExceeded` (`ReplicaSet "x" has timed out
//!   progressing.`, `syncRolloutStatus` in `sync.go`) when neither of the
//!   two above explains the Deployment better.
//! - `rollout-paused`: `spec.paused` (or the `DeploymentPaused` condition);
//!   a warning when the template already differs from the newest
//!   ReplicaSet's (a change waits), else info.
//!
//! Links: the newest ReplicaSet's pods that are not ready are the
//! findings' related objects, and each rollout rule suffers the
//! registry's `PodNotServing` link, so a `pod-crashloop` or
//! `pod-image-not-found` on a new pod becomes the cause and the stuck
//! rollout its consequence, as `job-failed` is a consequence of its pods
//! and `service-no-ready-endpoints` of the Service's pods. That is the
//! order the failure happened in (the pod cannot run, so the controller
//! cannot progress) and keeps the root at the layer where the fix is read
//! (the crash log, the pull error); the rollout finding carries what the
//! pod cannot: which revision broke it and how to undo it.

mod diff;
mod strategy;

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kpm_model::{Finding, ObjectRef, Severity};
use kpm_semantics::ObjectExt;

use crate::command::Kubectl;
use crate::context::{pod_ref, FindingBuilder, NamespaceCtx};
use crate::rules::registry::Rule;

use diff::template_changes;
use strategy::fenceposts;

/// The annotation the Deployment controller numbers ReplicaSets with.
const REVISION: &str = "deployment.kubernetes.io/revision";
/// Failing pods named in a cause sentence.
const NAMED_PODS: usize = 3;

/// Every rollout finding of the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let owned = Owned {
        replicasets: by_controller(&ctx.ns.replicasets, |r| &r.metadata, "Deployment"),
        pods: by_controller(&ctx.ns.pods, |p| &p.metadata, "ReplicaSet"),
    };
    for d in &ctx.ns.deployments {
        let r = Rollout::of(ctx, d, &owned);
        let stuck = blocked(ctx, &r)
            .or_else(|| failing(ctx, &r))
            .or_else(|| deadline_exceeded(ctx, &r));
        out.extend(stuck);
        out.extend(paused(ctx, &r));
    }
    out
}

/// The namespace's ReplicaSets and pods by the name of their controller,
/// built once so each Deployment finds its own without scanning every pod.
struct Owned<'a> {
    replicasets: HashMap<&'a str, Vec<&'a ReplicaSet>>,
    pods: HashMap<&'a str, Vec<&'a Pod>>,
}

/// `items` by the name of their controlling owner of `kind`.
fn by_controller<'a, T>(
    items: &'a [T],
    meta: impl Fn(&'a T) -> &'a ObjectMeta,
    kind: &str,
) -> HashMap<&'a str, Vec<&'a T>> {
    let mut out: HashMap<&str, Vec<&T>> = HashMap::new();
    for item in items {
        let owner = meta(item)
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == kind && o.controller == Some(true));
        if let Some(o) = owner {
            out.entry(o.name.as_str()).or_default().push(item);
        }
    }
    out
}

/// One ReplicaSet of a Deployment with its revision and pods.
struct Revision<'a> {
    rs: &'a ReplicaSet,
    number: i64,
    pods: Vec<&'a Pod>,
}

impl Revision<'_> {
    fn name(&self) -> &str {
        self.rs.name_any()
    }

    fn ready(&self) -> i32 {
        self.rs
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
    }

    fn available(&self) -> i32 {
        self.rs
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0)
    }

    fn desired(&self) -> i32 {
        self.rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
    }

    fn hash(&self) -> &str {
        self.rs
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("pod-template-hash"))
            .map_or("", String::as_str)
    }

    /// `ReplicaSet checkout-7d9c (revision 8, pod-template-hash 7d9c)`.
    fn describe(&self) -> String {
        format!(
            "ReplicaSet {} (revision {}, pod-template-hash {})",
            self.name(),
            self.number,
            self.hash()
        )
    }

    /// Its pods that are not ready.
    fn not_ready(&self) -> Vec<&Pod> {
        self.pods.iter().copied().filter(|p| !is_ready(p)).collect()
    }
}

/// A Deployment and its ReplicaSets, newest revision first.
struct Rollout<'a> {
    deploy: &'a Deployment,
    object: ObjectRef,
    revisions: Vec<Revision<'a>>,
}

impl<'a> Rollout<'a> {
    fn of(ctx: &NamespaceCtx<'_>, d: &'a Deployment, owned: &Owned<'a>) -> Rollout<'a> {
        let mut revisions: Vec<Revision<'a>> = owned
            .replicasets
            .get(d.name_any())
            .into_iter()
            .flatten()
            .copied()
            .filter(|rs| controlled_by(&rs.metadata, "Deployment", d.name_any(), uid(&d.metadata)))
            .map(|rs| Revision {
                rs,
                number: rs
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(REVISION))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                pods: owned
                    .pods
                    .get(rs.name_any())
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|p| {
                        controlled_by(&p.metadata, "ReplicaSet", rs.name_any(), uid(&rs.metadata))
                    })
                    .collect(),
            })
            .collect();
        revisions.sort_by_key(|r| std::cmp::Reverse(r.number));
        Rollout {
            deploy: d,
            object: ObjectRef::namespaced("Deployment", ctx.namespace(), d.name_any()),
            revisions,
        }
    }

    fn name(&self) -> &str {
        self.deploy.name_any()
    }

    fn newest(&self) -> Option<&Revision<'a>> {
        self.revisions.first()
    }

    /// The newest older ReplicaSet that still has ready pods.
    fn serving_old(&self) -> Option<&Revision<'a>> {
        self.revisions.iter().skip(1).find(|r| r.ready() > 0)
    }

    fn progressing(&self) -> Option<&'a DeploymentCondition> {
        self.deploy
            .status
            .as_ref()?
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Progressing")
    }

    /// The `Progressing=False` / `ProgressDeadlineExceeded` condition.
    fn timed_out(&self) -> Option<&'a DeploymentCondition> {
        self.progressing().filter(|c| {
            c.status == "False" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
    }

    /// Starts a finding with the newest ReplicaSet's unready pods related
    /// (their own findings link as its cause).
    fn finding(&self, ctx: &NamespaceCtx<'_>, rule: Rule) -> FindingBuilder {
        let mut b = ctx.finding(rule, self.object.clone());
        for p in self.newest().map(Revision::not_ready).unwrap_or_default() {
            b = b.related(pod_ref(p));
        }
        if let Some(c) = self.timed_out() {
            b = b
                .field(
                    &self.object,
                    "status.conditions[Progressing].reason",
                    "ProgressDeadlineExceeded",
                )
                .field(
                    &self.object,
                    "status.conditions[Progressing].message",
                    c.message.clone().unwrap_or_default(),
                );
        }
        b
    }

    fn kubectl(&self, ctx: &NamespaceCtx<'_>, verb: &[&str]) -> Option<String> {
        Kubectl::new()
            .namespace(ctx.namespace())
            .args(verb.iter().copied())
            .kind_name("deployment", self.name())
            .build()
    }
}

fn uid(m: &ObjectMeta) -> Option<&str> {
    m.uid.as_deref()
}

/// Whether the owner references name `kind/name` as controller (by uid
/// when both sides have one).
fn controlled_by(m: &ObjectMeta, kind: &str, name: &str, uid: Option<&str>) -> bool {
    m.owner_references.iter().flatten().any(|o| {
        o.kind == kind
            && o.controller == Some(true)
            && match uid {
                Some(u) if !o.uid.is_empty() => o.uid == u,
                _ => o.name == name,
            }
    })
}

fn is_ready(p: &Pod) -> bool {
    kpm_semantics::pod::ready_in(
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .map(|c| (c.type_.as_str(), c.status.as_str())),
    )
}

/// Waiting reasons of a container that is starting, not failing.
const STARTING: &[&str] = &["ContainerCreating", "PodInitializing"];

/// What is wrong with a pod that is not ready, or `None` when it is only
/// starting (creating its containers, or running its first instance
/// before its readiness probe passed).
fn failure(p: &Pod) -> Option<String> {
    let status = p.status.as_ref()?;
    if status.phase.as_deref() == Some("Failed") {
        return Some(format!(
            "Failed ({})",
            status.reason.as_deref().unwrap_or("no reason")
        ));
    }
    if let Some(c) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        return Some(format!(
            "Pending ({})",
            c.reason.as_deref().unwrap_or("not scheduled")
        ));
    }
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for cs in containers {
        let waiting = crate::rules::pod_death::waiting_reason(cs);
        if let Some(w) = waiting.filter(|w| !STARTING.contains(w)) {
            return Some(format!("{} {w} ({} restarts)", cs.name, cs.restart_count));
        }
        if cs.restart_count > 0 && !cs.ready {
            return Some(format!(
                "{} not ready after {} restarts",
                cs.name, cs.restart_count
            ));
        }
    }
    None
}

/// `pod-a: checkout CrashLoopBackOff (7 restarts); pod-b: …`.
fn failures_text(pods: &[(&Pod, String)]) -> String {
    let named: Vec<String> = pods
        .iter()
        .take(NAMED_PODS)
        .map(|(p, why)| format!("{}: {why}", p.name_any()))
        .collect();
    match pods.len().saturating_sub(NAMED_PODS) {
        0 => named.join("; "),
        more => format!("{} and {more} more", named.join("; ")),
    }
}

/// `rollout-failing`: the newest revision's pods fail while an older one
/// still serves.
fn failing(ctx: &NamespaceCtx<'_>, r: &Rollout<'_>) -> Option<Finding> {
    let new = r.newest()?;
    let old = r.serving_old()?;
    let unready = new.not_ready();
    let failed: Vec<(&Pod, String)> = unready
        .iter()
        .filter_map(|p| Some((*p, failure(p)?)))
        .collect();
    if unready.is_empty() || (failed.is_empty() && r.timed_out().is_none()) {
        return None;
    }
    let changes = changes_between(old, new);
    let deadline = r
        .timed_out()
        .map(|c| {
            format!(
                "; the controller gave up waiting: Progressing=False ProgressDeadlineExceeded ({})",
                c.message.as_deref().unwrap_or("")
            )
        })
        .unwrap_or_default();
    let pods = if failed.is_empty() {
        format!("{} of its pods are not ready", unready.len())
    } else {
        failures_text(&failed)
    };
    let cause = format!(
        "the newest {} has {} of {} pods ready ({pods}) while the older {} still serves {}; \
         from revision {} to {} the pod template changed: {changes}{deadline}",
        new.describe(),
        new.pods.len() - unready.len(),
        new.desired().max(new.pods.len() as i32),
        old.describe(),
        match old.ready() {
            1 => "1 ready pod".to_string(),
            n => format!("{n} ready pods"),
        },
        old.number,
        new.number,
    );
    let b = r
        .finding(ctx, Rule::RolloutFailing)
        .symptom(format!(
            "rollout to revision {} failing; revision {} still serves",
            new.number, old.number
        ))
        .cause(cause)
        .related(ObjectRef::namespaced(
            "ReplicaSet",
            ctx.namespace(),
            new.name(),
        ))
        .related(ObjectRef::namespaced(
            "ReplicaSet",
            ctx.namespace(),
            old.name(),
        ));
    Some(undo_steps(ctx, r, b, old.number).build())
}

/// The template changes from `old` to `new`, joined, or a note that none
/// of the compared fields changed.
fn changes_between(old: &Revision<'_>, new: &Revision<'_>) -> String {
    let spec = |r: &Revision<'_>| {
        r.rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.clone())
            .unwrap_or_default()
    };
    let changes = template_changes(&spec(old), &spec(new));
    if changes.is_empty() {
        "only outside the fields compared here: images, command, args, env and config references \
         are the same (a `kubectl rollout restart` changes only an annotation; see kubectl rollout \
         history)"
            .to_string()
    } else {
        changes.join("; ")
    }
}

/// `kubectl rollout history`, the new revision's template, and `undo`.
fn undo_steps(
    ctx: &NamespaceCtx<'_>,
    r: &Rollout<'_>,
    b: FindingBuilder,
    to: i64,
) -> FindingBuilder {
    let to_revision = format!("--to-revision={to}");
    b.next_command(
        "List the Deployment's revisions",
        r.kubectl(ctx, &["rollout", "history"]),
    )
    .next_command(
        "Roll back to the revision that still serves",
        r.kubectl(ctx, &["rollout", "undo"])
            .map(|c| format!("{c} {to_revision}")),
    )
}

/// `rollout-blocked`: maxUnavailable 0 and surge pods that do not fit.
fn blocked(ctx: &NamespaceCtx<'_>, r: &Rollout<'_>) -> Option<Finding> {
    let f = fenceposts(r.deploy)?;
    if f.max_unavailable != 0 {
        return None;
    }
    let new = r.newest()?;
    let desired = strategy::replicas(r.deploy);
    let old_available: i32 = r.revisions.iter().skip(1).map(Revision::available).sum();
    // rolling.go: old pods are scaled down only while
    // available - newUnavailable > replicas - maxUnavailable.
    if old_available == 0 || old_available + new.available() > desired {
        return None;
    }
    let pending: Vec<(&Pod, String)> = new
        .pods
        .iter()
        .filter_map(|p| Some((*p, no_room(p)?)))
        .collect();
    let (first, message) = pending.first()?;
    let cause = format!(
        "strategy.rollingUpdate.maxUnavailable resolves to 0 for {desired} replicas (maxSurge {}): the controller \
         scales the old ReplicaSets down only as new pods become available, and {} of the newest {} cannot be \
         scheduled ({}: {message}); the {old_available} available old pods hold the room the new ones need",
        f.max_surge,
        pending.len(),
        new.describe(),
        first.name_any(),
    );
    let b = r
        .finding(ctx, Rule::RolloutBlocked)
        .symptom(format!(
            "rollout to revision {} blocked by maxUnavailable 0",
            new.number
        ))
        .cause(cause)
        .related(ObjectRef::namespaced(
            "ReplicaSet",
            ctx.namespace(),
            new.name(),
        ))
        .next_command(
            "See the rollout's strategy and ReplicaSets",
            r.kubectl(ctx, &["describe"]),
        );
    Some(b.build())
}

/// The scheduler's message when a pod is unschedulable for lack of
/// resources on the nodes (room that scaling old pods down frees).
fn no_room(p: &Pod) -> Option<String> {
    let c = p
        .status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
    let m = c.message.as_deref()?;
    (m.contains("Insufficient ") || m.contains("Too many pods")).then(|| m.to_string())
}

/// `rollout-deadline-exceeded`, graded `info` when the rollout itself is
/// over (every replica is of the newest ReplicaSet and no older one has
/// pods): the pods' own findings are then the problem.
fn deadline_exceeded(ctx: &NamespaceCtx<'_>, r: &Rollout<'_>) -> Option<Finding> {
    let c = r.timed_out()?;
    let new = r.newest()?;
    let status = r.deploy.status.as_ref();
    let updated = status.and_then(|s| s.updated_replicas).unwrap_or(0);
    let desired = strategy::replicas(r.deploy);
    let old_pods: usize = r.revisions.iter().skip(1).map(|o| o.pods.len()).sum();
    let over = updated >= desired && old_pods == 0;
    let failed: Vec<(&Pod, String)> = new
        .not_ready()
        .into_iter()
        .filter_map(|p| Some((p, failure(p)?)))
        .collect();
    let pods = if failed.is_empty() {
        String::new()
    } else {
        format!("; failing pods: {}", failures_text(&failed))
    };
    let deadline = r
        .deploy
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(600);
    let changed = r
        .revisions
        .get(1)
        .map(|old| {
            format!(
                "; from revision {} to {} the pod template changed: {}",
                old.number,
                new.number,
                changes_between(old, new)
            )
        })
        .unwrap_or_default();
    let cause = format!(
        "the newest {} made no progress for progressDeadlineSeconds ({deadline} s): {} ({updated} of {desired} \
         replicas updated, {} ready){pods}{changed}",
        new.describe(),
        c.message.as_deref().unwrap_or("ProgressDeadlineExceeded"),
        new.ready(),
    );
    let mut b = r
        .finding(ctx, Rule::RolloutDeadlineExceeded)
        .symptom("ProgressDeadlineExceeded")
        .cause(cause)
        .related(ObjectRef::namespaced(
            "ReplicaSet",
            ctx.namespace(),
            new.name(),
        ))
        .next_command(
            "See the rollout's state",
            r.kubectl(ctx, &["rollout", "status"]),
        );
    if over {
        b = b.severity(Severity::Info);
    }
    if let Some(old) = r.revisions.get(1) {
        b = undo_steps(ctx, r, b, old.number);
    }
    Some(b.build())
}

/// `rollout-paused`.
fn paused(ctx: &NamespaceCtx<'_>, r: &Rollout<'_>) -> Option<Finding> {
    let spec_paused = r.deploy.spec.as_ref().and_then(|s| s.paused) == Some(true);
    let condition = r
        .progressing()
        .filter(|c| c.reason.as_deref() == Some("DeploymentPaused"));
    if !spec_paused && condition.is_none() {
        return None;
    }
    let newest = r.newest();
    let waiting = newest.map(|n| {
        let spec = |t: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>| {
            t.and_then(|t| t.spec.clone()).unwrap_or_default()
        };
        template_changes(
            &spec(n.rs.spec.as_ref().and_then(|s| s.template.as_ref())),
            &spec(r.deploy.spec.as_ref().map(|s| &s.template)),
        )
    });
    let pending = waiting.as_ref().filter(|w| !w.is_empty());
    let cause = match (pending, newest) {
        (Some(w), Some(n)) => format!(
            "spec.paused is true: the controller does not roll out template changes, and the template already \
             differs from the newest {}: {}",
            n.describe(),
            w.join("; ")
        ),
        _ => "spec.paused is true: the controller rolls out no template change until it is resumed; the template \
              matches the newest ReplicaSet"
            .to_string(),
    };
    let b = ctx
        .finding(Rule::RolloutPaused, r.object.clone())
        .symptom("rollout paused")
        .cause(cause)
        .field(&r.object, "spec.paused", spec_paused.to_string())
        .severity(if pending.is_some() {
            Severity::Warning
        } else {
            Severity::Info
        })
        .next_command(
            "Resume the rollout when the pause is over",
            r.kubectl(ctx, &["rollout", "resume"]),
        );
    Some(b.build())
}

#[cfg(test)]
mod tests;
