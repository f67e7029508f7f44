//! Errors of reading and writing bundles. Every variant names the file (or
//! bundle) it concerns, so a user can tell exactly what is damaged.
//!
//! Each message is whole: an I/O cause is written into it and not also
//! returned as `source()`, so a caller printing the chain (`{:#}`) says the
//! file and the OS cause once.

use std::path::PathBuf;

use crate::budget::Exceeded;

/// What went wrong with a bundle or one of its files.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle path could not be opened at all.
    #[error("cannot open bundle {path}: {cause}")]
    Open {
        /// The bundle path.
        path: PathBuf,
        /// The I/O error, already in the message (not a `source()`, so an
        /// error chain says it once).
        cause: std::io::Error,
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
    #[error("{file}: read failed: {cause}")]
    Read {
        /// Path inside the bundle.
        file: String,
        /// The I/O error, already in the message (not a `source()`).
        cause: std::io::Error,
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
    #[error("cannot write {path}: {cause}")]
    Write {
        /// The file being written (bundle or entry).
        path: String,
        /// The I/O error, already in the message (not a `source()`).
        cause: std::io::Error,
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
    /// Reading a file (or opening the bundle) passed a budget
    /// ([`crate::Budgets`]); nothing past it was read.
    #[error("{file}: {exceeded}")]
    OverBudget {
        /// Path inside the bundle, or the bundle path for whole-bundle budgets.
        file: String,
        /// Which budget, and its value.
        exceeded: Exceeded,
    },
    /// An entry the reader will not read at all (see [`Refusal`]).
    #[error("{file}: not read: {reason}")]
    Refused {
        /// Path inside the bundle.
        file: String,
        /// Why.
        reason: Refusal,
    },
    /// A field of `manifest.json` that does not have the shape of the
    /// format; it is ignored (a default takes its place), the rest is read.
    #[error("manifest.json: {field}: {message}; ignored")]
    ManifestField {
        /// JSON path of the field, e.g. `steps[3]` or `collection.finishedAt`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// An entry `manifest.json` does not list: its content is not covered
    /// by the manifest's checksums.
    #[error(
        "{file}: not listed in manifest.json, so no checksum covers it (added after collection?)"
    )]
    Unlisted {
        /// Path inside the bundle.
        file: String,
    },
}

/// Why the reader refuses an entry of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Several entries of the zip carry this name: which one a tool reads
    /// differs between tools, so none is trusted.
    Duplicate {
        /// How many entries have the name.
        copies: usize,
    },
    /// Its bytes in the zip overlap another entry's (entries sharing one
    /// compressed stream are the zip-bomb pattern).
    Overlapping {
        /// One entry it overlaps.
        other: String,
    },
    /// A symbolic link in a bundle directory: never followed.
    Symlink,
    /// Not a regular file (FIFO, socket, device) in a bundle directory.
    NotRegularFile,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Duplicate { copies } => write!(
                f,
                "the zip holds {copies} entries with this name; none is read, since tools disagree on which one counts"
            ),
            Refusal::Overlapping { other } => write!(
                f,
                "its compressed data overlaps that of {other} (entries sharing data are a zip-bomb pattern)"
            ),
            Refusal::Symlink => write!(f, "a symbolic link; links are never followed"),
            Refusal::NotRegularFile => write!(f, "not a regular file"),
        }
    }
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
                message: shorten(&err.to_string()),
            }
        }
    }
}

impl BundleError {
    /// The file inside the bundle this error concerns (`manifest.json` for
    /// manifest fields), or `None` when it concerns the bundle as a whole.
    pub fn file(&self) -> Option<&str> {
        match self {
            BundleError::MissingFile { file }
            | BundleError::TruncatedJson { file, .. }
            | BundleError::MalformedJson { file, .. }
            | BundleError::ChecksumMismatch { file, .. }
            | BundleError::ListedButMissing { file }
            | BundleError::Read { file, .. }
            | BundleError::UnsafePath { file }
            | BundleError::DuplicateEntry { file }
            | BundleError::OverBudget { file, .. }
            | BundleError::Refused { file, .. }
            | BundleError::Unlisted { file } => Some(file),
            BundleError::ManifestField { .. } => Some(crate::layout::MANIFEST),
            BundleError::Open { .. }
            | BundleError::CorruptZip { .. }
            | BundleError::MissingManifest { .. }
            | BundleError::UnsupportedVersion { .. }
            | BundleError::AlreadyExists { .. }
            | BundleError::Write { .. }
            | BundleError::CorruptArchive { .. }
            | BundleError::UnknownFormat { .. } => None,
        }
    }
}

/// Longest problem text kept from a parser message: messages quote the
/// offending value, which the bundle's author chose.
const MAX_MESSAGE: usize = 300;

/// `message` cut to a few hundred bytes (at a character boundary), saying
/// how many bytes were left out.
pub fn shorten(message: &str) -> String {
    if message.len() <= MAX_MESSAGE {
        return message.to_string();
    }
    let mut cut = MAX_MESSAGE;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… {} more bytes", &message[..cut], message.len() - cut)
}

/// Result of bundle operations.
pub type Result<T, E = BundleError> = std::result::Result<T, E>;
