//! Bundle reader: opens a zip or an unpacked directory with the same layout.
//!
//! Every failure names the file it concerns, and a damaged file never stops
//! the caller from reading the others: the analyzer reports what it could
//! read and lists the damage.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zip::ZipArchive;

use crate::error::{BundleError, Result};
use crate::layout::{self, is_safe_entry_path, Entry, ResourceKind};
use crate::manifest::{Manifest, Outcome, Step};
use crate::shared_file::SharedFile;
use crate::writer::sha256_hex;

enum Source {
    /// Cloned per read: clones share the central directory and the file
    /// handle, so entries are decompressed concurrently without a lock.
    Zip(ZipArchive<SharedFile>),
    Dir(PathBuf),
}

/// An open bundle.
pub struct Bundle {
    path: PathBuf,
    source: Source,
    manifest: Manifest,
    entries: BTreeSet<String>,
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
    /// The objects.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

impl Bundle {
    /// Opens a bundle (zip file or directory), reads and checks its manifest.
    /// Checksums are not verified here; call [`Bundle::verify`] for that.
    ///
    /// A troubleshoot support bundle (`.tar.gz` or folder) or a `kubectl
    /// cluster-info dump` folder is recognised from its content and
    /// converted first into a private temporary zip
    /// ([`crate::foreign`]), so every reader sees one format.
    pub fn open(path: impl AsRef<Path>) -> Result<Bundle> {
        let path = path.as_ref();
        let Some(format) = crate::foreign::detect(path)? else {
            return Bundle::open_kpm(path);
        };
        let temp = tempfile::Builder::new()
            .prefix("kpm-converted-")
            .suffix(".zip")
            .tempfile()
            .map_err(|source| BundleError::Write {
                path: "temporary converted bundle".into(),
                source,
            })?
            .into_temp_path();
        let writer = crate::writer::BundleWriter::create_zip(temp.to_path_buf(), true)?;
        crate::foreign::convert(path, format, writer, Default::default())?;
        let mut bundle = Bundle::open_kpm(&temp)?;
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

    fn open_kpm(path: &Path) -> Result<Bundle> {
        let path = path.to_path_buf();
        let meta = std::fs::metadata(&path).map_err(|source| BundleError::Open {
            path: path.clone(),
            source,
        })?;
        let (source, entries) = if meta.is_dir() {
            let mut entries = BTreeSet::new();
            collect_dir_entries(&path, &path, &mut entries)?;
            (Source::Dir(path.clone()), entries)
        } else {
            let file = File::open(&path).map_err(|source| BundleError::Open {
                path: path.clone(),
                source,
            })?;
            let file = SharedFile::new(file).map_err(|source| BundleError::Open {
                path: path.clone(),
                source,
            })?;
            let archive = ZipArchive::new(file).map_err(|e| BundleError::CorruptZip {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let mut entries = BTreeSet::new();
            for name in archive.file_names() {
                let name = name.map_err(|e| BundleError::CorruptZip {
                    path: path.clone(),
                    message: format!("unreadable entry name: {e}"),
                })?;
                if !name.ends_with('/') {
                    entries.insert(name.into_owned());
                }
            }
            (Source::Zip(archive), entries)
        };
        let mut bundle = Bundle {
            path: path.clone(),
            source,
            manifest: placeholder_manifest(),
            entries,
            failed_steps: OnceLock::new(),
            _converted: None,
            converted_from: None,
        };
        if !bundle.entries.contains(layout::MANIFEST) {
            return Err(BundleError::MissingManifest { path });
        }
        // Check the version before the shape: a future format may change it.
        let raw: serde_json::Value = bundle.read_json(layout::MANIFEST)?;
        let found = raw
            .get("formatVersion")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if found != u64::from(layout::FORMAT_VERSION) {
            return Err(BundleError::UnsupportedVersion {
                path,
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: layout::FORMAT_VERSION,
            });
        }
        bundle.manifest = serde_json::from_value(raw)
            .map_err(|e| BundleError::from_json(layout::MANIFEST, &e))?;
        Ok(bundle)
    }

    /// The path the bundle was opened from.
    pub fn path(&self) -> &Path {
        &self.path
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

    /// Reads a whole file.
    pub fn read_bytes(&self, file: &str) -> Result<Vec<u8>> {
        if !self.entries.contains(file) {
            return Err(BundleError::MissingFile {
                file: file.to_string(),
            });
        }
        let read_err = |source| BundleError::Read {
            file: file.to_string(),
            source,
        };
        match &self.source {
            Source::Dir(root) => {
                if !is_safe_entry_path(file) {
                    return Err(BundleError::UnsafePath {
                        file: file.to_string(),
                    });
                }
                std::fs::read(root.join(file)).map_err(read_err)
            }
            Source::Zip(archive) => {
                let mut archive = archive.clone();
                let mut entry = archive
                    .by_name(file)
                    .map_err(|e| read_err(std::io::Error::other(e.to_string())))?;
                let mut buf =
                    Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(1 << 30));
                entry.read_to_end(&mut buf).map_err(read_err)?;
                Ok(buf)
            }
        }
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

    /// Checks one file against the manifest's size and digest.
    pub fn verify_file(&self, file: &str) -> Result<()> {
        let Some(record) = self.manifest.files.get(file) else {
            return Ok(());
        };
        if !self.entries.contains(file) {
            return Err(BundleError::ListedButMissing {
                file: file.to_string(),
            });
        }
        let bytes = self.read_bytes(file)?;
        let actual = sha256_hex(&bytes);
        if actual != record.sha256 || bytes.len() as u64 != record.size {
            return Err(BundleError::ChecksumMismatch {
                file: file.to_string(),
                expected: record.sha256.clone(),
                actual,
                expected_size: record.size,
                actual_size: bytes.len() as u64,
            });
        }
        Ok(())
    }

    /// Verifies every file the manifest lists. Returns the problems found,
    /// empty when the bundle is intact.
    pub fn verify(&self) -> Vec<BundleError> {
        let files: Vec<&String> = self.manifest.files.keys().collect();
        files
            .into_iter()
            .filter_map(|f| self.verify_file(f).err())
            .collect()
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

fn collect_dir_entries(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> Result<()> {
    let read = std::fs::read_dir(dir).map_err(|source| BundleError::Open {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in read {
        let entry = entry.map_err(|source| BundleError::Open {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|source| BundleError::Open {
            path: path.clone(),
            source,
        })?;
        if file_type.is_dir() {
            collect_dir_entries(root, &path, out)?;
        } else if file_type.is_file() {
            if let Ok(rel) = path.strip_prefix(root) {
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.insert(rel.join("/"));
            }
        }
    }
    Ok(())
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
