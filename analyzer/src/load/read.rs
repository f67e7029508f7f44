//! Reading one kind's list file, or an optional JSON file, into values:
//! a missing file is an [`Unavailable`] mark (with the manifest's reason),
//! a damaged one is [`Damage`], one bad object costs that object only.

use std::collections::BTreeMap;

use kpm_bundle::layout::{ResourceKind, CLUSTER_KINDS, NAMESPACED_KINDS};
use kpm_bundle::{Bundle, BundleError, LenientList};
use kpm_model::Damage;
use serde::de::DeserializeOwned;

use crate::context::Unavailable;

/// Why `what` (a manifest step name) in `namespace` is unavailable, from the
/// manifest, or `None` when its step ended `ok` or was not recorded.
pub(super) fn step_failure(
    bundle: &Bundle,
    what: &str,
    namespace: Option<&str>,
) -> Option<Unavailable> {
    let step = bundle.failed_step(what, namespace, None)?;
    Some(Unavailable::Failed {
        outcome: step.outcome,
        http_status: step.http_status,
        message: step.message.clone(),
    })
}

/// Reads one list file, recording why it is unavailable when it is.
pub(super) fn read_items<T: DeserializeOwned>(
    bundle: &Bundle,
    kind: &ResourceKind,
    namespace: Option<&str>,
    unavailable: &mut BTreeMap<String, Unavailable>,
    damage: &mut Vec<Damage>,
) -> Vec<T> {
    let failure = step_failure(bundle, kind.plural, namespace);
    let file = kind.path(namespace).unwrap_or_default();
    let result = match bundle.read_kind_lean::<T>(kind, namespace) {
        Ok(Some(list)) => Ok(Some(list.items)),
        Ok(None) => Ok(None),
        // One object of the wrong shape fails the fast read: read object
        // by object so it costs that object only.
        Err(BundleError::MalformedJson { .. }) => bundle
            .read_kind_lenient::<T>(kind, namespace)
            .map(|list| list.map(|l| keep_good(l, &file, damage))),
        Err(e) => Err(e),
    };
    match result {
        Ok(Some(items)) => {
            // A failed step that still left a file (e.g. a timeout during
            // pagination) gives partial data: use it, but say so.
            if let Some(f) = failure {
                unavailable.insert(kind.plural.to_string(), f);
            }
            items
        }
        Ok(None) => {
            unavailable.insert(
                kind.plural.to_string(),
                failure.unwrap_or(Unavailable::NotCollected),
            );
            Vec::new()
        }
        Err(e) => {
            damage.push(Damage {
                file,
                problem: e.to_string(),
            });
            unavailable.insert(
                kind.plural.to_string(),
                Unavailable::Damaged {
                    problem: e.to_string(),
                },
            );
            Vec::new()
        }
    }
}

/// The good objects of a list read object by object; each bad one is
/// damage naming the file, its position and its name.
fn keep_good<T>(list: LenientList<T>, file: &str, damage: &mut Vec<Damage>) -> Vec<T> {
    damage.extend(list.bad.iter().map(|bad| Damage {
        file: file.to_string(),
        problem: bad.to_string(),
    }));
    list.items
}

/// Reads an optional JSON file (metrics, derived data); a parse failure is damage.
pub(super) fn read_optional<T: DeserializeOwned>(
    bundle: &Bundle,
    file: &str,
    damage: &mut Vec<Damage>,
) -> Option<T> {
    if !bundle.contains(file) {
        return None;
    }
    match bundle.read_json::<T>(file) {
        Ok(v) => Some(v),
        Err(e) => {
            damage.push(Damage {
                file: file.to_string(),
                problem: e.to_string(),
            });
            None
        }
    }
}

/// The bundle layout's entry for `plural`.
pub(super) fn kind(plural: &str) -> Option<&'static ResourceKind> {
    CLUSTER_KINDS
        .iter()
        .chain(NAMESPACED_KINDS.iter())
        .find(|k| k.plural == plural)
}
