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

mod loaded;
mod missing;
mod synthesized;

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use kpm_bundle::layout::{self, ResourceKind, Scope};
use kpm_bundle::Bundle;

use crate::cache::ListCache;
use crate::errors::ApiError;
use crate::gaps::Gaps;
use crate::index::{self, FieldIndex};
use kpm_semantics::names::{self, NameRule};

pub(crate) use loaded::sort_items;

/// A read failure as a gap: the message without the API server's
/// "Internal error occurred: " prefix (it names the file already).
pub fn damage_note(e: &ApiError) -> String {
    e.message
        .strip_prefix("Internal error occurred: ")
        .unwrap_or(&e.message)
        .to_string()
}
pub use loaded::{parse_list, parse_ranges, shown, Item, Loaded, ParseError};

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
    #[cfg(test)]
    pub fn new(bundle: Bundle) -> Store {
        Store::with_budget(bundle, crate::cache::DEFAULT_BUDGET)
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
        let bytes = crate::current::on_read(plural, bytes);
        let loaded = parse_list(plural, namespace, bytes).map_err(|e| match e {
            ParseError::Json(e) => ApiError::internal(kpm_bundle::BundleError::from_json(path, &e)),
            ParseError::Utf8(e) => ApiError::internal(format!("{path}: {e}")),
        })?;
        self.report_invalid(plural, path, &loaded);
        Ok(loaded)
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
        match (kind.path(namespace), namespace) {
            (Some(path), Some(ns))
                if kind.plural == synthesized::SLICES && !self.bundle.contains(&path) =>
            {
                self.load_synthesized_slices(ns, &path)
            }
            (Some(path), _) => self.load_path(kind.plural, namespace, &path),
            (None, _) => Ok(None),
        }
    }

    /// Whether the cluster's namespace list (`cluster/namespaces.json`)
    /// names `namespace`.
    pub fn namespace_listed(&self, namespace: &str) -> bool {
        layout::kind_by_plural("namespaces")
            .and_then(|k| self.load(k, None).ok().flatten())
            .is_some_and(|l| l.position(namespace).is_some())
    }

    /// Whether the bundle holds a list of namespaced `kind` in `namespace`.
    pub fn holds(&self, kind: &ResourceKind, namespace: &str) -> bool {
        kind.path(Some(namespace))
            .is_some_and(|p| self.bundle.contains(&p))
            || (kind.plural == synthesized::SLICES && self.synthesizes_slices(namespace))
    }

    /// The list of `kind` in `namespace` for an all-namespaces read: a list
    /// that cannot be read is noted in `gaps` (the error names the file and
    /// the damage) and answered as absent, so one damaged file costs only
    /// its own objects.
    pub fn load_or_note(
        &self,
        kind: &ResourceKind,
        namespace: &str,
        gaps: &mut Gaps,
    ) -> Option<Arc<Loaded>> {
        match self.load(kind, Some(namespace)) {
            Ok(l) => l,
            Err(e) => {
                gaps.note(damage_note(&e));
                None
            }
        }
    }

    /// Every stored list of a namespaced kind, in namespace order, with
    /// what was left out. Holds them all at once: only for small kinds.
    pub fn load_all(&self, kind: &ResourceKind) -> Result<(Vec<Arc<Loaded>>, Gaps), ApiError> {
        let mut gaps = self.check_all_namespaces(kind)?;
        let mut out = Vec::new();
        for ns in &self.namespaces {
            if let Some(l) = self.load_or_note(kind, ns, &mut gaps) {
                out.push(l);
            }
        }
        Ok((out, gaps))
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
mod tests;
