//! `pod-mount-failed`: a pod that cannot start because a volume cannot be
//! attached or mounted, for every volume type.
//!
//! The kubelet's operation executor words each failure as `<Operation>
//! failed for volume "<name>" : <plugin error>` (`MountVolume.SetUp`,
//! `MountVolume.MountDevice`, `MountVolume.WaitForAttach`,
//! `MapVolume.SetUpDevice`; the attach/detach controller's
//! `AttachVolume.Attach` and `Multi-Attach error for volume "<pv>" Volume is
//! already used by pod(s) …`), recorded as `FailedMount` or
//! `FailedAttachVolume` events. After its two-minute wait it adds the
//! generic `Unable to attach or mount volumes: unmounted volumes=[…],
//! unattached volumes=[…]: timed out waiting for the condition`, which names
//! the volumes but not why: the specific message is quoted whenever one was
//! recorded. The volume is named with its source from the pod spec
//! (`hostPath /var/lib/collectd, type Directory`, `PVC data`, `NFS
//! 10.0.0.5:/exports`, `CSI driver ebs.csi.aws.com`).

use k8s_openapi::api::core::v1::Volume;
use kpm_model::Finding;

use super::pod::PodFacts;
use super::pod_config::{describe_missing, get_cmd, parse_missing};
use super::pod_death::clip;
use crate::context::{EventView, NamespaceCtx};
use crate::rules::registry::Rule;

/// Event reasons of volume failures.
const REASONS: &[&str] = &["FailedMount", "FailedAttachVolume", "FailedMapVolume"];

/// One parsed volume failure message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountMessage {
    /// `MountVolume.SetUp failed`, `AttachVolume.Attach failed`,
    /// `Multi-Attach error`, or `Unable to attach or mount volumes` for the
    /// generic timeout.
    pub operation: String,
    /// The volumes named: one for an operation, the unmounted ones for the
    /// generic message.
    pub volumes: Vec<String>,
    /// The plugin's or controller's words after the volume name.
    pub detail: String,
}

impl MountMessage {
    /// Whether this is the kubelet's generic "timed out" summary rather than
    /// an operation's own error.
    pub fn is_generic(&self) -> bool {
        self.operation.starts_with("Unable to")
    }
}

/// Parses a `FailedMount` / `FailedAttachVolume` message.
pub fn parse_mount(message: &str) -> Option<MountMessage> {
    let m = message.trim();
    if let Some((op, rest)) = m.split_once(" for volume \"") {
        let (volume, detail) = rest.split_once('"')?;
        let detail = detail.trim_start().trim_start_matches(':').trim();
        // `Multi-Attach error`, or `<Plugin.Operation …> failed`.
        let operation = op
            .strip_suffix(" failed")
            .and_then(|o| o.split(' ').next())
            .is_some_and(|w| w.contains('.'));
        if !(operation || op == "Multi-Attach error") {
            return None;
        }
        return Some(MountMessage {
            operation: op.to_string(),
            volumes: vec![volume.to_string()],
            detail: detail.to_string(),
        });
    }
    // `Unable to attach or mount volumes: unmounted volumes=[a b], …: err`
    // (1.17+) or `Unable to mount volumes for pod "…": timeout expired …
    // list of unmounted volumes=[a]. list of unattached volumes=[…]` (older).
    if !m.starts_with("Unable to attach or mount volumes")
        && !m.starts_with("Unable to mount volumes")
    {
        return None;
    }
    let list = m.split_once("unmounted volumes=[")?.1.split_once(']')?.0;
    let detail = m
        .rsplit_once("]: ")
        .map(|(_, d)| d)
        .or_else(|| m.split_once(": ").map(|(_, d)| d))
        .unwrap_or_default();
    Some(MountMessage {
        operation: "Unable to attach or mount volumes".to_string(),
        volumes: list.split_whitespace().map(str::to_string).collect(),
        detail: detail.trim().to_string(),
    })
}

/// The pod's volume named `name`, or the one whose PVC is bound to the
/// PersistentVolume `name` (operations on PV-backed volumes name the PV).
fn find_volume<'p>(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'p>, name: &str) -> Option<&'p Volume> {
    let volumes = facts.pod.spec.as_ref()?.volumes.as_deref()?;
    volumes.iter().find(|v| v.name == name).or_else(|| {
        volumes.iter().find(|v| {
            v.persistent_volume_claim.as_ref().is_some_and(|c| {
                ctx.pvc(&c.claim_name)
                    .and_then(|p| p.spec.as_ref())
                    .and_then(|s| s.volume_name.as_deref())
                    == Some(name)
            })
        })
    })
}

/// The volume's source as a reader names it.
pub fn describe_source(v: &Volume) -> String {
    if let Some(h) = &v.host_path {
        return match h.type_.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => format!("hostPath {}, type {t}", h.path),
            None => format!("hostPath {}", h.path),
        };
    }
    if let Some(c) = &v.config_map {
        return format!("ConfigMap {}", c.name);
    }
    if let Some(s) = &v.secret {
        return format!("Secret {}", s.secret_name.as_deref().unwrap_or("?"));
    }
    if let Some(c) = &v.persistent_volume_claim {
        return format!("PVC {}", c.claim_name);
    }
    if let Some(n) = &v.nfs {
        return format!("NFS {}:{}", n.server, n.path);
    }
    if let Some(c) = &v.csi {
        return format!("CSI driver {}", c.driver);
    }
    if let Some(p) = &v.projected {
        let parts: Vec<String> = p
            .sources
            .iter()
            .flatten()
            .map(|s| {
                if let Some(c) = &s.config_map {
                    format!("ConfigMap {}", c.name)
                } else if let Some(c) = &s.secret {
                    format!("Secret {}", c.name)
                } else if s.service_account_token.is_some() {
                    "service account token".to_string()
                } else if s.downward_api.is_some() {
                    "downward API".to_string()
                } else {
                    "other".to_string()
                }
            })
            .collect();
        return format!("projected: {}", parts.join(", "));
    }
    if v.empty_dir.is_some() {
        return "emptyDir".to_string();
    }
    "volume".to_string()
}

/// The message to quote: the most recent operation-specific failure, else
/// the most recent generic timeout.
fn decisive(events: &[&EventView]) -> Option<(MountMessage, usize)> {
    let parsed: Vec<(MountMessage, usize)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| parse_mount(&e.message).map(|m| (m, i)))
        .collect();
    parsed
        .iter()
        .rev()
        .find(|(m, _)| !m.is_generic())
        .or_else(|| parsed.last())
        .cloned()
}

/// `pod-mount-failed`: the pod has not started and the kubelet or the
/// attach/detach controller reports a volume failure.
pub fn mount_failed(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    let status = facts.row.status.as_str();
    if !(status == "ContainerCreating" || status == "Pending" || status.starts_with("Init:")) {
        return None;
    }
    let events = facts.events_with(REASONS);
    let (msg, _) = decisive(&events)?;
    let volume = msg.volumes.first().cloned().unwrap_or_default();
    let spec_volume = find_volume(ctx, facts, &volume);
    let source = spec_volume
        .map(|v| format!(" ({})", describe_source(v)))
        .unwrap_or_default();
    let verb = if msg.operation.contains("Attach") {
        "attached"
    } else {
        "mounted"
    };
    let missing = parse_missing(&msg.detail);
    let why = match (&missing, msg.is_generic()) {
        (Some(m), _) => describe_missing(ctx, m),
        (None, true) => format!(
            "the kubelet gave up waiting ({}) and no more specific error is in the bundle's events",
            clip(&msg.detail)
        ),
        (None, false) if msg.operation.starts_with("Multi-Attach") => {
            format!("Multi-Attach error: {}", clip(&msg.detail))
        }
        (None, false) => clip(&msg.detail),
    };
    let subject = if msg.volumes.len() > 1 {
        format!("volumes {}", msg.volumes.join(", "))
    } else {
        format!("volume \"{volume}\"{source}")
    };
    let cause = format!("{subject} cannot be {verb}: {why}");
    let mut b = facts
        .finding(ctx, Rule::PodMountFailed, cause)
        .evidence_all(facts.event_evidence(REASONS))
        .next_command("See the volume errors", facts.describe_cmd());
    if let Some(v) = spec_volume {
        b = b.field(
            &facts.object,
            format!("spec.volumes[{}]", v.name),
            describe_source(v),
        );
    }
    if let Some(m) = &missing {
        b = b
            .related(ctx.object(m.kind, &m.name))
            .next_command(format!("Check the {} exists", m.kind), get_cmd(ctx, m, &[]));
    }
    Some(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operation_messages_of_every_shape() {
        let host = parse_mount("MountVolume.SetUp failed for volume \"host\" : hostPath type check failed: /var/lib/collectd is not a directory").unwrap();
        assert_eq!(host.operation, "MountVolume.SetUp failed");
        assert_eq!(host.volumes, vec!["host"]);
        assert_eq!(
            host.detail,
            "hostPath type check failed: /var/lib/collectd is not a directory"
        );
        assert!(!host.is_generic());
        // Newer kubelets drop the space before the colon.
        let newer = parse_mount("MountVolume.SetUp failed for volume \"device-0\": hostPath type check failed: /dev/ttyUSB0 is not a character device, it's a ").unwrap();
        assert_eq!(newer.volumes, vec!["device-0"]);
        assert!(newer.detail.starts_with("hostPath type check failed"));
        let multi = parse_mount("Multi-Attach error for volume \"pvc-ec14e20f-64f4-42ea-b29a-57f1bc3fa788\" Volume is already used by pod(s) webapp-7f94d9db-2bs4j").unwrap();
        assert_eq!(multi.operation, "Multi-Attach error");
        assert_eq!(
            multi.detail,
            "Volume is already used by pod(s) webapp-7f94d9db-2bs4j"
        );
        let csi = parse_mount("MountVolume.MountDevice failed for volume \"pvc-0a1b\" : kubernetes.io/csi: attacher.MountDevice failed to create newCsiDriverClient: driver name ebs.csi.aws.com not found in the list of registered CSI drivers").unwrap();
        assert_eq!(csi.operation, "MountVolume.MountDevice failed");
        let attach = parse_mount("AttachVolume.Attach failed for volume \"pvc-0a1b\" : rpc error: code = Internal desc = Could not attach volume \"vol-0abc\" to node \"i-0def\": attachment of disk \"vol-0abc\" failed, expected device to be attached but was attaching").unwrap();
        assert!(attach.detail.starts_with("rpc error"));
    }

    #[test]
    fn parses_the_generic_timeouts() {
        let g = parse_mount("Unable to attach or mount volumes: unmounted volumes=[host], unattached volumes=[host kube-api-access-xddvj]: timed out waiting for the condition").unwrap();
        assert!(g.is_generic());
        assert_eq!(g.volumes, vec!["host"]);
        assert_eq!(g.detail, "timed out waiting for the condition");
        let old = parse_mount("Unable to mount volumes for pod \"postgres-db-754f6dc5c7-7khnc_lab(c38af83c)\": timeout expired waiting for volumes to attach or mount for pod \"lab\"/\"postgres-db-754f6dc5c7-7khnc\". list of unmounted volumes=[postgresql]. list of unattached volumes=[postgresql default-token-5bblj]").unwrap();
        assert_eq!(old.volumes, vec!["postgresql"]);
        assert!(parse_mount("Successfully assigned shop/web-0 to worker-1").is_none());
        assert!(parse_mount("Liveness probe failed for volume checks").is_none());
    }
}
