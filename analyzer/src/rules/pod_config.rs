//! A pod that cannot start its containers for want of an object:
//! `pod-config-error` (`CreateContainerConfigError`: an env source or key is
//! missing); the parser of missing-object messages is shared with
//! `pod-mount-failed` ([`super::pod_mount`]).
//!
//! The kubelet's own words are parsed (`MountVolume.SetUp failed for volume
//! "config" : configmap "web-config" not found`, `couldn't find key
//! DB_PASSWORD in Secret shop/db`) and checked against what the bundle holds.

use kpm_model::Finding;

use super::pod::PodFacts;
use crate::command::Kubectl;
use crate::context::NamespaceCtx;
use crate::rules::registry::Rule;

/// A missing object named by a kubelet message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// `ConfigMap`, `Secret` or `PersistentVolumeClaim`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// The missing key, for key errors.
    pub key: Option<String>,
}

/// Parses `configmap "x" not found`, `secret "x" not found`,
/// `persistentvolumeclaim "x" not found` and `couldn't find key K in
/// ConfigMap|Secret ns/name`.
pub fn parse_missing(message: &str) -> Option<Missing> {
    for (needle, kind) in [
        ("configmap \"", "ConfigMap"),
        ("configmaps \"", "ConfigMap"),
        ("secret \"", "Secret"),
        ("secrets \"", "Secret"),
        ("persistentvolumeclaim \"", "PersistentVolumeClaim"),
        ("persistentvolumeclaims \"", "PersistentVolumeClaim"),
    ] {
        if let Some(rest) = message.split_once(needle).map(|(_, r)| r) {
            if let Some((name, tail)) = rest.split_once('"') {
                if tail.trim_start().starts_with("not found") {
                    return Some(Missing {
                        kind,
                        name: name.to_string(),
                        key: None,
                    });
                }
            }
        }
    }
    let rest = message.split_once("couldn't find key ")?.1;
    let (key, rest) = rest.split_once(" in ")?;
    let (kind_word, obj) = rest.split_once(' ')?;
    let kind = match kind_word {
        "ConfigMap" => "ConfigMap",
        "Secret" => "Secret",
        _ => return None,
    };
    let obj = obj.trim().trim_end_matches('.');
    let name = obj.rsplit_once('/').map_or(obj, |(_, n)| n);
    Some(Missing {
        kind,
        name: name.to_string(),
        key: Some(key.to_string()),
    })
}

/// Whether the bundle holds that object now (`None` when its kind was not
/// collected, so existence is unknown).
pub fn exists(ctx: &NamespaceCtx<'_>, m: &Missing) -> Option<bool> {
    let (plural, found) = match m.kind {
        "ConfigMap" => ("configmaps", ctx.config_map(&m.name).is_some()),
        "Secret" => ("secrets", ctx.secret(&m.name).is_some()),
        _ => ("persistentvolumeclaims", ctx.pvc(&m.name).is_some()),
    };
    if ctx.ns.unavailable(plural).is_some() {
        None
    } else {
        Some(found)
    }
}

/// The missing object (or key) as a clause of a cause.
pub fn describe_missing(ctx: &NamespaceCtx<'_>, m: &Missing) -> String {
    let ns = ctx.namespace();
    match (&m.key, exists(ctx, m)) {
        (Some(k), _) => format!("{} {} has no key {k}", m.kind, m.name),
        (None, Some(true)) => format!(
            "{} {} was missing when the kubelet tried (it exists at collection time, so the pod should recover on the next retry)",
            m.kind, m.name
        ),
        (None, _) => format!("{} {} does not exist in namespace {ns}", m.kind, m.name),
    }
}

/// `kubectl -n NS get configmap|secret|pvc NAME`, then `tail` words; `None`
/// when a value is not a valid name.
pub fn get_cmd(ctx: &NamespaceCtx<'_>, m: &Missing, tail: &[&str]) -> Option<String> {
    let kind = match m.kind {
        "ConfigMap" => "configmap",
        "Secret" => "secret",
        _ => "pvc",
    };
    Kubectl::new()
        .namespace(ctx.namespace())
        .args(["get", kind])
        .name(&m.name)
        .args(tail.iter().copied())
        .build()
}

/// `pod-config-error`: a container waiting in `CreateContainerConfigError`.
pub fn config_error(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    for (cs, init) in facts.all_statuses() {
        let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        if w.reason.as_deref() != Some("CreateContainerConfigError") {
            continue;
        }
        let message = w
            .message
            .clone()
            .or_else(|| {
                facts
                    .events_with(&["Failed"])
                    .last()
                    .map(|e| e.message.clone())
            })
            .unwrap_or_default();
        let missing = parse_missing(&message);
        let which = if init { "init container" } else { "container" };
        let cause = match &missing {
            Some(m) => format!(
                "{which} {} cannot be created: {}",
                cs.name,
                describe_missing(ctx, m)
            ),
            None => format!("{which} {} cannot be created: {message}", cs.name),
        };
        let mut b = facts
            .finding(ctx, Rule::PodConfigError, cause)
            .field(
                &facts.object,
                format!(
                    "{}.state.waiting.message",
                    facts.status_path(&cs.name, init)
                ),
                message.clone(),
            )
            .evidence_all(facts.event_evidence(&["Failed"]))
            .next_command("See the error for each container", facts.describe_cmd());
        if let Some(m) = &missing {
            b = b.related(ctx.object(m.kind, &m.name)).next_command(
                format!("Check the {} and its keys", m.kind),
                get_cmd(ctx, m, &["-o", "yaml"]),
            );
        }
        return Some(b.build());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubelet_messages() {
        assert_eq!(
            parse_missing("MountVolume.SetUp failed for volume \"config\" : configmap \"web-config\" not found"),
            Some(Missing {
                kind: "ConfigMap",
                name: "web-config".into(),
                key: None
            })
        );
        assert_eq!(
            parse_missing(
                "MountVolume.SetUp failed for volume \"tls\" : secret \"api-tls\" not found"
            )
            .map(|m| m.kind),
            Some("Secret")
        );
        assert_eq!(
            parse_missing("couldn't find key DB_PASSWORD in Secret shop/db"),
            Some(Missing {
                kind: "Secret",
                name: "db".into(),
                key: Some("DB_PASSWORD".into())
            })
        );
        assert_eq!(
            parse_missing("secret \"db\" not found").map(|m| m.name),
            Some("db".to_string())
        );
        assert_eq!(
            parse_missing("Unable to attach or mount volumes: timed out waiting for the condition"),
            None
        );
    }
}
