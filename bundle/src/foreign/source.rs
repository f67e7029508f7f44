//! Reading another tool's capture entry by entry: an extracted folder or a
//! `.tar.gz` archive, streamed (never extracted to a temporary tree).
//!
//! Every entry is checked as carefully as a zip entry: its path must stay
//! inside the capture (no absolute paths, no `..`, no empty segments),
//! links are never followed (a symlinked copy of a log is skipped and
//! reported), and no entry is read past [`SourceLimits::max_entry_bytes`].

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{BundleError, Result};
use crate::layout::is_safe_entry_path;

/// Caps on what is read from a foreign capture.
#[derive(Debug, Clone, Copy)]
pub struct SourceLimits {
    /// Bytes read at most from one entry; the rest is skipped and the entry
    /// reported as truncated.
    pub max_entry_bytes: u64,
    /// Entries read at most.
    pub max_entries: u64,
}

impl Default for SourceLimits {
    fn default() -> SourceLimits {
        SourceLimits {
            max_entry_bytes: 512 << 20,
            max_entries: 1_000_000,
        }
    }
}

/// One regular file of the capture, its path relative to the capture's
/// root (the archive's top folder stripped).
pub struct SourceEntry<'a> {
    /// `/`-separated path relative to the capture root.
    pub path: String,
    /// Modification time (seconds since the epoch), when recorded.
    pub mtime: Option<i64>,
    /// The size the archive or folder states (capped by the limits): a
    /// hint for buffers, never trusted as the content's length.
    pub size: Option<u64>,
    /// The content, capped at [`SourceLimits::max_entry_bytes`].
    pub reader: &'a mut dyn Read,
}

/// Something that was not read, and why (recorded in the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry's path as the archive or folder names it.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Calls `visit` with every regular file of the capture at `path` (a folder
/// or a `.tar.gz`), in the order they are stored; returns what was skipped.
pub fn walk(
    path: &Path,
    limits: SourceLimits,
    visit: &mut dyn FnMut(SourceEntry<'_>) -> Result<()>,
) -> Result<Vec<Skipped>> {
    let meta = std::fs::metadata(path).map_err(|source| BundleError::Open {
        path: path.to_path_buf(),
        cause: source,
    })?;
    if meta.is_dir() {
        walk_dir(path, limits, visit)
    } else {
        walk_tar_gz(path, limits, visit)
    }
}

fn walk_dir(
    root: &Path,
    limits: SourceLimits,
    visit: &mut dyn FnMut(SourceEntry<'_>) -> Result<()>,
) -> Result<Vec<Skipped>> {
    let mut skipped = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    let mut seen = 0u64;
    while let Some(dir) = stack.pop() {
        let read = std::fs::read_dir(&dir).map_err(|source| BundleError::Open {
            path: dir.clone(),
            cause: source,
        })?;
        let mut children: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for child in children {
            let rel = relative(root, &child);
            // symlink_metadata: a link is reported, never followed.
            let Ok(meta) = std::fs::symlink_metadata(&child) else {
                skipped.push(skip(&rel, "unreadable"));
                continue;
            };
            if meta.file_type().is_symlink() {
                skipped.push(skip(&rel, "a symbolic link (not followed)"));
            } else if meta.is_dir() {
                stack.push(child);
            } else if !meta.is_file() {
                skipped.push(skip(&rel, "not a regular file"));
            } else if !is_safe_entry_path(&rel) {
                skipped.push(skip(&rel, "unsafe path"));
            } else if seen >= limits.max_entries {
                skipped.push(skip(&rel, "over the entry budget"));
            } else {
                seen += 1;
                let file = File::open(&child).map_err(|source| BundleError::Read {
                    file: rel.clone(),
                    cause: source,
                })?;
                let mut capped = BufReader::new(file).take(limits.max_entry_bytes);
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .and_then(|d| i64::try_from(d.as_secs()).ok());
                if meta.len() > limits.max_entry_bytes {
                    skipped.push(skip(&rel, "over the entry size budget (truncated)"));
                }
                visit(SourceEntry {
                    path: rel,
                    mtime,
                    size: Some(meta.len().min(limits.max_entry_bytes)),
                    reader: &mut capped,
                })?;
            }
        }
    }
    Ok(skipped)
}

fn walk_tar_gz(
    path: &Path,
    limits: SourceLimits,
    visit: &mut dyn FnMut(SourceEntry<'_>) -> Result<()>,
) -> Result<Vec<Skipped>> {
    let corrupt = |message: String| corrupt_archive(path, message);
    let gz = open_gz(path)?;
    let ahead = super::read_ahead::ReadAhead::new(gz).map_err(|cause| BundleError::Open {
        path: path.to_path_buf(),
        cause,
    })?;
    let mut archive = tar::Archive::new(ahead);
    let entries = archive.entries().map_err(|e| corrupt(e.to_string()))?;
    let mut skipped = Vec::new();
    let mut seen = 0u64;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() {
            continue;
        }
        let Some(rel) = strip_root(&raw) else {
            skipped.push(skip(&raw, "outside the capture's folder"));
            continue;
        };
        if !kind.is_file() {
            skipped.push(skip(&raw, "not a regular file (links are not followed)"));
            continue;
        }
        if !is_safe_entry_path(&rel) {
            skipped.push(skip(&raw, "unsafe path"));
            continue;
        }
        if seen >= limits.max_entries {
            skipped.push(skip(&raw, "over the entry budget"));
            continue;
        }
        seen += 1;
        let size = entry.size();
        let mtime = entry
            .header()
            .mtime()
            .ok()
            .and_then(|t| i64::try_from(t).ok());
        if size > limits.max_entry_bytes {
            skipped.push(skip(&raw, "over the entry size budget (truncated)"));
        }
        let mut capped = (&mut entry).take(limits.max_entry_bytes);
        visit(SourceEntry {
            path: rel,
            mtime,
            size: Some(size.min(limits.max_entry_bytes)),
            reader: &mut capped,
        })?;
    }
    Ok(skipped)
}

/// A streaming reader of the `.tar.gz` at `path`.
fn open_tar_gz(path: &Path) -> Result<tar::Archive<flate2::read::GzDecoder<BufReader<File>>>> {
    Ok(tar::Archive::new(open_gz(path)?))
}

/// The decompressed stream of the gzip file at `path`.
fn open_gz(path: &Path) -> Result<flate2::read::GzDecoder<BufReader<File>>> {
    let file = File::open(path).map_err(|source| BundleError::Open {
        path: path.to_path_buf(),
        cause: source,
    })?;
    Ok(flate2::read::GzDecoder::new(BufReader::with_capacity(
        256 * 1024,
        file,
    )))
}

fn corrupt_archive(path: &Path, message: String) -> BundleError {
    BundleError::CorruptArchive {
        path: path.to_path_buf(),
        message,
    }
}

/// A troubleshoot archive stores everything under one top folder
/// (`support-bundle-<time>/`); a path is taken relative to it. `None` for a
/// path with nothing below the top folder or that climbs out of it.
fn strip_root(raw: &str) -> Option<String> {
    let trimmed = raw.trim_start_matches("./");
    let (_, rest) = trimmed.split_once('/')?;
    (!rest.is_empty()).then(|| rest.to_string())
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn skip(path: &str, reason: &str) -> Skipped {
    Skipped {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// Paths of the capture at `path` (folder or `.tar.gz`), without reading
/// contents beyond what the archive format requires: used to detect the
/// format. Stops after `max` paths.
pub fn list_paths(path: &Path, max: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let meta = std::fs::metadata(path).map_err(|source| BundleError::Open {
        path: path.to_path_buf(),
        cause: source,
    })?;
    if meta.is_dir() {
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(read) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in read.flatten() {
                let child = entry.path();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let rel = relative(path, &child);
                if is_dir {
                    out.push(format!("{rel}/"));
                    stack.push(child);
                } else {
                    out.push(rel);
                }
                if out.len() >= max {
                    return Ok(out);
                }
            }
        }
        return Ok(out);
    }
    let corrupt = |message: String| corrupt_archive(path, message);
    let mut archive = open_tar_gz(path)?;
    for entry in archive.entries().map_err(|e| corrupt(e.to_string()))? {
        let entry = entry.map_err(|e| corrupt(e.to_string()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if let Some(rel) = strip_root(&raw) {
            out.push(rel);
        }
        if out.len() >= max {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_folder_is_stripped_and_escapes_refused() {
        assert_eq!(
            strip_root("support-bundle/cluster-resources/pods/default.json").as_deref(),
            Some("cluster-resources/pods/default.json")
        );
        assert_eq!(
            strip_root("./sb/version.yaml").as_deref(),
            Some("version.yaml")
        );
        assert_eq!(strip_root("version.yaml"), None);
        assert_eq!(strip_root("sb/"), None);
        // The path check runs after: `..` never passes it.
        let rel = strip_root("sb/../../etc/passwd").unwrap_or_default();
        assert!(!is_safe_entry_path(&rel));
    }
}
