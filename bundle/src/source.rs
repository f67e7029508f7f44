//! Where a bundle's entries come from (a zip or a directory), and reading
//! one entry within the budgets.
//!
//! Opening checks what can be checked before any entry is inflated: the
//! number of entries (from the zip's end records, before its directory is
//! parsed), duplicate names, entries whose bytes overlap, and in a
//! directory symbolic links and special files. Such entries stay listed
//! (so a caller asking for them learns why they are unreadable) but every
//! read of them fails with [`BundleError::Refused`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use zip::ZipArchive;

use crate::budget::{exceeded_in, Budget, Budgets, Exceeded, Metered};
use crate::error::{BundleError, Refusal, Result};
use crate::layout::is_safe_entry_path;
use crate::shared_file::SharedFile;

/// Size of a zip local file header without its name and extra field.
const LOCAL_HEADER: u64 = 30;

/// Read buffer of entry streams.
const STREAM_BUFFER: usize = 64 * 1024;

/// The entries of a bundle and how to read them.
pub(crate) enum Source {
    /// Cloned per read: clones share the central directory and the file
    /// handle, so entries are decompressed concurrently without a lock.
    Zip(ZipArchive<SharedFile>),
    Dir(PathBuf),
}

/// An opened source with its entry list and the entries it refuses.
pub(crate) struct Opened {
    pub(crate) source: Source,
    pub(crate) entries: BTreeSet<String>,
    pub(crate) refused: BTreeMap<String, Refusal>,
}

/// Opens `path` (zip file or directory), checking the entry budget.
pub(crate) fn open(path: &Path, budgets: &Budgets) -> Result<Opened> {
    let open_err = |source| BundleError::Open {
        path: path.to_path_buf(),
        cause: source,
    };
    let meta = std::fs::metadata(path).map_err(open_err)?;
    if meta.is_dir() {
        return open_dir(path, budgets);
    }
    let file = File::open(path).map_err(open_err)?;
    let mut file = SharedFile::new(file).map_err(open_err)?;
    let declared = declared_entries(&mut file).map_err(open_err)?;
    if declared > budgets.max_entries {
        return Err(too_many(path, budgets));
    }
    let archive = ZipArchive::new(file).map_err(|e| BundleError::CorruptZip {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if archive.len() as u64 > budgets.max_entries {
        return Err(too_many(path, budgets));
    }
    let mut entries = BTreeSet::new();
    for name in archive.file_names() {
        let name = name.map_err(|e| BundleError::CorruptZip {
            path: path.to_path_buf(),
            message: format!("unreadable entry name: {e}"),
        })?;
        if !name.ends_with('/') {
            entries.insert(name.into_owned());
        }
    }
    let mut refused = overlapping(&archive);
    if archive.has_duplicate_names() {
        let dups = duplicates(&archive, budgets).map_err(open_err)?;
        refused.extend(dups);
    }
    refused.retain(|name, _| entries.contains(name));
    Ok(Opened {
        source: Source::Zip(archive),
        entries,
        refused,
    })
}

fn too_many(path: &Path, budgets: &Budgets) -> BundleError {
    BundleError::OverBudget {
        file: path.display().to_string(),
        exceeded: Exceeded {
            budget: Budget::Entries,
            limit: budgets.max_entries,
        },
    }
}

fn le16(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 2)
        .map_or(0, |s| u64::from(u16::from_le_bytes([s[0], s[1]])))
}

fn le32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4).map_or(0, |s| {
        u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    })
}

fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

/// The largest entry count any end-of-central-directory record in the
/// zip's tail declares (Zip64 records included), read before the zip
/// library parses (and allocates for) the directory. Every candidate
/// counts, because the library may settle on any of them.
fn declared_entries(file: &mut SharedFile) -> io::Result<u64> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let len = file.seek(SeekFrom::End(0))?;
    // The record is 22 bytes plus a comment of at most 65,535.
    let window = len.min(22 + 65_535 + 20);
    file.seek(SeekFrom::Start(len - window))?;
    let mut tail = vec![0u8; usize::try_from(window).unwrap_or(0)];
    file.read_exact(&mut tail)?;
    let mut most = 0u64;
    for at in (0..tail.len().saturating_sub(3)).filter(|&i| tail.get(i..i + 4) == Some(EOCD)) {
        let mut count = le16(&tail, at + 10);
        let zip64_locator = at
            .checked_sub(20)
            .filter(|&l| le32(&tail, l) == 0x0706_4b50);
        if let Some(locator) = zip64_locator {
            let record = le64(&tail, locator + 8);
            let mut buf = [0u8; 56];
            if record + 56 <= len {
                file.seek(SeekFrom::Start(record))?;
                file.read_exact(&mut buf)?;
                if le32(&buf, 0) == 0x0606_4b50 {
                    count = count.max(le64(&buf, 32));
                }
            }
        }
        most = most.max(count);
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(most)
}

/// Entries whose bytes (local header, name and compressed data) overlap
/// another entry's or the central directory. The range taken is the least
/// an honest entry occupies, so a well-formed zip never trips it.
fn overlapping(archive: &ZipArchive<SharedFile>) -> BTreeMap<String, Refusal> {
    let mut ranges: Vec<(u64, u64, String)> = (0..archive.len())
        .filter_map(|i| archive.by_index_data(i).ok())
        .filter_map(|e| {
            let name = e.name().ok()?.into_owned();
            let start = e.header_start();
            let end = start
                .saturating_add(LOCAL_HEADER)
                .saturating_add(e.name_raw().len() as u64)
                .saturating_add(e.compressed_size());
            Some((start, end, name))
        })
        .collect();
    ranges.sort_unstable();
    let dir_start = archive.central_directory_start();
    let mut refused = BTreeMap::new();
    // The entry reaching furthest so far.
    let mut furthest: Option<(u64, usize)> = None;
    for (i, (start, end, name)) in ranges.iter().enumerate() {
        if *end > dir_start {
            refused.insert(
                name.clone(),
                Refusal::Overlapping {
                    other: "the zip's central directory".to_string(),
                },
            );
        }
        if let Some((reach, owner)) = furthest {
            if *start < reach {
                let other = &ranges[owner].2;
                refused.insert(
                    name.clone(),
                    Refusal::Overlapping {
                        other: other.clone(),
                    },
                );
                refused
                    .entry(other.clone())
                    .or_insert_with(|| Refusal::Overlapping {
                        other: name.clone(),
                    });
            }
        }
        if furthest.is_none_or(|(reach, _)| *end > reach) {
            furthest = Some((*end, i));
        }
    }
    refused
}

/// Names that more than one central-directory record carries. The zip
/// library keeps one record per name, so the directory is walked here.
fn duplicates(
    archive: &ZipArchive<SharedFile>,
    budgets: &Budgets,
) -> io::Result<BTreeMap<String, Refusal>> {
    const CENTRAL: u64 = 0x0201_4b50;
    let mut reader = BufReader::with_capacity(STREAM_BUFFER, archive.clone().into_inner());
    reader.seek(SeekFrom::Start(archive.central_directory_start()))?;
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut fixed = [0u8; 46];
    // The library parsed this chain already; the bound only guards a loop.
    for _ in 0..budgets.max_entries.saturating_add(1) {
        if reader.read_exact(&mut fixed).is_err() || le32(&fixed, 0) != CENTRAL {
            break;
        }
        let mut name = vec![0u8; usize::try_from(le16(&fixed, 28)).unwrap_or(0)];
        reader.read_exact(&mut name)?;
        let skip = le16(&fixed, 30) + le16(&fixed, 32);
        reader.seek_relative(i64::try_from(skip).unwrap_or(0))?;
        *counts.entry(name).or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .filter_map(|(raw, copies)| {
            let i = archive.index_for_name_raw(&raw)?;
            let name = archive.name_for_index(i)?.ok()?.into_owned();
            Some((name, Refusal::Duplicate { copies }))
        })
        .collect())
}

/// Walks a bundle directory without following links, counting entries
/// against the budget. Links and special files are listed, refused.
fn open_dir(root: &Path, budgets: &Budgets) -> Result<Opened> {
    let mut entries = BTreeSet::new();
    let mut refused = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let open_err = |source| BundleError::Open {
            path: dir.clone(),
            cause: source,
        };
        for entry in std::fs::read_dir(&dir).map_err(open_err)? {
            let entry = entry.map_err(open_err)?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|source| BundleError::Open {
                path: path.clone(),
                cause: source,
            })?;
            if file_type.is_dir() {
                pending.push(path);
                continue;
            }
            let Some(rel) = relative_name(root, &path) else {
                continue;
            };
            if file_type.is_symlink() {
                refused.insert(rel.clone(), Refusal::Symlink);
            } else if !file_type.is_file() {
                refused.insert(rel.clone(), Refusal::NotRegularFile);
            }
            entries.insert(rel);
            if entries.len() as u64 > budgets.max_entries {
                return Err(too_many(root, budgets));
            }
        }
    }
    Ok(Opened {
        source: Source::Dir(root.to_path_buf()),
        entries,
        refused,
    })
}

fn relative_name(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// What one read may consume.
pub(crate) struct ReadBudget<'a> {
    /// The read's own limit and the budget it reports.
    pub(crate) limit: (u64, Budget),
    pub(crate) budgets: &'a Budgets,
    /// Bytes inflated by every read of the bundle so far.
    pub(crate) total: &'a AtomicU64,
}

impl Source {
    /// Streams `file` through `f` within `budget`; the stream fails as soon
    /// as a budget is passed, and that failure becomes
    /// [`BundleError::OverBudget`].
    pub(crate) fn read<T>(
        &self,
        file: &str,
        budget: ReadBudget<'_>,
        f: impl FnOnce(&mut dyn BufRead, u64) -> io::Result<T>,
    ) -> Result<T> {
        let read_err = |source: io::Error| match exceeded_in(&source) {
            Some(exceeded) => BundleError::OverBudget {
                file: file.to_string(),
                exceeded,
            },
            None => BundleError::Read {
                file: file.to_string(),
                cause: source,
            },
        };
        match self {
            Source::Dir(root) => {
                if !is_safe_entry_path(file) {
                    return Err(BundleError::UnsafePath {
                        file: file.to_string(),
                    });
                }
                let path = root.join(file);
                let meta = std::fs::symlink_metadata(&path).map_err(read_err)?;
                if !meta.file_type().is_file() {
                    return Err(BundleError::Refused {
                        file: file.to_string(),
                        reason: if meta.file_type().is_symlink() {
                            Refusal::Symlink
                        } else {
                            Refusal::NotRegularFile
                        },
                    });
                }
                let handle = File::open(&path).map_err(read_err)?;
                let size_hint = meta.len();
                let metered =
                    Metered::new(handle, budget.limit, None, budget.budgets, budget.total);
                let mut reader = BufReader::with_capacity(STREAM_BUFFER, metered);
                f(&mut reader, size_hint).map_err(read_err)
            }
            Source::Zip(archive) => {
                let mut archive = archive.clone();
                let entry = archive
                    .by_name(file)
                    .map_err(|e| read_err(io::Error::other(e.to_string())))?;
                let compressed = entry.compressed_size();
                // The declared size is a hint for buffers only, never trusted.
                let size_hint = entry.size();
                let metered = Metered::new(
                    entry,
                    budget.limit,
                    Some(compressed),
                    budget.budgets,
                    budget.total,
                );
                let mut reader = BufReader::with_capacity(STREAM_BUFFER, metered);
                f(&mut reader, size_hint).map_err(read_err)
            }
        }
    }
}
