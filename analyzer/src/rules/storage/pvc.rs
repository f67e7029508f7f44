//! `pvc-pending`: a claim the PersistentVolume controller cannot bind.
//!
//! The controller (`pv_controller.go`, `syncUnboundClaim` and
//! `provisionClaim`) records why on the claim:
//! - a `storageClassName` whose class does not exist: Warning
//!   `ProvisioningFailed` `storageclass.storage.k8s.io "<name>" not found`;
//! - no class and no matching volume: Normal `FailedBinding` `no persistent
//!   volumes available for this claim and no storage class is set` (with
//!   no StorageClass annotated `storageclass.kubernetes.io/is-default-class:
//!   "true"`, the admission plugin left the class empty);
//! - a `WaitForFirstConsumer` class: Normal `WaitForFirstConsumer` `waiting
//!   for first consumer to be created before binding` until the scheduler
//!   picks a node for a pod using it (annotation
//!   `volume.kubernetes.io/selected-node`): normal, not a finding; only a
//!   pod the scheduler cannot place *because of the volume* (`didn't find
//!   available persistent volumes to bind`) makes it one;
//! - an external provisioner at work: Normal `ExternalProvisioning`
//!   `Waiting for a volume to be created either by the external provisioner
//!   '<name>' or manually by the system administrator. …`, and the
//!   provisioner's own Warning `ProvisioningFailed` when it fails.

use chrono::{DateTime, TimeDelta, Utc};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kpm_model::Finding;
use kpm_semantics::duration::human_duration;
use kpm_semantics::ObjectExt;

use super::{claim_ref, describe_claim, node_of, MAX_EVENTS};
use crate::command::Kubectl;
use crate::context::{pod_ref, EventView, NamespaceCtx};
use crate::rules::pod_death::clip;
use crate::rules::registry::Rule;

/// The annotation marking the default StorageClass.
pub const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
/// The annotation the scheduler sets on a delayed-binding claim once it
/// picked a node for its pod.
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// A provisioner failing for this long is a finding (it retries with
/// back-off; a single early failure may heal).
const FAILING_FOR: TimeDelta = TimeDelta::minutes(1);
/// An external provisioner silent for this long is a finding.
const WAITING_FOR: TimeDelta = TimeDelta::minutes(5);
/// The scheduler's reasons that blame a delayed-binding claim
/// (`volumebinding`'s `ErrReasonBindConflict`, `ErrReasonNotEnoughSpace`).
const NO_VOLUME_REASONS: &[&str] = &[
    "didn't find available persistent volumes to bind",
    "did not have enough free storage",
];

/// Why a Pending claim does not bind.
#[derive(Debug)]
enum Why<'a> {
    /// `storageClassName` names no StorageClass.
    MissingClass {
        class: String,
        event: Option<EventView>,
    },
    /// No class (`None` or `""`), no default, no volume to bind.
    NoClass {
        explicit_empty: bool,
        event: Option<EventView>,
    },
    /// The provisioner reports failures.
    ProvisionFailed {
        class: String,
        provisioner: Option<String>,
        event: EventView,
    },
    /// The external provisioner has not answered for long.
    ProvisionSlow {
        class: String,
        provisioner: Option<String>,
        waited: TimeDelta,
        event: EventView,
    },
    /// A delayed-binding claim whose pod finds no node with a volume.
    NoVolumeForPod {
        class: String,
        pod: &'a Pod,
        message: String,
    },
}

/// `pvc-pending` for `claim`, used by `pods`.
pub fn pending(
    ctx: &NamespaceCtx<'_>,
    claim: &PersistentVolumeClaim,
    pods: &[&Pod],
) -> Option<Finding> {
    let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
    if phase != Some("Pending") || claim.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let events = ctx.events_for("PersistentVolumeClaim", claim.name_any());
    let why = diagnose(ctx, claim, pods, &events)?;
    Some(build(ctx, claim, pods, why))
}

/// The last event of `reason` whose message satisfies `pred`.
fn last_event(
    events: &[EventView],
    reason: &str,
    pred: impl Fn(&str) -> bool,
) -> Option<EventView> {
    events
        .iter()
        .rev()
        .find(|e| e.reason == reason && pred(&e.message))
        .cloned()
}

/// Whether a `ProvisioningFailed` message is the controller's "no such
/// class".
fn is_class_not_found(message: &str) -> bool {
    message.starts_with("storageclass.storage.k8s.io ") && message.ends_with(" not found")
}

fn diagnose<'a>(
    ctx: &NamespaceCtx<'_>,
    claim: &PersistentVolumeClaim,
    pods: &[&'a Pod],
    events: &[EventView],
) -> Option<Why<'a>> {
    let spec = claim.spec.as_ref()?;
    let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) else {
        return no_class(ctx, spec.storage_class_name.is_some(), events);
    };
    let classes_known = !ctx.cluster.unavailable.contains_key("storageclasses");
    let sc = ctx
        .cluster
        .platform
        .storage_classes
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(class));
    let not_found = last_event(events, "ProvisioningFailed", is_class_not_found);
    if sc.is_none() && (classes_known || not_found.is_some()) {
        return Some(Why::MissingClass {
            class: class.to_string(),
            event: not_found,
        });
    }
    let delayed = match sc {
        Some(sc) => sc.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"),
        None => last_event(events, "WaitForFirstConsumer", |_| true).is_some(),
    };
    let selected = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SELECTED_NODE))
        .is_some_and(|n| !n.is_empty());
    if delayed && !selected {
        return no_volume_for_pod(ctx, class, pods);
    }
    provisioning(ctx, claim, class, sc, events)
}

/// No class: a finding when no default class can fill it in and no
/// volume is there to bind (the controller's `FailedBinding` says so, or
/// the collected classes and volumes show it).
fn no_class<'a>(
    ctx: &NamespaceCtx<'_>,
    explicit_empty: bool,
    events: &[EventView],
) -> Option<Why<'a>> {
    let unavailable = &ctx.cluster.unavailable;
    let classes_known = !unavailable.contains_key("storageclasses");
    let has_default = ctx.cluster.platform.storage_classes.iter().any(is_default);
    // Since v1.28 a default class created later is written into claims
    // without one: only an explicit "" stays classless then.
    if !explicit_empty && (has_default || !classes_known) {
        let event = last_event(events, "FailedBinding", |m| {
            m.contains("no storage class is set")
        });
        return event.filter(|_| !has_default).map(|event| Why::NoClass {
            explicit_empty,
            event: Some(event),
        });
    }
    let event = last_event(events, "FailedBinding", |m| {
        m.contains("no storage class is set")
    });
    let volumes_known = !unavailable.contains_key("persistentvolumes");
    let none_available = volumes_known
        && !ctx.cluster.platform.persistent_volumes.iter().any(|pv| {
            let class = pv
                .spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref());
            let phase = pv.status.as_ref().and_then(|s| s.phase.as_deref());
            class.unwrap_or("").is_empty() && phase == Some("Available")
        });
    (event.is_some() || none_available).then_some(Why::NoClass {
        explicit_empty,
        event,
    })
}

/// Whether a StorageClass is annotated as the default.
pub fn is_default(sc: &StorageClass) -> bool {
    sc.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// The scheduler's latest word on a pending pod: its `PodScheduled=False`
/// message, else its last `FailedScheduling` event.
pub fn scheduler_message(ctx: &NamespaceCtx<'_>, pod: &Pod) -> Option<String> {
    let cond = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| {
            c.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
        .and_then(|c| c.message.clone())
        .filter(|m| !m.is_empty());
    cond.or_else(|| {
        ctx.pod_events_with_reason(pod.name_any(), "FailedScheduling")
            .pop()
            .map(|e| e.message)
    })
}

/// A delayed-binding claim: a finding only when a pod using it is pending
/// because no node has a volume for it. A pod pending for another reason
/// has its own finding, and a claim no pod uses yet is waiting as designed.
fn no_volume_for_pod<'a>(ctx: &NamespaceCtx<'_>, class: &str, pods: &[&'a Pod]) -> Option<Why<'a>> {
    pods.iter()
        .filter(|p| node_of(p).is_none())
        .find_map(|pod| {
            let message = scheduler_message(ctx, pod)?;
            NO_VOLUME_REASONS
                .iter()
                .any(|r| message.contains(r))
                .then(|| Why::NoVolumeForPod {
                    class: class.to_string(),
                    pod,
                    message,
                })
        })
}

/// Provisioning under way: its failures (for [`FAILING_FOR`]) or its
/// silence (for [`WAITING_FOR`]).
fn provisioning<'a>(
    ctx: &NamespaceCtx<'_>,
    claim: &PersistentVolumeClaim,
    class: &str,
    sc: Option<&StorageClass>,
    events: &[EventView],
) -> Option<Why<'a>> {
    let provisioner = sc.map(|s| s.provisioner.clone()).or_else(|| {
        claim
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("volume.kubernetes.io/storage-provisioner"))
            .cloned()
    });
    let since = |e: &EventView| -> TimeDelta {
        let start: Option<DateTime<Utc>> = e.first_seen.or(e.last_seen);
        start.map_or(TimeDelta::zero(), |t| ctx.now - t)
    };
    let failed = last_event(events, "ProvisioningFailed", |m| !is_class_not_found(m));
    if let Some(event) = failed.filter(|e| since(e) >= FAILING_FOR) {
        return Some(Why::ProvisionFailed {
            class: class.to_string(),
            provisioner,
            event,
        });
    }
    let waiting = last_event(events, "ExternalProvisioning", |_| true)?;
    let waited = since(&waiting);
    (waited >= WAITING_FOR).then(|| Why::ProvisionSlow {
        class: class.to_string(),
        provisioner,
        waited,
        event: waiting,
    })
}

/// The cause sentence and the decisive event of `why`.
fn explain(ctx: &NamespaceCtx<'_>, why: &Why<'_>) -> (String, Option<EventView>) {
    match why {
        Why::MissingClass { class, event } => {
            let known: Vec<String> = ctx
                .cluster
                .platform
                .storage_classes
                .iter()
                .map(|s| {
                    let name = s.name_any().to_string();
                    if is_default(s) {
                        format!("{name} (default)")
                    } else {
                        name
                    }
                })
                .collect();
            let have = if ctx.cluster.unavailable.contains_key("storageclasses") {
                String::new()
            } else if known.is_empty() {
                "; the cluster has no StorageClass".to_string()
            } else {
                format!("; the cluster has {}", known.join(", "))
            };
            (
                format!(
                    "storageClassName {class:?} names a StorageClass that does not exist{have}: nothing can provision a volume for the claim, and its class cannot be changed in place (create the class, or recreate the claim with an existing one)"
                ),
                event.clone(),
            )
        }
        Why::NoClass { explicit_empty, event } => {
            let what = if *explicit_empty {
                "storageClassName is \"\" (bind only to a pre-created volume without a class)"
            } else {
                "the claim names no StorageClass and no StorageClass is annotated storageclass.kubernetes.io/is-default-class: \"true\""
            };
            (
                format!("{what}, and no PersistentVolume is available to bind: nothing will ever bind it"),
                event.clone(),
            )
        }
        Why::ProvisionFailed { class, provisioner, event } => (
            format!(
                "the provisioner{} of StorageClass {class} fails to create the volume: {}",
                named(provisioner.as_deref()),
                clip(&event.message)
            ),
            Some(event.clone()),
        ),
        Why::ProvisionSlow { class, provisioner, waited, event } => (
            format!(
                "no volume was created for {} by the external provisioner{} of StorageClass {class}: the controller is still waiting (ExternalProvisioning); the provisioner may not be running or registered",
                human_duration(*waited),
                named(provisioner.as_deref())
            ),
            Some(event.clone()),
        ),
        Why::NoVolumeForPod { class, pod, message } => (
            format!(
                "StorageClass {class} binds on first consumer (WaitForFirstConsumer) and the scheduler finds no node with a volume for its pod {}: {}",
                pod.name_any(),
                clip(message)
            ),
            None,
        ),
    }
}

fn named(provisioner: Option<&str>) -> String {
    provisioner.map(|p| format!(" '{p}'")).unwrap_or_default()
}

fn build(
    ctx: &NamespaceCtx<'_>,
    claim: &PersistentVolumeClaim,
    pods: &[&Pod],
    why: Why<'_>,
) -> Finding {
    let name = claim.name_any();
    let object = claim_ref(ctx, name);
    let (mut cause, event) = explain(ctx, &why);
    let names: Vec<&str> = pods.iter().map(|p| p.name_any()).collect();
    if !names.is_empty() {
        cause.push_str(&format!("; pods waiting on it: {}", names.join(", ")));
    }
    let class = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .map_or_else(|| "<unset>".to_string(), |c| format!("{c:?}"));
    let mut b = ctx
        .finding(Rule::PvcPending, object.clone())
        .symptom("Pending")
        .cause(cause)
        .field(&object, "status.phase", "Pending")
        .field(&object, "spec.storageClassName", class);
    let events = ctx.events_for("PersistentVolumeClaim", name);
    let warnings: Vec<&EventView> = events
        .iter()
        .filter(|e| Some(*e) != event.as_ref())
        .filter(|e| e.event_type == "Warning")
        .collect();
    let skip = warnings.len().saturating_sub(MAX_EVENTS - 1);
    b = b.evidence_all(warnings.into_iter().skip(skip).map(EventView::to_evidence));
    if let Some(e) = &event {
        b = b.evidence(e.to_evidence());
    }
    if let Why::NoVolumeForPod { pod, message, .. } = &why {
        b = b.field(
            &pod_ref(pod),
            "status.conditions[PodScheduled].message",
            message.as_str(),
        );
    }
    for p in pods {
        b = b.related(pod_ref(p));
    }
    b.next_command("See the claim's events", describe_claim(ctx, name))
        .next_command(
            "List the StorageClasses and which is the default",
            Kubectl::new().args(["get", "storageclass"]).build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_not_found_is_the_controllers_wording() {
        assert!(is_class_not_found(
            "storageclass.storage.k8s.io \"fast-ssd\" not found"
        ));
        assert!(!is_class_not_found(
            "failed to provision volume with StorageClass \"gp3\": rpc error: code = Internal desc = not found"
        ));
    }
}
