//! Seeds read in place: the repository's `testdata/`, the shared
//! real-world corpus (`../shared/corpus/`) and `fuzz/seeds/<target>/`.
//! Nothing is copied into the repository.

use std::path::{Path, PathBuf};

use crate::mutate::archive::{Kind, Member};

/// Files above this size are not used as seeds (they slow every run).
pub const MAX_SEED_FILE: u64 = 4 << 20;

/// Where seeds are found.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The repository root (holds `testdata/` and `fuzz/`).
    pub root: PathBuf,
}

impl Paths {
    /// Paths rooted at `root`.
    pub fn new(root: PathBuf) -> Paths {
        Paths { root }
    }

    /// `testdata/`.
    pub fn testdata(&self) -> PathBuf {
        self.root.join("testdata")
    }

    /// The shared corpus, `../shared/corpus/` from the repository root.
    pub fn shared(&self) -> PathBuf {
        self.root.join("..").join("shared").join("corpus")
    }

    /// `fuzz/seeds/<target>/`.
    pub fn seeds(&self, target: &str) -> PathBuf {
        self.root.join("fuzz").join("seeds").join(target)
    }

    /// `fuzz/artifacts/<target>/`.
    pub fn artifacts(&self, target: &str) -> PathBuf {
        self.root.join("fuzz").join("artifacts").join(target)
    }

    /// The scenario bundles of `testdata/` (directories with a manifest).
    pub fn scenarios(&self) -> Vec<PathBuf> {
        bundle_dirs(&self.testdata())
    }

    /// The kpm-format bundles of the shared corpus.
    pub fn shared_bundles(&self) -> Vec<PathBuf> {
        bundle_dirs(&self.shared().join("kpm"))
    }
}

fn bundle_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = read_dir_sorted(dir)
        .into_iter()
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    out.sort();
    out
}

/// The entries of a directory, sorted (empty when it cannot be read).
pub fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Every regular file and symlink under `dir`, as archive members with
/// paths relative to `dir`, sorted; files over [`MAX_SEED_FILE`] are left
/// out.
pub fn members(dir: &Path) -> Vec<Member> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Member>) {
    for p in read_dir_sorted(dir) {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let name = p
            .strip_prefix(root)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_default();
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&p).unwrap_or_default();
            out.push(Member {
                name,
                kind: Kind::Symlink(target.to_string_lossy().into_owned()),
                data: Vec::new(),
            });
        } else if meta.is_dir() {
            walk(root, &p, out);
        } else if meta.is_file() && meta.len() <= MAX_SEED_FILE {
            if let Ok(data) = std::fs::read(&p) {
                out.push(Member {
                    name,
                    kind: Kind::File,
                    data,
                });
            }
        }
    }
}

/// The files of `dir` (not recursive), read whole, sorted by name.
pub fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    read_dir_sorted(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Every JSON file under `dir` whose path (relative to `dir`) `keep`
/// accepts, as (relative path, bytes).
pub fn json_files(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    members(dir)
        .into_iter()
        .filter(|m| m.kind == Kind::File && m.name.ends_with(".json") && keep(&m.name))
        .map(|m| (m.name, m.data))
        .collect()
}
