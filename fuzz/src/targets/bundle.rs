//! The bundle reader: zip bytes (kpm's format), tar.gz (troubleshoot
//! support bundles) and folders (shipped as a plain tar, unpacked into a
//! private directory) → `Bundle::open_with` → every read, the analysis and
//! the renderers.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use kpm_bundle::Bundle;

use super::{exercise, fuzz_budgets, Target};
use crate::corpus::{self, Paths};
use crate::mutate::archive::{self, Format, Kind, Member};
use crate::mutate::{Mutator, Shape};

/// Paths and names that bundle readers treat specially.
const DICT: &[&str] = &[
    "manifest.json",
    "cluster/nodes.json",
    "cluster/namespaces.json",
    "namespaces/default/pods.json",
    "logs/default/web/app.log",
    "logs/default/web/app.previous.log",
    "metrics/nodes.json",
    "derived/node-allocation.json",
    "cluster-resources/pods/default.json",
    "cluster-resources/nodes.json",
    "version.yaml",
    "default/pods.json",
    "nodes.json",
    "logs.txt",
    "/",
    "//",
    "./",
    "\"formatVersion\":1",
];

/// See the module docs.
pub struct BundleTarget {
    dir: tempfile::TempDir,
}

impl BundleTarget {
    /// A target with its private scratch directory.
    pub fn new() -> Result<BundleTarget> {
        let dir = tempfile::tempdir().context("creating the scratch directory")?;
        Ok(BundleTarget { dir })
    }

    /// Where the input is put for the reader, by format.
    fn place(&self, input: &[u8]) -> std::io::Result<PathBuf> {
        let root = self.dir.path();
        let folder = root.join("folder");
        if folder.exists() {
            std::fs::remove_dir_all(&folder)?;
        }
        let path = match archive::format_of(input) {
            Some(Format::TarGz) => root.join("bundle.tar.gz"),
            Some(Format::Tar) => {
                let members = archive::decode(Format::Tar, input).unwrap_or_default();
                unpack(&members, &folder)?;
                return Ok(folder);
            }
            Some(Format::Zip) | None => root.join("bundle.zip"),
        };
        std::fs::write(&path, input)?;
        Ok(path)
    }
}

impl Target for BundleTarget {
    fn name(&self) -> &'static str {
        "bundle"
    }

    fn mutator(&self) -> Mutator {
        Mutator::new(Shape::Archive, DICT, 32 << 20)
    }

    fn seeds(&self, paths: &Paths) -> Vec<Vec<u8>> {
        let mut out = corpus::files_in(&paths.seeds("bundle"));
        // kpm bundles as zips, a few stored (mutations then reach the
        // content directly), most deflated as the collector writes them.
        let dirs = paths.scenarios().into_iter().take(8);
        for (i, dir) in dirs.chain(paths.shared_bundles()).enumerate() {
            let members = corpus::members(&dir);
            out.extend(archive::encode(Format::Zip, &members, i % 3 != 0));
        }
        let foreign = paths.shared().join("foreign");
        let captures = corpus::read_dir_sorted(&foreign.join("troubleshoot"))
            .into_iter()
            .chain(corpus::read_dir_sorted(&foreign.join("cluster-info-dump")));
        for p in captures {
            let (format, members) = if p.is_file() {
                let bytes = std::fs::read(&p).unwrap_or_default();
                let members = archive::decode(Format::TarGz, &bytes).unwrap_or_default();
                out.push(bytes);
                (Format::TarGz, members)
            } else {
                let members = corpus::members(&p);
                out.extend(archive::encode(Format::Tar, &members, false));
                (Format::Tar, members)
            };
            // A small copy of each capture: its small files only, so most
            // runs of this target take milliseconds, not seconds.
            let small_files: Vec<Member> = members
                .into_iter()
                .filter(|m| m.data.len() <= 16 << 10)
                .collect();
            let step = small_files.len().div_ceil(60).max(1);
            let small: Vec<Member> = small_files
                .into_iter()
                .enumerate()
                .filter(|(i, m)| i % step == 0 || m.name.contains("version"))
                .map(|(_, m)| m)
                .collect();
            out.extend(archive::encode(format, &small, false));
        }
        out
    }

    fn run(&mut self, input: &[u8]) -> bool {
        let Ok(path) = self.place(input) else {
            return false;
        };
        match Bundle::open_with(&path, fuzz_budgets()) {
            Ok(bundle) => {
                exercise(&bundle, true, true);
                true
            }
            Err(e) => {
                // Error messages are shown to the user: build them.
                let _ = e.to_string();
                false
            }
        }
    }
}

/// Writes tar members into `dir`: regular files, and symlinks whose target
/// stays inside `dir` (what a folder capture extracted from a tar holds).
/// Paths that would leave `dir` are skipped: the fuzzer never writes
/// outside its scratch directory.
fn unpack(members: &[Member], dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for m in members {
        if !inside(&m.name) {
            continue;
        }
        let dest = dir.join(&m.name);
        if let Some(parent) = dest.parent() {
            if std::fs::create_dir_all(parent).is_err() {
                continue;
            }
        }
        let _ = match &m.kind {
            Kind::File => std::fs::write(&dest, &m.data),
            Kind::Symlink(t) if link_inside(&m.name, t) => std::os::unix::fs::symlink(t, &dest),
            Kind::Symlink(_) => Ok(()),
        };
    }
    Ok(())
}

/// A relative path of normal components only.
fn inside(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Whether a relative link at `name` pointing to `target` resolves inside
/// the directory `name` is relative to.
fn link_inside(name: &str, target: &str) -> bool {
    let mut depth = Path::new(name).components().count() as i64 - 1;
    for c in Path::new(target).components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => depth -= 1,
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacking_never_leaves_the_directory() {
        assert!(inside("a/b.json"));
        assert!(!inside("../a") && !inside("/etc/passwd") && !inside("a/../../b") && !inside(""));
        assert!(link_inside("a/b/c.log", "../d.log"));
        assert!(link_inside("a/b/c.log", "../../d.log"));
        assert!(!link_inside("a/b/c.log", "../../../d.log"));
        assert!(!link_inside("c.log", "/etc/passwd"));
        assert!(!link_inside("a/c.log", "x/../../../y"));
    }
}
