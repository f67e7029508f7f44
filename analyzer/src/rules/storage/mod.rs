//! The storage layer: what a pod waits on below its own spec.
//!
//! - `pvc-pending` ([`pvc`]): a claim the PersistentVolume controller
//!   (`pkg/controller/volume/persistentvolume/pv_controller.go`) cannot
//!   bind: a missing StorageClass, no class and no default, a provisioner
//!   that fails or never answers, a `WaitForFirstConsumer` claim whose pod
//!   finds no node with a volume.
//! - `volume-multi-attach` ([`attach`]): the attach/detach controller's
//!   reconciler refuses to attach a ReadWriteOnce volume to a second node.
//! - `volume-node-affinity-conflict` ([`affinity`]): the scheduler's
//!   VolumeBinding plugin finds no node the bound PersistentVolume's
//!   `nodeAffinity` allows.
//!
//! Each finding names the pods waiting on the volume among its related
//! objects: their `pod-unschedulable` / `pod-mount-failed` findings are
//! linked to it (`VolumeBlocked`), so a pod waiting on its claim is one
//! incident with the storage finding as its root.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::ObjectExt;

use crate::command::Kubectl;
use crate::context::NamespaceCtx;

pub mod affinity;
pub mod attach;
pub mod pvc;

/// At most this many events are quoted per finding.
const MAX_EVENTS: usize = 3;

/// Every storage-layer finding of the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let consumers = Consumers::of(ctx);
    let mut out: Vec<Finding> = ctx
        .ns
        .pvcs
        .iter()
        .filter_map(|claim| pvc::pending(ctx, claim, consumers.of_claim(claim.name_any())))
        .collect();
    out.extend(attach::multi_attach(ctx));
    out.extend(affinity::conflicts(ctx));
    out
}

/// The pods of the namespace that use each claim (by claim name): pods
/// not finished (`Succeeded`/`Failed` release their claims), through a
/// `persistentVolumeClaim` volume or a generic ephemeral volume (claim
/// `<pod>-<volume>`).
pub struct Consumers<'a> {
    by_claim: BTreeMap<String, Vec<&'a Pod>>,
}

impl<'a> Consumers<'a> {
    /// Indexes the pods of `ctx`.
    pub fn of(ctx: &NamespaceCtx<'a>) -> Consumers<'a> {
        let mut by_claim: BTreeMap<String, Vec<&'a Pod>> = BTreeMap::new();
        for pod in &ctx.ns.pods {
            if is_finished(pod) {
                continue;
            }
            for claim in claims_of(pod) {
                by_claim.entry(claim).or_default().push(pod);
            }
        }
        Consumers { by_claim }
    }

    /// The pods using claim `name`.
    pub fn of_claim(&self, name: &str) -> &[&'a Pod] {
        self.by_claim.get(name).map_or(&[], Vec::as_slice)
    }
}

/// Whether the pod ended (`Succeeded` or `Failed`).
fn is_finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The claim names a pod's volumes use.
pub fn claims_of(pod: &Pod) -> Vec<String> {
    let pod_name = pod.name_any();
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some(c.claim_name.clone())
            } else {
                v.ephemeral
                    .as_ref()
                    .map(|_| format!("{pod_name}-{}", v.name))
            }
        })
        .collect()
}

/// The node a pod is bound to, if any.
pub fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref()
}

/// `PersistentVolumeClaim/<ns>/<name>`.
pub fn claim_ref(ctx: &NamespaceCtx<'_>, name: &str) -> ObjectRef {
    ObjectRef::namespaced("PersistentVolumeClaim", ctx.namespace(), name)
}

/// The PersistentVolume of that name, cluster-wide.
pub fn volume<'c>(ctx: &NamespaceCtx<'c>, name: &str) -> Option<&'c PersistentVolume> {
    ctx.cluster
        .platform
        .persistent_volumes
        .iter()
        .find(|pv| pv.metadata.name.as_deref() == Some(name))
}

/// The claim bound to PersistentVolume `pv` in this namespace: by
/// `spec.volumeName`, else by the volume's `claimRef`.
pub fn claim_of_volume<'c>(ctx: &NamespaceCtx<'c>, pv: &str) -> Option<&'c PersistentVolumeClaim> {
    let by_name = ctx
        .ns
        .pvcs
        .iter()
        .find(|c| c.spec.as_ref().and_then(|s| s.volume_name.as_deref()) == Some(pv));
    by_name.or_else(|| {
        let claim = volume(ctx, pv)?.spec.as_ref()?.claim_ref.as_ref()?;
        if claim.namespace.as_deref() != Some(ctx.namespace()) {
            return None;
        }
        ctx.pvc(claim.name.as_deref()?)
    })
}

/// `kubectl describe pvc -n <ns> <name>`.
pub fn describe_claim(ctx: &NamespaceCtx<'_>, name: &str) -> Option<String> {
    Kubectl::new()
        .namespace(ctx.namespace())
        .args(["describe", "pvc"])
        .name(name)
        .build()
}

#[cfg(test)]
mod tests;
