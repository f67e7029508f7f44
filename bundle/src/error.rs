//! Errors of reading and writing bundles. Every variant names the file (or
//! bundle) it concerns, so a user can tell exactly what is damaged.

use std::path::PathBuf;

/// What went wrong with a bundle or one of its files.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle path could not be opened at all.
    #[error("cannot open bundle {path}: {source}")]
    Open {
        /// The bundle path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a readable zip archive.
    #[error("{path} is not a valid bundle zip: {message}")]
    CorruptZip {
        /// The bundle path.
        path: PathBuf,
        /// What the zip reader said.
        message: String,
    },
    /// The bundle has no `manifest.json`.
    #[error(
        "{path} has no manifest.json: it is not a kpm bundle, or its collection never finished"
    )]
    MissingManifest {
        /// The bundle path.
        path: PathBuf,
    },
    /// The manifest declares a format this reader does not know.
    #[error("{path}: bundle format version {found} is not supported (this kpm reads version {supported}); use a newer kpm")]
    UnsupportedVersion {
        /// The bundle path.
        path: PathBuf,
        /// Version in the manifest.
        found: u32,
        /// Version this crate reads.
        supported: u32,
    },
    /// A file the caller asked for is not in the bundle.
    #[error("{file}: not in the bundle")]
    MissingFile {
        /// Path inside the bundle.
        file: String,
    },
    /// A JSON file ended before its value was complete.
    #[error("{file}: truncated JSON (file ends at line {line}, column {column} before the value is complete)")]
    TruncatedJson {
        /// Path inside the bundle.
        file: String,
        /// Line of the end.
        line: usize,
        /// Column of the end.
        column: usize,
    },
    /// A JSON file is not valid JSON, or not the shape expected.
    #[error("{file}: malformed JSON at line {line}, column {column}: {message}")]
    MalformedJson {
        /// Path inside the bundle.
        file: String,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// What serde said.
        message: String,
    },
    /// A file's content does not match the manifest.
    #[error("{file}: checksum mismatch: manifest records sha256 {expected} ({expected_size} bytes), file has sha256 {actual} ({actual_size} bytes)")]
    ChecksumMismatch {
        /// Path inside the bundle.
        file: String,
        /// Digest in the manifest.
        expected: String,
        /// Digest of the content.
        actual: String,
        /// Size in the manifest.
        expected_size: u64,
        /// Size of the content.
        actual_size: u64,
    },
    /// The manifest lists a file the bundle does not hold.
    #[error("{file}: listed in manifest.json but missing from the bundle")]
    ListedButMissing {
        /// Path inside the bundle.
        file: String,
    },
    /// Reading a file failed at the I/O level.
    #[error("{file}: read failed: {source}")]
    Read {
        /// Path inside the bundle.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A path that would escape the bundle or is otherwise unusable.
    #[error("{file}: unsafe entry path (absolute, empty segment or '..')")]
    UnsafePath {
        /// The offending path.
        file: String,
    },
    /// The output already exists.
    #[error("{path} already exists; pass --force to overwrite it")]
    AlreadyExists {
        /// The output path.
        path: PathBuf,
    },
    /// Writing the bundle failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file being written (bundle or entry).
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The same entry was written twice.
    #[error("{file}: written twice into the bundle")]
    DuplicateEntry {
        /// Path inside the bundle.
        file: String,
    },
    /// A `.tar.gz` capture that cannot be read (truncated gzip, bad tar).
    #[error("{path} is not a readable .tar.gz archive: {message}")]
    CorruptArchive {
        /// The archive path.
        path: PathBuf,
        /// What the gzip or tar reader said.
        message: String,
    },
    /// A folder or archive that is neither a kpm bundle nor a format kpm
    /// converts.
    #[error("{path} is not a kpm bundle (no manifest.json), a troubleshoot support bundle (no cluster-resources/) or a kubectl cluster-info dump (no nodes.json with <namespace>/pods.json); found: {found}")]
    UnknownFormat {
        /// The input path.
        path: PathBuf,
        /// What was found instead.
        found: String,
    },
}

impl BundleError {
    /// Turns a serde_json error on `file` into a truncated or malformed error.
    pub fn from_json(file: &str, err: &serde_json::Error) -> BundleError {
        if err.is_eof() {
            BundleError::TruncatedJson {
                file: file.to_string(),
                line: err.line(),
                column: err.column(),
            }
        } else {
            BundleError::MalformedJson {
                file: file.to_string(),
                line: err.line(),
                column: err.column(),
                message: err.to_string(),
            }
        }
    }
}

/// Result of bundle operations.
pub type Result<T, E = BundleError> = std::result::Result<T, E>;
