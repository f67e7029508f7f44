//! The size and digest of every file written so far, kept compact until
//! they go into `manifest.json`'s `files`.
//!
//! A collected bundle has a file per container log, 150,000 and more on a
//! large cluster. As a `BTreeMap<String, FileRecord>` each cost about 250
//! bytes (the path, a 64-character hex digest, two allocations and a tree
//! node); here each costs its path bytes plus 56, and the map is produced
//! entry by entry, sorted by path, while the manifest is written.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::manifest::FileRecord;
use crate::writer::hex;

/// One written file: where its path is in the arena, its size and digest.
#[derive(Debug, Clone, Copy)]
struct Entry {
    path_start: usize,
    path_len: u32,
    size: u64,
    sha256: [u8; 32],
}

/// Files written so far, in write order.
#[derive(Debug, Default)]
pub(crate) struct FileIndex {
    /// Every path, one after the other.
    paths: String,
    entries: Vec<Entry>,
    /// A hash of each path: a duplicate check without a second copy of the
    /// paths. Equal hashes are confirmed against the paths themselves.
    hashes: HashSet<u64>,
}

fn path_hash(path: &str) -> u64 {
    let mut h = DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

impl FileIndex {
    fn path(&self, e: &Entry) -> &str {
        self.paths
            .get(e.path_start..e.path_start + e.path_len as usize)
            .unwrap_or_default()
    }

    /// Whether `path` was written.
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.hashes.contains(&path_hash(path)) && self.entries.iter().any(|e| self.path(e) == path)
    }

    /// Records a written file. A path longer than 4 GiB cannot be an entry
    /// (zip names are at most 64 KiB), so its length always fits.
    pub(crate) fn insert(&mut self, path: &str, size: u64, sha256: [u8; 32]) {
        self.hashes.insert(path_hash(path));
        self.entries.push(Entry {
            path_start: self.paths.len(),
            path_len: u32::try_from(path.len()).unwrap_or(u32::MAX),
            size,
            sha256,
        });
        self.paths.push_str(path);
    }

    /// The record of `path`, if it was written.
    pub(crate) fn get(&self, path: &str) -> Option<FileRecord> {
        self.entries
            .iter()
            .find(|e| self.path(e) == path)
            .map(|e| FileRecord {
                size: e.size,
                sha256: hex(&e.sha256),
            })
    }

    /// Serializes as `manifest.json`'s `files`: a map by path, sorted as a
    /// `BTreeMap` would be, each record made only while it is written.
    pub(crate) fn sorted(&self) -> SortedFiles<'_> {
        let mut order: Vec<u32> = (0..self.entries.len() as u32).collect();
        order.sort_unstable_by(|a, b| {
            let path = |i: &u32| self.entries.get(*i as usize).map(|e| self.path(e));
            path(a).cmp(&path(b))
        });
        SortedFiles { index: self, order }
    }
}

/// [`FileIndex::sorted`].
pub(crate) struct SortedFiles<'a> {
    index: &'a FileIndex,
    order: Vec<u32>,
}

impl Serialize for SortedFiles<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.order.len()))?;
        for e in self
            .order
            .iter()
            .filter_map(|i| self.index.entries.get(*i as usize))
        {
            let record = FileRecord {
                size: e.size,
                sha256: hex(&e.sha256),
            };
            map.serialize_entry(self.index.path(e), &record)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn serializes_as_the_map_of_records_sorted_by_path() {
        let mut index = FileIndex::default();
        let mut expected = BTreeMap::new();
        for (i, path) in [
            "namespaces/shop/pods.json",
            "cluster/nodes.json",
            "logs/shop/web-0/app.log",
            "logs/shop/web-0/app.previous.log",
        ]
        .into_iter()
        .enumerate()
        {
            let digest = [i as u8 * 17; 32];
            index.insert(path, 100 + i as u64, digest);
            expected.insert(
                path.to_string(),
                FileRecord {
                    size: 100 + i as u64,
                    sha256: hex(&digest),
                },
            );
        }
        assert_eq!(
            serde_json::to_string_pretty(&index.sorted()).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap()
        );
        assert!(index.contains("cluster/nodes.json"));
        assert!(!index.contains("cluster/nodes.jso"));
        assert_eq!(
            index.get("logs/shop/web-0/app.log"),
            expected.get("logs/shop/web-0/app.log").cloned()
        );
        assert_eq!(index.get("nope"), None);
    }

    #[test]
    fn empty_index_is_an_empty_map() {
        let index = FileIndex::default();
        assert_eq!(serde_json::to_string(&index.sorted()).unwrap(), "{}");
    }
}
