//! Bundle reader: opens a zip or an unpacked directory with the same layout.
//!
//! Every failure names the file it concerns, and a damaged file never stops
//! the caller from reading the others: the analyzer reports what it could
//! read and lists the damage. Every read is metered against the bundle's
//! [`Budgets`] as it inflates (see [`crate::budget`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::budget::{Budget, Budgets};
use crate::error::{BundleError, Refusal, Result};
use crate::layout::{self, Entry, ResourceKind};
use crate::lenient_list::LenientList;
use crate::manifest::{Manifest, Outcome, Step};
use crate::source::{self, ReadBudget, Source};

/// Largest buffer reserved up front from a declared size: declared sizes
/// are the sender's to choose, so buffers beyond this grow as bytes arrive.
const MAX_RESERVE: u64 = 16 << 20;

/// An open bundle.
pub struct Bundle {
    path: PathBuf,
    source: Source,
    manifest: Manifest,
    entries: BTreeSet<String>,
    /// Entries every read of which fails (duplicates, overlaps, links).
    refused: BTreeMap<String, Refusal>,
    /// Fields of the manifest that were ignored.
    manifest_problems: Vec<(String, String)>,
    budgets: Budgets,
    /// Bytes inflated by every read so far, against
    /// [`Budgets::max_total_bytes`].
    inflated: AtomicU64,
    /// First failed step per (what, namespace, object), built on first use:
    /// a collected manifest holds a step per log, and the analyzer asks
    /// about a step for every list and every missing log.
    failed_steps: OnceLock<HashMap<StepKey, usize>>,
    /// The private temporary zip a foreign capture was converted into;
    /// removed when the bundle is dropped.
    _converted: Option<tempfile::TempPath>,
    /// The format the bundle was converted from, for a foreign capture.
    converted_from: Option<crate::foreign::Format>,
}

type StepKey = (String, Option<String>, Option<String>);

/// A Kubernetes `List` as stored in a bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    /// e.g. `PodList`.
    #[serde(default)]
    pub kind: String,
    /// e.g. `v1`.
    #[serde(default)]
    pub api_version: String,
    /// List metadata (`resourceVersion`, `continue`).
    #[serde(default)]
    pub metadata: serde_json::Value,
    /// The objects; `"items": null` (as some tools write an empty list)
    /// reads as no objects.
    #[serde(
        default = "Vec::new",
        deserialize_with = "null_as_empty",
        bound(deserialize = "T: Deserialize<'de>")
    )]
    pub items: Vec<T>,
}

fn null_as_empty<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Bundle {
    /// Opens a bundle (zip file or directory) within the default
    /// [`Budgets`], reads and checks its manifest. Checksums are not
    /// verified here; call [`Bundle::verify`] for that.
    ///
    /// A troubleshoot support bundle (`.tar.gz` or folder) or a `kubectl
    /// cluster-info dump` folder is recognised from its content and
    /// converted first into a private temporary zip
    /// ([`crate::foreign`]), so every reader sees one format.
    pub fn open(path: impl AsRef<Path>) -> Result<Bundle> {
        Bundle::open_with(path, Budgets::default())
    }

    /// Opens a bundle within `budgets`. Fails only when the bundle cannot
    /// be read at all: not a zip, more entries than the budget, no
    /// readable manifest or an unknown format version. Damaged manifest
    /// fields and refused entries are [`Bundle::problems`] instead.
    pub fn open_with(path: impl AsRef<Path>, budgets: Budgets) -> Result<Bundle> {
        let path = path.as_ref();
        let Some(format) = crate::foreign::detect(path)? else {
            return Bundle::open_kpm(path, budgets);
        };
        let temp = tempfile::Builder::new()
            .prefix("kpm-converted-")
            .suffix(".zip")
            .tempfile()
            .map_err(|source| BundleError::Write {
                path: "temporary converted bundle".into(),
                cause: source,
            })?
            .into_temp_path();
        // Read once and deleted: stored, not deflated (half the time of
        // opening a troubleshoot archive went into deflating this zip).
        let writer = crate::writer::BundleWriter::create_zip(temp.to_path_buf(), true)?
            .with_compression(crate::writer::Compression::Stored);
        let limits = crate::foreign::SourceLimits {
            max_entry_bytes: budgets.max_entry_bytes,
            max_entries: budgets.max_entries,
        };
        crate::foreign::convert(path, format, writer, limits)?;
        let mut bundle = Bundle::open_kpm(&temp, budgets)?;
        bundle.path = path.to_path_buf();
        bundle._converted = Some(temp);
        bundle.converted_from = Some(format);
        Ok(bundle)
    }

    /// The format a foreign capture was converted from (`None` for a kpm
    /// bundle).
    pub fn converted_from(&self) -> Option<crate::foreign::Format> {
        self.converted_from
    }

    fn open_kpm(path: &Path, budgets: Budgets) -> Result<Bundle> {
        let path = path.to_path_buf();
        let opened = source::open(&path, &budgets)?;
        let mut bundle = Bundle {
            path: path.clone(),
            source: opened.source,
            manifest: placeholder_manifest(),
            entries: opened.entries,
            refused: opened.refused,
            manifest_problems: Vec::new(),
            budgets,
            inflated: AtomicU64::new(0),
            failed_steps: OnceLock::new(),
            _converted: None,
            converted_from: None,
        };
        if !bundle.entries.contains(layout::MANIFEST) {
            return Err(BundleError::MissingManifest { path });
        }
        let limit = (budgets.max_manifest_bytes, Budget::ManifestBytes);
        let bytes = bundle.stream_within(layout::MANIFEST, limit, read_all)?;
        let (version, manifest, problems) = crate::manifest_read::parse(&bytes)
            .map_err(|e| BundleError::from_json(layout::MANIFEST, &e))?;
        // The version decides how to read everything else.
        let found = version
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if found != u64::from(layout::FORMAT_VERSION) {
            return Err(BundleError::UnsupportedVersion {
                path,
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: layout::FORMAT_VERSION,
            });
        }
        bundle.manifest = Manifest {
            format_version: layout::FORMAT_VERSION,
            ..manifest
        };
        bundle.manifest_problems = problems
            .into_iter()
            .filter_map(|p| match p {
                BundleError::ManifestField { field, message } => Some((field, message)),
                _ => None,
            })
            .collect();
        Ok(bundle)
    }

    /// The budgets this bundle is read within.
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// What opening found wrong without stopping: ignored manifest fields
    /// and entries that will not be read (duplicate names, overlapping
    /// data, links and special files). The analyzer lists them as damage.
    pub fn problems(&self) -> Vec<BundleError> {
        let fields =
            self.manifest_problems
                .iter()
                .map(|(field, message)| BundleError::ManifestField {
                    field: field.clone(),
                    message: message.clone(),
                });
        let refused = self
            .refused
            .iter()
            .map(|(file, reason)| BundleError::Refused {
                file: file.clone(),
                reason: reason.clone(),
            });
        fields.chain(refused).collect()
    }

    /// The path the bundle was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kpm bundle actually read: [`Bundle::path`], or for a converted
    /// foreign capture the private temporary zip it was converted into
    /// (for readers that open entries themselves, such as serve's log
    /// tails).
    pub fn storage_path(&self) -> &Path {
        self._converted.as_deref().unwrap_or(&self.path)
    }

    /// Why the reader refuses to read `file` (duplicate name, overlapping
    /// data, link), if it does: readers that open entries themselves must
    /// refuse them too.
    pub fn refusal(&self, file: &str) -> Option<String> {
        self.refused.get(file).map(ToString::to_string)
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The first manifest step for `what` (`pods`, `metrics/pods`,
    /// `logs/previous` …) in `namespace` about `object` that did not end
    /// `ok`, if any.
    pub fn failed_step(
        &self,
        what: &str,
        namespace: Option<&str>,
        object: Option<&str>,
    ) -> Option<&Step> {
        let index = self.failed_steps.get_or_init(|| {
            let mut index = HashMap::new();
            for (i, s) in self.manifest.steps.iter().enumerate() {
                if s.outcome != Outcome::Ok {
                    let key = (s.what.clone(), s.namespace.clone(), s.object.clone());
                    index.entry(key).or_insert(i);
                }
            }
            index
        });
        let key = (
            what.to_string(),
            namespace.map(str::to_string),
            object.map(str::to_string),
        );
        index.get(&key).and_then(|&i| self.manifest.steps.get(i))
    }

    /// Every file path in the bundle, sorted.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(String::as_str)
    }

    /// Whether the bundle holds `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains(path)
    }

    /// Namespaces that have any file under `namespaces/`, sorted.
    pub fn namespaces(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for e in &self.entries {
            if let Entry::NamespacedList { namespace, .. } = layout::classify(e) {
                out.insert(namespace.to_string());
            }
        }
        out.into_iter().collect()
    }

    /// Log files of one pod: `(container, previous, path)`.
    pub fn pod_logs(&self, namespace: &str, pod: &str) -> Vec<(String, bool, String)> {
        let prefix = format!("logs/{namespace}/{pod}/");
        self.entries
            .range(prefix.clone()..)
            .take_while(|e| e.starts_with(&prefix))
            .filter_map(|e| match layout::classify(e) {
                Entry::Log {
                    container,
                    previous,
                    ..
                } => Some((container.to_string(), previous, e.clone())),
                _ => None,
            })
            .collect()
    }

    /// Streams `file` through `f` within `limit` and the bundle's
    /// ratio and total budgets; `f` gets a buffered reader and the declared
    /// size (a hint, never trusted). A read that passes a budget fails
    /// with [`BundleError::OverBudget`].
    fn stream_within<T>(
        &self,
        file: &str,
        limit: (u64, Budget),
        f: impl FnOnce(&mut dyn BufRead, u64) -> io::Result<T>,
    ) -> Result<T> {
        if !self.entries.contains(file) {
            return Err(BundleError::MissingFile {
                file: file.to_string(),
            });
        }
        if let Some(reason) = self.refused.get(file) {
            return Err(BundleError::Refused {
                file: file.to_string(),
                reason: reason.clone(),
            });
        }
        let budget = ReadBudget {
            limit: (limit.0.min(self.budgets.max_entry_bytes), limit.1),
            budgets: &self.budgets,
            total: &self.inflated,
        };
        self.source.read(file, budget, f)
    }

    /// Streams `file` through `f` within the per-entry budget, for readers
    /// that never need the whole file at once (hashing, searching).
    pub fn stream<T>(
        &self,
        file: &str,
        f: impl FnOnce(&mut dyn BufRead) -> io::Result<T>,
    ) -> Result<T> {
        let limit = (self.budgets.max_entry_bytes, Budget::EntryBytes);
        self.stream_within(file, limit, |r, _| f(r))
    }

    /// Streams a container log through `f` within
    /// [`Budgets::max_log_bytes`]: logs are read for their tail or a few
    /// matching lines, never held whole.
    pub fn stream_log<T>(
        &self,
        file: &str,
        f: impl FnOnce(&mut dyn BufRead) -> io::Result<T>,
    ) -> Result<T> {
        let limit = (self.budgets.max_log_bytes, Budget::LogBytes);
        self.stream_within(file, limit, |r, _| f(r))
    }

    /// Reads a whole file, within the per-entry budget.
    pub fn read_bytes(&self, file: &str) -> Result<Vec<u8>> {
        let limit = (self.budgets.max_entry_bytes, Budget::EntryBytes);
        self.stream_within(file, limit, read_all)
    }

    /// Reads a text file (logs); invalid UTF-8 is replaced, not an error.
    pub fn read_string(&self, file: &str) -> Result<String> {
        let bytes = self.read_bytes(file)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Reads and parses a JSON file.
    pub fn read_json<T: DeserializeOwned>(&self, file: &str) -> Result<T> {
        let bytes = self.read_bytes(file)?;
        serde_json::from_slice(&bytes).map_err(|e| BundleError::from_json(file, &e))
    }

    /// Reads a `List` file.
    pub fn read_list<T: DeserializeOwned>(&self, file: &str) -> Result<List<T>> {
        self.read_json(file)
    }

    /// Reads the list of `kind` (in `namespace` for namespaced kinds).
    /// `Ok(None)` when the bundle does not hold it: see the manifest's steps
    /// for why.
    pub fn read_kind<T: DeserializeOwned>(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Option<List<T>>> {
        match kind.path(namespace) {
            Some(path) if self.contains(&path) => self.read_list(&path).map(Some),
            _ => Ok(None),
        }
    }

    /// Like [`Bundle::read_kind`], without `managedFields[].fieldsV1` (see
    /// [`crate::lean`]): for analysis, where that bookkeeping is never read
    /// and would be most of the parsing.
    pub fn read_kind_lean<T: DeserializeOwned>(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Option<List<T>>> {
        self.read_kind_slim(kind, namespace)
    }

    /// Like [`Bundle::read_kind_lean`], object by object: an object that
    /// does not parse as `T` is returned in [`LenientList::bad`] and the
    /// others are kept. Slower; for a list the fast read refused.
    pub fn read_kind_lenient<T: DeserializeOwned>(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Option<LenientList<T>>> {
        self.read_kind_slim(kind, namespace)
    }

    /// The list of `kind` parsed with [`crate::lean`] into whatever shape
    /// the caller asks (a typed list, or one object at a time): the one
    /// read both [`Bundle::read_kind_lean`] and
    /// [`Bundle::read_kind_lenient`] make.
    fn read_kind_slim<L: DeserializeOwned>(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
    ) -> Result<Option<L>> {
        match kind.path(namespace) {
            Some(path) if self.contains(&path) => {
                let bytes = self.read_bytes(&path)?;
                crate::lean::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| BundleError::from_json(&path, &e))
            }
            _ => Ok(None),
        }
    }

    /// Checks one file against the manifest's size and digest, hashing
    /// it as it streams.
    pub fn verify_file(&self, file: &str) -> Result<()> {
        let Some(record) = self.manifest.files.get(file) else {
            return Ok(());
        };
        if !self.entries.contains(file) {
            return Err(BundleError::ListedButMissing {
                file: file.to_string(),
            });
        }
        let (digest, size) = self.stream(file, |r| {
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            loop {
                let chunk = r.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                hasher.update(chunk);
                let n = chunk.len();
                size += n as u64;
                r.consume(n);
            }
            Ok((crate::writer::hex(&hasher.finalize()), size))
        })?;
        if digest != record.sha256 || size != record.size {
            return Err(BundleError::ChecksumMismatch {
                file: file.to_string(),
                expected: record.sha256.clone(),
                actual: digest,
                expected_size: record.size,
                actual_size: size,
            });
        }
        Ok(())
    }

    /// Verifies the bundle against its manifest: every listed file's size
    /// and digest (or that it is missing), and every entry the manifest
    /// does not list. Returns the problems found, empty when the bundle is
    /// exactly what the manifest describes. The manifest itself is not
    /// signed: this proves consistency, not origin.
    pub fn verify(&self) -> Vec<BundleError> {
        let listed = self
            .manifest
            .files
            .keys()
            .filter_map(|f| self.verify_file(f).err());
        let unlisted = self
            .unlisted_files()
            .into_iter()
            .map(|f| BundleError::Unlisted {
                file: f.to_string(),
            });
        listed.chain(unlisted).collect()
    }

    /// Files present in the bundle but not listed in the manifest (added
    /// after collection, or by hand).
    pub fn unlisted_files(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| {
                e.as_str() != layout::MANIFEST && !self.manifest.files.contains_key(e.as_str())
            })
            .map(String::as_str)
            .collect()
    }

    /// Size of each entry in bytes as recorded by the manifest, for reports.
    pub fn recorded_sizes(&self) -> BTreeMap<&str, u64> {
        self.manifest
            .files
            .iter()
            .map(|(k, v)| (k.as_str(), v.size))
            .collect()
    }
}

/// Reads a whole stream, reserving at most [`MAX_RESERVE`] from the
/// declared size.
fn read_all(r: &mut dyn BufRead, declared: u64) -> io::Result<Vec<u8>> {
    let reserve = usize::try_from(declared.min(MAX_RESERVE)).unwrap_or(0);
    let mut buf = Vec::with_capacity(reserve);
    r.read_to_end(&mut buf)?;
    Ok(buf)
}

fn placeholder_manifest() -> Manifest {
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    Manifest {
        format_version: 0,
        tool: crate::manifest::Tool {
            name: String::new(),
            version: String::new(),
        },
        collection: crate::manifest::Collection {
            started_at: epoch,
            finished_at: epoch,
            interrupted: false,
            timed_out: false,
        },
        cluster: Default::default(),
        scope: Default::default(),
        options: Default::default(),
        steps: Vec::new(),
        redaction: BTreeMap::new(),
        files: BTreeMap::new(),
    }
}
