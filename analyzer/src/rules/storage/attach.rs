//! `volume-multi-attach`: a ReadWriteOnce volume still attached to another
//! node, so the pod scheduled elsewhere cannot start.
//!
//! The attach/detach controller's reconciler
//! (`pkg/controller/volume/attachdetach/reconciler`, `reportMultiAttachError`)
//! refuses to attach a volume that is not multi-attachable while it is
//! attached to another node, and records on the waiting pod a Warning
//! `FailedAttachVolume`: `Multi-Attach error for volume "<pv>" Volume is
//! already used by pod(s) <names>` (pods of the same namespace), `… used by
//! N pod(s) in different namespaces`, or `… Volume is already exclusively
//! attached to one node and can't be attached to another` (no pod uses it
//! any more). The kubelet then gives up with `FailedMount` `Unable to
//! attach or mount volumes: … timed out waiting for the condition`: that
//! pod's `pod-mount-failed` is linked to this finding. The CSI attachment
//! is the VolumeAttachment whose `spec.source.persistentVolumeName` is the
//! volume: its `spec.nodeName` is where it is held.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::ObjectExt;

use super::{claim_of_volume, claim_ref, describe_claim, node_of};
use crate::command::Kubectl;
use crate::context::{pod_ref, EventView, NamespaceCtx};
use crate::rules::pod_death::clip;
use crate::rules::registry::Rule;

/// Who holds the volume, as the controller's message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holders {
    /// Pods of the waiting pod's namespace, by name.
    Pods(Vec<String>),
    /// Only a count of pods in other namespaces.
    OtherNamespaces,
    /// No pod uses it; it is still attached to one node.
    Exclusive,
}

/// A parsed `Multi-Attach error` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiAttach {
    /// The volume as the controller names it (the PersistentVolume name).
    pub volume: String,
    /// Who holds it.
    pub holders: Holders,
}

/// Parses `Multi-Attach error for volume "<pv>" Volume is already …`.
pub fn parse(message: &str) -> Option<MultiAttach> {
    let rest = message
        .trim()
        .strip_prefix("Multi-Attach error for volume \"")?;
    let (volume, tail) = rest.split_once('"')?;
    let tail = tail.trim();
    let holders = if let Some(list) = tail.strip_prefix("Volume is already used by pod(s) ") {
        // `… pod(s) a, b and 2 pod(s) in different namespaces`
        let list = list.split(" and ").next().unwrap_or(list);
        Holders::Pods(
            list.split(',')
                .map(|p| p.trim().trim_end_matches('.').to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        )
    } else if tail.contains("in different namespaces") {
        Holders::OtherNamespaces
    } else if tail.contains("exclusively attached") {
        Holders::Exclusive
    } else {
        return None;
    };
    Some(MultiAttach {
        volume: volume.to_string(),
        holders,
    })
}

/// A pod bound to a node whose containers have not started.
fn waiting_to_start(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending")
        && node_of(pod).is_some()
}

/// One blocked pod and the controller's event about it.
struct Blocked<'a> {
    pod: &'a Pod,
    event: EventView,
    parsed: MultiAttach,
}

/// Every `volume-multi-attach` finding of the namespace, one per volume.
pub fn multi_attach(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut by_volume: BTreeMap<String, Vec<Blocked<'_>>> = BTreeMap::new();
    for pod in ctx.ns.pods.iter().filter(|p| waiting_to_start(p)) {
        let events = ctx.pod_events_with_reason(pod.name_any(), "FailedAttachVolume");
        let found = events
            .into_iter()
            .rev()
            .find_map(|e| parse(&e.message).map(|m| (e, m)));
        if let Some((event, parsed)) = found {
            by_volume
                .entry(parsed.volume.clone())
                .or_default()
                .push(Blocked { pod, event, parsed });
        }
    }
    by_volume
        .into_iter()
        .map(|(volume, blocked)| finding(ctx, &volume, &blocked))
        .collect()
}

/// The VolumeAttachments of PersistentVolume `pv` on other nodes than
/// `node`.
fn attachments_elsewhere<'c>(
    ctx: &NamespaceCtx<'c>,
    pv: &str,
    node: Option<&str>,
) -> Vec<&'c VolumeAttachment> {
    ctx.cluster
        .platform
        .volume_attachments
        .iter()
        .filter(|va| va.spec.source.persistent_volume_name.as_deref() == Some(pv))
        .filter(|va| Some(va.spec.node_name.as_str()) != node)
        .collect()
}

/// `pod X (Running on node N)` for each holder the message names.
fn holders_text<'c>(ctx: &NamespaceCtx<'c>, holders: &Holders) -> (String, Vec<&'c str>) {
    match holders {
        Holders::Pods(names) => {
            let described: Vec<String> = names
                .iter()
                .map(|n| match ctx.pod(n) {
                    Some(p) => {
                        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
                        format!(
                            "pod {n} ({} on node {})",
                            phase.unwrap_or("unknown phase"),
                            node_of(p).unwrap_or("<none>")
                        )
                    }
                    None => format!("pod {n}"),
                })
                .collect();
            let nodes = names
                .iter()
                .filter_map(|n| ctx.pod(n).and_then(node_of))
                .collect();
            (
                format!("it is still used by {}", described.join(", ")),
                nodes,
            )
        }
        Holders::OtherNamespaces => (
            "it is still used by pods in other namespaces".to_string(),
            Vec::new(),
        ),
        Holders::Exclusive => (
            "no pod uses it any more but it is still attached to another node".to_string(),
            Vec::new(),
        ),
    }
}

/// `; both pods belong to Deployment/…: …` when a holder and a blocked pod
/// share their workload (a rolling update of a ReadWriteOnce volume).
fn same_workload(ctx: &NamespaceCtx<'_>, blocked: &Pod, holders: &Holders) -> String {
    let Holders::Pods(names) = holders else {
        return String::new();
    };
    let Some(owner) = ctx.owner_workload(blocked) else {
        return String::new();
    };
    let shared = names
        .iter()
        .filter_map(|n| ctx.pod(n))
        .any(|p| ctx.owner_workload(p).as_ref() == Some(&owner));
    if !shared {
        return String::new();
    }
    let rolling = owner.kind == "Deployment"
        && ctx
            .deployment(&owner.name)
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.strategy.as_ref())
            .and_then(|s| s.type_.as_deref())
            .is_none_or(|t| t == "RollingUpdate");
    let advice = if rolling {
        ": a RollingUpdate keeps the old pod until the new one is ready, which it cannot be while the old one holds the volume (use strategy Recreate, or a ReadWriteMany volume)"
    } else {
        ""
    };
    format!(
        "; the pods belong to the same {} {}{advice}",
        owner.kind, owner.name
    )
}

fn finding(ctx: &NamespaceCtx<'_>, pv: &str, blocked: &[Blocked<'_>]) -> Finding {
    let first = blocked.first();
    let node = first.and_then(|b| node_of(b.pod));
    let claim = claim_of_volume(ctx, pv).map(|c| c.name_any().to_string());
    let object = match &claim {
        Some(c) => claim_ref(ctx, c),
        None => ObjectRef::cluster("PersistentVolume", pv),
    };
    let holders = first.map_or(Holders::Exclusive, |b| b.parsed.holders.clone());
    let (held_by, holder_nodes) = holders_text(ctx, &holders);
    let attachments = attachments_elsewhere(ctx, pv, node);
    let waiting: Vec<String> = blocked
        .iter()
        .map(|b| {
            format!(
                "{} (scheduled on node {})",
                b.pod.name_any(),
                node_of(b.pod).unwrap_or("<none>")
            )
        })
        .collect();
    let attached_to: Vec<String> = attachments
        .iter()
        .map(|va| {
            format!(
                "VolumeAttachment {} holds it on node {}",
                va.name_any(),
                va.spec.node_name
            )
        })
        .collect();
    let attached = if attached_to.is_empty() {
        match holder_nodes.as_slice() {
            [] => String::new(),
            nodes => format!("; it is attached on node {}", nodes.join(", ")),
        }
    } else {
        format!("; {}", attached_to.join("; "))
    };
    let claim_text = claim
        .as_deref()
        .map(|c| format!(" (claim {c})"))
        .unwrap_or_default();
    let cause = format!(
        "volume {pv}{claim_text} cannot be attached to another node (Multi-Attach error): {held_by}{attached}; waiting: {}{}",
        waiting.join(", "),
        first.map(|b| same_workload(ctx, b.pod, &holders)).unwrap_or_default()
    );
    let mut b = ctx
        .finding(Rule::VolumeMultiAttach, object.clone())
        .symptom("Multi-Attach error")
        .cause(cause);
    for blk in blocked {
        b = b
            .evidence(blk.event.to_evidence())
            .related(pod_ref(blk.pod));
    }
    b = attachment_evidence(b, &attachments);
    if let Some(modes) = super::volume(ctx, pv)
        .and_then(|v| v.spec.as_ref())
        .and_then(|s| s.access_modes.as_ref())
    {
        let pv_ref = ObjectRef::cluster("PersistentVolume", pv);
        b = b.field(&pv_ref, "spec.accessModes", modes.join(", "));
        b = b.related(pv_ref);
    }
    b.next_command(
        "See which node holds the volume",
        Kubectl::new().args(["get", "volumeattachment"]).build(),
    )
    .next_command(
        "See the claim and the pods using it",
        claim.as_deref().and_then(|c| describe_claim(ctx, c)),
    )
    .build()
}

/// Each holding VolumeAttachment's node, state and attach error.
fn attachment_evidence(
    mut b: crate::context::FindingBuilder,
    attachments: &[&VolumeAttachment],
) -> crate::context::FindingBuilder {
    for va in attachments {
        let r = ObjectRef::cluster("VolumeAttachment", va.name_any());
        b = b.field(&r, "spec.nodeName", va.spec.node_name.as_str());
        if let Some(s) = &va.status {
            b = b.field(&r, "status.attached", s.attached.to_string());
            if let Some(m) = s.attach_error.as_ref().and_then(|e| e.message.as_deref()) {
                b = b.field(&r, "status.attachError.message", clip(m));
            }
        }
        b = b.related(r);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_reconciler_messages() {
        let used = parse("Multi-Attach error for volume \"pvc-3f1c\" Volume is already used by pod(s) uploads-7d9-abcde, uploads-7d9-fghij").unwrap();
        assert_eq!(used.volume, "pvc-3f1c");
        assert_eq!(
            used.holders,
            Holders::Pods(vec!["uploads-7d9-abcde".into(), "uploads-7d9-fghij".into()])
        );
        let other = parse("Multi-Attach error for volume \"v\" Volume is already used by 1 pod(s) in different namespaces").unwrap();
        assert_eq!(other.holders, Holders::OtherNamespaces);
        let exclusive = parse("Multi-Attach error for volume \"pvc-c048abf5-1189-11e8-846f-000d3af71b87\" Volume is already exclusively attached to one node and can't be attached to another").unwrap();
        assert_eq!(exclusive.holders, Holders::Exclusive);
        assert!(parse("AttachVolume.Attach failed for volume \"v\" : timed out").is_none());
    }
}
