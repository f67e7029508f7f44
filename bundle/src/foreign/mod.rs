//! Other tools' captures, read as kpm bundles: a Replicated troubleshoot
//! support bundle (the `.tar.gz` as downloaded, or its extracted folder) and
//! a `kubectl cluster-info dump --output-directory` folder.
//!
//! An adapter maps each file of the capture to its place in the kpm layout
//! ([`Target`]) and [`convert`] writes a format-v1 bundle from the mapped
//! files, streaming: lists are normalised one file at a time (bare arrays
//! wrapped in a `<Kind>List`, `items: null` read as empty, `kind` and
//! `apiVersion` added to items that lack them, pre-v1 Ingresses upgraded),
//! logs copied as they come. The manifest records the source format and
//! tool version, how the collection time was found, one step per kind the
//! source collected (failed where the source recorded an error) and every
//! entry that was skipped. Kinds the source never collects get no step and
//! no file: "not collected", never "empty". Files kpm has no place for are
//! kept under `foreign/<original path>`, which kpm readers ignore.
//!
//! [`crate::Bundle::open`] converts into a private temporary zip and opens
//! that, so the rules and `serve` never learn where a bundle came from.

mod cluster_dump;
mod convert;
mod lists;
mod node_metrics;
mod raw_list;
mod read_ahead;
mod source;
mod troubleshoot;
mod yaml;

use std::io::Read;
use std::path::Path;

use crate::error::{BundleError, Result};

pub use convert::{convert, Converted};
pub use source::{Skipped, SourceLimits};
pub use troubleshoot::resource_name as troubleshoot_resource_name;

/// A capture format kpm reads besides its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Replicated troubleshoot `support-bundle` (archive or folder).
    Troubleshoot,
    /// `kubectl cluster-info dump --output-directory` (JSON or YAML output).
    ClusterInfoDump,
}

impl Format {
    /// How reports and manifests name it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Troubleshoot => "troubleshoot support bundle",
            Format::ClusterInfoDump => "kubectl cluster-info dump",
        }
    }
}

/// Where one file of a foreign capture goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A list of a kpm kind (by plural), in a namespace or cluster-wide.
    List {
        /// kpm's plural resource name.
        plural: &'static str,
        /// The namespace, for namespaced kinds.
        namespace: Option<String>,
    },
    /// The errors the source recorded for a kind.
    Errors {
        /// kpm's plural resource name.
        plural: &'static str,
        /// The namespace, when the source says.
        namespace: Option<String>,
    },
    /// One container log.
    Log {
        /// The namespace, when the path says (else resolved by pod name).
        namespace: Option<String>,
        /// The pod.
        pod: String,
        /// The container.
        container: String,
        /// `kubectl logs --previous`.
        previous: bool,
        /// From the source's own pod-log collector: wins over a copy.
        preferred: bool,
    },
    /// A `logs.txt` of a cluster-info dump: every container of one pod.
    FramedLogs {
        /// The namespace.
        namespace: String,
        /// The pod.
        pod: String,
    },
    /// `/version` as troubleshoot wraps it.
    ServerVersion,
    /// troubleshoot's `version.yaml` (its own version).
    ToolVersion,
    /// troubleshoot's `node-metrics/<node>.json`: one node's kubelet
    /// Summary API, read as node and pod metrics (and kept as it is).
    NodeMetrics,
    /// Nothing kpm reads: kept under `foreign/`.
    Extra,
}

/// The format of the capture at `path`, or `None` for a kpm bundle (a zip,
/// or a folder with `manifest.json`). A folder or gzip archive that is
/// neither is an error naming what was expected and what was found.
pub fn detect(path: &Path) -> Result<Option<Format>> {
    let meta = std::fs::metadata(path).map_err(|source| BundleError::Open {
        path: path.to_path_buf(),
        cause: source,
    })?;
    if meta.is_dir() {
        if path.join(crate::layout::MANIFEST).is_file() {
            return Ok(None);
        }
    } else if !is_gzip(path)? {
        return Ok(None);
    }
    let paths = source::list_paths(path, 100_000)?;
    if troubleshoot::looks_like(&paths) {
        return Ok(Some(Format::Troubleshoot));
    }
    if cluster_dump::looks_like(&paths) {
        return Ok(Some(Format::ClusterInfoDump));
    }
    let mut shown: Vec<&str> = paths.iter().map(String::as_str).take(5).collect();
    if shown.is_empty() {
        shown.push("nothing");
    }
    Err(BundleError::UnknownFormat {
        path: path.to_path_buf(),
        found: shown.join(", "),
    })
}

fn is_gzip(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 2];
    let mut file = std::fs::File::open(path).map_err(|source| BundleError::Open {
        path: path.to_path_buf(),
        cause: source,
    })?;
    Ok(file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b])
}

fn target(format: Format, path: &str) -> Target {
    match format {
        Format::Troubleshoot => troubleshoot::target(path),
        Format::ClusterInfoDump => cluster_dump::target(path),
    }
}
