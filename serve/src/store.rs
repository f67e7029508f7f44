//! The bundle behind the API: lists loaded lazily, parsed on demand, cached
//! within a byte budget.
//!
//! A 150,000-pod bundle must not be parsed per request, nor held as
//! `serde_json::Value` trees (several GB), nor even held whole as raw text
//! (1.3 GB). Each list is loaded when first asked for and kept as its
//! decompressed text plus, per item, the byte range of the object and the few
//! values selectors need (name, namespace, labels, the kind's field labels).
//! Lists live in a [`ListCache`] bounded by bytes; selections that would scan
//! every namespace (`spec.nodeName=X` on pods, `involvedObject.name=X` on
//! events) are answered from [`FieldIndex`]es built once in a slim pass.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use kpm_bundle::layout::{self, ResourceKind, Scope};
use kpm_bundle::{Bundle, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::cache::{ListCache, DEFAULT_BUDGET};
use crate::errors::{ApiError, Gr};
use crate::index::{self, FieldIndex};
use crate::selectors::{field_value, kind_fields};
use kpm_semantics::names::{self, NameRule};

/// One object of a list. Its JSON text is [`Loaded::raw`].
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
    /// Whether the name and namespace are ones an API server accepts
    /// ([`valid_names`]); invalid objects are never served but keep their
    /// place, so positions agree with the field indexes.
    pub valid: bool,
    /// Where the object is in [`Loaded`]'s text.
    range: Range<usize>,
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

    /// Approximate heap bytes of this entry, for the cache budget.
    fn weight(&self) -> usize {
        std::mem::size_of::<Item>()
            + self.name.capacity()
            + self.namespace.capacity()
            + self
                .labels
                .iter()
                .map(|(k, v)| k.capacity() + v.capacity() + 64)
                .sum::<usize>()
            + self
                .fields
                .iter()
                .map(|f| f.capacity() + std::mem::size_of::<String>())
                .sum::<usize>()
    }
}

/// One list file, parsed.
#[derive(Debug)]
pub struct Loaded {
    /// Namespace of a namespaced list, None at cluster scope.
    pub namespace: Option<String>,
    /// `metadata.resourceVersion` of the stored list.
    pub resource_version: String,
    /// The items, sorted as the API server lists them.
    pub items: Vec<Item>,
    /// The file as stored; items point into it, so each object is one range
    /// instead of one allocation.
    text: String,
}

impl Loaded {
    /// The object exactly as stored.
    pub fn raw(&self, item: &Item) -> &str {
        self.text.get(item.range.clone()).unwrap_or("{}")
    }

    /// The object parsed, for printing.
    pub fn value(&self, item: &Item) -> Result<Value, ApiError> {
        serde_json::from_str(self.raw(item))
            .map_err(|e| ApiError::internal(format!("object {}: {e}", item.name)))
    }

    /// Approximate heap bytes, for the cache budget.
    pub fn weight(&self) -> usize {
        self.text.capacity() + self.items.iter().map(Item::weight).sum::<usize>()
    }

    /// The position of the object called `name`: a binary search, as items
    /// of one list share their namespace and are sorted by name.
    pub fn position(&self, name: &str) -> Option<usize> {
        let found = self
            .items
            .binary_search_by(|it| it.name.as_str().cmp(name))
            .ok()
            .filter(|&i| self.items.get(i).is_some_and(|it| it.name == name));
        // A list mixing namespaces (cluster-scope metrics, foreign bundles)
        // is not sorted by name alone.
        found
            .or_else(|| self.items.iter().position(|it| it.name == name))
            .filter(|&i| self.items.get(i).is_some_and(|it| it.valid))
    }

    /// The objects not served because of their names, as `namespace/name`
    /// (or `name`) shown safely, for the report on stderr.
    pub fn invalid_names(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|it| !it.valid)
    }
}

#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default, borrow)]
    items: Vec<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    #[serde(default)]
    resource_version: Option<Value>,
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
    #[serde(default, rename = "clusterIP", skip_serializing_if = "Option::is_none")]
    cluster_ip: Option<Value>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<Value>,
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

/// Whether an object of `plural` called `name` in `namespace` (empty at
/// cluster scope) has names an API server would have accepted: a bundle
/// can say anything, and names end up in kubectl's file paths (`kubectl
/// cluster-info dump`) and in URLs.
pub fn valid_names(plural: &str, name: &str, namespace: &str) -> bool {
    NameRule::for_resource(plural).accepts(name)
        && (namespace.is_empty() || names::is_dns1123_label(namespace))
}

/// A name from the bundle as it may be printed: quoted, escaped, cut.
pub fn shown(name: &str) -> String {
    let cut: String = name.chars().take(80).collect();
    let more = if cut.len() < name.len() { "…" } else { "" };
    format!("{cut:?}{more}")
}

/// Reads the selector values of one object.
fn index_item(plural: &str, raw: &str, range: Range<usize>) -> Result<Item, serde_json::Error> {
    let probe: Probe = serde_json::from_str(raw)?;
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
    let valid = valid_names(plural, &probe.metadata.name, &probe.metadata.namespace);
    Ok(Item {
        valid,
        name: probe.metadata.name,
        namespace: probe.metadata.namespace,
        labels: probe.metadata.labels,
        fields,
        range,
    })
}

/// Why a stored list could not be parsed (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not UTF-8 (JSON must be).
    #[error("not UTF-8: {0}")]
    Utf8(std::str::Utf8Error),
    /// Not a JSON list.
    #[error("{0}")]
    Json(serde_json::Error),
}

/// Parses one stored list, keeping its text.
pub fn parse_list(
    plural: &str,
    namespace: Option<&str>,
    bytes: impl Into<Vec<u8>>,
) -> Result<Loaded, ParseError> {
    let text = String::from_utf8(bytes.into()).map_err(|e| ParseError::Utf8(e.utf8_error()))?;
    let base = text.as_ptr() as usize;
    let (resource_version, mut items) = {
        let list: RawList<'_> = serde_json::from_str(&text).map_err(ParseError::Json)?;
        let items = list
            .items
            .into_iter()
            .map(|raw| {
                // The raw value borrows from `text`: its offset is its range.
                let start = (raw.get().as_ptr() as usize).saturating_sub(base);
                index_item(plural, raw.get(), start..start + raw.get().len())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(ParseError::Json)?;
        let rv = match list.metadata.resource_version {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        (rv, items)
    };
    // The API server lists in storage-key order (namespace, then name);
    // bundles written by other tools may not be, and kubectl output and
    // continue tokens must not depend on that.
    sort_items(&mut items, |it| (it.namespace.as_str(), it.name.as_str()));
    Ok(Loaded {
        namespace: namespace.map(str::to_string),
        resource_version,
        items,
        text,
    })
}

/// A list holding only the objects at `ranges` of a stored file, in that
/// order: what an indexed request needs from a namespace, without parsing
/// the rest of it.
pub fn parse_ranges(
    plural: &str,
    namespace: Option<&str>,
    bytes: impl Into<Vec<u8>>,
    ranges: &[Range<usize>],
) -> Result<Loaded, ParseError> {
    let text = String::from_utf8(bytes.into()).map_err(|e| ParseError::Utf8(e.utf8_error()))?;
    let items = ranges
        .iter()
        .map(|r| {
            let raw = text.get(r.clone()).unwrap_or("{}");
            index_item(plural, raw, r.clone())
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(ParseError::Json)?;
    Ok(Loaded {
        namespace: namespace.map(str::to_string),
        resource_version: String::new(),
        items,
        text,
    })
}

/// The one ordering of a list's items, shared with the index builder so
/// that positions agree: by (namespace, name), stable.
pub(crate) fn sort_items<T>(items: &mut [T], key: impl Fn(&T) -> (&str, &str)) {
    items.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// The open bundle plus its caches.
pub struct Store {
    bundle: Bundle,
    logs: crate::logtail::LogFiles,
    namespaces: Vec<String>,
    /// Files whose invalid names were already reported on stderr.
    reported: std::sync::Mutex<std::collections::HashSet<String>>,
    cache: ListCache,
    resource_version: OnceLock<String>,
    indexes: Vec<(&'static str, &'static str, OnceLock<Option<FieldIndex>>)>,
}

impl Store {
    /// Wraps an open bundle with the default cache budget.
    pub fn new(bundle: Bundle) -> Store {
        Store::with_budget(bundle, DEFAULT_BUDGET)
    }

    /// Wraps an open bundle, caching about `budget` bytes of parsed lists.
    pub fn with_budget(bundle: Bundle, budget: usize) -> Store {
        let (namespaces, invalid): (Vec<String>, Vec<String>) = bundle
            .namespaces()
            .into_iter()
            .partition(|ns| names::is_dns1123_label(ns));
        for ns in &invalid {
            eprintln!(
                "kpm serve: not serving namespace directory {}: not a valid namespace name ({})",
                shown(ns),
                NameRule::Label.describe()
            );
        }
        Store {
            logs: crate::logtail::LogFiles::new(bundle.storage_path()),
            reported: Default::default(),
            bundle,
            namespaces,
            cache: ListCache::new(budget),
            resource_version: OnceLock::new(),
            indexes: index::INDEXED
                .iter()
                .map(|(plural, field)| (*plural, *field, OnceLock::new()))
                .collect(),
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
        self.resource_version
            .get_or_init(|| {
                layout::kind_by_plural("namespaces")
                    .and_then(|k| self.load(k, None).ok().flatten())
                    .map(|l| l.resource_version.clone())
                    .unwrap_or_default()
            })
            .clone()
    }

    /// Opens a stored log for streaming.
    /// Entries the bundle reader refuses (duplicates, overlapping data,
    /// links) are refused here too, naming why.
    pub fn open_log(&self, entry: &str) -> Result<crate::logtail::LogSource, ApiError> {
        if let Some(reason) = self.bundle.refusal(entry) {
            return Err(ApiError::internal(format!("{entry}: not read: {reason}")));
        }
        self.logs.open(entry).map_err(ApiError::internal)
    }

    /// Namespaces with at least one list in the bundle, sorted; directories
    /// whose names are not valid namespace names are left out.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Loads the list stored at `path` (from the cache when it is there);
    /// None when the bundle has no such file.
    pub fn load_path(
        &self,
        plural: &str,
        namespace: Option<&str>,
        path: &str,
    ) -> Result<Option<Arc<Loaded>>, ApiError> {
        if !self.bundle.contains(path) {
            return Ok(None);
        }
        // Cluster-scope lists (nodes, namespaces, volumes) are pinned: they
        // are small next to the namespaces' lists and nearly every command
        // reads them, so a walk over every namespace must not evict them.
        let pinned = namespace.is_none();
        self.cache
            .get_or_load(path, pinned, || self.read_list(plural, namespace, path))
            .map(Some)
    }

    /// Reads and parses one list, bypassing the cache.
    fn read_list(
        &self,
        plural: &str,
        namespace: Option<&str>,
        path: &str,
    ) -> Result<Loaded, ApiError> {
        let bytes = self.bundle.read_bytes(path).map_err(ApiError::internal)?;
        let loaded = parse_list(plural, namespace, bytes).map_err(|e| match e {
            ParseError::Json(e) => ApiError::internal(kpm_bundle::BundleError::from_json(path, &e)),
            ParseError::Utf8(e) => ApiError::internal(format!("{path}: {e}")),
        })?;
        self.report_invalid(plural, path, &loaded);
        Ok(loaded)
    }

    /// Says on stderr, once per file, which objects are not served because
    /// of their names.
    fn report_invalid(&self, plural: &str, path: &str, loaded: &Loaded) {
        let count = loaded.invalid_names().count();
        if count == 0 {
            return;
        }
        let first = match self.reported.lock() {
            Ok(mut seen) => seen.insert(path.to_string()),
            Err(_) => false,
        };
        if !first {
            return;
        }
        const SHOWN: usize = 10;
        for it in loaded.invalid_names().take(SHOWN) {
            let ns = if it.namespace.is_empty() {
                String::new()
            } else {
                format!(" in namespace {}", shown(&it.namespace))
            };
            eprintln!(
                "kpm serve: {path}: not serving {plural} {}{ns}: not a valid name ({})",
                shown(&it.name),
                NameRule::for_resource(plural).describe()
            );
        }
        if count > SHOWN {
            eprintln!(
                "kpm serve: {path}: and {} more {plural} with invalid names",
                count - SHOWN
            );
        }
    }

    /// The list of `kind` in `namespace` if it is cached; never loads.
    pub fn cached(&self, kind: &ResourceKind, namespace: Option<&str>) -> Option<Arc<Loaded>> {
        self.cache.peek(&kind.path(namespace)?)
    }

    /// Only the objects at `ranges` of the list of `kind` in `namespace`
    /// (ranges from a [`FieldIndex`]), not cached: a few objects of a big
    /// list cost one decompression instead of a full parse.
    pub fn load_ranges(
        &self,
        kind: &ResourceKind,
        namespace: &str,
        ranges: &[Range<usize>],
    ) -> Result<Option<Loaded>, ApiError> {
        let Some(path) = kind.path(Some(namespace)) else {
            return Ok(None);
        };
        if !self.bundle.contains(&path) {
            return Ok(None);
        }
        let bytes = self.bundle.read_bytes(&path).map_err(ApiError::internal)?;
        parse_ranges(kind.plural, Some(namespace), bytes, ranges)
            .map(Some)
            .map_err(|e| ApiError::internal(format!("{path}: {e}")))
    }

    /// Whether the list at `path` is parsed and cached (tests check
    /// laziness and eviction).
    #[cfg(test)]
    pub(crate) fn is_cached(&self, path: &str) -> bool {
        self.cache.contains(path)
    }

    /// Loads the list of `kind` in `namespace` (ignored at cluster scope).
    pub fn load(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Option<Arc<Loaded>>, ApiError> {
        // A namespace no API server would accept holds nothing, whatever
        // the bundle stores under that name.
        if kind.scope == Scope::Namespaced
            && namespace.is_some_and(|ns| !names::is_dns1123_label(ns))
        {
            return Ok(None);
        }
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

    /// Every stored list of a namespaced kind, in namespace order. Holds
    /// them all at once: only for small kinds (metrics).
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

    /// The index of `field` over every namespace's list of `plural`, built
    /// on first use; None when that field is not indexed or the index could
    /// not be built (callers then scan, which is slower but still right).
    pub fn index(&self, plural: &str, field: &str) -> Option<&FieldIndex> {
        let (_, _, slot) = self
            .indexes
            .iter()
            .find(|(p, f, _)| *p == plural && *f == field)?;
        slot.get_or_init(|| {
            let kind = layout::kind_by_plural(plural)?;
            match index::build(self, kind, field) {
                Ok(ix) => Some(ix),
                Err(e) => {
                    eprintln!(
                        "kpm serve: cannot index {plural} by {field}, answering by scan: {}",
                        e.message
                    );
                    None
                }
            }
        })
        .as_ref()
    }

    /// Builds every index now (the server calls this on a background thread
    /// at start-up, so the first `kubectl describe node` does not pay for
    /// it).
    pub fn warm_indexes(&self) {
        for (plural, field) in index::INDEXED {
            let _ = self.index(plural, field);
        }
        // `kubectl describe node` and `get nodes` start with the node list,
        // the largest cluster-scope file (16 MB at 5,000 nodes).
        if let Some(nodes) = layout::kind_by_plural("nodes") {
            let _ = self.load(nodes, None);
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
