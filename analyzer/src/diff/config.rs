//! Configuration: ConfigMaps and Secrets whose content changed, compared by
//! a hash of what the bundle holds and the last write (a Secret's values are
//! never collected, so its last write tells a rotation), never by value; and
//! the running pods that still predate the change.

use chrono::{DateTime, Utc};

use kpm_model::diff::{Change, ConfigDelta, FieldChange};
use kpm_model::ObjectRef;

use super::snapshot::{time_text, ConfigDigest, FastMap};
use super::Side;

fn object_of(key: &str) -> ObjectRef {
    let mut parts = key.splitn(3, '/');
    let kind = parts.next().unwrap_or_default();
    let ns = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    ObjectRef::namespaced(kind, ns, name)
}

fn pair(
    name: &str,
    b: Option<&ConfigDigest>,
    a: Option<&ConfigDigest>,
    get: fn(&ConfigDigest) -> Option<String>,
) -> FieldChange {
    FieldChange {
        field: name.to_string(),
        before: b.and_then(get),
        after: a.and_then(get),
    }
}

/// Running pods of a snapshot by what they consume (namespace, `Kind/name`),
/// with when each started: built once, only when some object changed.
type Consumers<'a> = FastMap<(&'a str, &'a str), Vec<(&'a str, Option<DateTime<Utc>>)>>;

fn consumers(s: Side<'_>) -> Consumers<'_> {
    let mut out: Consumers<'_> = FastMap::default();
    for (key, p) in s.digest.pods.iter().filter(|(_, p)| p.running) {
        let Some((ns, name)) = key.split_once('/') else {
            continue;
        };
        for r in &p.consumes {
            out.entry((ns, r)).or_default().push((name, p.started));
        }
    }
    out
}

/// Every ConfigMap and Secret added, removed or changed, sorted.
pub fn compare(before: Side<'_>, after: Side<'_>) -> Vec<ConfigDelta> {
    // Sorted and deduplicated in place, cheaper than a tree set.
    let mut keys: Vec<&str> = (before.digest.configs.keys())
        .chain(after.digest.configs.keys())
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut index: Option<Consumers<'_>> = None;
    let mut out = Vec::new();
    for k in keys {
        let b = before.digest.configs.get(k);
        let a = after.digest.configs.get(k);
        if let (Some(b), Some(a)) = (b, a) {
            if b.content == a.content && b.written == a.written {
                continue; // most of them: unchanged
            }
        }
        let obj = object_of(k);
        let change = match (b, a) {
            (Some(b), Some(a)) if b.content != a.content || b.written != a.written => {
                Change::Changed
            }
            (None, Some(_)) if super::collected(before, &obj) => Change::Added,
            (Some(_), None) if super::collected(after, &obj) => Change::Removed,
            _ => continue,
        };
        let written = pair("last write", b, a, |c| time_text(c.written));
        let stale_pods = match (change, a) {
            (Change::Changed | Change::Added, Some(a)) => {
                let index = index.get_or_insert_with(|| consumers(after));
                stale(index, &obj, a)
            }
            _ => Vec::new(),
        };
        out.push(ConfigDelta {
            change,
            resource_version: pair("resourceVersion", b, a, |c| {
                Some(c.resource_version.clone())
            }),
            content: pair("content", b, a, |c| Some(c.content.clone())),
            written: (written.before != written.after).then_some(written),
            stale_pods,
            object: obj,
        });
    }
    out
}

/// Running pods consuming `obj` that started before its last write.
fn stale(index: &Consumers<'_>, obj: &ObjectRef, c: &ConfigDigest) -> Vec<ObjectRef> {
    let Some(written) = c.written else {
        return Vec::new();
    };
    let ns = obj.namespace.as_deref().unwrap_or_default();
    let config = format!("{}/{}", obj.kind, obj.name);
    let mut pods: Vec<ObjectRef> = index
        .get(&(ns, config.as_str()))
        .into_iter()
        .flatten()
        .filter(|(_, started)| started.is_some_and(|t| t < written))
        .map(|(name, _)| ObjectRef::namespaced("Pod", ns, name))
        .collect();
    pods.sort();
    pods
}
