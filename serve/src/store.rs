//! The bundle behind the API: lists loaded lazily, parsed once, cached.
//!
//! A 150,000-pod bundle must not be parsed per request, nor held as
//! `serde_json::Value` trees (several GB). Each list is loaded the first time
//! it is asked for and kept as one raw JSON text per item plus the few values
//! selectors need (name, namespace, labels, the kind's field labels). Pods are
//! also indexed by node, because `kubectl describe node` lists the pods of
//! one node across every namespace.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use kpm_bundle::layout::{self, ResourceKind, Scope};
use kpm_bundle::{Bundle, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::errors::{ApiError, Gr};
use crate::selectors::{field_value, kind_fields};

/// One object of a list.
#[derive(Debug)]
pub struct Item {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, empty at cluster scope.
    pub namespace: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// Values of the kind's field labels, in [`kind_fields`] order.
    pub fields: Vec<String>,
    /// The object exactly as stored.
    pub raw: Box<RawValue>,
}

impl Item {
    /// The value of a field label as the API server compares it.
    pub fn field(&self, plural: &str, field: &str) -> String {
        match field {
            "metadata.name" => self.name.clone(),
            "metadata.namespace" => self.namespace.clone(),
            other => kind_fields(plural)
                .iter()
                .position(|f| *f == other)
                .and_then(|i| self.fields.get(i).cloned())
                .unwrap_or_default(),
        }
    }

    /// The object parsed, for printing.
    pub fn value(&self) -> Result<Value, ApiError> {
        serde_json::from_str(self.raw.get())
            .map_err(|e| ApiError::internal(format!("object {}: {e}", self.name)))
    }
}

/// One list file, parsed.
#[derive(Debug)]
pub struct Loaded {
    /// Namespace of a namespaced list, None at cluster scope.
    pub namespace: Option<String>,
    /// `metadata.resourceVersion` of the stored list.
    pub resource_version: String,
    /// The items, in stored order (the API server's order).
    pub items: Vec<Item>,
}

#[derive(Deserialize)]
struct RawList {
    #[serde(default)]
    metadata: Value,
    #[serde(default)]
    items: Vec<Box<RawValue>>,
}

/// Just the parts of an object selectors need; everything else is skipped
/// by the parser without building values.
#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    metadata: ProbeMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<ProbeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<ProbeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    involved_object: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reporting_component: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<Value>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<Value>,
}

#[derive(Deserialize, Serialize, Default)]
struct ProbeMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct ProbeSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restart_policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheduler_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_account_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_network: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unschedulable: Option<Value>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct ProbeStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phase: Option<Value>,
    #[serde(default, rename = "podIP", skip_serializing_if = "Option::is_none")]
    pod_ip: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nominated_node_name: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replicas: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    succeeded: Option<Value>,
}

fn index_item(plural: &str, raw: Box<RawValue>) -> Result<Item, serde_json::Error> {
    let probe: Probe = serde_json::from_str(raw.get())?;
    let wanted = kind_fields(plural);
    let fields = if wanted.is_empty() {
        Vec::new()
    } else {
        let mut v = serde_json::to_value(&probe)?;
        // `status.successful` of jobs is stored as `status.succeeded`.
        if let Some(s) = v.pointer("/status/succeeded").cloned() {
            if let Some(st) = v.get_mut("status").and_then(Value::as_object_mut) {
                st.insert("successful".into(), s);
            }
        }
        wanted.iter().map(|f| field_value(&v, f)).collect()
    };
    Ok(Item {
        name: probe.metadata.name,
        namespace: probe.metadata.namespace,
        labels: probe.metadata.labels,
        fields,
        raw,
    })
}

/// Parses one stored list.
pub fn parse_list(
    plural: &str,
    namespace: Option<&str>,
    bytes: &[u8],
) -> Result<Loaded, serde_json::Error> {
    let list: RawList = serde_json::from_slice(bytes)?;
    let mut items = list
        .items
        .into_iter()
        .map(|raw| index_item(plural, raw))
        .collect::<Result<Vec<_>, _>>()?;
    // The API server lists in storage-key order (namespace, then name);
    // bundles written by other tools may not be, and kubectl output and
    // continue tokens must not depend on that.
    items.sort_by(|a, b| {
        (a.namespace.as_str(), a.name.as_str()).cmp(&(b.namespace.as_str(), b.name.as_str()))
    });
    Ok(Loaded {
        namespace: namespace.map(str::to_string),
        resource_version: list
            .metadata
            .get("resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        items,
    })
}

type Slot = Arc<OnceLock<Result<Arc<Loaded>, ApiError>>>;

/// A reference to one item of a loaded list.
pub type ItemRef = (Arc<Loaded>, usize);

/// The open bundle plus its caches.
pub struct Store {
    bundle: Bundle,
    namespaces: Vec<String>,
    cache: Mutex<HashMap<String, Slot>>,
    pods_by_node: OnceLock<Result<HashMap<String, Vec<ItemRef>>, ApiError>>,
}

impl Store {
    /// Wraps an open bundle.
    pub fn new(bundle: Bundle) -> Store {
        let namespaces = bundle.namespaces();
        Store {
            bundle,
            namespaces,
            cache: Mutex::new(HashMap::new()),
            pods_by_node: OnceLock::new(),
        }
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// Collection end: the "now" of every age printed.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.bundle.manifest().collection.finished_at
    }

    /// A resourceVersion for answers that have no list of their own: the
    /// namespaces list's, as the snapshot's point in time.
    pub fn bundle_resource_version(&self) -> String {
        layout::kind_by_plural("namespaces")
            .and_then(|k| self.load(k, None).ok().flatten())
            .map(|l| l.resource_version.clone())
            .unwrap_or_default()
    }

    /// Namespaces with at least one list in the bundle, sorted.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Loads (once) the list stored at `path`; None when the bundle has no
    /// such file.
    pub fn load_path(
        &self,
        plural: &str,
        namespace: Option<&str>,
        path: &str,
    ) -> Result<Option<Arc<Loaded>>, ApiError> {
        if !self.bundle.contains(path) {
            return Ok(None);
        }
        let slot = {
            let mut cache = self
                .cache
                .lock()
                .map_err(|_| ApiError::internal("cache lock poisoned by an earlier panic"))?;
            cache.entry(path.to_string()).or_default().clone()
        };
        let loaded = slot.get_or_init(|| {
            let bytes = self.bundle.read_bytes(path).map_err(ApiError::internal)?;
            parse_list(plural, namespace, &bytes)
                .map(Arc::new)
                .map_err(|e| ApiError::internal(kpm_bundle::BundleError::from_json(path, &e)))
        });
        loaded.clone().map(Some)
    }

    /// Whether the list at `path` has been parsed (tests check laziness).
    #[cfg(test)]
    pub(crate) fn is_cached(&self, path: &str) -> bool {
        self.cache
            .lock()
            .map(|c| c.get(path).is_some_and(|slot| slot.get().is_some()))
            .unwrap_or(false)
    }

    /// Loads the list of `kind` in `namespace` (ignored at cluster scope).
    pub fn load(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Option<Arc<Loaded>>, ApiError> {
        match kind.path(namespace) {
            Some(path) => self.load_path(kind.plural, namespace, &path),
            None => Ok(None),
        }
    }

    /// Why a list is not in the bundle, as the API error a client gets:
    /// forbidden and failed steps are replayed, anything else is "not
    /// collected".
    pub fn missing_error(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        verb: &str,
        name: Option<&str>,
    ) -> ApiError {
        let gr = Gr {
            group: kind.group,
            resource: kind.plural,
        };
        let ns = if kind.scope == Scope::Cluster {
            None
        } else {
            namespace
        };
        match self.bundle.manifest().outcome_of(kind.plural, ns) {
            Some(Outcome::Forbidden) => ApiError::forbidden(gr, verb, name, ns),
            Some(Outcome::Timeout) => ApiError::timeout(format!(
                "{} could not be collected: the request timed out during collection",
                gr.qualified()
            )),
            Some(Outcome::Error) => ApiError::internal(format!(
                "{} could not be collected: the collection request failed",
                gr.qualified()
            )),
            _ => ApiError::not_collected(&match ns {
                Some(ns) => format!("{} in namespace {ns}", gr.qualified()),
                None => gr.qualified(),
            }),
        }
    }

    /// The error for an all-namespaces list of `kind` the snapshot could not
    /// serve: forbidden at cluster scope, or forbidden in every namespace
    /// with nothing collected. Decided from the manifest alone, so nothing
    /// is loaded.
    pub fn check_all_namespaces(&self, kind: &ResourceKind) -> Result<(), ApiError> {
        let manifest = self.bundle.manifest();
        let cluster_forbidden = manifest.outcome_of(kind.plural, None) == Some(Outcome::Forbidden);
        let any_forbidden = manifest
            .steps
            .iter()
            .any(|s| s.what == kind.plural && s.outcome == Outcome::Forbidden);
        let nothing_collected = !self.namespaces.iter().any(|ns| {
            kind.path(Some(ns))
                .is_some_and(|p| self.bundle.contains(&p))
        });
        if cluster_forbidden || (any_forbidden && nothing_collected) {
            return Err(ApiError::forbidden(
                Gr {
                    group: kind.group,
                    resource: kind.plural,
                },
                "list",
                None,
                None,
            ));
        }
        Ok(())
    }

    /// Every stored list of a namespaced kind, in namespace order.
    pub fn load_all(&self, kind: &ResourceKind) -> Result<Vec<Arc<Loaded>>, ApiError> {
        self.check_all_namespaces(kind)?;
        let mut out = Vec::new();
        for ns in &self.namespaces {
            if let Some(l) = self.load(kind, Some(ns))? {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// Pods scheduled to `node`, across namespaces, in namespace order.
    pub fn pods_on_node(&self, node: &str) -> Result<Vec<ItemRef>, ApiError> {
        let index = self.pods_by_node.get_or_init(|| {
            let pods = layout::kind_by_plural("pods")
                .ok_or_else(|| ApiError::internal("pods kind missing from layout"))?;
            let mut index: HashMap<String, Vec<ItemRef>> = HashMap::new();
            for list in self.load_all(pods)? {
                for (i, item) in list.items.iter().enumerate() {
                    let node = item.field("pods", "spec.nodeName");
                    index.entry(node).or_default().push((list.clone(), i));
                }
            }
            Ok(index)
        });
        match index {
            Ok(index) => Ok(index.get(node).cloned().unwrap_or_default()),
            Err(e) => Err(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_items_with_fields_and_keeps_raw_text() {
        let list = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"48213"},"items":[
          {"metadata":{"name":"web-7c9d8f-x2x","namespace":"shop","labels":{"app":"web"}},
           "spec":{"nodeName":"worker-1","restartPolicy":"Always","containers":[{"name":"app","image":"nginx:1.27"}]},
           "status":{"phase":"Running","podIP":"10.244.1.7"}},
          {"metadata":{"name":"api-pending","namespace":"shop"},"spec":{"containers":[]},"status":{"phase":"Pending"}}]}"#;
        let loaded = parse_list("pods", Some("shop"), list).unwrap();
        assert_eq!(loaded.resource_version, "48213");
        assert_eq!(loaded.items.len(), 2);
        // Sorted by name as the API server lists.
        assert_eq!(loaded.items[0].name, "api-pending");
        let first = &loaded.items[1];
        assert_eq!(first.field("pods", "spec.nodeName"), "worker-1");
        assert_eq!(first.field("pods", "status.phase"), "Running");
        assert_eq!(first.field("pods", "metadata.namespace"), "shop");
        assert_eq!(first.labels.get("app").map(String::as_str), Some("web"));
        assert!(first.raw.get().contains("nginx:1.27"));
        assert_eq!(loaded.items[0].field("pods", "spec.nodeName"), "");
        assert_eq!(loaded.items[0].field("pods", "spec.hostNetwork"), "false");
    }

    #[test]
    fn event_fields_are_indexed() {
        let list = br#"{"items":[{"metadata":{"name":"web.17a","namespace":"shop"},
          "involvedObject":{"kind":"Pod","name":"web","namespace":"shop","uid":"u1"},
          "reason":"BackOff","type":"Warning","source":{"component":"kubelet","host":"worker-1"}}]}"#;
        let loaded = parse_list("events", Some("shop"), list).unwrap();
        let ev = &loaded.items[0];
        assert_eq!(ev.field("events", "involvedObject.kind"), "Pod");
        assert_eq!(ev.field("events", "involvedObject.uid"), "u1");
        assert_eq!(ev.field("events", "reason"), "BackOff");
        assert_eq!(ev.field("events", "source"), "kubelet");
        assert_eq!(ev.field("events", "type"), "Warning");
    }

    #[test]
    fn truncated_list_is_an_error() {
        assert!(parse_list("pods", None, br#"{"items":[{"metadata":{"name":"a"}"#).is_err());
    }
}
